"""Pages of patrols (格中走), phone first: the list, one patrol with its map, and the current patrol.

The current patrol page has big Start and End buttons that are plain form POSTs, so they work
without JavaScript (no track then); with it, `gridgov/patrol.js` records the track while the patrol
is under way and uploads it in batches to the API. Reads go through the patrol selectors (a patrol
outside the scope is a 404), writes through the patrol services; a refusal shows the service's message.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import list_context, map_settings
from gridgov.fieldwork.choices import PatrolState
from gridgov.fieldwork.filtersets_patrols import PatrolFilterSet
from gridgov.fieldwork.models import Patrol
from gridgov.fieldwork.selectors import patrols as selectors
from gridgov.fieldwork.services import patrols as services

RECENT = 5


# --- helpers --------------------------------------------------------------------------------------


def distance_label(metres: float) -> str:
    """1.23 km from a kilometre on, whole metres below."""
    if metres >= 1000:
        return _("%(km).2f km") % {"km": metres / 1000}
    return _("%(m)d m") % {"m": round(metres)}


def duration_label(seconds: float) -> str:
    """h:mm from an hour on, else minutes."""
    minutes = int(seconds // 60)
    if minutes >= 60:
        return _("%(h)d h %(m)02d min") % {"h": minutes // 60, "m": minutes % 60}
    return _("%(m)d min") % {"m": minutes}


def decorate(patrols: Any, now: datetime | None = None) -> None:
    """Give each patrol what its row shows: distance and duration in words, the state's colour."""
    now = now or timezone.now()
    for patrol in patrols:
        patrol.distance_text = distance_label(patrol.distance_m)
        patrol.duration_text = duration_label(selectors.duration_seconds(patrol, now))
        patrol.state_colour = "success" if patrol.state == PatrolState.ACTIVE else "secondary"


def _patrol(request: HttpRequest, pk: int) -> Patrol:
    try:
        return selectors.patrol_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


# --- the list -------------------------------------------------------------------------------------


def patrol_list(request: HttpRequest) -> HttpResponse:
    """The patrols of the user's area, newest first, with distance and duration."""
    context = list_context(request, PatrolFilterSet, selectors.patrol_list(user=request.user))
    decorate(context["page"])
    context["active"] = selectors.active_patrol(user=request.user)
    context["can_patrol"] = bool(services.patrol_areas(request.user))
    return render(request, "fieldwork/patrol_list.html", context)


# --- one patrol -----------------------------------------------------------------------------------


def patrol_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One patrol: its map (flagged points marked apart), figures, and the visits and cases on the way."""
    patrol = _patrol(request, pk)
    now = timezone.now()
    summary = selectors.patrol_summary(user=request.user, patrol=patrol, now=now)
    decorate([patrol], now)
    track = selectors.patrol_track(patrol=patrol)
    context = {
        "patrol": patrol,
        "summary": summary,
        "map_data": {"track": track, "boundary": patrol.grid.boundary},
        "map": map_settings(),
        "mine": patrol.worker_id == request.user.pk,
    }
    return render(request, "fieldwork/patrol_detail.html", context)


# --- the current patrol ---------------------------------------------------------------------------


def _current_page(request: HttpRequest, *, status: int = 200) -> HttpResponse:
    active = selectors.active_patrol(user=request.user)
    now = timezone.now()
    grids = selectors.patrol_grids(user=request.user)
    recent = list(
        selectors.patrol_list(user=request.user).filter(worker=request.user, state=PatrolState.ENDED)[:RECENT]
    )
    decorate(recent, now)
    context: dict[str, Any] = {"active": active, "grids": grids, "recent": recent}
    if active is not None:
        decorate([active], now)
        context["patrol_config"] = {
            "id": active.pk,
            "startedAt": active.started_at.isoformat(),
            "distance": round(active.distance_m, 1),
            "points": active.point_count,
            "flagged": active.flagged_count,
            "pointsUrl": reverse("api:patrol-points", args=[active.pk]),
            "batchMax": services.batch_max(),
            "maxSpeed": services.max_speed(),
            # The last counted point, from which the page adds up the points it has not sent yet.
            "last": None
            if active.last_point_at is None
            else {"t": round(active.last_point_at.timestamp() * 1000), "lat": active.last_lat, "lng": active.last_lng},
            "uploadEvery": 30,
            "uploadAt": 20,
        }
    return render(request, "fieldwork/patrol_current.html", context, status=status)


def patrol_current(request: HttpRequest) -> HttpResponse:
    """The phone's patrol page: Start, or the patrol under way with its live figures and End."""
    return _current_page(request)


@require_POST
def patrol_start(request: HttpRequest) -> HttpResponse:
    """Start a patrol (a plain form POST): back to the current patrol page."""
    try:
        services.patrol_start(actor=request.user, grid=request.POST.get("grid") or None)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _current_page(request, status=exc.status)
    messages.success(request, _("Patrol started. Keep this page open while you walk."))
    return redirect("fieldwork:patrol_current")


def _posted_points(request: HttpRequest) -> list[Any]:
    """The last batch the page's script put in the form (JSON), or none without JavaScript."""
    raw = request.POST.get("points", "").strip()
    if not raw:
        return []
    try:
        points = json.loads(raw)
    except ValueError:
        return []
    return points if isinstance(points, list) else []


@require_POST
def patrol_end(request: HttpRequest, pk: int) -> HttpResponse:
    """End the patrol (a plain form POST, with the last points the script held): to the patrol's page."""
    patrol = _patrol(request, pk)
    note = request.POST.get("note", "")
    try:
        try:
            services.patrol_end(actor=request.user, patrol=patrol, points=_posted_points(request), note=note)
        except ApplicationError as exc:
            if exc.code not in ("invalid_points", "batch_too_large", "invalid"):
                raise
            # The held points cannot be saved; ending matters more than they do.
            messages.warning(request, exc.message)
            services.patrol_end(actor=request.user, patrol=patrol, note=note)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        if exc.status == 409:
            return redirect("fieldwork:patrol", pk=patrol.pk)
        return _current_page(request, status=exc.status)
    messages.success(request, _("Patrol ended."))
    return redirect("fieldwork:patrol", pk=patrol.pk)


urlpatterns = [
    path("patrols/", patrol_list, name="patrols"),
    path("patrols/current/", patrol_current, name="patrol_current"),
    path("patrols/start/", patrol_start, name="patrol_start"),
    path("patrols/<int:pk>/", patrol_detail, name="patrol"),
    path("patrols/<int:pk>/end/", patrol_end, name="patrol_end"),
]
