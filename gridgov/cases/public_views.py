"""The resident's pages (居民下单 → 社区派单 → 责任单位接单): no login, a tracking code instead.

A resident reports a problem (category, what, where, photos, how to call back) and gets a tracking
code; with it they follow the case on a simplified timeline and rate the result once it is closed.
These pages never show staff names, internal notes or the reporter's phone: the timeline shows the
step, its time, the responsible unit and only the notes meant for the resident (why a report was not
accepted, what was done, what the check found). Writes go through `services.case_report` and
`services.case_transition(public=True)`; reads through `selectors.case_by_tracking_code`.

Abuse: a honeypot field, and at most GRIDGOV_PUBLIC_REPORTS_PER_HOUR reports per client address per
hour (Django's cache; use a shared cache when several server processes run).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.http import FileResponse, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from gridgov.areas.choices import Level
from gridgov.areas.geo import AREAS_GENERATION
from gridgov.areas.models import Area
from gridgov.cases import selectors, services
from gridgov.cases.choices import Action, Source, State
from gridgov.cases.models import Case, CaseAttachment, CaseEvent
from gridgov.cases.public_forms import MAX_PHOTOS, RateForm, ReportForm, TrackForm
from gridgov.core import audit, generations
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import map_settings

logger = logging.getLogger("gridgov.cases.public")

DEFAULT_REPORTS_PER_HOUR = 10
RATE_WINDOW_SECONDS = 3600
OUTLINES_CACHE_SECONDS = 600
OUTLINES_LIMIT = 2000

# What a resident reads for each state and step (plain words, no workflow jargon).
PUBLIC_STATES = {
    State.REPORTED: gettext_lazy("Received, waiting to be accepted"),
    State.REGISTERED: gettext_lazy("Accepted"),
    State.DISPATCHED: gettext_lazy("Sent to the responsible unit"),
    State.IN_PROGRESS: gettext_lazy("Being handled"),
    State.RESOLVED: gettext_lazy("Handled, being checked"),
    State.CLOSED: gettext_lazy("Case closed"),
    State.REJECTED: gettext_lazy("Not accepted"),
    State.MERGED: gettext_lazy("Merged with another report of the same problem"),
}
STATE_STYLES = {
    State.REPORTED: "warning",
    State.REGISTERED: "info",
    State.DISPATCHED: "primary",
    State.IN_PROGRESS: "primary",
    State.RESOLVED: "info",
    State.CLOSED: "success",
    State.REJECTED: "secondary",
    State.MERGED: "secondary",
}
PUBLIC_STEPS = {
    Action.REPORT: gettext_lazy("Report received"),
    Action.ACCEPT: gettext_lazy("Accepted for handling"),
    Action.REJECT: gettext_lazy("Not accepted"),
    Action.HANDLE_ON_SITE: gettext_lazy("Handled on the spot"),
    Action.DISPATCH: gettext_lazy("Sent to the responsible unit"),
    Action.CLAIM: gettext_lazy("Handling started"),
    Action.RETURN: gettext_lazy("Being reassigned"),
    Action.ESCALATE: gettext_lazy("Passed to a higher level"),
    Action.RESOLVE: gettext_lazy("Handled"),
    Action.REOPEN: gettext_lazy("Reopened"),
    Action.RATE: gettext_lazy("You rated the result"),
    Action.MERGE: gettext_lazy("Merged with another report of the same problem"),
}
VERIFY_STEPS = {True: gettext_lazy("Checked and closed"), False: gettext_lazy("Checked: more work needed")}
# Only these steps' notes are written for the resident; every other note is internal.
PUBLIC_NOTE_ACTIONS = frozenset({Action.REJECT, Action.RESOLVE, Action.HANDLE_ON_SITE, Action.VERIFY})
# Steps that name the unit (an organisation, never a person).
UNIT_ACTIONS = frozenset({Action.DISPATCH, Action.CLAIM})
# The progress bar: received → accepted → handling → closed.
PROGRESS = [
    (gettext_lazy("Received"), {State.REPORTED}),
    (gettext_lazy("Accepted"), {State.REGISTERED, State.DISPATCHED}),
    (gettext_lazy("Handling"), {State.IN_PROGRESS, State.RESOLVED}),
    (gettext_lazy("Closed"), {State.CLOSED}),
]


# --- helpers ----------------------------------------------------------------------------------


def _render(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> HttpResponse:
    """Render a resident page. The layout is the public one even for a signed-in staff member:
    no staff navigation, no names (the explicit `user` outranks the context processor's)."""
    response = render(request, f"cases/public/{template}", {"user": AnonymousUser(), **context}, status=status)
    add_never_cache_headers(response)
    return response


def _not_found(request: HttpRequest, code: str = "") -> HttpResponse:
    return _render(request, "not_found.html", {"code": code[:16], "form": TrackForm()}, status=404)


def _reports_per_hour() -> int:
    return int(getattr(settings, "GRIDGOV_PUBLIC_REPORTS_PER_HOUR", DEFAULT_REPORTS_PER_HOUR))


def _rate_key(request: HttpRequest) -> str:
    return f"gridgov:public-reports:{audit.client_ip(request) or 'unknown'}"


def _recent_reports(key: str, now: float) -> list[float]:
    """Times of this address's reports within the last hour (a sliding window, not a clock hour)."""
    stamps = cache.get(key) or []
    return [t for t in stamps if now - t < RATE_WINDOW_SECONDS]


def _rate_limited(request: HttpRequest) -> bool:
    return len(_recent_reports(_rate_key(request), time.time())) >= _reports_per_hour()


def _count_report(request: HttpRequest) -> None:
    key, now = _rate_key(request), time.time()
    cache.set(key, [*_recent_reports(key, now), now], RATE_WINDOW_SECONDS)


def community_outlines() -> dict[str, Any]:
    """The communities' boundaries as GeoJSON, so that a resident can tell where to tap on a map
    that has no base tiles (intranets). Administrative boundaries are public; cached per change."""
    key = f"gridgov:public-outlines:{generations.current(AREAS_GENERATION)}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    rows = (
        Area.objects.filter(level=Level.COMMUNITY, boundary__isnull=False)
        .only("code", "name", "boundary")
        .order_by("code")[:OUTLINES_LIMIT]
    )
    features = [
        {"type": "Feature", "geometry": a.boundary, "properties": {"name": a.name}}
        for a in rows
        if isinstance(a.boundary, dict)
    ]
    outlines = {"type": "FeatureCollection", "features": features}
    cache.set(key, outlines, OUTLINES_CACHE_SECONDS)
    return outlines


