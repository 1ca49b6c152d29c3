"""Visits (走访): one form does every open campaign item for a target and the care checks due there.

"走访一次办成多件事": `visit_record` checks everything first — the target is in the visitor's
grid, each answer fits its checklist, each photo is a photo — and then, in one transaction, writes
the visit, completes the campaign targets and care checks, and opens a hazard case for every
problem answer, with the checklist's rectification deadline as the case's deadline.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import Role
from gridgov.cases.models import Case
from gridgov.cases.services import case_report
from gridgov.core.audit import record
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.scope import acts_for, scope_for
from gridgov.fieldwork.checklists import check_answers
from gridgov.fieldwork.choices import CampaignState, CareCheckState, CareMethod, TargetKind, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget, CareCheck, Finding, Visit
from gridgov.fieldwork.photos import check_photos, store_photo
from gridgov.fieldwork.services.campaigns import TARGET_MODELS

logger = logging.getLogger("gridgov.fieldwork")

# Who visits: the grid's own people, and community or center staff going along.
VISIT_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.GROUP_LEADER, Role.COMMUNITY, Role.CENTER})
MAX_NOTE = 2000
MAX_TITLE = 100


@dataclass
class Target:
    """A registry row as a visit sees it: where it is and what to call it."""

    kind: str
    obj: Any
    grid: Any
    group: Any
    area_code: str
    label: str
    address: str
    lat: float | None
    lng: float | None
    resident_ids: list[int] = field(default_factory=list)


def _point(kind: str, obj: Any) -> tuple[float | None, float | None]:
    if kind in (TargetKind.BUILDING, TargetKind.SHOP):
        return obj.lat, obj.lng
    if kind == TargetKind.HOUSEHOLD and obj.building_id and obj.building.lat is not None:
        return obj.building.lat, obj.building.lng
    if kind == TargetKind.PLACE and isinstance(obj.geometry, dict) and obj.geometry.get("type") == "Point":
        lng, lat = obj.geometry["coordinates"][:2]
        return lat, lng
    return None, None


def _label(kind: str, obj: Any) -> str:
    if kind == TargetKind.HOUSEHOLD:
        return (obj.address + (f" {obj.room}" if obj.room else ""))[:200]
    return str(obj)[:200]


def find_target(*, actor: User | None, kind: Any, target_id: Any) -> Target:
    """The registry row a visit is about; refused clearly when it lies outside the visitor's grid."""
    if kind not in TargetKind.values:
        raise ApplicationError(
            "invalid", _("Not one of the allowed values."), fields={"kind": [_("Not one of the allowed values.")]}
        )
    model = TARGET_MODELS[kind]
    related = ["grid", "group"] + (["building"] if kind == TargetKind.HOUSEHOLD else [])
    try:
        obj = model.objects.select_related(*related).get(pk=int(target_id))
    except (model.DoesNotExist, TypeError, ValueError):
        raise NotFound("not_found", _("%(name)s not found.") % {"name": model._meta.verbose_name}) from None
    if actor is not None and not (
        scope_for(actor).covers_code(obj.area_code) and acts_for(actor, obj.area_code, VISIT_ROLES)
    ):
        message = _("%(target)s is not in your grid: visits are made by the grid's own people.") % {
            "target": _label(kind, obj)
        }
        raise PermissionDenied("outside_grid", message, fields={"target": [message]})
    lat, lng = _point(kind, obj)
    residents = list(obj.members.values_list("id", flat=True)) if kind == TargetKind.HOUSEHOLD else []
    return Target(
        kind=kind,
        obj=obj,
        grid=obj.grid,
        group=obj.group,
        area_code=obj.area_code,
        label=_label(kind, obj),
        address=getattr(obj, "address", "") or "",
        lat=lat,
        lng=lng,
        resident_ids=residents,
    )


def _rectify_day(visited: datetime, days: int | None) -> date | None:
    if not days:
        return None
    return timezone.localtime(visited).date() + timedelta(days=days)


def _end_of(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time(23, 59, 59)))


def _when(value: Any) -> datetime:
    now = timezone.now()
    if value in (None, ""):
        return now
    when = value if isinstance(value, datetime) else parse_datetime(str(value))
    if when is None:
        raise ApplicationError(
            "invalid", _("Enter a date and time."), fields={"visited_at": [_("Enter a date and time.")]}
        )
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > now + timedelta(minutes=5) or when < now - timedelta(days=7):
        message = _("A visit is recorded within seven days of it.")
        raise ApplicationError("invalid", message, fields={"visited_at": [message]})
    return when


