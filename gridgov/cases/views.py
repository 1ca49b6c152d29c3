"""Pages of the case pipeline for staff: the work queue, the case list with saved views, the case
page with its actions, the report form, attachments and the resolution figures.

Every read goes through `cases.selectors` (so through the scope) and every write through
`cases.services`; a case outside the scope is a 404. A refused action shows the service's
message and re-renders the page with the user's input.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.timesince import timesince, timeuntil
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.areas.choices import Level
from gridgov.areas.models import Area, Unit
from gridgov.areas.selectors import area_features, current_area, switchable_areas, unit_list
from gridgov.cases import selectors, services
from gridgov.cases.choices import STATE_COLOURS, Action, CaseLevel, FieldType, State
from gridgov.cases.filtersets import CaseFilterSet
from gridgov.cases.forms import ACTION_FORMS, ActionForm, ReportForm, StatsForm, add_application_error
from gridgov.cases.models import Case, CaseEvent
from gridgov.cases.transitions import USER_ACTIONS
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import list_context, map_settings
from gridgov.core.scope import scope_for

# How each action's button looks on the case page: Bootstrap colour and icon.
ACTION_STYLES: dict[str, tuple[str, str]] = {
    Action.ACCEPT: ("primary", "bi-check2-circle"),
    Action.DISPATCH: ("primary", "bi-send"),
    Action.CLAIM: ("primary", "bi-hand-index-thumb"),
    Action.HANDLE_ON_SITE: ("success", "bi-lightning-charge"),
    Action.RESOLVE: ("success", "bi-check2-square"),
    Action.VERIFY: ("success", "bi-patch-check"),
    Action.ESCALATE: ("warning", "bi-arrow-up-circle"),
    Action.RETURN: ("outline-danger", "bi-arrow-return-left"),
    Action.REJECT: ("outline-danger", "bi-x-circle"),
    Action.REOPEN: ("outline-warning", "bi-arrow-counterclockwise"),
    Action.RATE: ("outline-success", "bi-star"),
    Action.URGE: ("outline-danger", "bi-alarm"),
    Action.EXTEND_REQUEST: ("outline-secondary", "bi-hourglass-split"),
    Action.EXTEND_APPROVE: ("outline-primary", "bi-hourglass-bottom"),
    Action.MERGE: ("outline-secondary", "bi-union"),
    Action.COMMENT: ("outline-secondary", "bi-chat-left-text"),
    Action.ATTACH: ("outline-secondary", "bi-paperclip"),
}
# The steps of the main flow get big buttons; the others sit in a second row.
MAIN_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.DISPATCH,
        Action.CLAIM,
        Action.HANDLE_ON_SITE,
        Action.RESOLVE,
        Action.VERIFY,
        Action.ESCALATE,
        Action.RETURN,
        Action.REJECT,
        Action.REOPEN,
        Action.EXTEND_APPROVE,
        Action.RATE,
    }
)
# Filters shown at once above the case list; the others fold under "more filters".
MAIN_FILTERS = ("q", "category", "area", "level", "overdue")
LEVEL_ICONS = {
    CaseLevel.GRID: "bi-grid-3x3",
    CaseLevel.COMMUNITY: "bi-houses",
    CaseLevel.SUBDISTRICT: "bi-building",
    CaseLevel.SUPERIOR: "bi-bank",
}


# --- helpers ----------------------------------------------------------------------------------


def _case(request: HttpRequest, pk: int) -> Case:
    """The case through the scope; 404 when it is missing or outside it."""
    try:
        return selectors.case_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _still_visible(user: Any, pk: int) -> bool:
    return selectors.case_list(user=user).filter(pk=pk).exists()


def deadline_label(case: Case, now: datetime) -> dict[str, str] | None:
    """The case's deadline as relative time ("due in 3 hours", "overdue by 2 days") and its colour."""
    if case.due_at is None:
        return None
    if case.overdue or case.due_at <= now:
        return {"text": _("Overdue by %(time)s") % {"time": timesince(case.due_at, now, depth=1)}, "colour": "danger"}
    text = _("Due in %(time)s") % {"time": timeuntil(case.due_at, now, depth=1)}
    return {"text": text, "colour": "warning" if case.warned else "secondary"}


def decorate(cases: Any, now: datetime | None = None) -> None:
    """Give each case what its row shows beside the fields: the state's colour and the deadline."""
    now = now or timezone.now()
    for case in cases:
        case.state_colour = STATE_COLOURS.get(case.state, "secondary")
        case.deadline = deadline_label(case, now)


# --- the work queue ---------------------------------------------------------------------------