def _report_page(request: HttpRequest, form: ReportForm, *, refusal: str = "", status: int = 200) -> HttpResponse:
    context = {
        "form": form,
        "refusal": refusal,
        "outlines": community_outlines(),
        **map_settings(),
        "max_photos": MAX_PHOTOS,
        # A browser never sends chosen files back: say so when a refused form had photos.
        "photos_lost": request.method == "POST" and bool(request.FILES.getlist("photos")) and status != 200,
    }
    return _render(request, "report.html", context, status=status)


def _case_by_code(code: str) -> Case | None:
    return selectors.case_by_tracking_code(code=code)


def _public_timeline(events: list[CaseEvent]) -> list[dict[str, Any]]:
    """The steps a resident may read: time, label, the unit for dispatch/claim, resident-facing notes."""
    steps = []
    for event in events:
        if event.action == Action.VERIFY:
            label = VERIFY_STEPS[bool((event.data or {}).get("passed", event.to_state == State.CLOSED))]
        else:
            label = PUBLIC_STEPS.get(event.action)
        if label is None:
            continue
        steps.append(
            {
                "time": event.time,
                "action": event.action,
                "label": label,
                "unit": event.unit.name if event.action in UNIT_ACTIONS and event.unit is not None else "",
                "note": event.note if event.action in PUBLIC_NOTE_ACTIONS else "",
            }
        )
    return steps


def _resident_photos(case: Case, events: list[CaseEvent]) -> list[CaseAttachment]:
    """The photos sent with the report (not the staff's files)."""
    return [
        attachment
        for event in events
        if event.action == Action.REPORT
        for attachment in event.attachments.all()
        if attachment.is_image and attachment.uploaded_by_id is None
    ]


def _progress(case: Case) -> list[dict[str, Any]]:
    reached = next((i for i, (_label, states) in enumerate(PROGRESS) if case.state in states), -1)
    return [{"label": label, "done": i <= reached, "current": i == reached} for i, (label, _s) in enumerate(PROGRESS)]


