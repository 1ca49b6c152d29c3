"""Reads of care: plans, checks and home services, always through the scope."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Substr
from django.utils import timezone

from gridgov.areas.choices import Level, Role
from gridgov.areas.models import Area
from gridgov.core.scope import area_posts, scoped, scoped_get, subtree
from gridgov.fieldwork.choices import CareCheckState
from gridgov.fieldwork.models import CareCheck, CarePlan, HomeService
from gridgov.registry.choices import TagKind
from gridgov.registry.models import Resident
from gridgov.registry.selectors import resident_list

# Besides the caretaker, these roles see the due checks of their whole area in their day.
OVERSEER_ROLES = frozenset({Role.GRID_LEADER, Role.COMMUNITY})


def _count_of(queryset: QuerySet) -> Coalesce:
    counted = queryset.order_by().values("plan").annotate(n=Count("id")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def care_plan_list(*, user: Any) -> QuerySet[CarePlan]:
    """Plans in the user's scope with the date of their due check (`next_due`) and how many were missed."""
    due = CareCheck.objects.filter(plan=OuterRef("pk"), state=CareCheckState.DUE).values("due_on")[:1]
    return (
        scoped(CarePlan.objects.all(), user)
        .select_related("resident", "grid", "caretaker")
        .defer("grid__boundary")
        .annotate(
            next_due=Subquery(due),
            missed_count=_count_of(CareCheck.objects.filter(plan=OuterRef("pk"), state=CareCheckState.MISSED)),
        )
    )


def care_plan_get(*, user: Any, pk: Any) -> CarePlan:
    return scoped_get(care_plan_list(user=user), user, pk=pk)


def care_plan_checks(*, plan: CarePlan) -> list[CareCheck]:
    """A plan's checks, the open one first, then the newest."""
    checks = list(plan.checks.select_related("done_by", "visit").order_by("-due_on", "-id"))
    checks.sort(key=lambda c: c.state != CareCheckState.DUE)
    return checks


def care_plan_services(*, plan: CarePlan) -> QuerySet[HomeService]:
    return plan.services.select_related("served_by").order_by("-served_on", "-id")


def care_check_list(*, user: Any) -> QuerySet[CareCheck]:
    return scoped(CareCheck.objects.all(), user).select_related("plan", "plan__caretaker", "resident", "done_by")


def care_check_get(*, user: Any, pk: Any) -> CareCheck:
    return scoped_get(care_check_list(user=user), user, pk=pk)


def care_checks_due(*, user: Any, on: date) -> QuerySet[CareCheck]:
    """The due checks (due on or before `on`) the user should do: their own as caretaker, and for grid
    leaders and community staff every one in their area. Overdue first."""
    mine = Q(plan__caretaker=user) if getattr(user, "pk", None) else Q(pk__in=[])
    for role, code in area_posts(user):
        if role in OVERSEER_ROLES:
            mine |= subtree("area_code", code)
    return (
        care_check_list(user=user)
        .filter(mine, state=CareCheckState.DUE, due_on__lte=on)
        .order_by("due_on", "area_code", "id")
    )


def care_checks_for_residents(*, user: Any, resident_ids: Iterable[int], on: date) -> QuerySet[CareCheck]:
    """The due checks (due on or before `on`) of these residents, e.g. the members of a household visited."""
    return (
        care_check_list(user=user)
        .filter(state=CareCheckState.DUE, resident_id__in=list(resident_ids), due_on__lte=on)
        .order_by("due_on", "id")
    )


def home_service_list(*, user: Any) -> QuerySet[HomeService]:
    return scoped(HomeService.objects.all(), user).select_related("resident", "served_by", "plan")


def home_service_get(*, user: Any, pk: Any) -> HomeService:
    return scoped_get(home_service_list(user=user), user, pk=pk)


def care_candidates(*, user: Any, q: str = "", limit: int = 30) -> list[Resident]:
    """Living residents of the user's scope matching `q` (name prefix, full ID or phone), care-tagged first."""
    from gridgov.registry.choices import LivingStatus
    from gridgov.registry.selectors import resident_search_q

    residents = resident_list(user=user).filter(living_status=LivingStatus.RESIDENT)
    if q.strip():
        residents = residents.filter(resident_search_q(q))
    tagged = residents.filter(tags__kind=TagKind.CARE).distinct().order_by("area_code", "name", "id")[:limit]
    found = list(tagged)
    if len(found) < limit:
        found += list(residents.exclude(pk__in=[r.pk for r in found]).order_by("name", "id")[: limit - len(found)])
    for resident in found:
        resident.care_tagged = any(t.kind == TagKind.CARE for t in resident.tags.all())
    return found


@dataclass
class CareStatsRow:
    """One grid: active plans, and checks done and missed in the month."""

    area: Area
    plans: int = 0
    done: int = 0
    missed: int = 0


def _month(today: date) -> tuple[datetime, datetime]:
    tz = timezone.get_current_timezone()
    first = today.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return (
        timezone.make_aware(datetime.combine(first, time.min), tz),
        timezone.make_aware(datetime.combine(following, time.min), tz),
    )


def care_stats(*, user: Any, area: Area, today: date | None = None) -> list[CareStatsRow]:
    """Per grid under `area` (the area's own grid when it is a grid or a group): active plans, and care
    checks done and missed this month. Three grouped queries, whatever the number of grids."""
    today = today or timezone.localdate()
    since, until = _month(today)
    code = area.code[:15] if len(area.code) >= 15 else area.code
    if len(code) == 15:
        grids = list(Area.objects.filter(code=code).defer("boundary"))
    else:
        grids = list(Area.objects.filter(subtree("code", code), level=Level.GRID).defer("boundary").order_by("code"))
    rows = {grid.code: CareStatsRow(area=grid) for grid in grids}
    grid_code = Substr("area_code", 1, 15)
    plans = (
        scoped(CarePlan.objects.all(), user)
        .filter(subtree("area_code", code), active=True)
        .annotate(grid_code=grid_code)
        .values("grid_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in plans:
        if row["grid_code"] in rows:
            rows[row["grid_code"]].plans = row["n"]
    checks = scoped(CareCheck.objects.all(), user).filter(subtree("area_code", code))
    for state, field in ((CareCheckState.DONE, "done_at"), (CareCheckState.MISSED, "missed_at")):
        counted = (
            checks.filter(state=state, **{f"{field}__gte": since, f"{field}__lt": until})
            .annotate(grid_code=grid_code)
            .values("grid_code")
            .annotate(n=Count("id"))
            .order_by()
        )
        for row in counted:
            if row["grid_code"] in rows:
                setattr(rows[row["grid_code"]], state, row["n"])
    return list(rows.values())
