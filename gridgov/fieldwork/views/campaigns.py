"""Pages of campaigns (专项任务): the list, the new-campaign form with its target filter, and the campaign
page with its progress by community, grid, group and person, its targets and their reassignment.

Reads go through `fieldwork.selectors` (so through the scope: a campaign outside it is a 404) and
writes through `fieldwork.services.campaigns`; a refused write shows the service's message at its field.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from gridgov.accounts.models import User
from gridgov.areas.choices import Level
from gridgov.areas.selectors import area_list, current_area
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.scope import acts_for, area_posts, subtree
from gridgov.fieldwork.choices import CampaignState, TargetState
from gridgov.fieldwork.forms import CampaignFilterForm, CampaignForm, TargetFilterForm, style
from gridgov.fieldwork.selectors import campaigns as selectors
from gridgov.fieldwork.selectors.visits import reassign_candidates, totals_by_campaign
from gridgov.fieldwork.services import campaigns as services

PER_PAGE = 20
TARGETS_PER_PAGE = 50
BREAKDOWN_LABELS = {
    "community": gettext_lazy("By community"),
    "grid": gettext_lazy("By grid"),
    "group": gettext_lazy("By household group"),
    "person": gettext_lazy("By person"),
}
STATE_COLOURS = {CampaignState.RUNNING: "primary", CampaignState.FINISHED: "success", CampaignState.CANCELLED: "dark"}


def may_run_campaigns(user: Any) -> bool:
    """Center or community staff somewhere (the form offers only the areas where they are)."""
    if getattr(user, "is_superuser", False):
        return True
    return any(role in services.CAMPAIGN_ROLES for role, _code in area_posts(user))


def _campaign(request: HttpRequest, pk: int):
    try:
        return selectors.campaign_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _decorate(campaign: Any) -> None:
    campaign.state_colour = STATE_COLOURS.get(campaign.state, "secondary")


# --- the list -------------------------------------------------------------------------------------


def campaign_list(request: HttpRequest) -> HttpResponse:
    """Campaigns reaching into the user's area, with the progress of the user's share of each."""
    form = CampaignFilterForm(request.GET or None)
    rows = selectors.campaign_list(user=request.user).order_by("-starts_on", "-id")
    if form.is_bound and form.is_valid():
        if form.cleaned_data.get("state"):
            rows = rows.filter(state=form.cleaned_data["state"])
        if form.cleaned_data.get("business_line"):
            rows = rows.filter(business_line=form.cleaned_data["business_line"])
    style(form)
    page = Paginator(rows, PER_PAGE).get_page(request.GET.get("page"))
    campaigns = list(page)
    totals = totals_by_campaign(user=request.user, campaigns=campaigns)
    for campaign in campaigns:
        _decorate(campaign)
        campaign.totals = totals[campaign.pk]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "form": form,
        "page": page,
        "campaigns": campaigns,
        "query": query.urlencode(),
        "may_create": may_run_campaigns(request.user),
    }
    return render(request, "fieldwork/campaign_list.html", context)


# --- the new-campaign form ------------------------------------------------------------------------


def _form(request: HttpRequest, data: Any = None, initial: dict | None = None) -> CampaignForm:
    from gridgov.registry.selectors import tag_list

    user = request.user
    visible = list(
        area_list(user=user)
        .filter(level__in=[Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID, Level.GROUP])
        .only("id", "code", "name", "level")
        .order_by("code")[:500]
    )
    runnable = [a for a in visible if a.level != Level.GROUP and acts_for(user, a.code, services.CAMPAIGN_ROLES)]
    checklists = list(selectors.checklist_list(user=user).order_by("name"))
    tags = list(tag_list(user=user).order_by("order", "code"))
    form = CampaignForm(
        data, areas=runnable, filter_areas=visible, checklists=checklists, tags=tags, initial=initial or {}
    )
    form.runnable = runnable
    return form


def _create_page(
    request: HttpRequest, form: CampaignForm, *, error: str = "", preview: int | None = None, status: int = 200
) -> HttpResponse:
    style(form)
    context = {
        "form": form,
        "error": error,
        "preview": preview,
        "filter_sections": form.filter_sections(),
        "kinds": form.checklist_kinds,
    }
    return render(request, "fieldwork/campaign_form.html", context, status=status)


def campaign_create(request: HttpRequest) -> HttpResponse:
    """The new-campaign form; "preview" counts the targets the filter picks without creating anything."""
    if not may_run_campaigns(request.user):
        raise DjangoPermissionDenied(_("Only the subdistrict center or community staff may run campaigns here."))
    if request.method != "POST":
        today = timezone.localdate()
        area = current_area(request)
        initial = {
            "starts_on": today,
            "ends_on": today + timedelta(days=30),
            "checklist": request.GET.get("checklist", ""),
        }
        form = _form(request, initial=initial)
        if area is not None and any(a.pk == area.pk for a in form.runnable):
            form.initial["area"] = area.pk
        return _create_page(request, form)
    form = _form(request, request.POST)
    if not form.is_valid():
        return _create_page(request, form, error=_("Please correct the fields marked below."), status=400)
    if "preview" in request.POST:
        data = form.cleaned_data
        try:
            rows, _within = services.target_queryset(
                kind=data["checklist"].target_kind, area=data["area"], target_filter=form.target_filter()
            )
            count = rows.count()
        except ApplicationError as exc:
            form.add_service_error(exc)
            return _create_page(request, form, error=exc.message, status=400)
        return _create_page(request, form, preview=count)
    try:
        campaign = services.campaign_create(actor=request.user, **form.service_arguments())
    except ApplicationError as exc:
        form.add_service_error(exc)
        return _create_page(request, form, error=exc.message, status=exc.status)
    messages.success(
        request,
        _("Campaign “%(name)s” started with %(n)d targets.") % {"name": campaign.name, "n": campaign.target_count},
    )
    return redirect("fieldwork:campaign", pk=campaign.pk)


# --- the campaign page ----------------------------------------------------------------------------


def _targets(request: HttpRequest, campaign: Any) -> tuple[TargetFilterForm, Any, str]:
    """The campaign's targets in the user's area, filtered by the table's form, overdue first."""
    today = timezone.localdate()
    base = selectors.target_list(user=request.user, campaign=campaign)
    grids = list(
        area_list(user=request.user)
        .filter(level=Level.GRID, code__in=base.order_by().values("grid__code").distinct())
        .only("code", "name")
        .order_by("code")
    )
    people = list(
        User.objects.filter(pk__in=base.order_by().values("assignee_id").distinct()).order_by("name", "username")
    )
    data = {k: v for k, v in request.GET.items() if k in ("state", "grid", "assignee", "overdue")}
    form = TargetFilterForm(
        data or None,
        grids=[(g.code, g.name) for g in grids],
        people=[(str(u.pk), u.display_name) for u in people],
    )
    rows = base
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        if values.get("state"):
            rows = rows.filter(state=values["state"])
        if values.get("grid"):
            rows = rows.filter(subtree("area_code", values["grid"]))
        if values.get("assignee") == "none":
            rows = rows.filter(assignee__isnull=True)
        elif values.get("assignee"):
            rows = rows.filter(assignee_id=values["assignee"])
        if values.get("overdue"):
            rows = rows.filter(selectors.overdue_q(today))
    rows = rows.order_by("state", "due_on", "area_code", "id")
    query = request.GET.copy()
    query.pop("tpage", None)
    style(form)
    return form, rows, query.urlencode()


