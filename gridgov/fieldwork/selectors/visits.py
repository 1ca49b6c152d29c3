"""Reads of visits, always through the scope: lists, one visit with everything done on it, the target picker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.models import Post
from gridgov.cases.choices import STATE_COLOURS
from gridgov.cases.selectors import case_list
from gridgov.core.scope import scoped, scoped_get
from gridgov.fieldwork.checklists import is_problem
from gridgov.fieldwork.choices import CampaignState, ItemType, TargetKind, TargetState
from gridgov.fieldwork.models import CampaignTarget, CareCheck, ChecklistItem, FieldPhoto, Finding, Visit
from gridgov.fieldwork.selectors.campaigns import ProgressRow, overdue_q, target_list
from gridgov.fieldwork.services.campaigns import CARRIER_ROLES
from gridgov.registry import selectors as registry

PICKER_LIMIT = 30


def visit_list(*, user: Any) -> QuerySet[Visit]:
    """Visits in the user's area, newest first, with what a list row shows."""
    return scoped(Visit.objects.select_related("grid", "group", "visitor"), user).defer(
        "grid__boundary", "group__boundary"
    )


def visit_get(*, user: Any, pk: Any) -> Visit:
    return scoped_get(visit_list(user=user), user, pk=pk)


def visit_list_counted(*, user: Any) -> QuerySet[Visit]:
    """`visit_list` with how many campaign tasks, findings and care checks each visit did (one query)."""
    return visit_list(user=user).annotate(
        task_count=Count("targets_done", distinct=True),
        finding_count=Count("findings", distinct=True),
        check_count=Count("care_checks", distinct=True),
    )


@dataclass
class AnswerRow:
    """One checklist answer as a page shows it: the question, the answer in words, whether it is a problem."""

    item: ChecklistItem | None
    label: str
    value: str
    problem: bool = False
    photo: FieldPhoto | None = None


@dataclass
class TaskDone:
    target: CampaignTarget
    answers: list[AnswerRow]


@dataclass
class FindingRow:
    finding: Finding
    case: Any = None  # the case when the user may read it
    case_code: str = ""


@dataclass
class VisitDetail:
    """Everything the visit page shows, in a fixed number of queries."""

    visit: Visit
    tasks: list[TaskDone] = field(default_factory=list)
    findings: list[FindingRow] = field(default_factory=list)
    care_checks: list[CareCheck] = field(default_factory=list)
    photos: list[FieldPhoto] = field(default_factory=list)


def answer_text(item: ChecklistItem, value: Any) -> str:
    """An answer in words: yes / no translated, numbers and texts as they are."""
    if isinstance(value, bool) or item.type == ItemType.YES_NO:
        return _("Yes") if value else _("No")
    if value is None:
        return "—"
    return str(value)


def answer_rows(
    items: list[ChecklistItem], answers: dict[str, Any], photos: dict[str, FieldPhoto] | None = None
) -> list[AnswerRow]:
    """A target's answers in the checklist's order, labelled; answers to items removed since keep their code."""
    photos = photos or {}
    rows = []
    known = set()
    for item in items:
        known.add(item.code)
        if item.code not in answers:
            continue
        value = answers[item.code]
        rows.append(
            AnswerRow(
                item=item,
                label=item.label,
                value=answer_text(item, value),
                problem=is_problem(item, value),
                photo=photos.get(value) if item.type == ItemType.PHOTO else None,
            )
        )
    for code, value in answers.items():
        if code not in known:
            rows.append(AnswerRow(item=None, label=code, value=str(value)))
    return rows


def visit_detail(*, user: Any, pk: Any) -> VisitDetail:
    """One visit in the scope (NotFound outside it) with its tasks, findings and their cases, checks, photos."""
    visit = scoped_get(
        visit_list(user=user).select_related("patrol", "patrol__worker"),
        user,
        pk=pk,
    )
    photos = list(FieldPhoto.objects.filter(visit=visit).order_by("id"))
    by_name = {p.name: p for p in photos}
    targets = list(
        CampaignTarget.objects.filter(visit=visit)
        .select_related("campaign", "campaign__checklist")
        .prefetch_related("campaign__checklist__items")
        .order_by("id")
    )
    tasks = [
        TaskDone(target=t, answers=answer_rows(list(t.campaign.checklist.items.all()), t.answers or {}, by_name))
        for t in targets
    ]
    findings = list(
        Finding.objects.filter(visit=visit).select_related("item", "target__campaign", "case").order_by("id")
    )
    case_ids = [f.case_id for f in findings if f.case_id]
    visible = set(case_list(user=user).filter(pk__in=case_ids).values_list("pk", flat=True)) if case_ids else set()
    rows = []
    for finding in findings:
        case = finding.case
        if case is not None:
            case.state_colour = STATE_COLOURS.get(case.state, "secondary")
        rows.append(
            FindingRow(
                finding=finding,
                case=case if case is not None and case.pk in visible else None,
                case_code=case.code if case is not None else "",
            )
        )
    checks = list(CareCheck.objects.filter(visit=visit).select_related("resident", "plan").order_by("id"))
    return VisitDetail(visit=visit, tasks=tasks, findings=rows, care_checks=checks, photos=photos)