def _coordinate(value: Any, name: str, low: float, high: float, errors: dict[str, list[str]]) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = None
    if number is None or not low <= number <= high:
        errors.setdefault(name, []).append(_("Enter a number from %(low)s to %(high)s.") % {"low": low, "high": high})
        return None
    return number


def _ids(entries: Any, key: str, name: str, errors: dict[str, list[str]]) -> list[tuple[int, dict]]:
    """[(id, entry)] from a list of {key: id, ...}; reasons for what does not fit."""
    if entries in (None, ""):
        return []
    if not isinstance(entries, list):
        errors.setdefault(name, []).append(_("Give a list."))
        return []
    seen: set[int] = set()
    out = []
    for n, entry in enumerate(entries):
        try:
            pk = int(entry[key]) if isinstance(entry, dict) else None
        except (KeyError, TypeError, ValueError):
            pk = None
        if pk is None:
            errors.setdefault(f"{name}.{n}.{key}", []).append(_("This field is required."))
        elif pk in seen:
            errors.setdefault(f"{name}.{n}.{key}", []).append(_("Listed twice."))
        else:
            seen.add(pk)
            out.append((pk, entry))
    return out


def visit_record(
    *,
    actor: User | None,
    kind: Any,
    target_id: Any,
    campaigns: Any = None,
    care_checks: Any = None,
    lat: Any = None,
    lng: Any = None,
    note: Any = "",
    visited_at: Any = None,
    photos: Sequence[Any] = (),
) -> Visit:
    """Record a visit and everything done on it; refused whole, with every reason, if any part does not fit.

    `campaigns`: [{"target": campaign target id, "answers": {item code: answer}}];
    `care_checks`: [{"check": care check id, "note": "..."}] (due checks of the household's members).
    """
    target = find_target(actor=actor, kind=kind, target_id=target_id)
    when = _when(visited_at)
    errors: dict[str, list[str]] = {}
    lat_value = _coordinate(lat, "lat", -90, 90, errors)
    lng_value = _coordinate(lng, "lng", -180, 180, errors)
    note = str(note or "").strip()
    if len(note) > MAX_NOTE:
        errors.setdefault("note", []).append(_("At most %(n)d characters.") % {"n": MAX_NOTE})
    checked_photos = check_photos(list(photos))
    photo_names = frozenset(p.name for p in checked_photos)

    wanted = _ids(campaigns, "target", "campaigns", errors)
    open_targets = {
        t.pk: t
        for t in CampaignTarget.objects.filter(
            pk__in=[pk for pk, _e in wanted], **{f"{target.kind}_id": target.obj.pk}
        ).select_related("campaign__checklist")
    }
    items_by_checklist: dict[int, list] = {}
    plans: list[tuple[CampaignTarget, Any]] = []
    for n, (pk, entry) in enumerate(wanted):
        row = open_targets.get(pk)
        if row is None:
            errors.setdefault(f"campaigns.{n}.target", []).append(_("This visit's target has no such campaign task."))
            continue
        if row.state != TargetState.PENDING or row.campaign.state != CampaignState.RUNNING:
            errors.setdefault(f"campaigns.{n}.target", []).append(
                _("The task of “%(campaign)s” is already done or closed.") % {"campaign": row.campaign.name}
            )
            continue
        checklist = row.campaign.checklist
        if checklist.pk not in items_by_checklist:
            items_by_checklist[checklist.pk] = list(checklist.items.select_related("category").order_by("order", "id"))
        checked = check_answers(
            items_by_checklist[checklist.pk],
            entry.get("answers"),
            prefix=f"campaigns.{n}.answers",
            photo_names=photo_names,
        )
        for name, reasons in checked.errors.items():
            errors.setdefault(name, []).extend(reasons)
        plans.append((row, checked))

    checks_wanted = _ids(care_checks, "check", "care_checks", errors)
    due_checks = {
        c.pk: c
        for c in CareCheck.objects.filter(
            pk__in=[pk for pk, _e in checks_wanted], resident_id__in=target.resident_ids, state=CareCheckState.DUE
        )
    }
    check_plans = []
    for n, (pk, entry) in enumerate(checks_wanted):
        check = due_checks.get(pk)
        if check is None:
            errors.setdefault(f"care_checks.{n}.check", []).append(
                _("No care check of this household is due under that number.")
            )
            continue
        check_note = str(entry.get("note") or "").strip()
        if len(check_note) > MAX_NOTE:
            errors.setdefault(f"care_checks.{n}.note", []).append(_("At most %(n)d characters.") % {"n": MAX_NOTE})
        check_plans.append((check, check_note))
    if errors:
        first = next(iter(errors.values()))[0]
        logger.warning("visit refused kind=%s target=%s fields=%s", target.kind, target.obj.pk, sorted(errors))
        raise ApplicationError("invalid_visit", first, fields=errors)

    from gridgov.fieldwork.selectors.patrols import active_patrol
    from gridgov.fieldwork.services.care import care_check_complete

    with transaction.atomic():
        patrol = active_patrol(user=actor) if actor is not None else None
        visit = Visit.objects.create(
            kind=target.kind,
            **{target.kind: target.obj},
            label=target.label,
            address=target.address,
            grid=target.grid,
            group=target.group,
            area_code=target.area_code,
            visitor=actor if actor is not None else None,
            visitor_name=(actor.display_name if actor is not None else "")[:50],
            visited_at=when,
            lat=lat_value,
            lng=lng_value,
            note=note,
            patrol=patrol,
        )
        for upload in checked_photos:
            store_photo(checked=upload, area_code=target.area_code, actor=actor, visit=visit)
        opened: list[Case] = []
        # Lock the targets in a fixed order: two visits cannot both complete one target.
        locked = {
            t.pk: t
            for t in CampaignTarget.objects.select_for_update()
            .filter(pk__in=[row.pk for row, _c in plans])
            .order_by("pk")
        }
        for row, checked in plans:
            if locked[row.pk].state != TargetState.PENDING:
                raise Conflict(
                    "target_done",
                    _("The task of “%(campaign)s” was done by someone else a moment ago.")
                    % {"campaign": row.campaign.name},
                )
            row.state = TargetState.DONE
            row.done_at = when
            row.visit = visit
            row.answers = checked.answers
            row.problem_count = len(checked.problems)
            row.save(update_fields=["state", "done_at", "visit", "answers", "problem_count", "updated_at"])
            Campaign.objects.filter(pk=row.campaign_id).update(done_count=F("done_count") + 1)
            opened.extend(
                _open_hazards(actor, visit, target, row, checked.problems, checked.answers, lat_value, lng_value)
            )
        for check, check_note in check_plans:
            care_check_complete(
                actor=actor, check=check, note=check_note, method=CareMethod.VISIT, visit=visit, now=when
            )
        record(
            actor=actor,
            event="fieldwork.visit.record",
            obj=visit,
            data={
                "targets": [row.pk for row, _c in plans],
                "care_checks": [c.pk for c, _n in check_plans],
                "cases": [c.code for c in opened],
                "photos": len(checked_photos),
            },
        )
    visit.opened_cases = opened
    logger.info(
        "visit recorded id=%s targets=%d checks=%d cases=%d", visit.pk, len(plans), len(check_plans), len(opened)
    )
    return visit


