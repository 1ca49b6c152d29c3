"""Reads of activities and of fieldwork photos, always through the scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Prefetch, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.models import Area
from gridgov.core.errors import ApplicationError
from gridgov.core.scope import scoped, scoped_get, subtree
from gridgov.fieldwork.models import Activity, FieldPhoto
from gridgov.registry.models import Resident


def _participant_count() -> Coalesce:
    through = Activity.participants.through
    counted = through.objects.filter(activity_id=OuterRef("pk")).order_by().values("activity_id")
    return Coalesce(Subquery(counted.annotate(n=Count("id")).values("n"), output_field=IntegerField()), 0)


def activity_list(*, user: Any) -> QuerySet[Activity]:
    """Activities in the user's scope, with their area and how many volunteers took part."""
    return (
        scoped(Activity.objects.all(), user)
        .select_related("area", "created_by")
        .defer("area__boundary")
        .annotate(participant_count=_participant_count())
    )


def activity_get(*, user: Any, pk: Any) -> Activity:
    """One activity with its volunteers (names only) and photos."""
    queryset = activity_list(user=user).prefetch_related(
        Prefetch("participants", queryset=Resident.objects.only("id", "name", "area_code").order_by("name", "id")),
        Prefetch("photos", queryset=FieldPhoto.objects.order_by("id")),
    )
    return scoped_get(queryset, user, pk=pk)


def volunteer_list(*, user: Any) -> QuerySet[Resident]:
    """Residents in the user's scope who carry the volunteer tag (the activity form's picker)."""
    from gridgov.fieldwork.services.activities import VOLUNTEER_TAG
    from gridgov.registry.choices import LivingStatus

    return (
        scoped(Resident.objects.all(), user)
        .filter(tags__code=VOLUNTEER_TAG, living_status=LivingStatus.RESIDENT)
        .select_related("grid", "group")
        .defer("grid__boundary", "group__boundary")
        .order_by("area_code", "name", "id")
    )


def field_photo_get(*, user: Any, pk: Any) -> FieldPhoto:
    """Any fieldwork photo (of a visit or an activity) inside the user's scope; NotFound otherwise."""
    return scoped_get(FieldPhoto.objects.all(), user, pk=pk)


@dataclass
class ActivityFigures:
    """Activities under one area in a period: how many, households reached, volunteer participations."""

    area: Area | None
    activities: int = 0
    households: int = 0
    participations: int = 0

    def add(self, row: dict[str, Any]) -> None:
        self.activities += row["n"] or 0
        self.households += row["households"] or 0
        self.participations += row["participations"] or 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": {"id": self.area.pk, "code": self.area.code, "name": self.area.name} if self.area else None,
            "activities": self.activities,
            "households_reached": self.households,
            "participations": self.participations,
        }


@dataclass
class ActivityStats:
    start: date
    end: date
    total: ActivityFigures
    children: list[ActivityFigures]
    # Activities held for the area as a whole (a community-wide event), not in one child.
    own: ActivityFigures = field(default_factory=lambda: ActivityFigures(area=None))

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            **self.total.as_dict(),
            "area_itself": {k: v for k, v in self.own.as_dict().items() if k != "area"},
            "children": [child.as_dict() for child in self.children],
        }


def _day(value: Any, name: str, default: date) -> date:
    if value in (None, ""):
        return default
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        message = _("A date such as 2026-05-01 is required.")
        raise ApplicationError("invalid", message, fields={name: [message]}) from None


def activity_stats(*, user: Any, area: Area, start: Any = None, end: Any = None) -> ActivityStats:
    """Per child of `area` (community → its grids, grid → its groups): activities held from `start` to
    `end` (inclusive; default 1 January to today), households reached and volunteer participations.
    One grouped query on the area-code prefix; the area must be in the user's scope (the caller checks)."""
    today = timezone.localdate()
    start_day = _day(start, "start", today.replace(month=1, day=1))
    end_day = _day(end, "end", today)
    if end_day < start_day:
        message = _("The end is before the start.")
        raise ApplicationError("invalid", message, fields={"end": [message]})
    children = list(Area.objects.filter(parent=area).defer("boundary").order_by("code"))
    child_length = len(children[0].code) if children else len(area.code)
    rows = (
        activity_list(user=user)
        .filter(subtree("area_code", area.code), held_on__gte=start_day, held_on__lte=end_day)
        .annotate(child=Substr("area_code", 1, child_length))
        .values("child")
        .annotate(n=Count("id"), households=Sum("households_reached"), participations=Sum("participant_count"))
        .order_by()
    )
    total = ActivityFigures(area=area)
    by_child = {child.code: ActivityFigures(area=child) for child in children}
    own = ActivityFigures(area=None)
    for row in rows:
        total.add(row)
        by_child.get(row["child"], own).add(row)
    return ActivityStats(start=start_day, end=end_day, total=total, children=list(by_child.values()), own=own)
