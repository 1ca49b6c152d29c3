"""Volunteer and publicity activities (志愿宣传活动): who organised them, where, when, which volunteers
took part, how many households they reached, and their photos.

Everything is checked before anything is written: a participant without the volunteer tag or one
bad photo refuses the whole activity. Photos are checked by their content (`cases.attachments`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import Level, Role
from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, NotFound, PermissionDenied
from gridgov.core.scope import acts_for, scope_for
from gridgov.fieldwork.choices import ActivityKind
from gridgov.fieldwork.models import Activity, FieldPhoto
from gridgov.fieldwork.photos import check_photos, store_photo
from gridgov.registry.models import Resident

logger = logging.getLogger("gridgov.fieldwork")

# Who records activities: the center, community staff, and the grid's leader and worker.
ACTIVITY_ROLES = frozenset({Role.CENTER, Role.COMMUNITY, Role.GRID_LEADER, Role.GRID_WORKER})
ACTIVITY_LEVELS = frozenset({Level.COMMUNITY, Level.GRID, Level.GROUP})
VOLUNTEER_TAG = "zhiyuanzhe"
MAX_HOUSEHOLDS = 100_000

UNSET: Any = object()


def _invalid(field: str, message: Any, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={field: [str(message)]})


def _require(actor: User | None, area: Area) -> None:
    if actor is None:
        return
    if not scope_for(actor).covers_code(area.code):
        raise NotFound("not_found", _("%(name)s not found.") % {"name": Area._meta.verbose_name})
    if not acts_for(actor, area.code, ACTIVITY_ROLES):
        raise PermissionDenied(
            "forbidden", _("Only the center, community staff and grid staff may record activities here.")
        )


def _text(value: Any, field: str, limit: int, *, required: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise _invalid(field, _("This field is required."))
    if len(text) > limit:
        raise _invalid(field, _("At most %(n)d characters.") % {"n": limit})
    return text


def _held_on(value: Any) -> date:
    if isinstance(value, date):
        day = value
    else:
        try:
            day = date.fromisoformat(str(value or ""))
        except ValueError:
            raise _invalid("held_on", _("Enter a date (YYYY-MM-DD).")) from None
    if day > timezone.localdate():
        raise _invalid("held_on", _("The date cannot be in the future."))
    return day


def _households(value: Any) -> int:
    try:
        number = int(value or 0)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not 0 <= number <= MAX_HOUSEHOLDS:
        raise _invalid("households_reached", _("Enter a whole number from 0 to %(max)d.") % {"max": MAX_HOUSEHOLDS})
    return number


def _area(area: Any) -> Area:
    if not isinstance(area, Area) or area.level not in ACTIVITY_LEVELS:
        raise _invalid("area", _("Choose a community, a grid or a household group."), "invalid_area")
    return area


def _participants(actor: User | None, participants: Iterable[Any]) -> list[Resident]:
    """The residents, each in the actor's scope and tagged as a volunteer; else 400 `not_volunteer` naming them."""
    people = list({(p.pk if isinstance(p, Resident) else int(p)): p for p in participants}.items())
    if not people:
        return []
    ids = [pk for pk, _p in people]
    found = {r.pk: r for r in Resident.objects.filter(pk__in=ids).only("id", "name", "area_code")}
    scope = scope_for(actor) if actor is not None else None
    unknown = [
        pk for pk in ids if pk not in found or (scope is not None and not scope.covers_code(found[pk].area_code))
    ]
    if unknown:
        message = _("%(name)s not found.") % {"name": Resident._meta.verbose_name}
        raise ApplicationError("invalid", message, fields={"participants": [message]})
    volunteers = set(Resident.objects.filter(pk__in=ids, tags__code=VOLUNTEER_TAG).values_list("pk", flat=True))
    others = [found[pk] for pk in ids if pk not in volunteers]
    if others:
        names = "、".join(r.name for r in others)
        message = _("Not registered as volunteers: %(names)s.") % {"names": names}
        raise ApplicationError("not_volunteer", message, fields={"participants": [message]})
    return [found[pk] for pk in ids]


