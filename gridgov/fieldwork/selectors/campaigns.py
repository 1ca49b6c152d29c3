"""Reads of campaigns and their targets, always through the scope; progress by area and person."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import CODE_LENGTH, Level
from gridgov.areas.models import Area
from gridgov.core.scope import scoped, scoped_get
from gridgov.fieldwork.choices import CampaignState, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget, ChecklistTemplate

# Progress can be read at these breakdowns.
BREAKDOWNS = ("community", "grid", "group", "person")


def checklist_list(*, user: Any) -> QuerySet[ChecklistTemplate]:
    return scoped(ChecklistTemplate.objects.filter(active=True), user).prefetch_related("items__category")


def checklist_get(*, user: Any, pk: Any) -> ChecklistTemplate:
    return scoped_get(ChecklistTemplate.objects.prefetch_related("items__category"), user, pk=pk)


def campaign_list(*, user: Any) -> QuerySet[Campaign]:
    """Campaigns that reach into the user's area (a subdistrict's campaign is seen by its grid workers)."""
    return scoped(Campaign.objects.select_related("area", "checklist", "business_line"), user)


def campaign_get(*, user: Any, pk: Any) -> Campaign:
    return scoped_get(campaign_list(user=user), user, pk=pk)


def target_list(*, user: Any, campaign: Campaign | None = None) -> QuerySet[CampaignTarget]:
    """Targets in the user's area (a grid worker sees their grid's share of a subdistrict's campaign)."""
    qs = CampaignTarget.objects.select_related("campaign", "grid", "group", "assignee").defer(
        "grid__boundary", "group__boundary"
    )
    if campaign is not None:
        qs = qs.filter(campaign=campaign)
    return scoped(qs, user)


def target_get(*, user: Any, pk: Any) -> CampaignTarget:
    return scoped_get(target_list(user=user), user, pk=pk)


def overdue_q(on: date | None = None) -> Q:
    return Q(state=TargetState.PENDING, due_on__lt=on or timezone.localdate())


def open_targets(*, user: Any, kind: str, target_id: int) -> list[CampaignTarget]:
    """The pending targets of running campaigns for one registry row, with each checklist's items."""
    return list(
        target_list(user=user)
        .filter(**{kind: target_id}, state=TargetState.PENDING, campaign__state=CampaignState.RUNNING)
        .select_related("campaign__checklist")
        .prefetch_related("campaign__checklist__items__category")
        .order_by("due_on", "id")
    )


def targets_due(*, user: User, on: date | None = None) -> QuerySet[CampaignTarget]:
    """The pending targets the user carries in running campaigns, overdue and soonest first."""
    return (
        target_list(user=user)
        .filter(assignee=user, state=TargetState.PENDING, campaign__state=CampaignState.RUNNING)
        .order_by("due_on", "area_code", "id")
    )


@dataclass
class ProgressRow:
    key: str
    name: str
    total: int
    done: int
    overdue: int
    problems: int

    @property
    def rate(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def percent(self) -> int:
        return round(100 * self.rate)


def campaign_progress(*, user: Any, campaign: Campaign, by: str) -> list[ProgressRow]:
    """Targets, done, overdue and problems found per community, grid, group or person, from one grouped query."""
    if by not in BREAKDOWNS:
        raise ValueError(by)
    today = timezone.localdate()
    qs = target_list(user=user, campaign=campaign).order_by()
    if by == "person":
        key_expr = "assignee_id"
        qs = qs.values(key_expr)
    else:
        length = CODE_LENGTH[Level(by)]
        qs = qs.filter(group__isnull=False) if by == "group" else qs
        qs = qs.annotate(key=Substr("area_code", 1, length)).values("key")
        key_expr = "key"
    rows = qs.annotate(
        total=Count("id"),
        done=Count("id", filter=Q(state=TargetState.DONE)),
        overdue=Count("id", filter=overdue_q(today)),
        problems=Sum("problem_count"),
    ).order_by(key_expr)
    rows = list(rows)
    keys = [row[key_expr] for row in rows]
    if by == "person":
        names = {u.pk: u.display_name for u in User.objects.filter(pk__in=[k for k in keys if k])}
        unassigned = _("Not assigned")
    else:
        names = dict(Area.objects.filter(code__in=keys).values_list("code", "name"))
        unassigned = ""
    return [
        ProgressRow(
            key=str(row[key_expr] or ""),
            name=names.get(row[key_expr], unassigned) or str(row[key_expr] or unassigned),
            total=row["total"],
            done=row["done"],
            overdue=row["overdue"],
            problems=row["problems"] or 0,
        )
        for row in rows
    ]


def campaign_totals(*, user: Any, campaign: Campaign) -> ProgressRow:
    """The campaign's totals as the user sees them (their area's share)."""
    today = timezone.localdate()
    row = (
        target_list(user=user, campaign=campaign)
        .order_by()
        .aggregate(
            total=Count("id"),
            done=Count("id", filter=Q(state=TargetState.DONE)),
            overdue=Count("id", filter=overdue_q(today)),
            problems=Sum("problem_count"),
        )
    )
    return ProgressRow(
        key="",
        name=campaign.name,
        total=row["total"],
        done=row["done"],
        overdue=row["overdue"],
        problems=row["problems"] or 0,
    )
