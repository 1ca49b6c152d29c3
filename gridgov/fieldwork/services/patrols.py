"""Writes of patrols (格中走): start, track points in batches, end, and ending the forgotten ones.

A phone uploads its track in batches. Each batch is checked whole before anything is written
(a malformed point refuses the batch), then stored in the order received while the patrol row is
locked, so two batches sent at once queue and each extends the distance from the last point the
other counted. The distance grows from the last counted point kept on the patrol row: a batch
costs O(batch), however long the track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import CODE_LENGTH, Level, Role
from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied, duplicates_refused
from gridgov.core.scope import area_posts, scope_for
from gridgov.fieldwork.choices import PatrolState, PointFlag
from gridgov.fieldwork.models import Patrol, PatrolPoint

# Who walks a grid: its worker and leader, and a household group leader in their group's grid.
PATROL_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.GROUP_LEADER})
# A phone's clock may run a little ahead of the server's; more than this is a wrong clock.
FUTURE_TOLERANCE = timedelta(minutes=5)
EARTH_RADIUS_M = 6_371_008.8  # mean radius (IUGG)
# Epoch milliseconds accepted as a time: 2000-01-01 to 2100-01-01.
EPOCH_MS_MIN = 946_684_800_000
EPOCH_MS_MAX = 4_102_444_800_000
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def batch_max() -> int:
    """The most points one batch may carry (GRIDGOV_PATROL_BATCH_MAX)."""
    return int(settings.GRIDGOV_PATROL_BATCH_MAX)


def max_speed() -> float:
    """The fastest plausible speed on foot or by bicycle, m/s (GRIDGOV_PATROL_MAX_SPEED)."""
    return float(settings.GRIDGOV_PATROL_MAX_SPEED)


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """The great-circle distance between two WGS 84 points, in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


# --- who may patrol where -------------------------------------------------------------------------


def patrol_areas(actor: Any) -> dict[str, str]:
    """{grid code: finest area code} of the grids the actor may patrol.

    A group leader patrols their group's grid; their patrol is filed under the group, so it stays
    in their own scope (a group leader's scope is the group, not the whole grid).
    """
    areas: dict[str, str] = {}
    for role, code in area_posts(actor):
        if role not in PATROL_ROLES:
            continue
        if role == Role.GROUP_LEADER and len(code) == CODE_LENGTH[Level.GROUP]:
            areas.setdefault(code[: CODE_LENGTH[Level.GRID]], code)
        elif len(code) == CODE_LENGTH[Level.GRID]:
            areas[code] = code  # a post at the grid itself files the patrol under the grid
    return areas


def _grid_from(value: Any) -> Area:
    """A grid given as an Area, an id or a code; NotFound when there is no such grid."""
    if isinstance(value, Area):
        if value.level != Level.GRID:
            raise ApplicationError("invalid_grid", _("Choose a grid."), fields={"grid": [_("Choose a grid.")]})
        return value
    text = str(value).strip()
    grids = Area.objects.filter(level=Level.GRID)
    found = None
    if text.isdigit():
        found = grids.filter(code=text).first() or (grids.filter(pk=int(text)).first() if len(text) < 15 else None)
    if found is None:
        raise NotFound("not_found", _("%(name)s not found.") % {"name": _("Grid")})
    return found


def _open_patrol_conflict(worker: Any) -> Conflict | None:
    """The 409 naming the worker's patrol under way, if there is one."""
    open_one = Patrol.objects.filter(worker=worker, state=PatrolState.ACTIVE).only("pk", "started_at").first()
    if open_one is None:
        return None
    started = timezone.localtime(open_one.started_at).strftime("%Y-%m-%d %H:%M")
    message = _("You already have a patrol under way (No. %(id)s, started %(time)s): end it first.") % {
        "id": open_one.pk,
        "time": started,
    }
    return Conflict("patrol_active", message, fields={"patrol": [str(open_one.pk)]})


# --- start ----------------------------------------------------------------------------------------