def work_queue(request: HttpRequest) -> HttpResponse:
    """The user's to-do list (待办) by section, overdue first."""
    sections = selectors.work_queue(user=request.user)
    now = timezone.now()
    for section in sections:
        decorate(section.cases, now)
    overdue = {case.pk for section in sections for case in section.cases if case.overdue}
    context = {
        "sections": sections,
        "total": sum(section.total for section in sections),
        "overdue_count": len(overdue),
    }
    return render(request, "cases/queue.html", context)


# --- the case list and saved views ------------------------------------------------------------


def case_list(request: HttpRequest) -> HttpResponse:
    """The scoped case list with its filters, saved views and the ledger export link."""
    context = list_context(request, CaseFilterSet, selectors.case_list(user=request.user))
    decorate(context["page"])
    views = list(selectors.saved_view_list(user=request.user))
    current = context["query"]
    form = context["filter"].form
    context.update(
        main_fields=[form[name] for name in MAIN_FILTERS if name in form.fields],
        more_fields=[form[name] for name in form.fields if name not in MAIN_FILTERS and name != "state"],
        more_open=any(request.GET.get(name) for name in form.fields if name not in MAIN_FILTERS and name != "state"),
        saved_views=views,
        current_view=next((v for v in views if v.query == current), None),
        export_url=reverse("cases:export") + (f"?{current}" if current else ""),
    )
    return render(request, "cases/list.html", context)


def _list_url(query: str) -> str:
    return reverse("cases:list") + (f"?{query}" if query else "")


@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the list's current query string under a name, then show the list with it."""
    query = request.POST.get("query", "")
    try:
        view = services.saved_view_create(actor=request.user, name=request.POST.get("name", ""), query=query)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(_list_url(query.lstrip("?")))
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return redirect(_list_url(view.query))


@require_POST
def saved_view_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of the user's saved views (404 for anyone else's)."""
    try:
        services.saved_view_delete(actor=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    messages.success(request, _("View deleted."))
    return redirect("cases:list")


# --- the case page ----------------------------------------------------------------------------


def _dispatch_units(user: Any, case: Case) -> list[Unit]:
    """Units the user may see, those of the category's usual kind first."""
    kind = case.category.unit_kind
    units = list(unit_list(user=user).filter(active=True))
    units.sort(key=lambda u: (u.kind != kind if kind else False, u.kind, u.area.code, u.name))
    return units


def _action_form(
    action: str, case: Case, units: list[Unit], data: Any = None, initial: dict | None = None
) -> ActionForm:
    form_class = ACTION_FORMS[action]
    return form_class(data, case=case, units=units, initial=initial, auto_id=f"id_{action}_%s")


def _extra_rows(case: Case) -> list[dict[str, Any]]:
    """The case's extra fields labelled by the category's schema (values of removed fields by name)."""
    rows = []
    schema = {f.get("name"): f for f in (case.category.form_schema or []) if isinstance(f, dict)}
    for name, value in (case.extra or {}).items():
        field = schema.get(name, {})
        if field.get("type") == FieldType.BOOLEAN or isinstance(value, bool):
            value = _("Yes") if value else _("No")
        rows.append({"label": field.get("label") or name, "value": value})
    return rows


def _event_details(event: CaseEvent) -> list[str]:
    """What a timeline entry's data says, in words."""
    data = event.data or {}
    details = []
    if data.get("co_unit_names"):
        details.append(_("Co-handling: %(units)s") % {"units": "、".join(data["co_unit_names"])})
    if "passed" in data:
        details.append(_("Verified: solved") if data["passed"] else _("Verified: not solved"))
    if "score" in data:
        details.append(_("Satisfaction: %(score)s / 5") % {"score": data["score"]})
    if event.action == Action.EXTEND_REQUEST and data.get("hours"):
        details.append(_("%(hours)s hours more requested") % {"hours": data["hours"]})
    if event.action == Action.EXTEND_APPROVE:
        details.append(
            _("Extension of %(hours)s hours granted") % {"hours": data.get("hours")}
            if data.get("approved")
            else _("Extension refused")
        )
    if data.get("into"):
        details.append(_("Merged into %(code)s") % {"code": data["into"]})
    if data.get("automatic"):
        details.append(_("Automatic"))
    return details


def _map_data(case: Case) -> dict[str, Any] | None:
    """The point and the boundary of the case's grid, for the small map (None when there is neither)."""
    point = [case.lat, case.lng] if case.lat is not None and case.lng is not None else None
    boundary = case.grid.boundary if case.grid_id and case.grid and case.grid.boundary else None
    if point is None and boundary is None:
        return None
    return {
        "point": point,
        "boundary": boundary,
        "grid": case.grid.name if case.grid_id else "",
        "label": f"{case.code} {case.title}",
    }