def _shown(answer: Any) -> Any:
    return {True: _("Yes"), False: _("No")}[answer] if isinstance(answer, bool) else answer


def _open_hazards(
    actor: User | None,
    visit: Visit,
    target: Target,
    row: CampaignTarget,
    problems: list[Any],
    answers: dict[str, Any],
    lat: float | None,
    lng: float | None,
) -> list[Case]:
    """One hazard case per category among a task's problem answers, and a Finding per problem answer.

    Three problems of one self-built house are one case to rectify, not three; it is due by the
    earliest of their deadlines. The category's own extra fields (a self-built house's floors and
    grade) are filled from the checklist answers of the same name. A problem item without a
    category is recorded as a finding and opens nothing.
    """
    by_category: dict[int | None, list[Any]] = {}
    for item in problems:
        by_category.setdefault(item.category_id, []).append(item)
    opened: list[Case] = []
    for category_id, items in by_category.items():
        case = None
        days = [item.rectify_days for item in items if item.rectify_days]
        rectify_day = _rectify_day(visit.visited_at, min(days)) if days and category_id is not None else None
        if category_id is not None:
            category = items[0].category
            found = "；".join(f"{item.label}：{_shown(answers[item.code])}" for item in items)
            case = case_report(
                actor=actor,
                category=category.code,
                title=f"{row.campaign.name}：{'、'.join(item.label for item in items)}"[:MAX_TITLE],
                description=_("Found on a visit to %(target)s (%(campaign)s): %(found)s.")
                % {"target": target.label, "campaign": row.campaign.name, "found": found},
                lat=lat if lat is not None else target.lat,
                lng=lng if lng is not None else target.lng,
                address=target.address or target.label,
                grid=target.grid,
                extra={f["name"]: answers[f["name"]] for f in category.form_schema or [] if f["name"] in answers},
                rectify_by=_end_of(rectify_day) if rectify_day else None,
            )
            opened.append(case)
        Finding.objects.bulk_create(
            Finding(
                visit=visit,
                target=row,
                item=item,
                answer=answers[item.code],
                case=case,
                rectify_by=rectify_day,
                area_code=target.area_code,
            )
            for item in items
        )
    return opened
