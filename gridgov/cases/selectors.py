"""Every read of the case pipeline, always through the scope: lists, the case page, queues, figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.models import Area, Post
from gridgov.cases.choices import CaseLevel, State
from gridgov.cases.models import BusinessLine, Case, CaseAttachment, CaseEvent, Category, SavedView
from gridgov.cases.services import LEVEL_ROLES, OVERRIDE_ROLES, allowed_actions
from gridgov.core.errors import ApplicationError
from gridgov.core.scope import scope_for, scoped, scoped_get, subtree

LIST_RELATED = ("category", "business_line", "grid", "handling_area", "unit")


def case_list(*, user: Any) -> QuerySet[Case]:
    """The cases the user may read, newest first, with what a list row shows loaded in the same query."""
    return scoped(Case.objects.select_related(*LIST_RELATED), user)


def case_get(*, user: Any, pk: Any) -> Case:
    """One case inside the scope (NotFound outside it)."""
    return scoped_get(
        Case.objects.select_related(*LIST_RELATED, "reporter", "assignee", "verifier", "merged_into"), user, pk=pk
    )


def case_timeline(*, case: Case) -> list[CaseEvent]:
    """The case's timeline with each entry's attachments (two queries)."""
    events = list(case.events.select_related("unit").prefetch_related("attachments").order_by("time", "id"))
    return events


def case_attachments(*, case: Case) -> list[CaseAttachment]:
    return list(case.attachments.all())


def case_by_tracking_code(*, code: Any) -> Case | None:
    """The case a resident follows with their tracking code (no login)."""
    text = str(code or "").strip().upper()
    if not text or len(text) > 16:
        return None
    return Case.objects.select_related("category", "grid", "unit").filter(tracking_code=text).first()


@dataclass
class CaseDetail:
    case: Case
    timeline: list[CaseEvent]
    attachments: list[CaseAttachment]
    actions: list[str]
    co_units: list[Any] = field(default_factory=list)
    related: list[Case] = field(default_factory=list)


def case_detail(*, user: Any, pk: Any) -> CaseDetail:
    """Everything the case page and the API detail show, in a fixed number of queries."""
    case = case_get(user=user, pk=pk)
    timeline = case_timeline(case=case)
    return CaseDetail(
        case=case,
        timeline=timeline,
        # Every file is attached at a step (timeline entries are never deleted): the prefetch has them all.
        attachments=sorted((a for event in timeline for a in event.attachments.all()), key=lambda a: a.pk),
        actions=allowed_actions(actor=user, case=case),
        co_units=[link.unit for link in case.co_unit_links.select_related("unit")],
        related=list(scoped(case.related.all(), user)),
    )


def category_list(*, user: Any = None, resident: bool = False, leaves: bool = False) -> QuerySet[Category]:
    query = Category.objects.filter(active=True, business_line__active=True).select_related("business_line", "parent")
    if resident:
        query = query.filter(resident_reportable=True)
    if leaves or resident:
        query = query.exclude(parent=None)
    return query.order_by("code")


def saved_view_list(*, user: Any) -> QuerySet[SavedView]:
    """The user's own saved views of the case list, by name."""
    return SavedView.objects.filter(user=user).order_by("name")


def business_line_list() -> QuerySet[BusinessLine]:
    return BusinessLine.objects.filter(active=True)


# --- work queue -------------------------------------------------------------------------------


@dataclass
class QueueSection:
    key: str
    label: str
    cases: list[Case]
    total: int


QUEUE_LIMIT = 50


def _owned_areas(user: Any) -> dict[str, list[int]]:
    """Per case level, the ids of the areas whose cases the user owns (the center owns the subdistrict's)."""
    owned: dict[str, list[int]] = {level: [] for level in LEVEL_ROLES}
    for role, area_id in Post.objects.filter(user=user, active=True, area__isnull=False).values_list("role", "area_id"):
        for level, roles in LEVEL_ROLES.items():
            if role in roles or (role in OVERRIDE_ROLES and level in (CaseLevel.SUBDISTRICT, CaseLevel.SUPERIOR)):
                owned[level].append(area_id)
    return owned


def _owned_q(user: Any) -> Q:
    if user.is_superuser:
        return Q(level__in=[CaseLevel.SUBDISTRICT, CaseLevel.SUPERIOR])
    q = Q(pk__in=[])
    for level, area_ids in _owned_areas(user).items():
        if area_ids:
            q |= Q(level=level, handling_area_id__in=area_ids)
    return q