def _detail_page(
    request: HttpRequest,
    detail: selectors.CaseDetail,
    *,
    bound: ActionForm | None = None,
    bound_action: str = "",
    status: int = 200,
) -> HttpResponse:
    case = detail.case
    now = timezone.now()
    decorate([case], now)
    units = _dispatch_units(request.user, case) if Action.DISPATCH in detail.actions else []
    actions = []
    for action in detail.actions:
        colour, icon = ACTION_STYLES.get(action, ("outline-secondary", "bi-dot"))
        initial = None
        if action == Action.DISPATCH and case.unit_id:
            # Dispatching again starts from the current units (and keeps them unless changed).
            initial = {"unit": case.unit_id, "co_units": [u.pk for u in detail.co_units], "measures": case.measures}
        if action == bound_action and bound is not None:
            form = bound
        else:
            form = _action_form(action, case, units, None, initial)
        actions.append(
            {
                "action": action,
                "label": Action(action).label,
                "form": form,
                "colour": colour,
                "icon": icon,
                "main": action in MAIN_ACTIONS,
                # Nothing to fill in: one click does it.
                "simple": type(form) is ActionForm,
                "open": action == bound_action,
                "url": reverse("cases:action", args=[case.pk, action]),
            }
        )
    for event in detail.timeline:
        event.details = _event_details(event)
        event.state_colour = STATE_COLOURS.get(event.to_state, "secondary")
    context = {
        "case": case,
        "detail": detail,
        "timeline": detail.timeline,
        "photos": [a for a in detail.attachments if a.is_image],
        "documents": [a for a in detail.attachments if not a.is_image],
        "main_actions": [a for a in actions if a["main"]],
        "other_actions": [a for a in actions if not a["main"]],
        "extra_rows": _extra_rows(case),
        "map_data": _map_data(case),
        "map": map_settings(),
        "level_icon": LEVEL_ICONS.get(case.level, "bi-diagram-3"),
        "is_open": case.state in (State.REPORTED, State.REGISTERED, State.DISPATCHED, State.IN_PROGRESS),
    }
    return render(request, "cases/detail.html", context, status=status)


