"""`gridgov demo`'s cases: a year of 毕家岗街道's case pipeline, and the article's road subsidence.

The demo is built once for the module (inside a transaction rolled back at the end). The cases are
bulk-inserted by `gridgov.cases.demo`, so the decisive test replays demo cases through the real
services (`case_report`, `case_transition`, `sweep_deadlines`) at the demo's own moments and
checks that they come out field by field and entry by entry the same.
"""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test.utils import override_settings
from django.utils import timezone
from django.utils.translation import gettext as _
from shapely.geometry import Point, shape

from gridgov.accounts.models import User
from gridgov.areas.choices import Level, Role, UnitKind
from gridgov.areas.geo import grid_index
from gridgov.areas.models import Area, Post
from gridgov.cases import defaults
from gridgov.cases.choices import OPEN_STATES, TIMED_STATES, Action, CaseLevel, Source, State
from gridgov.cases.demo import ceil_minute
from gridgov.cases.models import BusinessLine, Case, CaseEvent, CaseSequence, Category
from gridgov.cases.selectors import resolution_stats
from gridgov.cases.services import allowed_actions, case_link, case_report, case_transition, sweep_deadlines
from gridgov.core.models import AuditEvent
from gridgov.registry.models import Place

pytestmark = pytest.mark.django_db

CJK = re.compile(r"[\u4e00-\u9fff]")
# Fields a replay through the services must reproduce exactly (ids of rows the demo made are shared).
FIELDS = (
    "title",
    "description",
    "category_id",
    "business_line_id",
    "kind",
    "source",
    "priority",
    "extra",
    "lat",
    "lng",
    "address",
    "grid_id",
    "area_code",
    "outside_grids",
    "level",
    "handling_area_id",
    "state",
    "unit_id",
    "assignee_id",
    "reporter_id",
    "reporter_name",
    "step_started_at",
    "warn_at",
    "due_at",
    "warned",
    "overdue",
    "overdue_at",
    "ever_overdue",
    "urged",
    "urge_count",
    "escalation_count",
    "extension_requested_hours",
    "measures",
    "result",
    "verifier_id",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "closed_at",
    "closed_level",
    "merged_into_id",
    "satisfaction",
    "satisfaction_note",
    "created_at",
    "updated_at",
)
EVENT_FIELDS = (
    "time",
    "actor_id",
    "actor_name",
    "action",
    "from_state",
    "to_state",
    "from_level",
    "to_level",
    "unit_id",
    "note",
    "data",
)


