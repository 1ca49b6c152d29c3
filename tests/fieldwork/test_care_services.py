"""Care services: plans, the one-due-check invariant, completing, the missed-check sweep, home services."""

from __future__ import annotations

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.utils import timezone

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.choices import CareCheckState, CareMethod, ServiceKind
from gridgov.fieldwork.models import CareCheck, CarePlan, HomeService
from gridgov.fieldwork.selectors import care as selectors
from gridgov.fieldwork.services import care as services
from gridgov.notifications.models import Notification


@pytest.fixture
def people(org):
    """Residents: an elder living alone in G11/grp1, one with 低保 in G11 (no group), one in G21, one moved out."""
    from gridgov.registry.models import Tag
    from gridgov.registry.services import resident_create

    alone, dibao = Tag.objects.get(code="dujulaoren"), Tag.objects.get(code="dibao")

    def person(name, grid, group=None, **fields):
        return resident_create(actor=None, grid=grid, group=group, name=name, gender="female", **fields)

    return SimpleNamespace(
        elder=person("王奶奶", org.g11, org.grp1, birth_date=date(1940, 3, 1), tags=[alone]),
        poor=person("李大爷", org.g11, tags=[dibao]),
        far=person("赵阿姨", org.g21, tags=[alone]),
        gone=person("钱先生", org.g11, living_status="moved_out"),
    )


def counts() -> tuple[int, int, int, int]:
    return (
        CarePlan.objects.count(),
        CareCheck.objects.count(),
        HomeService.objects.count(),
        AuditEvent.objects.filter(event_type__startswith="fieldwork.").count(),
    )


def refused(code: str, call, *args, **kwargs) -> ApplicationError:
    before = counts()
    with pytest.raises(ApplicationError) as info:
        call(*args, **kwargs)
    assert info.value.code == code, info.value.as_dict()
    assert counts() == before
    return info.value


def due_checks(plan: CarePlan) -> list[CareCheck]:
    return list(CareCheck.objects.filter(plan=plan, state=CareCheckState.DUE))


def plan_for(org, resident, **fields) -> CarePlan:
    fields.setdefault("method", CareMethod.VISIT)
    fields.setdefault("interval_days", 7)
    return services.care_plan_create(actor=org.users.grid_worker, resident=resident, **fields)


# --- plans ------------------------------------------------------------------------------------


def test_create_makes_one_due_check_and_defaults_the_caretaker(org, people):
    start = timezone.localdate() + timedelta(days=2)
    plan = plan_for(org, people.elder, starts_on=start, needs="每周上门")
    assert plan.caretaker == org.users.grid_worker  # the grid's worker
    assert plan.area_code == org.grp1.code and plan.grid == org.g11
    [check] = due_checks(plan)
    assert check.due_on == start and check.resident == people.elder and check.area_code == org.grp1.code
    event = AuditEvent.objects.get(event_type="fieldwork.care_plan.create")
    assert event.data["first_due"] == str(start)


def test_caretaker_must_hold_a_post_covering_the_resident(org, people):
    error = refused(
        "invalid_caretaker", plan_for, org, people.poor, caretaker=org.users.group_leader
    )  # lb01 is at grp1, the resident lives in G11 without a group
    assert "caretaker" in error.fields
    refused("invalid_caretaker", plan_for, org, people.elder, caretaker=org.users.center)
    plan = plan_for(org, people.elder, caretaker=org.users.group_leader)
    assert plan.caretaker == org.users.group_leader


@pytest.mark.parametrize("interval", [0, 366, "x", -1])
def test_interval_out_of_range_is_refused(org, people, interval):
    error = refused("invalid", plan_for, org, people.elder, interval_days=interval)
    assert "interval_days" in error.fields


def test_resident_out_of_scope_is_not_found(org, people):
    refused("not_found", plan_for, org, people.far)


def test_roles_without_plan_rights_are_refused(org, people):
    refused("forbidden", services.care_plan_create, actor=org.users.group_leader, resident=people.elder,
            method=CareMethod.PHONE, interval_days=3)  # fmt: skip
    refused("forbidden", services.care_plan_create, actor=org.users.leader, resident=people.elder,
            method=CareMethod.PHONE, interval_days=3)  # fmt: skip


def test_moved_out_resident_is_refused(org, people):
    refused("resident_gone", plan_for, org, people.gone)