def patrol_start(*, actor: User, grid: Area | int | str | None = None, now: datetime | None = None) -> Patrol:
    """Start a patrol of one of the actor's grids (`grid` is needed only with posts in several grids).

    One patrol under way per worker: a second start is a 409 `patrol_active` naming the open one.
    """
    areas = patrol_areas(actor)
    if not areas:
        raise PermissionDenied(
            "forbidden", _("Only grid workers, grid leaders and household group leaders patrol a grid.")
        )
    if grid in (None, ""):
        if len(areas) > 1:
            message = _("You work in several grids: choose the grid you patrol.")
            raise ApplicationError("grid_required", message, fields={"grid": [message]})
        grid = Area.objects.get(code=next(iter(areas)))
    else:
        grid = _grid_from(grid)
        if grid.code not in areas:
            if scope_for(actor).covers_code(grid.code):
                raise PermissionDenied("forbidden", _("You may patrol only a grid you work in."))
            raise NotFound("not_found", _("%(name)s not found.") % {"name": _("Grid")})
    conflict = _open_patrol_conflict(actor)
    if conflict is not None:
        raise conflict
    started = now or timezone.now()
    try:
        # A start racing another start (two taps, two phones) meets the partial unique constraint.
        with (
            duplicates_refused("patrol_active", _("You already have a patrol under way: end it first.")),
            transaction.atomic(),
        ):
            patrol = Patrol(worker=actor, grid=grid, area_code=areas[grid.code], started_at=started)
            patrol.full_clean(validate_constraints=False)
            patrol.save()
            audit.record(
                actor=actor,
                event="fieldwork.patrol.start",
                obj=patrol,
                data={"grid": grid.code, "started_at": started.isoformat()},
            )
    except Conflict:
        raise _open_patrol_conflict(actor) or Conflict(
            "patrol_active", _("You already have a patrol under way: end it first.")
        ) from None
    return patrol


# --- points ---------------------------------------------------------------------------------------


@dataclass
class PointsResult:
    """What a batch did: points counted, points kept but flagged (index in the batch, why), duplicates
    skipped, and the patrol's totals after it."""

    accepted: int = 0
    flagged: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    distance_m: float = 0.0
    point_count: int = 0
    flagged_count: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "accepted": self.accepted,
            "flagged": self.flagged,
            "duplicates": self.duplicates,
            "distance_m": round(self.distance_m, 1),
            "point_count": self.point_count,
            "flagged_count": self.flagged_count,
        }


@dataclass(frozen=True)
class _Point:
    index: int
    t: datetime
    lat: float
    lng: float
    accuracy: float | None


def _number(value: Any) -> float | None:
    """A finite JSON number (never a boolean or a string), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _time(value: Any, now: datetime) -> tuple[datetime | None, str]:
    """A point's time from ISO 8601 with a zone or epoch milliseconds; (None, reason) when it is not."""
    if isinstance(value, str):
        try:
            parsed = parse_datetime(value.strip())
        except ValueError:
            parsed = None
        if parsed is None:
            return None, _("Give the time as ISO 8601 with a time zone, or as epoch milliseconds.")
        if timezone.is_naive(parsed):
            return None, _("The time needs a time zone (such as +08:00 or Z).")
    else:
        number = _number(value)
        if number is None:
            return None, _("Give the time as ISO 8601 with a time zone, or as epoch milliseconds.")
        if not EPOCH_MS_MIN <= number <= EPOCH_MS_MAX:
            return None, _("Epoch milliseconds out of range.")
        # Exact to the millisecond (a float division could round a stored time into a false non-duplicate).
        parsed = EPOCH + timedelta(milliseconds=number)
    if parsed > now + FUTURE_TOLERANCE:
        return None, _("The time lies in the future: check the phone's clock.")
    return parsed, ""