def campaign_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """Totals, progress by community / grid / group / person, the targets, reassignment, finish and cancel."""
    campaign = _campaign(request, pk)
    _decorate(campaign)
    user = request.user
    by = request.GET.get("by", "grid")
    if by not in selectors.BREAKDOWNS:
        by = "grid"
    today = timezone.localdate()
    totals = selectors.campaign_totals(user=user, campaign=campaign)
    progress = selectors.campaign_progress(user=user, campaign=campaign, by=by)
    form, rows, query = _targets(request, campaign)
    page = Paginator(rows, TARGETS_PER_PAGE).get_page(request.GET.get("tpage"))
    targets = list(page)
    running = campaign.state == CampaignState.RUNNING
    movable = [t for t in targets if running and t.state == TargetState.PENDING and services.may_reassign(user, t)]
    candidates = reassign_candidates(targets=movable)
    for target in targets:
        target.overdue = target.state == TargetState.PENDING and target.due_on < today
        target.candidates = candidates.get(target.pk)
    context = {
        "campaign": campaign,
        "totals": totals,
        "progress": progress,
        "by": by,
        "breakdowns": [(key, BREAKDOWN_LABELS[key]) for key in selectors.BREAKDOWNS],
        "filter_form": form,
        "page": page,
        "targets": targets,
        "query": query,
        "may_run": running and acts_for(user, campaign.area.code, services.CAMPAIGN_ROLES),
        "items": list(campaign.checklist.items.select_related("category").order_by("order", "id")),
        "next": request.get_full_path(),
    }
    return render(request, "fieldwork/campaign_detail.html", context)


def _back(request: HttpRequest, campaign_pk: int) -> str:
    """Where a form on the campaign page returns: the page as it was (filters, tab), if it is that page."""
    fallback = reverse("fieldwork:campaign", args=[campaign_pk])
    wanted = request.POST.get("next", "")
    return wanted if wanted.startswith(fallback) else fallback


def _state_change(request: HttpRequest, pk: int, service: Any, done: str) -> HttpResponse:
    campaign = _campaign(request, pk)
    try:
        service(actor=request.user, campaign=campaign)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done % {"name": campaign.name})
    return redirect("fieldwork:campaign", pk=campaign.pk)


@require_POST
def campaign_finish(request: HttpRequest, pk: int) -> HttpResponse:
    return _state_change(request, pk, services.campaign_finish, _("Campaign “%(name)s” finished."))


@require_POST
def campaign_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    return _state_change(request, pk, services.campaign_cancel, _("Campaign “%(name)s” cancelled."))


@require_POST
def target_reassign(request: HttpRequest, pk: int) -> HttpResponse:
    """Hand one target to someone else working in its grid (or to nobody)."""
    try:
        target = selectors.target_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    raw = request.POST.get("assignee", "").strip()
    assignee = None
    if raw:
        assignee = User.objects.filter(Q(pk=int(raw)) if raw.isdigit() else Q(pk__in=[]), is_active=True).first()
        if assignee is None:
            messages.error(request, _("Choose someone who works in this grid."))
            return redirect(_back(request, target.campaign_id))
    try:
        services.target_reassign(actor=request.user, target=target, assignee=assignee)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("%(target)s is now carried by %(person)s.")
            % {"target": target.label, "person": assignee.display_name if assignee else _("nobody")},
        )
    return redirect(_back(request, target.campaign_id))


urlpatterns = [
    path("campaigns/", campaign_list, name="campaigns"),
    path("campaigns/new/", campaign_create, name="campaign_create"),
    path("campaigns/<int:pk>/", campaign_detail, name="campaign"),
    path("campaigns/<int:pk>/finish/", campaign_finish, name="campaign_finish"),
    path("campaigns/<int:pk>/cancel/", campaign_cancel, name="campaign_cancel"),
    path("campaign-targets/<int:pk>/reassign/", target_reassign, name="target_reassign"),
]
