"""Pages of the notification centre: the list, opening one notification, marking all read, and the
settings page (the user's channel addresses, the kind × channel matrix, test sends).

Reads go through `notifications.selectors` (the user's own rows only), writes through
`notifications.services`. The pages work without JavaScript: opening a notification is a POST
that marks it read and redirects to the page it links to.
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import PER_PAGE
from gridgov.notifications import channels, selectors, services
from gridgov.notifications.choices import DeliveryState
from gridgov.notifications.forms import AddressForm

logger = logging.getLogger("gridgov.notifications")

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def unread_only(request: HttpRequest) -> bool:
    """`?unread=1`: the page and the API read the filter the same way."""
    return request.GET.get("unread", "").strip().lower() in TRUE_VALUES


def notification_list(request: HttpRequest) -> HttpResponse:
    """The notification centre: the user's notifications, newest first, unread ones in bold."""
    only_unread = unread_only(request)
    rows = selectors.notification_list(user=request.user, unread_only=only_unread)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    context = {"page": page, "unread_only": only_unread, "query": "unread=1" if only_unread else ""}
    return render(request, "notifications/notification_list.html", context)


@require_POST
def notification_read(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a notification: mark it read and go to the page it links to (the centre when it links nowhere)."""
    try:
        notification = selectors.notification_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    services.notification_mark_read(actor=request.user, notification=notification)
    target = notification.url
    if not target or not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("notifications:notification_list")
    return redirect(target)


@require_POST
def notification_read_all(request: HttpRequest) -> HttpResponse:
    """Mark every unread notification of the user read."""
    count = services.notification_mark_all_read(actor=request.user)
    if count:
        messages.success(
            request,
            ngettext("%(count)d notification marked as read.", "%(count)d notifications marked as read.", count)
            % {"count": count},
        )
    return redirect("notifications:notification_list")


# --- settings -----------------------------------------------------------------------------------


def _settings_page(
    request: HttpRequest, *, form: AddressForm | None = None, error: str = "", status: int = 200
) -> HttpResponse:
    names = services.preference_channels()
    address = selectors.address_view(user=request.user)
    if form is None:
        form = AddressForm(
            initial={"http_url": address.http_url, "wecom_msgtype": address.wecom_msgtype},
            has_wecom=address.has_wecom,
            http="http" in names,
            wecom="wecom" in names,
        )
    has = {"http": address.has_http, "wecom": address.has_wecom, "email": bool(request.user.email)}
    columns = [
        {
            "name": name,
            "label": channels.label(name),
            "needs_address": bool(channels.channel(name).address_field) or name == "email",
            "has_address": has.get(name, True),
        }
        for name in names
    ]
    context = {
        "form": form,
        "error": error,
        "address": address,
        "columns": columns,
        "rows": selectors.preference_matrix(user=request.user, names=names),
        "http_available": "http" in names,
        "wecom_available": "wecom" in names,
    }
    return render(request, "notifications/notification_settings.html", context, status=status)


def notification_settings(request: HttpRequest) -> HttpResponse:
    """通知设置: where the user's channels send to, and which kinds go through which channel."""
    if request.method != "POST":
        return _settings_page(request)
    if request.POST.get("form") == "preferences":
        cells = [value.partition(":")[::2] for value in request.POST.getlist("on")]
        try:
            changed = services.notification_preferences_save(actor=request.user, enabled=cells)
        except ApplicationError as exc:
            return _settings_page(request, error=exc.message, status=exc.status)
        if changed:
            messages.success(request, _("Your choices were saved."))
        else:
            messages.info(request, _("Nothing changed."))
        return redirect("notifications:settings")

    names = services.preference_channels()
    has_wecom = selectors.address_view(user=request.user).has_wecom
    form = AddressForm(request.POST, has_wecom=has_wecom, http="http" in names, wecom="wecom" in names)
    if not form.fields:  # the site runs neither channel: there is nothing to set
        return redirect("notifications:settings")
    if not form.is_valid():
        logger.info("notification address refused user=%s: form", request.user.get_username())
        return _settings_page(request, form=form, error=_("Please correct the fields marked below."), status=400)
    try:
        services.channel_address_save(actor=request.user, **form.service_arguments())
    except ApplicationError as exc:
        form.add_service_error(exc)
        return _settings_page(request, form=form, error=exc.message, status=exc.status)
    messages.success(request, _("Your addresses were saved."))
    return redirect("notifications:settings")


# Why a channel skipped a delivery (as `channels` records it), in the user's words.
SKIP_REASONS = {
    "no e-mail address": gettext_lazy("your account has no e-mail address"),
    "no HTTP endpoint": gettext_lazy("you have not set an HTTP endpoint"),
    "no WeCom robot": gettext_lazy("you have not set a WeCom robot"),
    "the endpoint is this server or a link-local address": gettext_lazy(
        "the endpoint is this server or a link-local address"
    ),
}


@require_POST
def notification_test(request: HttpRequest, channel: str) -> HttpResponse:
    """Send oneself a test notification through one channel and say how it went."""
    try:
        delivery = services.notification_test_send(actor=request.user, channel=channel)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("notifications:settings")
    label = channels.label(channel)
    if delivery.state == DeliveryState.SENT:
        messages.success(request, _("A test notification was sent through %(channel)s.") % {"channel": label})
    elif delivery.state == DeliveryState.SKIPPED:
        messages.warning(
            request,
            _("Nothing was sent through %(channel)s: %(reason)s.")
            % {"channel": label, "reason": SKIP_REASONS.get(delivery.last_error, delivery.last_error)},
        )
    else:
        messages.error(
            request,
            _("Sending through %(channel)s failed: %(error)s.")
            % {"channel": label, "error": delivery.last_error.removeprefix("DeliveryFailed: ")},
        )
    return redirect("notifications:settings")