def _case_page(
    request: HttpRequest, case: Case, *, rate_form: RateForm | None = None, rate_error: str = "", status: int = 200
) -> HttpResponse:
    events = selectors.case_timeline(case=case)
    rateable = case.state == State.CLOSED and case.satisfaction is None
    context = {
        "case": case,
        "code": case.tracking_code,
        "state_label": PUBLIC_STATES.get(case.state, case.get_state_display()),
        "state_style": STATE_STYLES.get(case.state, "secondary"),
        "progress": _progress(case) if case.state not in (State.REJECTED, State.MERGED) else [],
        "timeline": _public_timeline(events),
        "photos": _resident_photos(case, events),
        "show_result": case.state in (State.RESOLVED, State.CLOSED) and bool(case.result),
        "rateable": rateable,
        "rate_form": (rate_form or RateForm()) if rateable else None,
        "rate_error": rate_error,
        "stars": range(1, 6),
        "new": request.GET.get("new") == "1",
        "track_url": request.build_absolute_uri(reverse("public_cases:case", args=[case.tracking_code])),
    }
    return _render(request, "case.html", context, status=status)


# --- pages ------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def report(request: HttpRequest) -> HttpResponse:
    """The report form; on success, the tracking page with the new code shown prominently."""
    categories = list(selectors.category_list(resident=True))
    if request.method != "POST":
        return _report_page(request, ReportForm(categories=categories, initial={"category": request.GET.get("c")}))
    form = ReportForm(request.POST, request.FILES, categories=categories)
    if form.is_robot:
        logger.warning("public report refused: honeypot filled ip=%s", audit.client_ip(request))
        return _report_page(
            request, ReportForm(categories=categories), refusal=_("Your report could not be accepted."), status=400
        )
    if _rate_limited(request):
        logger.warning("public report refused: rate limit ip=%s", audit.client_ip(request))
        refusal = _(
            "Too many reports from your network in the last hour (at most %(n)d). Please try again later, "
            "or call the community office if it is urgent."
        ) % {"n": _reports_per_hour()}
        return _report_page(request, form, refusal=refusal, status=429)
    if form.is_valid():
        try:
            new_case = services.case_report(actor=None, source=Source.RESIDENT, **form.service_arguments())
        except ApplicationError as exc:
            form.add_application_error(exc)
        else:
            _count_report(request)
            return redirect(reverse("public_cases:case", args=[new_case.tracking_code]) + "?new=1")
    return _report_page(request, form, status=400)


@require_GET
def track(request: HttpRequest) -> HttpResponse:
    """Enter a tracking code; a well-formed code goes to its page (which says if it is unknown)."""
    form = TrackForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return redirect("public_cases:case", code=form.cleaned_data["code"])
    return _render(request, "track.html", {"form": form}, status=400 if form.is_bound else 200)


@require_GET
def case(request: HttpRequest, code: str) -> HttpResponse:
    """A case as its reporter follows it: state, simplified timeline, photos, result, rating."""
    found = _case_by_code(code)
    if found is None:
        return _not_found(request, code)
    return _case_page(request, found)


@require_POST
def rate(request: HttpRequest, code: str) -> HttpResponse:
    """The resident's 1–5 star rating of a closed case, once."""
    found = _case_by_code(code)
    if found is None:
        return _not_found(request, code)
    form = RateForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.case_transition(
                actor=None,
                case=found,
                action=Action.RATE,
                public=True,
                score=form.cleaned_data["score"],
                note=form.cleaned_data["note"],
            )
        except NotFound:
            return _not_found(request, code)
        except ApplicationError as exc:
            found.refresh_from_db()
            already = found.satisfaction is not None
            message = _("This case has already been rated.") if already else exc.message
            form.add_error("score" if "score" in exc.fields and not already else None, message)
            status = exc.status
        else:
            messages.success(request, _("Thank you for your rating."))
            return redirect("public_cases:case", code=found.tracking_code)
    if not (found.state == State.CLOSED and found.satisfaction is None):
        # Nothing left to rate: say why above the case instead of showing the form again.
        errors = form.non_field_errors() or [_("This case cannot be rated now.")]
        return _case_page(request, found, rate_error=str(errors[0]), status=status)
    return _case_page(request, found, rate_form=form, status=status)


@require_GET
def attachment(request: HttpRequest, code: str, attachment: int) -> HttpResponse:
    """A photo the resident sent with the report (`?thumbnail=1` for the small one)."""
    found = _case_by_code(code)
    if found is None:
        return _not_found(request, code)
    events = selectors.case_timeline(case=found)
    photo = next((a for a in _resident_photos(found, events) if a.pk == attachment), None)
    if photo is None:
        return _not_found(request, code)
    stored = photo.thumbnail if request.GET.get("thumbnail") and photo.thumbnail else photo.file
    content_type = "image/jpeg" if stored is photo.thumbnail else photo.content_type
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        logger.error("public photo missing on disk: attachment=%s", photo.pk)
        return _not_found(request, code)
    response = FileResponse(handle, content_type=content_type, filename=photo.name)
    patch_cache_control(response, private=True, max_age=3600)
    return response