# --- the picker: the registry rows a visit can be about ------------------------------------------


def target_search(*, user: Any, kind: str, q: str = "", limit: int = PICKER_LIMIT) -> list[Any]:
    """Households, buildings, shops or places of the user's scope whose address or name contains `q`.

    Each row carries `open_tasks`: how many pending campaign tasks it has, so the picker can show them.
    """
    lists = {
        TargetKind.HOUSEHOLD: (registry.household_list, ("address", "room", "number")),
        TargetKind.BUILDING: (registry.building_list, ("name", "address")),
        TargetKind.SHOP: (registry.shop_list, ("name", "address")),
        TargetKind.PLACE: (registry.place_list, ("name",)),
    }
    if kind not in lists:
        return []
    selector, columns = lists[kind]
    rows = selector(user=user).defer("grid__boundary", "group__boundary")
    text = (q or "").strip()[:100]
    if text:
        match = Q()
        for column in columns:
            match |= Q(**{f"{column}__contains": text})
        rows = rows.filter(match)
    rows = list(rows.order_by("area_code", "id")[:limit])
    counts = dict(
        CampaignTarget.objects.filter(
            **{f"{kind}__in": [r.pk for r in rows]},
            state=TargetState.PENDING,
            campaign__state=CampaignState.RUNNING,
        )
        .values_list(kind)
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        row.open_tasks = counts.get(row.pk, 0)
    return rows


# --- for the campaign pages (the lead's selectors.campaigns covers one campaign at a time) -----------


def totals_by_campaign(*, user: Any, campaigns: list[Any]) -> dict[int, Any]:
    """`campaign_totals` of many campaigns from one grouped query: {campaign id: ProgressRow}."""
    today = timezone.localdate()
    rows = (
        target_list(user=user)
        .filter(campaign__in=[c.pk for c in campaigns])
        .order_by()
        .values("campaign_id")
        .annotate(
            total=Count("id"),
            done=Count("id", filter=Q(state=TargetState.DONE)),
            overdue=Count("id", filter=overdue_q(today)),
        )
    )
    found = {row["campaign_id"]: row for row in rows}
    return {
        c.pk: ProgressRow(
            key=str(c.pk),
            name=c.name,
            total=found.get(c.pk, {}).get("total", 0),
            done=found.get(c.pk, {}).get("done", 0),
            overdue=found.get(c.pk, {}).get("overdue", 0),
            problems=0,
        )
        for c in campaigns
    }


def reassign_candidates(*, targets: list[CampaignTarget]) -> dict[int, list[tuple[int, str]]]:
    """Per target, the people `target_reassign` accepts: carriers posted at its group, grid or community.

    One query for all the targets of a page: {target id: [(user id, "name · role")]}.
    """

    def codes(target: CampaignTarget) -> set[str]:
        return {target.area_code, target.area_code[:15], target.area_code[:12]}

    wanted = set().union(*(codes(t) for t in targets)) if targets else set()
    posts = (
        Post.objects.filter(active=True, user__is_active=True, role__in=CARRIER_ROLES, area__code__in=wanted)
        .select_related("user", "area")
        .only("role", "user__id", "user__name", "user__username", "area__code", "area__name")
        .order_by("area__code", "role", "user__name", "user_id")
    )
    by_code: dict[str, list[Any]] = {}
    for post in posts:
        by_code.setdefault(post.area.code, []).append(post)
    result: dict[int, list[tuple[int, str]]] = {}
    for target in targets:
        seen: set[int] = set()
        people = []
        # Nearest first: the group, then the grid, then the community.
        for code in sorted(codes(target), key=len, reverse=True):
            for post in by_code.get(code, []):
                if post.user_id in seen:
                    continue
                seen.add(post.user_id)
                people.append((post.user_id, f"{post.user.display_name} · {post.get_role_display()}"))
        result[target.pk] = people
    return result
