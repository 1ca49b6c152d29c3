"""Campaigns (专项任务): a checklist taken to every target a registry filter picks, down to grid, group and person.

"定格、定人、定责、定向": `campaign_create` picks the targets and gives each one a grid, a household
group and a person in one pass; progress is read from the targets (`selectors.campaigns`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_date
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import Level, Role
from gridgov.areas.models import Area, Post
from gridgov.cases.models import BusinessLine
from gridgov.core.audit import record
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.scope import acts_for, scope_for, subtree
from gridgov.fieldwork.choices import AssignTo, CampaignState, TargetKind, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget, ChecklistTemplate
from gridgov.registry.choices import BuildingUse, LivingStatus, PlaceKind, SafetyGrade, Structure
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag
from gridgov.registry.selectors import age_range_q

logger = logging.getLogger("gridgov.fieldwork")

# Who runs campaigns: the subdistrict center for the subdistrict, community staff for their community.
CAMPAIGN_ROLES = frozenset({Role.CENTER, Role.COMMUNITY})
# Who may hand a target to someone else: those above plus the grid leader in their grid.
REASSIGN_ROLES = frozenset({Role.CENTER, Role.COMMUNITY, Role.GRID_LEADER})
# Who may carry a target.
CARRIER_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.GROUP_LEADER, Role.COMMUNITY})
MAX_NAME = 100
BATCH = 2000

TARGET_MODELS = {
    TargetKind.HOUSEHOLD: Household,
    TargetKind.BUILDING: Building,
    TargetKind.SHOP: Shop,
    TargetKind.PLACE: Place,
}


def _invalid(field: str, message: Any, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={field: [str(message)]})


# --- the target filter ------------------------------------------------------------------------


def _list_of(value: Any, allowed: Any, field: str) -> list[str]:
    values = value if isinstance(value, list) else [value]
    values = [str(v) for v in values]
    wrong = [v for v in values if v not in allowed]
    if not values or wrong:
        raise _invalid(
            f"target_filter.{field}",
            _("Not one of the allowed values: %(values)s.") % {"values": "、".join(wrong) or "[]"},
            "invalid_filter",
        )
    return values


def _count(value: Any, field: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not low <= number <= high:
        raise _invalid(
            f"target_filter.{field}",
            _("Enter a whole number from %(low)d to %(high)d.") % {"low": low, "high": high},
            "invalid_filter",
        )
    return number


def _tags(value: Any) -> list[str]:
    codes = _list_of(value, set(Tag.objects.values_list("code", flat=True)), "member_tags")
    return codes


# Per kind: filter key → (parser, how it narrows the registry rows).
def _filter_q(kind: str, key: str, value: Any) -> Q:
    if key == "area":
        return Q()  # handled with the campaign's area
    if kind == TargetKind.HOUSEHOLD:
        residents = Resident.objects.filter(living_status=LivingStatus.RESIDENT, household__isnull=False)
        if key == "member_tags":
            return Q(pk__in=residents.filter(tags__code__in=_tags(value)).values("household_id"))
        if key == "member_age_min":
            age = _count(value, key, 0, 120)
            return Q(pk__in=residents.filter(age_range_q(age_min=age)).values("household_id"))
        if key == "building_use":
            return Q(building__use__in=_list_of(value, BuildingUse.values, key))
    if kind == TargetKind.BUILDING:
        if key == "use":
            return Q(use__in=_list_of(value, BuildingUse.values, key))
        if key == "structure":
            return Q(structure__in=_list_of(value, Structure.values, key))
        if key == "safety_grade":
            return Q(safety_grade__in=_list_of(value, SafetyGrade.values, key))
        if key == "floors_min":
            return Q(floors__gte=_count(value, key, 1, 200))
        if key == "built_before":
            return Q(year_built__lt=_count(value, key, 1800, 2200))
    if kind == TargetKind.SHOP and key == "business_type":
        text = str(value or "").strip()
        if not text or len(text) > 50:
            raise _invalid("target_filter.business_type", _("Enter part of the business type."), "invalid_filter")
        return Q(business_type__contains=text)
    if kind == TargetKind.PLACE and key == "kind":
        return Q(kind__in=_list_of(value, PlaceKind.values, key))
    raise _invalid(
        f"target_filter.{key}",
        _("Targets of this kind cannot be filtered by “%(key)s”.") % {"key": key},
        "invalid_filter",
    )


FILTER_KEYS = {
    TargetKind.HOUSEHOLD: ("area", "member_tags", "member_age_min", "building_use"),
    TargetKind.BUILDING: ("area", "use", "structure", "safety_grade", "floors_min", "built_before"),
    TargetKind.SHOP: ("area", "business_type"),
    TargetKind.PLACE: ("area", "kind"),
}


def target_queryset(*, kind: str, area: Area, target_filter: dict[str, Any]) -> tuple[QuerySet, Area]:
    """The registry rows a campaign over `area` with `target_filter` picks, and the area they lie in."""
    if not isinstance(target_filter, dict):
        raise _invalid("target_filter", _("Give the filter as {key: value}."), "invalid_filter")
    model = TARGET_MODELS[kind]
    within = area
    code = target_filter.get("area")
    if code not in (None, ""):
        within = Area.objects.filter(code=str(code)).first()
        if within is None or not within.code.startswith(area.code):
            raise _invalid("target_filter.area", _("Choose an area inside the campaign's area."), "invalid_filter")
    q = subtree("area_code", within.code)
    for key, value in target_filter.items():
        q &= _filter_q(kind, key, value)
    return model.objects.filter(q), within


# --- who carries a target ---------------------------------------------------------------------


@dataclass
class Carriers:
    """The people at each grid and group of an area, read in one query."""

    workers: dict[str, int]
    leaders: dict[str, int]
    group_leaders: dict[str, int]

    @classmethod
    def of(cls, area: Area) -> Carriers:
        workers: dict[str, int] = {}
        leaders: dict[str, int] = {}
        group_leaders: dict[str, int] = {}
        rows = (
            Post.objects.filter(subtree("area__code", area.code), active=True, user__is_active=True)
            .filter(role__in=[Role.GRID_WORKER, Role.GRID_LEADER, Role.GROUP_LEADER])
            .order_by("id")
            .values_list("role", "area__code", "user_id")
        )
        for role, code, user_id in rows:
            chosen = {Role.GRID_WORKER: workers, Role.GRID_LEADER: leaders, Role.GROUP_LEADER: group_leaders}[role]
            chosen.setdefault(code, user_id)
        return cls(workers, leaders, group_leaders)

    def person(self, *, grid_code: str, group_code: str | None, assign_to: str) -> int | None:
        if assign_to == AssignTo.GROUP_LEADER and group_code and group_code in self.group_leaders:
            return self.group_leaders[group_code]
        return self.workers.get(grid_code) or self.leaders.get(grid_code)


def _label(kind: str, row: dict[str, Any]) -> str:
    if kind == TargetKind.HOUSEHOLD:
        return (row["address"] + (f" {row['room']}" if row["room"] else ""))[:200]
    if kind == TargetKind.BUILDING:
        return (row["name"] or row["address"])[:200]
    return row["name"][:200]


TARGET_COLUMNS = {
    TargetKind.HOUSEHOLD: ("address", "room"),
    TargetKind.BUILDING: ("name", "address"),
    TargetKind.SHOP: ("name", "address"),
    TargetKind.PLACE: ("name",),
}


# --- services ---------------------------------------------------------------------------------


def _date(value: Any, field: str) -> date:
    if isinstance(value, date):
        return value
    parsed = parse_date(str(value or "")) if value else None
    if parsed is None:
        raise _invalid(field, _("Enter a date (YYYY-MM-DD)."))
    return parsed


def _require_runner(actor: User | None, area: Area) -> None:
    if actor is None:
        return
    if not scope_for(actor).covers_code(area.code):
        raise NotFound("not_found", _("%(name)s not found.") % {"name": Area._meta.verbose_name})
    if not acts_for(actor, area.code, CAMPAIGN_ROLES):
        raise PermissionDenied("forbidden", _("Only the subdistrict center or community staff may run campaigns here."))


def campaign_create(
    *,
    actor: User | None,
    name: Any,
    area: Area,
    checklist: ChecklistTemplate,
    starts_on: Any,
    ends_on: Any,
    target_filter: Any = None,
    business_line: BusinessLine | None = None,
    assign_to: Any = AssignTo.GRID_WORKER,
    description: Any = "",
) -> Campaign:
    """A running campaign with its targets picked, placed and assigned; refused whole if the filter picks none."""
    _require_runner(actor, area)
    name = str(name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise _invalid("name", _("Enter a name of at most %(n)d characters.") % {"n": MAX_NAME})
    if area.level not in (Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID):
        raise _invalid("area", _("Choose the subdistrict, a community or a grid."), "invalid_area")
    if not checklist.active:
        raise _invalid("checklist", _("This checklist is no longer in use."))
    if assign_to not in AssignTo.values:
        raise _invalid("assign_to", _("Not one of the allowed values."))
    starts, ends = _date(starts_on, "starts_on"), _date(ends_on, "ends_on")
    if ends < starts:
        raise _invalid("ends_on", _("The campaign must end on or after the day it starts."))
    business_line = business_line or checklist.business_line
    if business_line is None:
        raise _invalid("business_line", _("Choose a business line."))
    kind = checklist.target_kind
    rows_qs, within = target_queryset(kind=kind, area=area, target_filter=target_filter or {})
    columns = ("id", "grid_id", "group_id", "area_code", "grid__code", "group__code", *TARGET_COLUMNS[kind])
    rows = list(rows_qs.order_by("area_code", "id").values(*columns))
    if not rows:
        message = _("The filter matches no %(kind)s in %(area)s: nothing was created.") % {
            "kind": TargetKind(kind).label,
            "area": within.name,
        }
        raise ApplicationError("no_targets", message, fields={"target_filter": [message]})
    carriers = Carriers.of(area)
    with transaction.atomic():
        campaign = Campaign(
            name=name,
            business_line=business_line,
            area=area,
            area_code=area.code,
            checklist=checklist,
            target_kind=kind,
            target_filter=target_filter or {},
            assign_to=assign_to,
            starts_on=starts,
            ends_on=ends,
            description=str(description or "").strip(),
            created_by=actor,
            target_count=len(rows),
        )
        campaign.full_clean()
        campaign.save()
        targets = (
            CampaignTarget(
                campaign=campaign,
                kind=kind,
                **{f"{kind}_id": row["id"]},
                label=_label(kind, row),
                address=(row.get("address") or "")[:200],
                grid_id=row["grid_id"],
                group_id=row["group_id"],
                area_code=row["area_code"],
                assignee_id=carriers.person(
                    grid_code=row["grid__code"], group_code=row["group__code"], assign_to=assign_to
                ),
                due_on=ends,
            )
            for row in rows
        )
        CampaignTarget.objects.bulk_create(targets, batch_size=BATCH)
        record(
            actor=actor,
            event="fieldwork.campaign.create",
            obj=campaign,
            data={"area": area.code, "targets": len(rows), "filter": campaign.target_filter},
        )
    logger.info("campaign created id=%s targets=%d area=%s", campaign.pk, len(rows), area.code)
    return campaign


def _set_state(actor: User | None, campaign: Campaign, state: str, event: str) -> Campaign:
    _require_runner(actor, campaign.area)
    with transaction.atomic():
        locked = Campaign.objects.select_for_update().get(pk=campaign.pk)
        if locked.state != CampaignState.RUNNING:
            raise Conflict(
                "campaign_not_running",
                _("This campaign is already %(state)s.") % {"state": locked.get_state_display()},
            )
        locked.state = state
        locked.save(update_fields=["state", "updated_at"])
        record(actor=actor, event=event, obj=locked, data={"done": locked.done_count, "targets": locked.target_count})
    return locked


def campaign_finish(*, actor: User | None, campaign: Campaign) -> Campaign:
    """Close a running campaign: what was not done stays in the ledger as not done."""
    return _set_state(actor, campaign, CampaignState.FINISHED, "fieldwork.campaign.finish")


def campaign_cancel(*, actor: User | None, campaign: Campaign) -> Campaign:
    return _set_state(actor, campaign, CampaignState.CANCELLED, "fieldwork.campaign.cancel")


def may_reassign(actor: User | None, target: CampaignTarget) -> bool:
    return actor is None or acts_for(actor, target.grid.code, REASSIGN_ROLES)


def target_reassign(*, actor: User | None, target: CampaignTarget, assignee: User | None) -> CampaignTarget:
    """Hand a target to another person who works in its area (None: nobody, until someone is chosen)."""
    if not may_reassign(actor, target):
        raise PermissionDenied("forbidden", _("Only the grid leader, community staff or the center may reassign."))
    if assignee is not None and not (
        assignee.is_active
        and Post.objects.filter(user=assignee, active=True, role__in=CARRIER_ROLES)
        .filter(Q(area__code=target.area_code) | Q(area__code=target.grid.code) | Q(area__code=target.area_code[:12]))
        .exists()
    ):
        raise _invalid("assignee", _("Choose someone who works in this grid."), "invalid_assignee")
    with transaction.atomic():
        locked = CampaignTarget.objects.select_for_update().select_related("campaign").get(pk=target.pk)
        if locked.state != TargetState.PENDING or locked.campaign.state != CampaignState.RUNNING:
            raise Conflict("target_closed", _("This target is done or its campaign has ended."))
        before = locked.assignee_id
        locked.assignee = assignee
        locked.save(update_fields=["assignee", "updated_at"])
        record(
            actor=actor,
            event="fieldwork.target.reassign",
            obj=locked,
            data={"from": before, "to": assignee.pk if assignee else None},
        )
    return locked
