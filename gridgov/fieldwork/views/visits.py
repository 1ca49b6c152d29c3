"""Pages of visits (走访): the list, the visit form (one form does every open campaign task and care check
at a household, building, shop or place) with its picker, and the visit page.

The form posts to `services.visits.visit_record`, which checks everything before writing anything; a
refusal re-renders the form with each reason beside its input and every answer kept.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _

from gridgov.areas.choices import Level
from gridgov.areas.selectors import area_list
from gridgov.core.errors import ApplicationError, NotFound, PermissionDenied
from gridgov.core.pages import map_settings
from gridgov.core.scope import scope_for, subtree
from gridgov.fieldwork.choices import TargetKind
from gridgov.fieldwork.forms import VisitFilterForm, VisitForm, style
from gridgov.fieldwork.selectors import campaigns as campaign_selectors
from gridgov.fieldwork.selectors import visits as selectors
from gridgov.fieldwork.services import visits as services

PER_PAGE = 50


# --- the list -------------------------------------------------------------------------------------


def visit_list(request: HttpRequest) -> HttpResponse:
    """Visits in the user's area: by visitor, grid and date."""
    user = request.user
    rows = selectors.visit_list_counted(user=user)
    grids = list(area_list(user=user).filter(level=Level.GRID).only("code", "name").order_by("code")[:300])
    people = (
        selectors.visit_list(user=user)
        .exclude(visitor__isnull=True)
        .order_by("visitor_id")
        .values_list("visitor_id", "visitor_name")
        .distinct()
    )
    form = VisitFilterForm(
        request.GET or None,
        grids=[(g.code, g.name) for g in grids],
        people=sorted(((str(pk), name) for pk, name in people), key=lambda p: p[1]),
    )
    if form.is_bound and form.is_valid():
        values = form.cleaned_data
        if values.get("visitor"):
            rows = rows.filter(visitor_id=values["visitor"])
        if values.get("grid"):
            rows = rows.filter(subtree("area_code", values["grid"]))
        if values.get("since"):
            rows = rows.filter(visited_at__date__gte=values["since"])
        if values.get("until"):
            rows = rows.filter(visited_at__date__lte=values["until"])
    style(form)
    page = Paginator(rows.order_by("-visited_at", "-id"), PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "fieldwork/visit_list.html", {"form": form, "page": page, "query": query.urlencode()})


# --- the picker and the visit form ---------------------------------------------------------------


def _picker(request: HttpRequest) -> HttpResponse:
    kind = request.GET.get("kind") or TargetKind.HOUSEHOLD
    if kind not in TargetKind.values:
        kind = TargetKind.HOUSEHOLD
    q = request.GET.get("q", "").strip()
    results = selectors.target_search(user=request.user, kind=kind, q=q)
    context = {"kind": kind, "kinds": TargetKind.choices, "q": q, "results": results}
    return render(request, "fieldwork/visit_picker.html", context)


def _registry_row(request: HttpRequest, kind: str, target_id: str) -> Any:
    """The registry row through the user's scope: a 404 outside it, before anything else is said."""
    from gridgov.registry import selectors as registry

    getters = {
        TargetKind.HOUSEHOLD: registry.household_get,
        TargetKind.BUILDING: registry.building_get,
        TargetKind.SHOP: registry.shop_get,
        TargetKind.PLACE: registry.place_get,
    }
    if kind not in getters:
        raise Http404(_("Not one of the allowed values."))
    try:
        return getters[kind](user=request.user, pk=target_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _visit_page(
    request: HttpRequest, target: services.Target, form: VisitForm, *, error: str = "", status: int = 200
) -> HttpResponse:
    from gridgov.registry.selectors import household_members

    style(form)
    members = (
        list(household_members(user=request.user, household=target.obj)) if target.kind == TargetKind.HOUSEHOLD else []
    )
    context = {
        "target": target,
        "form": form,
        "members": members,
        "error": error,
        "files_lost": bool(request.FILES),
        "has_photo_items": any(i.item.type == "photo" for s in form.sections for i in s.items),
        "kind_label": TargetKind(target.kind).label,
        "yes_no": [("yes", _("Yes")), ("no", _("No"))],
        "today": timezone.localdate(),
    }
    return render(request, "fieldwork/visit_form.html", context, status=status)


def _opened_message(visit: Any) -> Any:
    cases = [c for c in getattr(visit, "opened_cases", []) if c is not None]
    if not cases:
        return _("Visit recorded.")
    links = format_html_join(
        "、",
        '<a href="{}" class="alert-link font-monospace">{}</a>',
        ((reverse("cases:detail", args=[c.pk]), c.code) for c in cases),
    )
    return format_html("{} {}", _("Visit recorded. Cases opened:"), links)


def visit_create(request: HttpRequest) -> HttpResponse:
    """The visit form for `?kind=&id=`; without them, the picker of the user's households, buildings, shops."""
    if scope_for(request.user).is_empty:
        raise DjangoPermissionDenied
    kind = request.GET.get("kind", "")
    target_id = request.GET.get("id", "")
    if not kind or not target_id:
        return _picker(request)
    _registry_row(request, kind, target_id)
    try:
        target = services.find_target(actor=request.user, kind=kind, target_id=target_id)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except PermissionDenied as exc:
        raise DjangoPermissionDenied(exc.message) from exc
    from gridgov.fieldwork.selectors.care import care_checks_for_residents

    tasks = campaign_selectors.open_targets(user=request.user, kind=target.kind, target_id=target.obj.pk)
    checks = (
        list(
            care_checks_for_residents(
                user=request.user, resident_ids=target.resident_ids, on=timezone.localdate()
            ).select_related("plan")
        )
        if target.resident_ids
        else []
    )
    if request.method != "POST":
        return _visit_page(request, target, VisitForm(tasks=tasks, checks=checks))
    form = VisitForm(request.POST, tasks=tasks, checks=checks)
    if not form.is_valid():
        return _visit_page(request, target, form, error=_("Please correct the fields marked below."), status=400)
    try:
        visit = services.visit_record(
            actor=request.user,
            kind=target.kind,
            target_id=target.obj.pk,
            photos=request.FILES.getlist("photos"),
            **form.service_arguments(),
        )
    except ApplicationError as exc:
        form.add_service_error(exc)
        return _visit_page(request, target, form, error=exc.message, status=exc.status)
    messages.success(request, _opened_message(visit))
    return redirect("fieldwork:visit", pk=visit.pk)


# --- the visit page -------------------------------------------------------------------------------


def visit_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """What was done on a visit: tasks and their answers, findings and their cases, care checks, photos, map."""
    try:
        detail = selectors.visit_detail(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    visit = detail.visit
    point = [visit.lat, visit.lng] if visit.lat is not None and visit.lng is not None else None
    context = {
        "visit": visit,
        "detail": detail,
        "map_data": {"point": point, "label": visit.label} if point else None,
        "map": map_settings(),
    }
    return render(request, "fieldwork/visit_detail.html", context)


urlpatterns = [
    path("visits/", visit_list, name="visits"),
    path("visits/new/", visit_create, name="visit_create"),
    path("visits/<int:pk>/", visit_detail, name="visit"),
]