@contextmanager
def built_demo():
    """The demo built into the test database; everything is rolled back afterwards."""
    out = io.StringIO()
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
            call_command("demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), built_demo() as output:
        yield output


@pytest.fixture(scope="module")
def as_of(demo, django_db_blocker) -> datetime:
    """The moment the demo's history ends (the last minute the sweep ran)."""
    with django_db_blocker.unblock():
        return datetime.fromisoformat(AuditEvent.objects.get(event_type="demo.cases").data["as_of"])


@pytest.fixture(scope="module")
def cases(demo, django_db_blocker) -> list[Case]:
    """Every demo case with its timeline (in `case.timeline`), read once."""
    with django_db_blocker.unblock():
        rows = list(Case.objects.select_related("category", "unit__area", "merged_into").order_by("id"))
        timelines: dict[int, list[CaseEvent]] = defaultdict(list)
        for event in CaseEvent.objects.order_by("case_id", "time", "id"):
            timelines[event.case_id].append(event)
        for case in rows:
            case.timeline = timelines[case.pk]
    return rows


def story(cases: list[Case]) -> Case:
    return next(c for c in cases if c.title == "新建社区A区游园旁道路下沉")


# --- what the year holds ----------------------------------------------------------------------


def test_a_year_of_about_three_thousand_cases_of_every_line_and_source(demo, cases, as_of):
    assert 2_700 <= len(cases) <= 3_300
    assert any(str(len(cases)) in line for line in demo.splitlines()), "the progress line counts the cases"
    assert Category.objects.count() == len(defaults.CATEGORIES), "the categories `flush` emptied are back"
    assert {c.business_line_id for c in cases} == set(BusinessLine.objects.values_list("id", flat=True))
    assert {c.source for c in cases} == set(Source.values)
    sources = Counter(c.source for c in cases)
    assert sources[Source.GRID_WORKER] > 0.5 * len(cases), "grid workers find most problems on their rounds"
    assert 5 <= sources[Source.OPEN311] < sources[Source.RESIDENT]
    minor = Category.objects.exclude(parent=None).count()
    assert len({c.category_id for c in cases}) >= minor - 2
    first = min(c.created_at for c in cases)
    assert as_of - timedelta(days=366) <= first < as_of - timedelta(days=350)
    assert max(c.created_at for c in cases) <= as_of
    months = Counter(timezone.localtime(c.created_at).month for c in cases)
    assert len(months) == 12 and min(months.values()) > 120
    # The plum rains flood roads in June and July; gas and street lights trouble winter.
    water = Counter(timezone.localtime(c.created_at).month for c in cases if c.category.code == "02004")
    assert water[6] + water[7] > 2 * (water[12] + water[1])
    gas = Counter(timezone.localtime(c.created_at).month for c in cases if c.category.code == "04003")
    assert gas[12] + gas[1] > gas[6] + gas[7]


def test_texts_are_chinese_and_fit_the_category(cases):
    for case in cases:
        assert CJK.search(case.title) and CJK.search(case.description) and CJK.search(case.address), case.code
        assert "{" not in case.title + case.description, case.code
    roads = [c for c in cases if c.category.code == "02001"]
    assert all(any(word in c.title for word in ("路面", "人行道", "下沉")) for c in roads)
    houses = [c for c in cases if c.category.code == "04004"]
    assert houses and all("自建房" in c.title and c.extra["grade"] in "ABCD" for c in houses)
    resident = [c for c in cases if c.source in (Source.RESIDENT, Source.OPEN311, Source.HOTLINE)]
    assert all(c.reporter_name and c.reporter_phone.reveal() for c in resident)


def test_codes_follow_the_service_and_the_sequences_continue(cases):
    numbers: dict[str, list[int]] = defaultdict(list)
    for case in cases:
        prefix = f"{case.area_code}{timezone.localtime(case.created_at):%Y%m%d}"
        assert case.code[:-4] == prefix and case.code[-4:].isdigit(), case.code
        numbers[prefix].append(int(case.code[-4:]))
    for prefix, values in numbers.items():
        assert sorted(values) == list(range(1, len(values) + 1)), prefix
    assert dict(CaseSequence.objects.values_list("prefix", "value")) == {p: len(v) for p, v in numbers.items()}
    ordered = sorted(cases, key=lambda c: c.pk)
    assert [c.created_at for c in ordered] == sorted(c.created_at for c in cases), "ids follow the reports"
    assert len({c.tracking_code for c in cases}) == len(cases)


def test_every_timeline_is_one_consistent_chain(cases, as_of):
    for case in cases:
        events = case.timeline
        first, last = events[0], events[-1]
        assert (first.action, first.from_state, first.to_state) == (Action.REPORT, "", State.REPORTED), case.code
        assert first.time == case.created_at and first.actor_id == case.reporter_id
        for before, after in zip(events, events[1:], strict=False):
            assert after.from_state == before.to_state, (case.code, after.action)
            assert after.from_level == before.to_level, (case.code, after.action)
            assert before.time <= after.time <= as_of, case.code
        assert (last.to_state, last.to_level) == (case.state, case.level), case.code
        user_steps = [e for e in events if e.action not in (Action.OVERDUE,) and not e.data.get("automatic")]
        assert case.updated_at == user_steps[-1].time, case.code
        if case.state == State.CLOSED:
            verify = [e for e in events if e.action == Action.VERIFY and e.data == {"passed": True}]
            assert case.closed_level == case.level and verify, case.code
            assert verify[-1].time == case.closed_at and case.verifier_id == verify[-1].actor_id
            assert case.result
        elif case.state == State.REJECTED:
            assert last.action == Action.REJECT and last.note
        elif case.state == State.MERGED:
            assert last.action == Action.MERGE and last.data == {"into": case.merged_into.code}
            assert case.merged_into.area_code == case.area_code
        for event in events:
            if event.action == Action.DISPATCH:
                assert event.unit_id and event.unit.kind == case.category.unit_kind, case.code
                assert case.area_code.startswith(event.unit.area.code), "the unit serves the case's place"
        rated = [e for e in events if e.action == Action.RATE]
        assert (case.satisfaction is not None) == bool(rated)


def test_most_cases_close_in_the_grid(cases, as_of):
    center = User.objects.get(username="center")
    subdistrict = Area.objects.get(level=Level.SUBDISTRICT)
    start = timezone.localtime(as_of).date() - timedelta(days=366)
    stats = resolution_stats(user=center, area=subdistrict, start=start, end=timezone.localtime(as_of).date())
    closed = [c for c in cases if c.state == State.CLOSED]
    assert stats.total.closed == len(closed) > 0.9 * len(cases)
    assert 0.6 < stats.total.within_grid < 0.8, "矛盾纠纷不出网"
    assert 0.85 < stats.total.within_community < 0.95, "复杂问题不出社区"
    assert 0.96 < stats.total.within_subdistrict < 1, "疑难杂症不出街道"
    assert stats.total.superior > 0
    assert all(child.closed > 100 for child in stats.children), "every community has its share"
    disputes = [c for c in closed if c.category.code == "05001"]
    assert sum(c.closed_level == CaseLevel.GRID for c in disputes) > 0.75 * len(disputes)


def test_every_point_lies_in_its_grid(cases):
    codes = dict(Area.objects.filter(level=Level.GRID).values_list("id", "code"))
    for case in cases:
        assert not case.outside_grids
        assert grid_index.locate(case.lng, case.lat) == case.grid_id, case.code
        assert case.area_code == codes[case.grid_id]


def test_open_cases_in_every_state_with_their_clocks(cases, as_of):
    open_cases = [c for c in cases if c.state in OPEN_STATES]
    assert 40 <= len(open_cases) <= 250
    assert {c.state for c in open_cases} == set(OPEN_STATES)
    assert {State.REJECTED, State.MERGED} <= {c.state for c in cases}
    for case in open_cases:
        if case.state in TIMED_STATES:
            assert case.step_started_at < case.warn_at < case.due_at, case.code
            assert case.warned == (ceil_minute(case.warn_at) <= as_of), case.code
            assert case.overdue == (ceil_minute(case.due_at) <= as_of), case.code
            if case.overdue:
                overdue = [e for e in case.timeline if e.action == Action.OVERDUE]
                assert overdue[-1].time == case.overdue_at == ceil_minute(case.due_at)
        else:
            assert case.due_at is None and not case.overdue, "awaiting verification is not timed"
    assert sum(c.overdue for c in open_cases) >= 5
    assert sum(c.urged for c in open_cases) >= 3
    assert any(c.state == State.REPORTED and c.level == CaseLevel.GRID for c in open_cases)
    assert any(c.state == State.DISPATCHED and c.unit_id for c in open_cases)
    # Nothing the sweep would still do: the demo's flags are what a minute-by-minute sweep left.
    before = Counter((c.warned, c.overdue) for c in open_cases)
    result = sweep_deadlines(now=as_of)
    assert (result.warned, result.overdue, result.escalated) == (0, 0, 0)
    after = Counter(Case.objects.filter(state__in=OPEN_STATES).values_list("warned", "overdue"))
    assert after == before


def test_someone_in_the_demo_can_take_each_open_case_forward(cases):
    users = list(User.objects.filter(username__in=["center", "unit01", "unit02", "unit03"]))
    staff = {
        post.area_id: post.user
        for post in Post.objects.filter(role__in=[Role.GRID_WORKER, Role.COMMUNITY]).select_related("user")
    }
    for case in [c for c in cases if c.state in OPEN_STATES]:
        people = [*users, staff[case.handling_area_id]] if case.handling_area_id in staff else users
        people += [case.assignee] if case.assignee_id else []
        moves = {a for user in people for a in allowed_actions(actor=user, case=case)}
        assert moves - {Action.URGE, Action.COMMENT, Action.ATTACH}, case.code


def test_residents_rate_most_of_their_closed_cases(cases):
    theirs = [c for c in cases if c.source in (Source.RESIDENT, Source.OPEN311) and c.state == State.CLOSED]
    rated = [c for c in theirs if c.satisfaction is not None]
    assert len(rated) > 0.6 * len(theirs)
    assert {c.satisfaction for c in rated} <= {1, 2, 3, 4, 5}
    assert sum(c.satisfaction >= 4 for c in rated) > 0.75 * len(rated)
    callbacks = [c for c in cases if c.source == Source.HOTLINE and c.satisfaction is not None]
    assert callbacks and all(e.actor_id == c.reporter_id for c in callbacks for e in c.timeline if e.action == "rate")


def test_the_road_subsidence_beside_the_park_of_xinjian_a(cases, as_of):
    case = story(cases)
    grid = Area.objects.get(code="340404004001001")
    leader = User.objects.get(posts__role=Role.GRID_LEADER, posts__area=grid)
    assert (grid.name, grid.parent.name) == ("新建社区第一网格", "新建社区")
    assert (case.grid_id, case.category.code, case.source, case.reporter) == (
        grid.pk,
        "02001",
        Source.GRID_WORKER,
        leader,
    )
    assert 30 <= (as_of - case.created_at).days <= 366, "a few months ago"
    road = Place.objects.get(name="游园旁道路")
    assert shape(road.geometry).distance(Point(case.lng, case.lat)) < 0.0001
    steps = [(e.action, e.to_state, e.to_level, e.actor.username if e.actor else "") for e in case.timeline]
    assert steps == [
        (Action.REPORT, State.REPORTED, CaseLevel.GRID, leader.username),
        (Action.ESCALATE, State.REPORTED, CaseLevel.COMMUNITY, leader.username),
        (Action.ESCALATE, State.REPORTED, CaseLevel.SUBDISTRICT, "sq01"),
        (Action.ACCEPT, State.REGISTERED, CaseLevel.SUBDISTRICT, "center"),
        (Action.COMMENT, State.REGISTERED, CaseLevel.SUBDISTRICT, "leader"),
        (Action.DISPATCH, State.DISPATCHED, CaseLevel.SUBDISTRICT, "center"),
        (Action.CLAIM, State.IN_PROGRESS, CaseLevel.SUBDISTRICT, "unit01"),
        (Action.RESOLVE, State.RESOLVED, CaseLevel.SUBDISTRICT, "unit01"),
        (Action.VERIFY, State.CLOSED, CaseLevel.SUBDISTRICT, "center"),
    ]
    assert "整改函" in case.timeline[5].note and "约谈" in case.timeline[4].note
    assert case.unit.kind == UnitKind.PROPERTY and case.unit.area == grid.parent
    assert (case.state, case.closed_level, case.verifier.username) == (State.CLOSED, CaseLevel.SUBDISTRICT, "center")
    assert "围挡" in case.measures and "沥青" in case.result
    assert not case.ever_overdue and case.extra == {"area_m2": 12.0, "blocks_traffic": True}
    photos = list(case.attachments.order_by("id"))
    assert [(p.event.action, p.content_type) for p in photos] == [
        (Action.REPORT, "image/png"),
        (Action.RESOLVE, "image/png"),
    ]
    assert all(p.thumbnail and p.file.size == p.size > 0 for p in photos)


# --- what the services would have made ------------------------------------------------------


def replay(case: Case, as_of: datetime) -> Case:
    """The case made anew through the services, each step at the moment the demo gave it."""
    events = case.timeline
    report = events[0]
    with mock.patch("django.utils.timezone.now", return_value=report.time):
        new = case_report(
            actor=report.actor,
            category=case.category.code,
            title=case.title,
            description=case.description,
            priority=case.priority,
            source=case.source,
            extra=case.extra,
            lat=case.lat,
            lng=case.lng,
            address=case.address,
            reporter_name=case.reporter_name,
            reporter_phone=case.reporter_phone.reveal(),
        )
    related = {_("Related to %(code)s.") % {"code": other.code}: other for other in case.related.all()}
    for event in events[1:]:
        with mock.patch("django.utils.timezone.now", return_value=event.time):
            if event.action == Action.OVERDUE:
                sweep_deadlines(now=event.time)
                continue
            if event.data.get("automatic"):
                continue  # made by the sweep at the same moment as the overdue entry
            if event.action == Action.COMMENT and event.note in related:
                case_link(actor=event.actor, case=new, other=related[event.note].code)
                continue
            params = {
                Action.ACCEPT: {"note": event.note},
                Action.REJECT: {"reason": event.note},
                Action.HANDLE_ON_SITE: {"result": event.note},
                Action.DISPATCH: {
                    "unit": event.unit_id,
                    "co_units": event.data.get("co_units", []),
                    "note": event.note,
                    "measures": case.measures,
                },
                Action.CLAIM: {"note": event.note},
                Action.ESCALATE: {"reason": event.note},
                Action.RESOLVE: {"result": event.note, "measures": case.measures},
                Action.VERIFY: {"passed": event.data.get("passed"), "note": event.note},
                Action.RATE: {"score": event.data.get("score"), "note": event.note},
                Action.URGE: {"note": event.note},
                Action.MERGE: {"target": event.data.get("into"), "note": event.note},
                Action.COMMENT: {"note": event.note},
            }[event.action]
            case_transition(actor=event.actor, case=new, action=event.action, public=event.actor is None, **params)
    with mock.patch("django.utils.timezone.now", return_value=as_of):
        sweep_deadlines(now=as_of)
    new.refresh_from_db()
    return new


def shapes(cases: list[Case]) -> list[Case]:
    """One case for every distinct path through the workflow (and the story)."""
    chosen: dict[tuple, Case] = {}
    for case in cases:
        key = tuple((e.action, e.to_state, e.to_level, bool(e.unit_id), bool(e.actor_id)) for e in case.timeline)
        chosen.setdefault(key, case)
    return [*chosen.values(), story(cases)]


def test_replayed_through_the_services_every_kind_of_path_comes_out_the_same(cases, as_of):
    samples = shapes(cases)
    assert len(samples) > 60
    for case in samples:
        with transaction.atomic():
            new = replay(case, as_of)
            for name in FIELDS:
                assert getattr(new, name) == getattr(case, name), (case.code, name)
            assert new.code[:-4] == case.code[:-4] and new.reporter_phone.reveal() == case.reporter_phone.reveal()
            assert set(new.co_unit_links.values_list("unit_id", flat=True)) == set(
                case.co_unit_links.values_list("unit_id", flat=True)
            )
            mine = [tuple(getattr(e, f) for f in EVENT_FIELDS) for e in new.events.order_by("time", "id")]
            theirs = [tuple(getattr(e, f) for f in EVENT_FIELDS) for e in case.timeline]
            assert mine == theirs, case.code
            transaction.set_rollback(True)


def test_the_transition_door_still_works_on_demo_cases(cases, as_of):
    waiting = next(c for c in cases if c.state == State.REPORTED and c.level == CaseLevel.GRID)
    worker = User.objects.get(posts__role=Role.GRID_WORKER, posts__area_id=waiting.grid_id)
    other = User.objects.filter(posts__role=Role.GRID_WORKER).exclude(posts__area_id=waiting.grid_id).first()
    assert Action.ACCEPT not in allowed_actions(actor=other, case=waiting)
    case = case_transition(actor=worker, case=waiting, action=Action.ACCEPT)
    assert (case.state, case.level, case.due_at > timezone.now()) == (State.REGISTERED, CaseLevel.GRID, True)
    assert case.events.order_by("-id").first().action == Action.ACCEPT

    # A new report continues its grid's sequence of the day.
    grid = Area.objects.get(pk=waiting.grid_id)
    prefix = f"{grid.code}{timezone.localdate():%Y%m%d}"
    before = CaseSequence.objects.filter(prefix=prefix).values_list("value", flat=True).first() or 0
    fresh = case_report(
        actor=worker,
        category="01001",
        title="楼道口垃圾堆积",
        lat=waiting.lat,
        lng=waiting.lng,
        address=waiting.address,
    )
    assert fresh.code == f"{prefix}{before + 1:04d}" and fresh.grid_id == grid.pk

    dispatched = next((c for c in cases if c.state == State.DISPATCHED), None)
    assert dispatched is not None
    handler = User.objects.filter(posts__unit_id=dispatched.unit_id).first()
    claimed = case_transition(actor=handler, case=dispatched, action=Action.CLAIM)
    assert (claimed.state, claimed.assignee) == (State.IN_PROGRESS, handler)