def activity_create(
    *,
    actor: User | None,
    title: Any,
    kind: Any,
    organiser: Any,
    area: Area,
    held_on: Any,
    place: Any = "",
    description: Any = "",
    households_reached: Any = 0,
    participants: Iterable[Any] = (),
    photos: Sequence[Any] = (),
) -> Activity:
    """Record an activity in a community, grid or group of the actor's scope, with its volunteers and photos."""
    area = _area(area)
    _require(actor, area)
    values = {
        "title": _text(title, "title", 100, required=True),
        "kind": kind if kind in ActivityKind.values else None,
        "organiser": _text(organiser, "organiser", 100, required=True),
        "held_on": _held_on(held_on),
        "place": _text(place, "place", 200),
        "description": _text(description, "description", 4000),
        "households_reached": _households(households_reached),
    }
    if values["kind"] is None:
        raise _invalid("kind", _("Not one of the allowed values."))
    people = _participants(actor, participants)
    checked = check_photos(photos)
    with transaction.atomic():
        activity = Activity.objects.create(
            area=area,
            area_code=area.code,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
            **values,
        )
        activity.participants.set(people)
        for upload in checked:
            store_photo(checked=upload, area_code=area.code, actor=actor, activity=activity)
        audit.record(
            actor=actor,
            event="fieldwork.activity.create",
            obj=activity,
            data={"area": area.code, "participants": len(people), "photos": len(checked)},
        )
    return activity


def activity_update(
    *,
    actor: User | None,
    activity: Activity,
    title: Any = UNSET,
    kind: Any = UNSET,
    organiser: Any = UNSET,
    area: Any = UNSET,
    held_on: Any = UNSET,
    place: Any = UNSET,
    description: Any = UNSET,
    households_reached: Any = UNSET,
    participants: Any = UNSET,
    photos: Sequence[Any] = (),
) -> Activity:
    """Change an activity; fields left out keep their value, `participants` replaces the list, `photos` are added."""
    _require(actor, activity.area)
    changes: dict[str, Any] = {}
    if title is not UNSET:
        changes["title"] = _text(title, "title", 100, required=True)
    if kind is not UNSET:
        if kind not in ActivityKind.values:
            raise _invalid("kind", _("Not one of the allowed values."))
        changes["kind"] = kind
    if organiser is not UNSET:
        changes["organiser"] = _text(organiser, "organiser", 100, required=True)
    if area is not UNSET:
        new_area = _area(area)
        _require(actor, new_area)
        changes["area"] = new_area
    if held_on is not UNSET:
        changes["held_on"] = _held_on(held_on)
    if place is not UNSET:
        changes["place"] = _text(place, "place", 200)
    if description is not UNSET:
        changes["description"] = _text(description, "description", 4000)
    if households_reached is not UNSET:
        changes["households_reached"] = _households(households_reached)
    people = _participants(actor, participants) if participants is not UNSET else None
    checked = check_photos(photos)
    with transaction.atomic():
        activity = Activity.objects.select_for_update().get(pk=activity.pk)
        changed = sorted(
            name
            for name, value in changes.items()
            if (activity.area_id if name == "area" else getattr(activity, name))
            != (value.pk if name == "area" else value)
        )
        for name, value in changes.items():
            setattr(activity, name, value)
        if "area" in changes:
            activity.area_code = changes["area"].code
        activity.save()
        if people is not None:
            before = set(activity.participants.values_list("pk", flat=True))
            if before != {p.pk for p in people}:
                changed.append("participants")
            activity.participants.set(people)
        for upload in checked:
            store_photo(checked=upload, area_code=activity.area_code, actor=actor, activity=activity)
        audit.record(
            actor=actor,
            event="fieldwork.activity.update",
            obj=activity,
            data={"fields": changed, "photos_added": len(checked)},
        )
    return activity


def activity_delete(*, actor: User | None, activity: Activity) -> None:
    """Delete an activity with its photos (the files go once the deletion has committed)."""
    _require(actor, activity.area)
    files = []
    with transaction.atomic():
        for photo in FieldPhoto.objects.filter(activity=activity):
            files += [f for f in (photo.file, photo.thumbnail) if f]
        audit.record(
            actor=actor,
            event="fieldwork.activity.delete",
            obj=activity,
            data={"area": activity.area_code, "title": activity.title, "held_on": str(activity.held_on)},
        )
        activity.delete()

        def remove_files() -> None:
            for stored in files:
                try:
                    stored.storage.delete(stored.name)
                except OSError:  # the row is gone; a file left behind is only disk space
                    logger.warning("activity photo not deleted: %s", stored.name)

        transaction.on_commit(remove_files)