def work_queue(*, user: Any) -> list[QueueSection]:
    """The user's to-do list (待办): overdue first, then by deadline. Sections empty for roles they lack."""
    owned = _owned_q(user)
    units = scope_for(user).unit_ids
    mine = Q(assignee=user, state=State.IN_PROGRESS)
    if units:
        mine |= Q(unit_id__in=units, state=State.IN_PROGRESS)
    sections = [
        ("accept", _("To accept"), owned & Q(state=State.REPORTED)),
        ("dispatch", _("To dispatch or handle"), owned & Q(state=State.REGISTERED)),
        ("claim", _("To claim"), Q(unit_id__in=units, state=State.DISPATCHED) if units else Q(pk__in=[])),
        ("handle", _("In hand"), mine),
        ("verify", _("To verify"), owned & Q(state=State.RESOLVED)),
        ("extension", _("Extension requests"), owned & Q(extension_requested_hours__isnull=False)),
    ]
    base = case_list(user=user)
    result = []
    for key, label, q in sections:
        query = base.filter(q)
        rows = list(query.order_by("-overdue", "-warned", "due_at", "id")[:QUEUE_LIMIT])
        total = len(rows) if len(rows) < QUEUE_LIMIT else query.count()
        result.append(QueueSection(key=key, label=str(label), cases=rows, total=total))
    return result


def queue_count(*, user: Any) -> int:
    return sum(section.total for section in work_queue(user=user))


# --- resolution figures -----------------------------------------------------------------------


@dataclass
class Resolution:
    """Cases closed in a period under one area, by the level they were closed at."""

    area: Area | None
    closed: int = 0
    grid: int = 0
    community: int = 0
    subdistrict: int = 0
    superior: int = 0

    @staticmethod
    def _rate(part: int, whole: int) -> float | None:
        return round(part / whole, 4) if whole else None

    @property
    def within_grid(self) -> float | None:
        """不出网率: the share closed at grid level."""
        return self._rate(self.grid, self.closed)

    @property
    def within_community(self) -> float | None:
        """不出社区率: the share closed at grid or community level."""
        return self._rate(self.grid + self.community, self.closed)

    @property
    def within_subdistrict(self) -> float | None:
        """不出街道率: the share closed without a district department."""
        return self._rate(self.grid + self.community + self.subdistrict, self.closed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "area": {"id": self.area.pk, "code": self.area.code, "name": self.area.name} if self.area else None,
            "closed": self.closed,
            "closed_by_level": {
                "grid": self.grid,
                "community": self.community,
                "subdistrict": self.subdistrict,
                "superior": self.superior,
            },
            "within_grid": self.within_grid,
            "within_community": self.within_community,
            "within_subdistrict": self.within_subdistrict,
        }


@dataclass
class ResolutionStats:
    start: date
    end: date
    total: Resolution
    children: list[Resolution]

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            **self.total.as_dict(),
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
        raise ApplicationError(
            "invalid",
            _("A date such as 2026-05-01 is required."),
            fields={name: [_("A date such as 2026-05-01 is required.")]},
        ) from None


def resolution_stats(*, user: Any, area: Area, start: Any = None, end: Any = None) -> ResolutionStats:
    """不出网率 / 不出社区率 / 不出街道率 of cases closed between `start` and `end` (inclusive days),
    for `area` and for each of its children. One grouped query; the area must be in the user's scope."""
    today = timezone.localdate()
    start_day = _day(start, "start", today.replace(month=1, day=1))
    end_day = _day(end, "end", today)
    if end_day < start_day:
        raise ApplicationError(
            "invalid", _("The end is before the start."), fields={"end": [_("The end is before the start.")]}
        )
    tz = timezone.get_current_timezone()
    since = timezone.make_aware(datetime.combine(start_day, time.min), tz)
    until = timezone.make_aware(datetime.combine(end_day + timedelta(days=1), time.min), tz)
    children = list(Area.objects.filter(parent=area).order_by("code")) if len(area.code) < 15 else []
    child_length = len(children[0].code) if children else len(area.code)
    rows = (
        case_list(user=user)
        .filter(subtree("area_code", area.code), state=State.CLOSED, closed_at__gte=since, closed_at__lt=until)
        .annotate(child=Substr("area_code", 1, child_length))
        .values("child", "closed_level")
        .annotate(n=Count("id"))
        .order_by()
    )
    total = Resolution(area=area)
    by_child = {child.code: Resolution(area=child) for child in children}
    for row in rows:
        for bucket in (total, by_child.get(row["child"])):
            if bucket is None:
                continue
            bucket.closed += row["n"]
            level = row["closed_level"] or CaseLevel.SUBDISTRICT
            setattr(bucket, level, getattr(bucket, level) + row["n"])
    return ResolutionStats(start=start_day, end=end_day, total=total, children=list(by_child.values()))