def test_deactivate_deletes_the_due_check_and_reactivate_makes_one_today(org, people):
    plan = plan_for(org, people.elder, starts_on=timezone.localdate() + timedelta(days=5))
    [check] = due_checks(plan)
    services.care_plan_update(actor=org.users.grid_leader, plan=plan, active=False)
    assert due_checks(plan) == [] and not CareCheck.objects.filter(pk=check.pk).exists()
    event = AuditEvent.objects.get(event_type="fieldwork.care_plan.update")
    assert event.data["deleted_due_check"]["id"] == check.pk and event.data["fields"] == ["active"]
    services.care_plan_update(actor=org.users.grid_leader, plan=plan, active=True)
    [again] = due_checks(plan)
    assert again.due_on == timezone.localdate()


def test_update_changes_method_of_the_open_check(org, people):
    plan = plan_for(org, people.elder)
    services.care_plan_update(actor=org.users.community, plan=plan, method=CareMethod.PHONE, interval_days=14)
    plan.refresh_from_db()
    assert (plan.method, plan.interval_days) == (CareMethod.PHONE, 14)
    assert [c.method for c in due_checks(plan)] == [CareMethod.PHONE]


# --- completing -------------------------------------------------------------------------------


def test_complete_marks_done_and_makes_the_next_due_after_the_interval(org, people):
    plan = plan_for(org, people.elder, interval_days=10)
    [check] = due_checks(plan)
    now = timezone.now()
    done = services.care_check_complete(actor=org.users.grid_worker, check=check, note="身体良好", now=now)
    assert done.state == CareCheckState.DONE and done.done_by == org.users.grid_worker and done.note == "身体良好"
    [following] = due_checks(plan)
    assert following.due_on == timezone.localdate(now) + timedelta(days=10)
    assert CareCheck.objects.filter(plan=plan).count() == 2


def test_completing_a_done_check_is_a_conflict(org, people):
    plan = plan_for(org, people.elder)
    [check] = due_checks(plan)
    services.care_check_complete(actor=org.users.grid_worker, check=check)
    refused("care_check_not_due", services.care_check_complete, actor=org.users.grid_leader, check=check)


def test_complete_needs_a_field_role_in_the_area(org, people):
    plan = plan_for(org, people.elder)
    [check] = due_checks(plan)
    refused("forbidden", services.care_check_complete, actor=org.users.leader, check=check)
    refused("not_found", services.care_check_complete, actor=org.users.nobody, check=check)
    services.care_check_complete(actor=org.users.group_leader, check=check, method=CareMethod.PHONE)
    check.refresh_from_db()
    assert check.method == CareMethod.PHONE


# --- the sweep --------------------------------------------------------------------------------


def test_sweep_marks_missed_makes_the_next_and_notifies_once(org, people):
    today = timezone.localdate()
    late = plan_for(org, people.elder, starts_on=today - timedelta(days=3))
    also_late = plan_for(org, people.poor, starts_on=today - timedelta(days=1), caretaker=org.users.grid_leader)
    on_time = plan_for(org, people.elder, starts_on=today)
    [old] = due_checks(late)

    assert services.sweep_care_checks(today=today) == 2
    old.refresh_from_db()
    assert old.state == CareCheckState.MISSED and old.missed_at is not None
    assert [c.due_on for c in due_checks(late)] == [today]
    assert [c.due_on for c in due_checks(also_late)] == [today]
    assert [c.due_on for c in due_checks(on_time)] == [today]
    # The grid leader is told once, about both (also as caretaker of one); the worker about the one they carry.
    gl = Notification.objects.filter(user=org.users.grid_leader, kind=services.MISSED_KIND)
    assert gl.count() == 1 and "2" in gl.get().body and gl.get().url.endswith("?state=missed")
    assert Notification.objects.filter(user=org.users.grid_worker, kind=services.MISSED_KIND).count() == 1
    assert not Notification.objects.filter(user=org.users.community).exists()

    before = (counts(), Notification.objects.count())
    assert services.sweep_care_checks(today=today) == 0
    assert (counts(), Notification.objects.count()) == before


def test_sweep_respects_the_grace_days(org, people, settings):
    settings.GRIDGOV_CARE_GRACE_DAYS = 2
    today = timezone.localdate()
    plan = plan_for(org, people.elder, starts_on=today - timedelta(days=2))
    assert services.sweep_care_checks(today=today) == 0
    assert services.sweep_care_checks(today=today + timedelta(days=1)) == 1
    assert CareCheck.objects.filter(plan=plan, state=CareCheckState.MISSED).count() == 1


