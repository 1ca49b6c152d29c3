"""Pages of the notification centre: the list, opening one notification, marking all read.

Reads go through `notifications.selectors` (the user's own rows only), writes through
`notifications.services`. The pages work without JavaScript: opening a notification is a POST
that marks it read and redirects to the page it links to.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from gridgov.core.errors import NotFound
from gridgov.core.pages import PER_PAGE
from gridgov.notifications import selectors, services

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
