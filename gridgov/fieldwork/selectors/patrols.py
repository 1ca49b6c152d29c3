"""Reads of patrols (格中走), always through the scope: lists, one patrol, its track, its summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from gridgov.areas.models import Area
from gridgov.core.scope import scoped, scoped_get
from gridgov.fieldwork.choices import PatrolState, PointFlag
from gridgov.fieldwork.models import Patrol, PatrolPoint, Visit

LIST_RELATED = ("worker", "grid")


def patrol_list(*, user: Any) -> QuerySet[Patrol]:
    """The patrols the user may read (their area's), newest first."""
    return scoped(Patrol.objects.select_related(*LIST_RELATED), user)


def patrol_get(*, user: Any, pk: Any) -> Patrol:
    """One patrol inside the scope (NotFound outside it)."""
    return scoped_get(Patrol.objects.select_related(*LIST_RELATED), user, pk=pk)


def active_patrol(*, user: Any) -> Patrol | None:
    """The user's own patrol under way, if any (a visit made now is attached to it)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return patrol_list(user=user).filter(worker=user, state=PatrolState.ACTIVE).first()


def duration_seconds(patrol: Patrol, now: datetime | None = None) -> float:
    """How long the patrol lasted, or has lasted so far while it is under way."""
    end = patrol.ended_at or now or timezone.now()
    return max(0.0, (end - patrol.started_at).total_seconds())


def patrol_track(*, patrol: Patrol) -> dict[str, Any]:
    """The track as a GeoJSON FeatureCollection (lng, lat order).

    A LineString of the counted points in order (with a Point for a track of one point), "start"
    and "end" Points, and every flagged point as a Point with its flag. One query, no model objects.
    """
    points = PatrolPoint.objects.filter(patrol=patrol).order_by("seq")
    rows = points.values_list("seq", "recorded_at", "lat", "lng", "flag")
    line: list[list[float]] = []
    flagged: list[dict[str, Any]] = []
    first_time = last_time = None
    for seq, recorded_at, lat, lng, flag in rows:
        if flag == PointFlag.OK:
            line.append([lng, lat])
            first_time = first_time or recorded_at
            last_time = recorded_at
        else:
            flagged.append(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [lng, lat]},
                    "properties": {
                        "kind": "flagged",
                        "flag": flag,
                        "flag_label": str(PointFlag(flag).label),
                        "seq": seq,
                        "t": recorded_at.isoformat(),
                    },
                }
            )
    features: list[dict[str, Any]] = []
    if len(line) > 1:
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "LineString", "coordinates": line},
                "properties": {"kind": "track", "points": len(line), "distance_m": round(patrol.distance_m, 1)},
            }
        )
    if line:
        features.append(_point(line[0], "start", first_time))
        if patrol.state == PatrolState.ENDED or len(line) > 1:
            features.append(_point(line[-1], "end" if patrol.state == PatrolState.ENDED else "last", last_time))
    features.extend(flagged)
    return {"type": "FeatureCollection", "features": features}


def _point(coordinates: list[float], kind: str, time: datetime | None) -> dict[str, Any]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": coordinates},
        "properties": {"kind": kind, "t": time.isoformat() if time else None},
    }


@dataclass
class PatrolSummary:
    """What a patrol page and the API detail show beside the patrol's own fields."""

    patrol: Patrol
    distance_m: float
    duration_s: float
    point_count: int
    counted_count: int
    flagged_count: int
    visits: list[Visit] = field(default_factory=list)
    cases: list[Any] = field(default_factory=list)


def patrol_visits(*, user: Any, patrol: Patrol) -> QuerySet[Visit]:
    """The visits made on the patrol that the user may read, in the order made."""
    return scoped(Visit.objects.filter(patrol=patrol), user).order_by("visited_at", "id")


def patrol_cases(*, user: Any, patrol: Patrol, now: datetime | None = None) -> QuerySet:
    """The cases the patrol's worker reported between its start and its end (or now), that the user may read."""
    from gridgov.cases.selectors import case_list

    end = patrol.ended_at or now or timezone.now()
    return (
        case_list(user=user)
        .filter(reporter_id=patrol.worker_id, created_at__gte=patrol.started_at, created_at__lte=end)
        .order_by("created_at", "id")
    )


def patrol_summary(*, user: Any, patrol: Patrol, now: datetime | None = None) -> PatrolSummary:
    """Distance, duration, counts, and the visits and cases made on the way (three queries)."""
    now = now or timezone.now()
    return PatrolSummary(
        patrol=patrol,
        distance_m=patrol.distance_m,
        duration_s=duration_seconds(patrol, now),
        point_count=patrol.point_count,
        counted_count=patrol.point_count - patrol.flagged_count,
        flagged_count=patrol.flagged_count,
        visits=list(patrol_visits(user=user, patrol=patrol)),
        cases=list(patrol_cases(user=user, patrol=patrol, now=now)),
    )


def patrol_grids(*, user: Any) -> list[Area]:
    """The grids the user may patrol (from their own posts), by code: what the Start form offers.

    Read by the user's posts rather than the scope: a household group leader patrols the group's
    grid, which lies above their scope.
    """
    from gridgov.fieldwork.services.patrols import patrol_areas

    codes = list(patrol_areas(user))
    return list(Area.objects.filter(code__in=codes).only("id", "code", "name").order_by("code")) if codes else []
