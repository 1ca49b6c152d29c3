"""Care (关爱): plans for vulnerable residents, their due checks, the missed-check sweep, home services.

Invariant: an active plan has exactly one check in state `due` (the partial unique constraint
`carecheck_one_due`). A check is made with the plan, and the next one is made in the same
transaction as the one before it is done (`care_check_complete`) or missed (`sweep_care_checks`).
Plan and check rows are always locked in that order (plan, then check), so a deactivation and a
completion of the same plan queue instead of deadlocking. Plans are locked FOR NO KEY UPDATE: the
sweep's insert of a plan's next check takes a key-share lock on the plan (its foreign key) and must
not wait behind a completion that is itself waiting for the check row the sweep holds.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import Role
from gridgov.areas.models import Post
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied, duplicates_refused
from gridgov.core.scope import acts_for, scope_for
from gridgov.fieldwork.choices import CareCheckState, CareMethod, ServiceKind
from gridgov.fieldwork.models import CareCheck, CarePlan, HomeService, Visit
from gridgov.registry.choices import LivingStatus
from gridgov.registry.models import Resident

logger = logging.getLogger("gridgov.fieldwork")

# Who may set up and change care plans: the center, community staff, the grid's leader and worker.
PLAN_ROLES = frozenset({Role.CENTER, Role.COMMUNITY, Role.GRID_LEADER, Role.GRID_WORKER})
# Who may carry a plan out: someone with a post whose area covers the resident.
CARETAKER_ROLES = frozenset({Role.GRID_WORKER, Role.GRID_LEADER, Role.GROUP_LEADER, Role.COMMUNITY})
# Who may record a check done or a home service: every field role covering the area.
FIELD_ROLES = frozenset({Role.CENTER, Role.COMMUNITY, Role.GRID_LEADER, Role.GRID_WORKER, Role.GROUP_LEADER})
MAX_INTERVAL_DAYS = 365
MAX_TEXT = 2000
MISSED_KIND = "care_check_missed"

UNSET: Any = object()


def _invalid(field: str, message: Any, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={field: [str(message)]})


def _not_found(model: type) -> NotFound:
    return NotFound("not_found", _("%(name)s not found.") % {"name": model._meta.verbose_name})


def _require(actor: User | None, code: str, roles: frozenset[str], model: type, message: Any) -> None:
    """Outside the actor's scope: 404 (never say it exists); inside without the role: 403."""
    if actor is None:  # system jobs (the demo builder)
        return
    if not scope_for(actor).covers_code(code):
        raise _not_found(model)
    if not acts_for(actor, code, roles):
        raise PermissionDenied("forbidden", message)


def _text(value: Any, field: str, *, required: bool = False) -> str:
    text = str(value if value is not None else "").strip()
    if required and not text:
        raise _invalid(field, _("This field is required."))
    if len(text) > MAX_TEXT:
        raise _invalid(field, _("At most %(n)d characters.") % {"n": MAX_TEXT})
    return text


def _method(value: Any, field: str = "method") -> str:
    if value not in CareMethod.values:
        raise _invalid(field, _("Not one of the allowed values."))
    return str(value)


def _interval(value: Any) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = None
    if number is None or isinstance(value, bool) or not 1 <= number <= MAX_INTERVAL_DAYS:
        raise _invalid(
            "interval_days",
            _("Enter a whole number of days from 1 to %(max)d.") % {"max": MAX_INTERVAL_DAYS},
        )
    return number


def _day(value: Any, field: str, default: date) -> date:
    if value in (None, ""):
        return default
    if isinstance(value, datetime):
        return timezone.localdate(value)
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _invalid(field, _("Enter a date (YYYY-MM-DD).")) from None


def _check_resident(resident: Resident) -> None:
    if resident.living_status != LivingStatus.RESIDENT:
        message = _("%(name)s no longer lives here (%(status)s).") % {
            "name": resident.name,
            "status": resident.get_living_status_display(),
        }
        raise ApplicationError("resident_gone", message, fields={"resident": [message]})


def default_caretaker(grid_id: int) -> User | None:
    """The grid's worker: the first active grid-worker post at the grid."""
    post = (
        Post.objects.filter(area_id=grid_id, role=Role.GRID_WORKER, active=True, user__is_active=True)
        .select_related("user")
        .order_by("id")
        .first()
    )
    return post.user if post else None


def may_take_care(user: User, area_code: str) -> bool:
    """The user holds a post (grid worker, grid leader, group leader, community) whose area covers the code."""
    return (
        Post.objects.filter(user=user, active=True, role__in=CARETAKER_ROLES, area__isnull=False, user__is_active=True)
        .filter(area__code__in=[area_code[:n] for n in (12, 15, 17) if n <= len(area_code)])
        .exists()
    )