def test_a_missed_check_stays_missed(org, people):
    today = timezone.localdate()
    plan = plan_for(org, people.elder, starts_on=today - timedelta(days=2))
    [old] = due_checks(plan)
    services.sweep_care_checks(today=today)
    refused("care_check_not_due", services.care_check_complete, actor=org.users.grid_worker, check=old)


def test_sweep_skips_inactive_plans(org, people):
    today = timezone.localdate()
    plan = plan_for(org, people.elder, starts_on=today - timedelta(days=2))
    services.care_plan_update(actor=org.users.grid_worker, plan=plan, active=False)
    assert services.sweep_care_checks(today=today) == 0
    assert CareCheck.objects.filter(plan=plan).count() == 0


# --- selectors --------------------------------------------------------------------------------


def test_due_checks_for_caretaker_and_overseers(org, people):
    today = timezone.localdate()
    mine = plan_for(org, people.elder, starts_on=today - timedelta(days=1))
    other = plan_for(org, people.poor, starts_on=today, caretaker=org.users.grid_leader)
    plan_for(org, people.elder, starts_on=today + timedelta(days=3))  # not yet due
    worker = [c.plan_id for c in selectors.care_checks_due(user=org.users.grid_worker, on=today)]
    assert worker == [mine.pk]
    leader = [c.plan_id for c in selectors.care_checks_due(user=org.users.grid_leader, on=today)]
    assert leader == [mine.pk, other.pk]  # overdue first
    community = selectors.care_checks_due(user=org.users.community, on=today)
    assert community.count() == 2
    for_residents = selectors.care_checks_for_residents(
        user=org.users.grid_worker, resident_ids=[people.poor.pk], on=today
    )
    assert [c.plan_id for c in for_residents] == [other.pk]
    assert selectors.care_checks_due(user=org.users.center, on=today).count() == 0  # neither caretaker nor overseer


def test_care_stats_per_grid(org, people):
    today = timezone.localdate()
    plan = plan_for(org, people.elder, starts_on=today - timedelta(days=1))
    [check] = due_checks(plan)
    services.care_check_complete(actor=org.users.grid_worker, check=check)
    plan_for(org, people.poor, starts_on=today - timedelta(days=3))
    services.sweep_care_checks(today=today)
    rows = {row.area.code: row for row in selectors.care_stats(user=org.users.community, area=org.c1)}
    assert set(rows) == {org.g11.code, org.g12.code}
    assert (rows[org.g11.code].plans, rows[org.g11.code].done, rows[org.g11.code].missed) == (2, 1, 1)
    assert (rows[org.g12.code].plans, rows[org.g12.code].done, rows[org.g12.code].missed) == (0, 0, 0)


# --- home services ----------------------------------------------------------------------------


def test_home_service_completes_the_due_check_of_a_service_plan(org, people):
    plan = plan_for(org, people.elder, method=CareMethod.SERVICE, interval_days=5)
    [check] = due_checks(plan)
    service = services.home_service_record(
        actor=org.users.grid_worker, resident=people.elder, kind=ServiceKind.SHOPPING, description="代购米面油",
        check=check,
    )  # fmt: skip
    assert service.plan == plan and service.area_code == org.grp1.code
    check.refresh_from_db()
    assert check.state == CareCheckState.DONE and check.note == "代购米面油"
    assert len(due_checks(plan)) == 1


def test_home_service_bad_input(org, people):
    visit_plan = plan_for(org, people.elder, method=CareMethod.VISIT)
    [check] = due_checks(visit_plan)
    args = {"actor": org.users.grid_worker, "resident": people.elder, "kind": ServiceKind.REPAIR}
    refused("invalid", services.home_service_record, description="修水管", check=check, **args)
    refused("invalid", services.home_service_record, description="", **args)
    refused(
        "invalid",
        services.home_service_record,
        description="修水管",
        served_on=timezone.localdate() + timedelta(days=1),
        **args,
    )
    refused("not_found", services.home_service_record, actor=org.users.grid_worker, resident=people.far,
            kind=ServiceKind.REPAIR, description="修水管")  # fmt: skip
