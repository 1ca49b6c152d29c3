"""The case services: intake, the transition table and door, deadlines and the sweep."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from gridgov.areas import services as areas
from gridgov.areas.choices import Mode, Role
from gridgov.cases import services, transitions
from gridgov.cases.choices import Action, CaseLevel, Priority, Source, State
from gridgov.cases.models import Case, CaseAttachment, CaseEvent, Category
from gridgov.cases.selectors import case_list, work_queue
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from tests.cases.conftest import IN_G11, IN_G12, IN_G21, OUTSIDE

pytestmark = pytest.mark.django_db


def png(size=(40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 60, 60)).save(out, "PNG")
    return out.getvalue()


def counts() -> tuple[int, int, int]:
    return Case.objects.count(), CaseEvent.objects.count(), CaseAttachment.objects.count()


# --- intake -----------------------------------------------------------------------------------


def test_grid_worker_report_lands_in_the_grid_of_the_point(org, report):
    case = report(org.users.grid_worker, point=IN_G11)
    assert (case.grid, case.area_code, case.level, case.handling_area) == (org.g11, org.g11.code, "grid", org.g11)
    assert case.source == Source.GRID_WORKER and case.reporter == org.users.grid_worker
    assert case.due_at - case.step_started_at == timedelta(minutes=60)  # 01001: accept within 60 minutes
    assert case.warn_at - case.step_started_at == timedelta(minutes=48)
    event = case.events.get()
    assert (event.action, event.from_state, event.to_state, event.to_level) == ("report", "", "reported", "grid")


def test_other_sources_start_at_the_category_level(org, report):
    case = report(org.users.center, category="02001", point=IN_G12, source=Source.HOTLINE)
    assert (case.level, case.handling_area, case.grid) == (CaseLevel.COMMUNITY, org.c1, org.g12)
    petition = report(org.users.center, category="06001", point=IN_G21, source=Source.HOTLINE)
    assert (petition.level, petition.handling_area) == (CaseLevel.SUBDISTRICT, org.s)


def test_a_point_outside_every_grid_is_taken_by_the_subdistrict(org, report):
    case = report(org.users.center, point=OUTSIDE, source=Source.HOTLINE)
    assert case.outside_grids and case.grid is None
    assert (case.level, case.handling_area, case.area_code) == (CaseLevel.SUBDISTRICT, org.s, org.s.code)
    assert case in case_list(user=org.users.center)


def test_codes_count_per_grid_and_day(org, report):
    first, second = report(), report()
    other = report(org.users.center, point=IN_G12, source=Source.HOTLINE)
    assert int(second.code[-4:]) == int(first.code[-4:]) + 1
    assert other.code.startswith(org.g12.code) and other.code.endswith("0001")


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"category": "99999"}, "unknown_category", "category"),
        ({"category": "01"}, "unknown_category", "category"),
        ({"title": "  "}, "invalid", "title"),
        ({"title": "x" * 101}, "invalid", "title"),
        ({"priority": "sometime"}, "invalid", "priority"),
        ({"source": "pigeon"}, "invalid", "source"),
        ({"category": "04004", "extra": {"floors": 3}}, "invalid_extra", "extra.grade"),
        ({"category": "04004", "extra": {"floors": "three", "grade": "B"}}, "invalid_extra", "extra.floors"),
        ({"category": "04004", "extra": {"floors": 3, "grade": "Z"}}, "invalid_extra", "extra.grade"),
        ({"extra": {"colour": "red"}}, "invalid_extra", "extra.colour"),
        ({"lat": "north", "lng": 117.0}, "invalid_point", "lat"),
        ({"lat": 32.6, "lng": None}, "invalid_point", "lng"),
        ({"reporter_phone": "12345"}, "invalid", "reporter_phone"),
    ],
)
def test_bad_intake_is_refused_by_field_and_writes_nothing(org, fields, code, field):
    before = counts()
    data = {"category": "01001", "title": "暴露垃圾", **IN_G11, **fields}
    with pytest.raises(ApplicationError) as refused:
        services.case_report(actor=org.users.grid_worker, **data)
    assert (refused.value.code, field in refused.value.fields) == (code, True)
    assert counts() == before


def test_a_grid_worker_cannot_report_into_another_grid(org):
    with pytest.raises(ApplicationError) as refused:
        services.case_report(actor=org.users.grid_worker, category="01001", title="x", **IN_G21)
    assert refused.value.code == "outside_scope"


def test_extra_fields_are_typed(org, report):
    case = report(org.users.center, category="04004", source=Source.HOTLINE, extra={"floors": "4", "grade": "C"})
    assert case.extra == {"floors": 4, "grade": "C"}


def test_a_grid_worker_without_a_point_reports_in_their_own_grid(org):
    case = services.case_report(actor=org.users.grid_worker, category="01001", title="楼道堆物")
    assert case.grid == org.g11 and case.lat is None


def test_residents_report_only_what_they_may(org):
    case = services.case_report(actor=None, category="02001", title="路面塌陷", **IN_G11, reporter_phone="13912345678")
    assert (case.source, case.level, case.reporter) == (Source.RESIDENT, CaseLevel.COMMUNITY, None)
    assert str(case.reporter_phone) != "13912345678" and case.reporter_phone.reveal() == "13912345678"
    assert case.tracking_code and len(case.tracking_code) == 10
    with pytest.raises(ApplicationError) as refused:
        services.case_report(actor=None, category="05001", title="邻里吵架", **IN_G11)
    assert refused.value.code == "unknown_category"
    with pytest.raises(ApplicationError):  # only other systems' sources come without a user
        services.case_report(actor=None, category="02001", title="x", source=Source.GRID_WORKER, **IN_G11)


def test_idempotency_key_returns_the_same_case_and_refuses_another_body(org):
    data = {"category": "01001", "title": "暴露垃圾", **IN_G11}
    first = services.case_report(actor=org.users.grid_worker, idempotency_key="k-1", **data)
    again = services.case_report(actor=org.users.grid_worker, idempotency_key="k-1", **data)
    assert again.pk == first.pk and getattr(again, "replayed", False)
    before = counts()
    with pytest.raises(Conflict) as refused:
        services.case_report(actor=org.users.grid_worker, idempotency_key="k-1", **{**data, "title": "别的"})
    assert refused.value.code == "idempotency_key_reused" and counts() == before
    other_user = services.case_report(actor=org.users.grid_leader, idempotency_key="k-1", **data)
    assert other_user.pk != first.pk


# --- files ------------------------------------------------------------------------------------


def test_photos_are_stored_with_a_thumbnail(org, report, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    case = report(files=[SimpleUploadedFile("a.jpg", png((1200, 900)), content_type="image/jpeg")])
    attachment = case.attachments.get()
    assert (attachment.content_type, attachment.name, attachment.event.action) == ("image/png", "a.jpg", "report")
    with Image.open(attachment.thumbnail.path) as thumb:
        assert max(thumb.size) == 320


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("photo.jpg", b"this is not an image at all", "unsupported_file"),
        ("empty.png", b"", "invalid_file"),
        ("big.jpg", b"\xff\xd8" + b"0" * (10 * 1024 * 1024), "file_too_large"),
    ],
)
def test_bad_files_are_refused_before_anything_is_written(org, report, name, data, code, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    before = counts()
    with pytest.raises(ApplicationError) as refused:
        report(files=[SimpleUploadedFile(name, data)])
    assert refused.value.code == code and "files" in refused.value.fields
    assert counts() == before and not any(tmp_path.rglob("*.*"))


# --- the table and the door -------------------------------------------------------------------


def test_every_action_in_the_table_has_a_step():
    assert set(transitions.USER_ACTIONS) == set(services._STEPS)
    states = set(State.values)
    for row in transitions.TRANSITIONS:
        assert row.sources <= states and (row.target is None or row.target in states)


def test_an_illegal_transition_is_a_conflict_and_changes_nothing(org, report, act):
    case = report()
    before = counts()
    with pytest.raises(Conflict) as refused:
        act(org.users.center, case, Action.VERIFY, passed=True)
    assert refused.value.code == "illegal_transition" and refused.value.status == 409
    case.refresh_from_db()
    assert case.state == State.REPORTED and counts() == before


def test_a_role_that_may_not_act_is_refused(org, report, act):
    case = report()
    for user in (org.users.unit_handler, org.users.leader, org.users.group_leader, org.users.community):
        with pytest.raises(PermissionDenied):
            act(user, case, Action.ACCEPT)
    with pytest.raises(NotFound):
        act(org.users.center, case, "teleport")


def test_missing_inputs_are_named(org, report, act):
    case = report()
    with pytest.raises(ApplicationError) as refused:
        act(org.users.grid_worker, case, Action.ESCALATE)
    assert list(refused.value.fields) == ["reason"]


def test_allowed_actions_follow_role_and_state(org, report, act):
    u = org.users
    case = report()
    assert set(services.allowed_actions(actor=u.grid_worker, case=case)) >= {
        "accept",
        "reject",
        "handle_on_site",
        "claim",
        "escalate",
        "merge",
        "comment",
    }
    assert "dispatch" not in services.allowed_actions(actor=u.grid_worker, case=case)
    assert services.allowed_actions(actor=u.unit_handler, case=case) == []
    assert services.allowed_actions(actor=u.leader, case=case) == ["urge", "comment", "attach"]
    act(u.grid_worker, case, Action.ESCALATE, reason="社区协调")
    case.refresh_from_db()
    assert "dispatch" in services.allowed_actions(actor=u.community, case=case)
    assert "accept" not in services.allowed_actions(actor=u.grid_worker, case=case)


def test_dispatch_return_and_redispatch(org, report, act):
    u = org.users
    case = report(u.center, category="02001", source=Source.HOTLINE)
    act(u.community, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk], measures="围挡并回填")
    case.refresh_from_db()
    assert (case.state, case.unit, case.accepted_at is not None) == (State.DISPATCHED, org.prop, True)
    assert list(case.co_units.all()) == [org.police]
    act(u.unit_handler, case, Action.RETURN, reason="不属于本单位")
    case.refresh_from_db()
    assert (case.state, case.unit, list(case.co_units.all())) == (State.REGISTERED, None, [])
    act(u.community, case, Action.DISPATCH, unit="测试物业")
    case.refresh_from_db()
    assert case.unit == org.prop


def test_a_community_dispatches_only_to_units_serving_the_place(org, report, act):
    other = areas.unit_create(actor=None, name="二社区物业", kind="property", area=org.c2)
    case = report(org.users.center, category="02001", source=Source.HOTLINE)
    with pytest.raises(ApplicationError) as refused:
        act(org.users.community, case, Action.DISPATCH, unit=other.pk)
    assert refused.value.code == "unit_out_of_area"
    act(org.users.center, case, Action.DISPATCH, unit=other.pk)  # the center dispatches anywhere


def test_unit_scope_covers_lead_and_co_units(org, report, act):
    handler = org.users.unit_handler
    case = report(org.users.center, category="02001", source=Source.HOTLINE)
    assert case not in case_list(user=handler)
    police_handler = services.User.objects.create(username="police01", name="民警")
    areas.post_create(actor=None, user=police_handler, role=Role.UNIT_HANDLER, unit=org.police)
    act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk, co_units=[org.police.pk])
    assert list(case_list(user=handler)) == [case]
    assert list(case_list(user=police_handler)) == [case]
    assert services.allowed_actions(actor=police_handler, case=case) == ["comment", "attach"]


def test_verification_failure_sends_the_case_back(org, report, act):
    u = org.users
    case = report()
    act(u.grid_worker, case, Action.CLAIM)
    act(u.grid_worker, case, Action.RESOLVE, result="已清理")
    with pytest.raises(ApplicationError):
        act(u.grid_leader, case, Action.VERIFY, passed=False)  # a failed check says why
    act(u.grid_leader, case, Action.VERIFY, passed="false", note="仍有垃圾")
    case.refresh_from_db()
    assert (case.state, case.due_at is not None, case.closed_level) == (State.IN_PROGRESS, True, "")


def test_reject_reopen_merge_rate_and_urge(org, report, act):
    u = org.users
    a, b = report(title="垃圾一"), report(title="垃圾二")
    act(u.grid_worker, b, Action.MERGE, target=a.code)
    b.refresh_from_db()
    assert (b.state, b.merged_into) == (State.MERGED, a)
    with pytest.raises(Conflict):
        act(u.grid_worker, b, Action.ACCEPT)
    act(u.leader, a, Action.URGE, note="尽快处理")
    a.refresh_from_db()
    assert (a.urged, a.urge_count) == (True, 1)
    act(u.grid_worker, a, Action.REJECT, reason="重复上报")
    act(u.center, a, Action.REOPEN, reason="核实后确有问题")
    a.refresh_from_db()
    assert a.state == State.REGISTERED
    act(u.grid_worker, a, Action.HANDLE_ON_SITE, result="已清理")
    act(u.grid_leader, a, Action.VERIFY, passed=True)
    act(u.grid_worker, a, Action.RATE, score=5)
    a.refresh_from_db()
    assert (a.satisfaction, a.closed_level) == (5, CaseLevel.GRID)
    with pytest.raises(Conflict):
        act(u.grid_worker, a, Action.RATE, score=4)


def test_rating_accepts_only_one_to_five(org, report, act):
    case = report()
    act(org.users.grid_worker, case, Action.HANDLE_ON_SITE, result="ok")
    act(org.users.grid_leader, case, Action.VERIFY, passed=True)
    for score in (0, 6, "five", 4.5, True):
        with pytest.raises(ApplicationError):
            act(org.users.grid_worker, case, Action.RATE, score=score)
    public = services.case_transition(actor=None, case=case, action=Action.RATE, public=True, score="3")
    assert public.satisfaction == 3


def test_extension_request_and_approval_move_the_deadline(org, report, act):
    u = org.users
    case = report(u.center, category="02001", source=Source.HOTLINE)
    act(u.community, case, Action.DISPATCH, unit=org.prop.pk)
    act(u.unit_handler, case, Action.CLAIM)
    case.refresh_from_db()
    due = case.due_at
    act(u.unit_handler, case, Action.EXTEND_REQUEST, hours=48, reason="需采购材料")
    with pytest.raises(Conflict):
        act(u.unit_handler, case, Action.EXTEND_REQUEST, hours=12, reason="再延")
    act(u.community, case, Action.EXTEND_APPROVE, approved=True)
    case.refresh_from_db()
    assert case.due_at == due + timedelta(hours=48) and case.extension_requested_hours is None


def test_escalation_to_a_district_department(org, report, act):
    case = report(org.users.center, category="06001", source=Source.HOTLINE)
    act(org.users.center, case, Action.ESCALATE, reason="需区级部门处理")
    case.refresh_from_db()
    assert (case.level, case.state) == (CaseLevel.SUPERIOR, State.IN_PROGRESS)
    act(org.users.center, case, Action.RESOLVE, result="区住建局已答复")
    act(org.users.center, case, Action.VERIFY, passed=True)
    case.refresh_from_db()
    assert case.closed_level == CaseLevel.SUPERIOR
    handed_out = report(org.users.center, category="06001", source=Source.HOTLINE)
    act(org.users.center, handed_out, Action.ESCALATE, reason="区级")
    with pytest.raises(Conflict):  # nothing above a district department
        act(org.users.center, handed_out, Action.ESCALATE, reason="再上报")


# --- deadlines --------------------------------------------------------------------------------


def test_emergency_mode_shortens_every_step(org, report, settings):
    settings.GRIDGOV_EMERGENCY_DEADLINE_FACTOR = 0.5
    normal = report(priority=Priority.URGENT)
    areas.area_set_mode(actor=org.users.center, area=org.c1, mode=Mode.EMERGENCY)
    hurried = report(priority=Priority.URGENT)
    assert normal.due_at - normal.step_started_at == timedelta(minutes=30)
    assert hurried.due_at - hurried.step_started_at == timedelta(minutes=15)
    other = report(org.users.center, point=IN_G21, source=Source.HOTLINE, priority=Priority.URGENT)
    assert other.due_at - other.step_started_at == timedelta(minutes=30)


def test_sweep_warns_marks_overdue_escalates_and_is_idempotent(org, report, act):
    u = org.users
    waiting = report(title="未受理")
    handled = report(title="处置中")
    act(u.grid_worker, handled, Action.CLAIM)
    handled.refresh_from_db()
    fresh = report(title="刚上报")

    later = waiting.due_at + timedelta(minutes=1)
    Case.objects.filter(pk=fresh.pk).update(warn_at=later + timedelta(hours=1), due_at=later + timedelta(hours=2))
    Case.objects.filter(pk=handled.pk).update(warn_at=later - timedelta(minutes=5), due_at=later + timedelta(hours=1))
    result = services.sweep_deadlines(now=later)
    # The overdue case is warned too, in the same statement, and told about once (overdue).
    assert (result.warned, result.overdue, result.escalated) == (1, 1, 1)
    waiting.refresh_from_db()
    handled.refresh_from_db()
    fresh.refresh_from_db()
    assert (waiting.level, waiting.handling_area, waiting.state, waiting.escalation_count) == (
        CaseLevel.COMMUNITY,
        org.c1,
        State.REPORTED,
        1,
    )
    assert waiting.ever_overdue and not waiting.overdue and waiting.due_at > later
    assert (handled.warned, handled.overdue) == (True, False)
    assert (fresh.warned, fresh.overdue) == (False, False)
    actions = list(waiting.events.values_list("action", "to_level"))
    assert actions[-2:] == [("overdue", "grid"), ("escalate", "community")]

    again = services.sweep_deadlines(now=later)
    assert (again.warned, again.overdue, again.escalated) == (0, 0, 0)
    assert waiting.events.count() == 3

    from gridgov.notifications.models import Notification

    assert Notification.objects.filter(user=u.grid_worker, kind="case.overdue").exists()
    assert Notification.objects.filter(user=u.grid_worker, kind="case.warn").exists()
    assert Notification.objects.filter(user=u.community, kind="case.escalated").exists()


def test_sweep_escalates_from_community_but_not_past_the_subdistrict(org, report):
    community = report(org.users.center, category="02001", source=Source.HOTLINE)
    center = report(org.users.center, category="06001", source=Source.HOTLINE)
    later = max(community.due_at, center.due_at) + timedelta(minutes=1)
    result = services.sweep_deadlines(now=later)
    community.refresh_from_db()
    center.refresh_from_db()
    assert result.escalated == 1 and community.level == CaseLevel.SUBDISTRICT
    assert (center.level, center.overdue) == (CaseLevel.SUBDISTRICT, True)


def test_closed_cases_are_never_swept(org, report, act):
    case = report()
    act(org.users.grid_worker, case, Action.HANDLE_ON_SITE, result="ok")
    result = services.sweep_deadlines(now=timezone.now() + timedelta(days=30))
    assert (result.warned, result.overdue, result.escalated) == (0, 0, 0)


# --- queue ------------------------------------------------------------------------------------


def test_work_queue_sections_per_role(org, report, act):
    u = org.users
    case = report()
    sections = {s.key: s for s in work_queue(user=u.grid_worker)}
    assert [c.pk for c in sections["accept"].cases] == [case.pk]
    assert work_queue(user=u.community)[0].total == 0
    act(u.grid_worker, case, Action.ESCALATE, reason="x")
    assert {s.key: s.total for s in work_queue(user=u.community)}["accept"] == 1
    act(u.community, case, Action.DISPATCH, unit=org.prop.pk)
    assert {s.key: s.total for s in work_queue(user=u.unit_handler)}["claim"] == 1
    act(u.unit_handler, case, Action.CLAIM)
    act(u.unit_handler, case, Action.RESOLVE, result="ok")
    assert {s.key: s.total for s in work_queue(user=u.community)}["verify"] == 1


def test_categories_come_from_data(db):
    assert Category.objects.filter(parent=None).count() >= 8
    assert Category.objects.exclude(parent=None).filter(resident_reportable=True).exists()
    road = Category.objects.get(code="02001")
    assert road.parent.code == "02" and road.business_line.code == "city"


def test_the_door_refuses_inputs_an_action_does_not_take(org, report, act):
    case = report()
    before = counts()
    with pytest.raises(ApplicationError) as refused:
        act(org.users.grid_worker, case, Action.ACCEPT, unit=org.prop.pk)
    assert (refused.value.code, list(refused.value.fields)) == ("unknown_field", ["unit"])
    case.refresh_from_db()
    assert case.state == State.REPORTED and counts() == before


def test_saved_views_are_audited(org):
    from gridgov.core.models import AuditEvent

    view = services.saved_view_create(actor=org.users.center, name="超期", query="?overdue=true")
    services.saved_view_delete(actor=org.users.center, pk=view.pk)
    events = list(AuditEvent.objects.filter(actor=org.users.center).values_list("event_type", flat=True))
    assert {"cases.saved_view.save", "cases.saved_view.delete"} <= set(events)
    with pytest.raises(NotFound):
        services.saved_view_delete(actor=org.users.center, pk=view.pk)