def _check_caretaker(caretaker: User | None, area_code: str) -> None:
    if caretaker is not None and not may_take_care(caretaker, area_code):
        message = _("%(name)s holds no post in the resident's grid.") % {"name": caretaker}
        raise ApplicationError("invalid_caretaker", message, fields={"caretaker": [message]})


def _new_check(plan: CarePlan, due_on: date) -> CareCheck:
    return CareCheck.objects.create(
        plan=plan, resident_id=plan.resident_id, area_code=plan.area_code, method=plan.method, due_on=due_on
    )


ONE_DUE = _("This care plan already has a check due.")


# --- plans ------------------------------------------------------------------------------------


def care_plan_create(
    *,
    actor: User | None,
    resident: Resident,
    method: Any,
    interval_days: Any,
    caretaker: User | None = None,
    needs: Any = "",
    starts_on: Any = None,
) -> CarePlan:
    """A care plan and its first check, due on `starts_on` (default today); the caretaker defaults to
    the grid's worker."""
    _require(
        actor,
        resident.area_code,
        PLAN_ROLES,
        Resident,
        _("Only the center, community staff and the grid's leader or worker may set up care plans."),
    )
    _check_resident(resident)
    method = _method(method)
    interval = _interval(interval_days)
    needs = _text(needs, "needs")
    starts = _day(starts_on, "starts_on", timezone.localdate())
    if caretaker is None:
        caretaker = default_caretaker(resident.grid_id)
    else:
        _check_caretaker(caretaker, resident.area_code)
    with transaction.atomic():
        plan = CarePlan.objects.create(
            resident=resident,
            grid_id=resident.grid_id,
            area_code=resident.area_code,
            method=method,
            interval_days=interval,
            caretaker=caretaker,
            needs=needs,
            starts_on=starts,
            active=True,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        check = _new_check(plan, starts)
        audit.record(
            actor=actor,
            event="fieldwork.care_plan.create",
            obj=plan,
            data={"area": plan.area_code, "method": method, "interval_days": interval, "first_due": str(check.due_on)},
        )
    return plan


def care_plan_update(
    *,
    actor: User | None,
    plan: CarePlan,
    method: Any = UNSET,
    interval_days: Any = UNSET,
    caretaker: Any = UNSET,
    needs: Any = UNSET,
    active: Any = UNSET,
) -> CarePlan:
    """Change a plan; fields left out keep their value. The interval counts from the next check.

    Deactivating deletes the open due check (it never happened; the audit event names it);
    reactivating makes a new check due today. A method change applies to the open check too.
    """
    _require(
        actor,
        plan.area_code,
        PLAN_ROLES,
        CarePlan,
        _("Only the center, community staff and the grid's leader or worker may change care plans."),
    )
    changes: dict[str, Any] = {}
    if method is not UNSET:
        changes["method"] = _method(method)
    if interval_days is not UNSET:
        changes["interval_days"] = _interval(interval_days)
    if needs is not UNSET:
        changes["needs"] = _text(needs, "needs")
    if caretaker is not UNSET:
        _check_caretaker(caretaker, plan.area_code)
        changes["caretaker"] = caretaker
    if active is not UNSET:
        if not isinstance(active, bool):
            raise _invalid("active", _("Enter true or false."))
        changes["active"] = active
    data: dict[str, Any] = {}
    with duplicates_refused("care_check_due_exists", ONE_DUE), transaction.atomic():
        plan = CarePlan.objects.select_for_update(no_key=True, of=("self",)).select_related("resident").get(pk=plan.pk)
        if changes.get("active") and not plan.active:
            _check_resident(plan.resident)
        changed = sorted(
            name
            for name, value in changes.items()
            if (getattr(plan, f"{name}_id") if name == "caretaker" else getattr(plan, name))
            != (value.pk if name == "caretaker" and value is not None else value)
        )
        was_active = plan.active
        for name, value in changes.items():
            setattr(plan, name, value)
        plan.save()
        due = CareCheck.objects.select_for_update().filter(plan=plan, state=CareCheckState.DUE).first()
        if was_active and not plan.active and due is not None:
            data["deleted_due_check"] = {"id": due.pk, "due_on": str(due.due_on)}
            due.delete()
        elif plan.active and not was_active:
            data["new_due_on"] = str(_new_check(plan, timezone.localdate()).due_on)
        elif due is not None and "method" in changed:
            due.method = plan.method
            due.save(update_fields=["method", "updated_at"])
        audit.record(actor=actor, event="fieldwork.care_plan.update", obj=plan, data={"fields": changed, **data})
    return plan


# --- checks -----------------------------------------------------------------------------------


def care_check_complete(
    *,
    actor: User | None,
    check: CareCheck,
    note: Any = "",
    method: Any = None,
    visit: Visit | None = None,
    now: datetime | None = None,
) -> CareCheck:
    """Mark a due check done and make the plan's next check, due `interval_days` after the day it was done.

    Called by the visit service inside its own transaction for the checks done on a visit; a
    missed check stays missed (history), so only a `due` check can be completed (409 otherwise).
    """
    _require(
        actor,
        check.area_code,
        FIELD_ROLES,
        CareCheck,
        _("Only the grid's staff, the group leader, community staff or the center may record care checks."),
    )
    note = _text(note, "note")
    method = _method(method) if method not in (None, "") else None
    if visit is not None and not isinstance(visit, Visit):
        raise _invalid("visit", _("Not a visit."))
    now = now or timezone.now()
    with transaction.atomic():
        # Plan first, then check: the same order as care_plan_update, so the two never deadlock.
        plan = CarePlan.objects.select_for_update(no_key=True).filter(pk=check.plan_id).first()
        locked = CareCheck.objects.select_for_update().filter(pk=check.pk).first()
        if plan is None or locked is None or locked.state != CareCheckState.DUE:
            state = locked.get_state_display() if locked is not None else _("Deleted")
            message = _("This care check is not due (it is %(state)s).") % {"state": state}
            raise Conflict("care_check_not_due", message, fields={"state": [str(state)]})
        locked.state = CareCheckState.DONE
        locked.done_at = now
        locked.done_by = actor if getattr(actor, "is_authenticated", False) else None
        locked.visit = visit
        locked.note = note
        locked.method = method or plan.method
        locked.save()
        next_due = None
        if plan.active:
            next_due = _new_check(plan, timezone.localdate(now) + timedelta(days=plan.interval_days)).due_on
        audit.record(
            actor=actor,
            event="fieldwork.care_check.complete",
            obj=locked,
            data={
                "plan": plan.pk,
                "visit": visit.pk if visit else None,
                "next_due": str(next_due) if next_due else None,
            },
        )
    return locked


def grace_days() -> int:
    return int(settings.GRIDGOV_CARE_GRACE_DAYS)


def sweep_care_checks(*, today: date | None = None) -> int:
    """Mark the checks not done by the end of their due day (plus the grace days) missed, make each
    plan's next check due today, and tell each grid leader and caretaker once how many were missed.

    Set-based (one UPDATE, one INSERT … SELECT) and idempotent: a second run finds nothing. One lock
    row keeps two workers from sweeping at once. Returns how many checks were marked missed.
    """
    from gridgov.core.models import Generation

    today = today or timezone.localdate()
    cutoff = today - timedelta(days=grace_days())
    now = timezone.now()
    qn = connection.ops.quote_name
    checks, plans = qn(CareCheck._meta.db_table), qn(CarePlan._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    day, before = connection.ops.adapt_datefield_value(today), connection.ops.adapt_datefield_value(cutoff)
    with transaction.atomic():
        Generation.objects.get_or_create(name="fieldwork.care_sweep")
        lock = Generation.objects.select_for_update(skip_locked=True).filter(name="fieldwork.care_sweep").first()
        if lock is None and connection.features.has_select_for_update_skip_locked:
            logger.info("care sweep skipped: another worker is sweeping")
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {checks} SET state = %s, missed_at = %s, updated_at = %s "  # noqa: S608 (our table)
                "WHERE state = %s AND due_on < %s RETURNING id, plan_id, area_code",
                [CareCheckState.MISSED, at, at, CareCheckState.DUE, before],
            )
            missed = cursor.fetchall()
        if not missed:
            return 0
        plan_ids = sorted({row[1] for row in missed})
        for start in range(0, len(plan_ids), 500):
            chunk = plan_ids[start : start + 500]
            with connection.cursor() as cursor:
                # The next check of every active plan that has none due (a concurrent reactivation made one).
                cursor.execute(
                    f"INSERT INTO {checks} (plan_id, resident_id, area_code, method, due_on, state, note, "  # noqa: S608
                    "created_at, updated_at) "
                    f"SELECT p.id, p.resident_id, p.area_code, p.method, %s, %s, '', %s, %s FROM {plans} p "
                    f"WHERE p.id IN ({', '.join(['%s'] * len(chunk))}) AND p.active = %s "
                    f"AND NOT EXISTS (SELECT 1 FROM {checks} c WHERE c.plan_id = p.id AND c.state = %s)",
                    [day, CareCheckState.DUE, at, at, *chunk, True, CareCheckState.DUE],
                )
        people = _missed_people(missed)
        audit.record(
            actor=None,
            event="fieldwork.care_check.sweep",
            data={"missed": len(missed), "plans": len(plan_ids), "cutoff": str(cutoff)},
        )
    # After the sweep's own transaction has committed: a rolled-back sweep tells nobody.
    _notify_missed(people)
    logger.info("care sweep: %d checks missed", len(missed))
    return len(missed)


def _missed_people(missed: list[tuple]) -> dict[int, int]:
    """How many of the missed checks each grid leader (of the check's grid) and caretaker is told about."""
    by_grid: dict[str, set[int]] = defaultdict(set)
    for check_id, _plan_id, area_code in missed:
        by_grid[area_code[:15]].add(check_id)
    plan_of = {row[0]: row[1] for row in missed}
    concerned: dict[int, set[int]] = defaultdict(set)
    grids = sorted(by_grid)
    for start in range(0, len(grids), 500):
        for user_id, code in Post.objects.filter(
            role=Role.GRID_LEADER, active=True, area__code__in=grids[start : start + 500]
        ).values_list("user_id", "area__code"):
            concerned[user_id] |= by_grid[code]
    plan_ids = sorted(set(plan_of.values()))
    caretakers: dict[int, int] = {}
    for start in range(0, len(plan_ids), 500):
        caretakers.update(
            CarePlan.objects.filter(pk__in=plan_ids[start : start + 500], caretaker__isnull=False).values_list(
                "id", "caretaker_id"
            )
        )
    for check_id, plan_id in plan_of.items():
        if plan_id in caretakers:
            concerned[caretakers[plan_id]].add(check_id)
    return {user_id: len(ids) for user_id, ids in concerned.items()}


def _notify_missed(people: dict[int, int]) -> None:
    from gridgov.notifications.services import notify

    by_count: dict[int, list[int]] = defaultdict(list)
    for user_id, n in people.items():
        by_count[n].append(user_id)
    url = reverse("fieldwork:care_checks") + "?state=" + CareCheckState.MISSED
    for n, user_ids in sorted(by_count.items()):
        notify(
            users=User.objects.filter(pk__in=user_ids, is_active=True).order_by("pk"),
            kind=MISSED_KIND,
            title=_("Care checks missed"),
            body=_("%(n)d care checks were not done by their due day.") % {"n": n},
            url=url,
        )


# --- home services ----------------------------------------------------------------------------


def home_service_record(
    *,
    actor: User | None,
    resident: Resident,
    kind: Any,
    description: Any,
    served_on: Any = None,
    plan: CarePlan | None = None,
    check: CareCheck | None = None,
) -> HomeService:
    """Record a home service (代办、代购、代送, a repair) for a resident; a given due check of a
    home-service plan is completed by it, in the same transaction."""
    _require(
        actor,
        resident.area_code,
        FIELD_ROLES,
        Resident,
        _("Only the grid's staff, the group leader, community staff or the center may record home services."),
    )
    if kind not in ServiceKind.values:
        raise _invalid("kind", _("Not one of the allowed values."))
    description = _text(description, "description", required=True)
    today = timezone.localdate()
    served = _day(served_on, "served_on", today)
    if served > today:
        raise _invalid("served_on", _("The date cannot be in the future."))
    if plan is not None and plan.resident_id != resident.pk:
        raise _invalid("plan", _("The care plan is not this resident's."))
    if check is not None:
        if check.resident_id != resident.pk or (plan is not None and check.plan_id != plan.pk):
            raise _invalid("check", _("The care check is not this resident's."))
        check_plan = plan or CarePlan.objects.get(pk=check.plan_id)
        if check_plan.method != CareMethod.SERVICE:
            raise _invalid("check", _("Only a check of a home-service plan is done by a home service."))
        plan = check_plan
    with transaction.atomic():
        service = HomeService.objects.create(
            resident=resident,
            plan=plan,
            area_code=resident.area_code,
            kind=kind,
            description=description,
            served_on=served,
            served_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        if check is not None:
            care_check_complete(actor=actor, check=check, note=description, method=CareMethod.SERVICE)
        audit.record(
            actor=actor,
            event="fieldwork.home_service.record",
            obj=service,
            data={"area": service.area_code, "kind": kind, "check": check.pk if check else None},
        )
    return service