def parse_points(points: Any, *, now: datetime | None = None) -> list[_Point]:
    """Check a batch whole; refuse it (nothing is written) with `points.<index>.<field>` reasons."""
    now = now or timezone.now()
    if not isinstance(points, list | tuple):
        message = _("Send the points as a list.")
        raise ApplicationError("invalid", message, fields={"points": [message]})
    limit = batch_max()
    if len(points) > limit:
        message = _("At most %(n)d points in one batch; send the rest in another.") % {"n": limit}
        raise ApplicationError("batch_too_large", message, fields={"points": [message]})
    fields: dict[str, list[str]] = {}
    parsed: list[_Point] = []
    for index, raw in enumerate(points):
        prefix = f"points.{index}"
        if not isinstance(raw, dict):
            fields[prefix] = [_("A point is an object with t, lat and lng.")]
            continue
        errors: dict[str, str] = {}
        t, reason = (None, _("This field is required.")) if raw.get("t") in (None, "") else _time(raw["t"], now)
        if t is None:
            errors["t"] = reason
        values: dict[str, float | None] = {}
        for name, low, high in (("lat", -90.0, 90.0), ("lng", -180.0, 180.0)):
            value = raw.get(name)
            number = _number(value)
            if value is None:
                errors[name] = _("This field is required.")
            elif number is None:
                errors[name] = _("Enter a number.")
            elif not low <= number <= high:
                errors[name] = _("Out of range (%(low)g to %(high)g).") % {"low": low, "high": high}
            values[name] = number
        accuracy = raw.get("accuracy")
        if accuracy is not None:
            number = _number(accuracy)
            if number is None or number < 0:
                errors["accuracy"] = _("Enter a number of metres, zero or more.")
            accuracy = number
        for name, reason in errors.items():
            fields[f"{prefix}.{name}"] = [reason]
        if not errors:
            parsed.append(_Point(index, t, values["lat"], values["lng"], accuracy))
    if fields:
        first_name, first_reasons = next(iter(fields.items()))
        message = _("The batch was refused, nothing was saved: %(field)s: %(reason)s") % {
            "field": first_name,
            "reason": first_reasons[0],
        }
        raise ApplicationError("invalid_points", message, fields=fields)
    return parsed


def _stored_keys(patrol: Patrol, points: list[_Point]) -> set[tuple[datetime, float, float]]:
    """(time, lat, lng) of the patrol's stored points at the batch's times: one query on this batch's times."""
    if not points:
        return set()
    times = sorted({p.t for p in points})
    rows = PatrolPoint.objects.filter(patrol=patrol, recorded_at__in=times).values_list("recorded_at", "lat", "lng")
    return {(t, lat, lng) for t, lat, lng in rows}


def _append(patrol: Patrol, points: list[_Point]) -> PointsResult:
    """Store a checked batch on a locked patrol: skip duplicates, flag the implausible, extend the distance."""
    result = PointsResult()
    seen = _stored_keys(patrol, points)
    speed_limit = max_speed()
    seq = patrol.point_count
    rows: list[PatrolPoint] = []
    for point in points:
        key = (point.t, point.lat, point.lng)
        if key in seen:
            # The same point again: a batch re-sent after its answer was lost.
            result.duplicates += 1
            continue
        seen.add(key)
        flag = PointFlag.OK
        if patrol.last_point_at is not None:
            if point.t <= patrol.last_point_at:
                flag = PointFlag.OUT_OF_ORDER
            else:
                step = haversine_m(patrol.last_lat, patrol.last_lng, point.lat, point.lng)
                seconds = (point.t - patrol.last_point_at).total_seconds()
                if step / seconds > speed_limit:
                    flag = PointFlag.TOO_FAST
                else:
                    patrol.distance_m += step
        if flag == PointFlag.OK:
            patrol.last_point_at, patrol.last_lat, patrol.last_lng = point.t, point.lat, point.lng
            result.accepted += 1
        else:
            result.flagged.append({"index": point.index, "flag": str(flag)})
        seq += 1
        rows.append(
            PatrolPoint(
                patrol=patrol,
                seq=seq,
                recorded_at=point.t,
                lat=point.lat,
                lng=point.lng,
                accuracy=point.accuracy,
                flag=flag,
            )
        )
    if rows:
        PatrolPoint.objects.bulk_create(rows, batch_size=500)
        patrol.point_count = seq
        patrol.flagged_count += len(result.flagged)
        patrol.save(
            update_fields=[
                "distance_m",
                "point_count",
                "flagged_count",
                "last_point_at",
                "last_lat",
                "last_lng",
                "updated_at",
            ]
        )
    result.distance_m = patrol.distance_m
    result.point_count = patrol.point_count
    result.flagged_count = patrol.flagged_count
    return result