def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """The case page: header, map, details, photos, timeline and the actions the user may take now."""
    try:
        detail = selectors.case_detail(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return _detail_page(request, detail)


@require_POST
def case_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Take one action on the case through the transition door, then go back to the case page."""
    if action not in USER_ACTIONS:
        raise Http404(_("Unknown action: %(action)s.") % {"action": action})
    case = _case(request, pk)
    units = _dispatch_units(request.user, case) if action == Action.DISPATCH else []
    form = _action_form(action, case, units, request.POST)
    status = 400
    if form.is_valid():
        try:
            services.case_transition(
                actor=request.user,
                case=case,
                action=action,
                files=request.FILES.getlist("files"),
                **form.service_arguments(),
            )
        except ApplicationError as exc:
            add_application_error(form, exc)
            messages.error(request, exc.message)
            status = exc.status
        else:
            messages.success(request, _("“%(action)s” done.") % {"action": Action(action).label})
            if _still_visible(request.user, case.pk):
                return redirect("cases:detail", pk=case.pk)
            # The step took the case out of the user's sight (a unit returned it): back to the queue.
            return redirect("cases:queue")
    else:
        first = next((str(e) for errors in form.errors.values() for e in errors), _("The data is not valid."))
        messages.error(request, first)
    try:
        detail = selectors.case_detail(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    return _detail_page(request, detail, bound=form, bound_action=action, status=status)


# --- attachments ------------------------------------------------------------------------------


def _serve(request: HttpRequest, pk: int, attachment: int, *, thumbnail: bool) -> FileResponse:
    """A case's file, only inside the scope, shown inline with its checked type and never sniffed."""
    case = _case(request, pk)
    found = next((a for a in selectors.case_attachments(case=case) if a.pk == attachment), None)
    if found is None or (thumbnail and not found.thumbnail):
        raise Http404(_("File not found."))
    stored = found.thumbnail if thumbnail else found.file
    try:
        handle = stored.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404(_("File not found.")) from exc
    response = FileResponse(
        handle,
        content_type="image/jpeg" if thumbnail else found.content_type,
        as_attachment=False,
        filename=found.name,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, max-age=3600"
    return response


def attachment(request: HttpRequest, pk: int, attachment: int) -> FileResponse:
    """A case's photo or file, inside the user's scope only."""
    return _serve(request, pk, attachment, thumbnail=False)


def attachment_thumbnail(request: HttpRequest, pk: int, attachment: int) -> FileResponse:
    """The thumbnail of a case's photo, inside the user's scope only."""
    return _serve(request, pk, attachment, thumbnail=True)


# --- the report form --------------------------------------------------------------------------


def _report_map(request: HttpRequest) -> dict[str, Any]:
    """The boundaries drawn under the report map: the grids of the current area (communities at the top)."""
    area = current_area(request)
    if area is None:
        return {"type": "FeatureCollection", "features": []}
    levels = (Level.COMMUNITY,) if area.level == Level.SUBDISTRICT else (Level.GRID,)
    return area_features(user=request.user, root=area, levels=levels)


def _report_page(request: HttpRequest, form: ReportForm, *, error: str = "", status: int = 200) -> HttpResponse:
    form.style_widgets()
    schemas = {code: category.form_schema or [] for code, category in form.categories.items()}
    context = {
        "form": form,
        "error": error,
        "schemas": schemas,
        "extra_fields": form.extra_fields(),
        "features": _report_map(request),
        "map": map_settings(),
        "files_lost": bool(request.FILES),
    }
    return render(request, "cases/report.html", context, status=status)


def case_report(request: HttpRequest) -> HttpResponse:
    """The report form (mobile-first); a new case opens its page."""
    if scope_for(request.user).is_empty:
        raise DjangoPermissionDenied
    categories = list(selectors.category_list(user=request.user, leaves=True))
    if request.method != "POST":
        initial = {"priority": "normal", "category": request.GET.get("category", "")}
        return _report_page(request, ReportForm(initial=initial, categories=categories))
    form = ReportForm(request.POST, categories=categories)
    error = ""
    if form.is_valid():
        try:
            case = services.case_report(
                actor=request.user, files=request.FILES.getlist("files"), **form.service_arguments()
            )
        except ApplicationError as exc:
            add_application_error(form, exc, extra_errors=form.extra_errors)
            error = exc.message
        else:
            messages.success(request, _("Case %(code)s reported.") % {"code": case.code})
            if _still_visible(request.user, case.pk):
                return redirect("cases:detail", pk=case.pk)
            return redirect("cases:queue")
    else:
        error = _("Please correct the fields marked below.")
    return _report_page(request, form, error=error, status=400)


# --- resolution figures -----------------------------------------------------------------------


def _percent(rate: float | None) -> float | None:
    return None if rate is None else round(rate * 100, 1)


def _figures(resolution: selectors.Resolution) -> dict[str, Any]:
    """One area's figures as the page shows them: counts, rates in per cent, bar widths."""
    closed = resolution.closed
    levels = [
        (CaseLevel.GRID, resolution.grid),
        (CaseLevel.COMMUNITY, resolution.community),
        (CaseLevel.SUBDISTRICT, resolution.subdistrict),
        (CaseLevel.SUPERIOR, resolution.superior),
    ]
    return {
        "area": resolution.area,
        "closed": closed,
        "levels": [
            {
                "level": level,
                "label": CaseLevel(level).label,
                "count": count,
                "share": round(count * 100 / closed, 1) if closed else 0,
            }
            for level, count in levels
        ],
        "rates": [
            {"key": "grid", "label": _("Closed within the grid"), "value": _percent(resolution.within_grid)},
            {
                "key": "community",
                "label": _("Closed within the community"),
                "value": _percent(resolution.within_community),
            },
            {
                "key": "subdistrict",
                "label": _("Closed within the subdistrict"),
                "value": _percent(resolution.within_subdistrict),
            },
        ],
    }


def resolution_stats(request: HttpRequest) -> HttpResponse:
    """不出网率, 不出社区率 and 不出街道率 of an area and its children over a period."""
    areas = switchable_areas(user=request.user)
    default = current_area(request)
    if default is None or all(a.pk != default.pk for a in areas):
        default = areas[0] if areas else None
    form = StatsForm(request.GET or None, areas=areas)
    if not form.is_bound:
        form = StatsForm(initial={"area": str(default.pk) if default else ""}, areas=areas)
    area: Area | None = default
    stats = None
    error = ""
    if form.is_bound and not form.is_valid():
        error = _("Please correct the fields marked below.")
    else:
        area = form.chosen_area(default)
        if area is not None:
            data = form.cleaned_data if form.is_bound else {}
            try:
                stats = selectors.resolution_stats(
                    user=request.user, area=area, start=data.get("start"), end=data.get("end")
                )
            except ApplicationError as exc:
                add_application_error(form, exc)
                error = exc.message
            else:
                # Show the period the figures cover, also when the defaults chose it.
                form.initial.update(start=stats.start, end=stats.end)
    context = {
        "form": form,
        "area": area,
        "stats": stats,
        "error": error,
        "total": _figures(stats.total) if stats else None,
        "children": [_figures(child) for child in stats.children] if stats else [],
        "list_query": urlencode({"area": area.code, "state": State.CLOSED}) if area else "",
    }
    return render(request, "cases/stats.html", context, status=400 if error else 200)