def _check_worker(actor: Any, patrol: Patrol) -> None:
    if actor is None or patrol.worker_id != getattr(actor, "pk", None):
        raise PermissionDenied("forbidden", _("Only the worker on the patrol may do this."))


def _locked(patrol: Patrol) -> Patrol:
    """The patrol row, locked until the transaction ends; 409 `patrol_ended` when it is over."""
    locked = Patrol.objects.select_for_update().get(pk=patrol.pk)
    if locked.state != PatrolState.ACTIVE:
        raise Conflict("patrol_ended", _("This patrol has ended."), fields={"state": [str(locked.state)]})
    return locked


def patrol_add_points(*, actor: User, patrol: Patrol, points: list[dict[str, Any]]) -> PointsResult:
    """Add a batch of track points to the actor's patrol under way.

    A malformed point refuses the whole batch (400, nothing written); a point out of order or at an
    impossible speed is kept and flagged but not counted; an exact duplicate is skipped.
    Not audited point by point: the stored points are the record, and a phone sends a batch every 30 s.
    """
    _check_worker(actor, patrol)
    checked = parse_points(points)
    with transaction.atomic():
        locked = _locked(patrol)
        result = _append(locked, checked)
    _copy_totals(locked, patrol)
    return result


def _copy_totals(source: Patrol, target: Patrol) -> None:
    """Let the caller's patrol object see what the locked copy wrote."""
    for name in (
        "state",
        "ended_at",
        "distance_m",
        "point_count",
        "flagged_count",
        "last_point_at",
        "last_lat",
        "last_lng",
        "note",
        "updated_at",
    ):
        setattr(target, name, getattr(source, name))


# --- end ------------------------------------------------------------------------------------------


def patrol_end(
    *,
    actor: User,
    patrol: Patrol,
    points: list[dict[str, Any]] | tuple = (),
    note: str = "",
    now: datetime | None = None,
) -> Patrol:
    """End the actor's patrol, after an optional last batch of points; ending twice is a 409 `patrol_ended`."""
    _check_worker(actor, patrol)
    ended = now or timezone.now()
    checked = parse_points(list(points), now=ended)
    note = (note or "").strip()
    with transaction.atomic():
        locked = _locked(patrol)
        result = _append(locked, checked)
        locked.state = PatrolState.ENDED
        locked.ended_at = max(ended, locked.started_at)
        if note:
            locked.note = note
        locked.save(update_fields=["state", "ended_at", "note", "updated_at"])
        audit.record(
            actor=actor,
            event="fieldwork.patrol.end",
            obj=locked,
            data={
                "distance_m": round(locked.distance_m, 1),
                "points": locked.point_count,
                "flagged": locked.flagged_count,
                "last_batch": result.accepted + len(result.flagged),
            },
        )
    _copy_totals(locked, patrol)
    return locked


def end_stale_patrols(*, now: datetime | None = None, hours: float = 12) -> int:
    """End the patrols whose worker forgot: no point for `hours`, ended at their last point's time.

    Idempotent and safe with several workers: one conditional UPDATE; a patrol ended meanwhile is
    left alone. Returns how many were ended.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(hours=hours)
    # Checked again by the UPDATE itself, so a batch that arrived in between keeps its patrol open.
    idle = Q(state=PatrolState.ACTIVE) & (
        Q(last_point_at__lt=cutoff) | Q(last_point_at__isnull=True, started_at__lt=cutoff)
    )
    ids = list(Patrol.objects.filter(idle).values_list("pk", flat=True))
    if not ids:
        return 0
    with transaction.atomic():
        ended = Patrol.objects.filter(idle, pk__in=ids).update(
            state=PatrolState.ENDED, ended_at=Coalesce(F("last_point_at"), F("started_at")), updated_at=now
        )
        audit.record(
            actor=None,
            event="fieldwork.patrol.end_stale",
            data={"ended": ended, "patrols": ids[:1000], "idle_hours": hours},
        )
    return ended
