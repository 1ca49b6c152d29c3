"""Patrol services and selectors: start, track batches (distance, flags, duplicates, refusals), end, scope."""

from __future__ import annotations

import math
from datetime import UTC, timedelta

import pytest
from django.db import IntegrityError
from django.utils import timezone

from gridgov.areas import services as areas
from gridgov.areas.choices import Role
from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.choices import PatrolState, PointFlag
from gridgov.fieldwork.models import Patrol, PatrolPoint
from gridgov.fieldwork.selectors import patrols as selectors
from gridgov.fieldwork.services import patrols as services
from tests.conftest import PASSWORD

# Inside grid G11 of the `org` fixture (a 0.01° square from 117.0, 32.6).
LAT, LNG = 32.602, 117.005
# One thousandth of a degree of latitude on the sphere of the service's mean radius, in metres.
MILLIDEGREE_LAT_M = 6_371_008.8 * 3.141592653589793 / 180 / 1000  # 111.195 m


def person(username: str, *posts):
    """A user with the given (role, area) posts."""
    from gridgov.accounts.services import user_create

    user = user_create(actor=None, username=username, password=PASSWORD, name=username)
    for role, area in posts:
        areas.post_create(actor=None, user=user, role=role, area=area)
    return user


def fresh(user):
    """The same user without the scope cached on the object (posts changed since it was read)."""
    return type(user).objects.get(pk=user.pk)


@pytest.fixture
def t0():
    """A start time two hours ago, so a patrol's points are never in the future."""
    return timezone.now().replace(microsecond=0) - timedelta(hours=2)


@pytest.fixture
def patrol(org, t0):
    return services.patrol_start(actor=org.users.grid_worker, now=t0)


def iso(t) -> str:
    return t.isoformat()


def walk(t0, n: int, *, start: int = 0, step_s: int = 60, step_deg: float = 0.0005) -> list[dict]:
    """n points walking north from (LAT, LNG), one every `step_s` seconds (~0.9 m/s by default)."""
    return [
        {
            "t": iso(t0 + timedelta(seconds=step_s * (start + i + 1))),
            "lat": round(LAT + step_deg * (start + i), 7),
            "lng": LNG,
            "accuracy": 8,
        }
        for i in range(n)
    ]


def assert_refused(exc, code: str, status: int) -> None:
    assert exc.value.code == code, exc.value.as_dict()
    assert exc.value.status == status


# --- start ----------------------------------------------------------------------------------------


def test_a_grid_worker_starts_a_patrol_of_their_grid(org, t0):
    patrol = services.patrol_start(actor=org.users.grid_worker, now=t0)
    assert patrol.grid == org.g11
    assert patrol.area_code == org.g11.code
    assert patrol.state == PatrolState.ACTIVE
    assert patrol.started_at == t0
    assert AuditEvent.objects.filter(event_type="fieldwork.patrol.start", object_id=str(patrol.pk)).exists()
    assert selectors.active_patrol(user=org.users.grid_worker) == patrol


def test_a_grid_leader_and_a_group_leader_patrol_too(org, t0):
    by_leader = services.patrol_start(actor=org.users.grid_leader, now=t0)
    assert by_leader.grid == org.g11
    by_group_leader = services.patrol_start(actor=org.users.group_leader, now=t0)
    # The group's grid, filed under the group so that the group leader can read their own patrol.
    assert by_group_leader.grid == org.g11
    assert by_group_leader.area_code == org.grp1.code
    assert selectors.patrol_get(user=org.users.group_leader, pk=by_group_leader.pk) == by_group_leader


@pytest.mark.parametrize("who", ["community", "center", "leader", "unit_handler", "mediator", "nobody"])
def test_other_roles_may_not_start_a_patrol(org, who):
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=getattr(org.users, who))
    assert_refused(exc, "forbidden", 403)
    assert Patrol.objects.count() == 0


def test_a_second_start_is_refused_naming_the_open_patrol(org, patrol):
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=org.users.grid_worker)
    assert_refused(exc, "patrol_active", 409)
    assert exc.value.fields == {"patrol": [str(patrol.pk)]}
    assert str(patrol.pk) in exc.value.message
    assert Patrol.objects.count() == 1


def test_a_concurrent_second_start_meets_the_constraint_and_is_a_clean_409(org, patrol, monkeypatch):
    # The other request committed between this one's check and its insert.
    monkeypatch.setattr(services, "_open_patrol_conflict", lambda worker: None)
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=org.users.grid_worker)
    assert_refused(exc, "patrol_active", 409)
    assert Patrol.objects.count() == 1


def test_the_database_refuses_two_patrols_under_way_for_one_worker(org, patrol):
    with pytest.raises(IntegrityError):
        Patrol.objects.create(
            worker=org.users.grid_worker, grid=org.g11, area_code=org.g11.code, started_at=timezone.now()
        )


def test_a_worker_of_several_grids_chooses_one(org, t0):
    worker = person("wg99", (Role.GRID_WORKER, org.g11), (Role.GRID_WORKER, org.g12))
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=worker)
    assert_refused(exc, "grid_required", 400)
    assert "grid" in exc.value.fields
    assert Patrol.objects.count() == 0
    patrol = services.patrol_start(actor=worker, grid=org.g12.code, now=t0)
    assert patrol.grid == org.g12


def test_a_grid_outside_the_posts_is_404_outside_the_scope_and_403_inside_it(org):
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=org.users.grid_worker, grid=org.g21.code)
    assert_refused(exc, "not_found", 404)
    # A grid worker of G11 who is also community staff of C1 sees G12 but does not patrol it.
    both = person("wg98", (Role.GRID_WORKER, org.g11), (Role.COMMUNITY, org.c1))
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=both, grid=org.g12)
    assert_refused(exc, "forbidden", 403)
    with pytest.raises(ApplicationError) as exc:
        services.patrol_start(actor=both, grid="999999999999999")
    assert_refused(exc, "not_found", 404)
    assert Patrol.objects.count() == 0


# --- points ---------------------------------------------------------------------------------------


def test_the_distance_of_a_known_track_is_right_within_one_percent(org, patrol, t0):
    # 10 points 0.0005° apart northwards (9 legs), then 4 points eastwards 0.001° apart (3 legs + the turn).
    north = walk(t0, 10)
    top = LAT + 0.0005 * 9
    east = [
        {"t": iso(t0 + timedelta(seconds=60 * (11 + i))), "lat": top, "lng": round(LNG + 0.001 * (i + 1), 7)}
        for i in range(4)
    ]
    first = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=north)
    second = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=east)
    expected = 9 * 0.5 * MILLIDEGREE_LAT_M + 4 * MILLIDEGREE_LAT_M * math.cos(math.radians(top))
    assert first.accepted == 10 and second.accepted == 4
    assert abs(second.distance_m - expected) / expected < 0.01
    patrol.refresh_from_db()
    assert abs(patrol.distance_m - expected) / expected < 0.01
    assert patrol.point_count == 14
    assert patrol.flagged_count == 0
    assert list(patrol.points.values_list("seq", flat=True)) == list(range(1, 15))
    assert patrol.last_lat == top and patrol.last_lng == east[-1]["lng"]


def test_epoch_milliseconds_and_utc_times_are_accepted(org, patrol, t0):
    ms = round((t0 + timedelta(minutes=1)).timestamp() * 1000) + 123
    points = [
        {"t": ms, "lat": LAT, "lng": LNG},
        {"t": (t0 + timedelta(minutes=2)).astimezone(UTC).isoformat().replace("+00:00", "Z"), "lat": LAT, "lng": LNG},
    ]
    result = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points)
    assert result.accepted == 2
    stored = list(patrol.points.order_by("seq").values_list("recorded_at", flat=True))
    assert stored[0].timestamp() * 1000 == pytest.approx(ms)
    assert stored[0].microsecond % 1000 == 0 and stored[0].microsecond // 1000 == 123


def test_a_point_out_of_order_is_kept_flagged_and_not_counted(org, patrol, t0):
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 3))
    patrol.refresh_from_db()
    before = patrol.distance_m
    late = {"t": iso(t0 + timedelta(seconds=30)), "lat": LAT + 0.002, "lng": LNG}  # older than the last point
    nxt = walk(t0, 1, start=3)
    result = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=[late, *nxt])
    assert result.accepted == 1
    assert result.flagged == [{"index": 0, "flag": PointFlag.OUT_OF_ORDER}]
    patrol.refresh_from_db()
    # Only the leg from the third point to the fourth was added; the late point's detour is not.
    assert patrol.distance_m == pytest.approx(before + 0.5 * MILLIDEGREE_LAT_M, rel=1e-3)
    assert patrol.point_count == 5 and patrol.flagged_count == 1
    flagged = patrol.points.get(flag=PointFlag.OUT_OF_ORDER)
    assert flagged.seq == 4 and flagged.lat == late["lat"]


def test_an_impossible_speed_is_kept_flagged_and_not_counted(org, patrol, t0):
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 2))
    patrol.refresh_from_db()
    before = patrol.distance_m
    # 1.1 km north ten seconds after the last point: 111 m/s.
    jump = {"t": iso(t0 + timedelta(seconds=130)), "lat": LAT + 0.01, "lng": LNG}
    back = {"t": iso(t0 + timedelta(seconds=180)), "lat": LAT + 0.0005, "lng": LNG + 0.0001}
    result = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=[jump, back])
    assert result.flagged == [{"index": 0, "flag": PointFlag.TOO_FAST}]
    assert result.accepted == 1
    patrol.refresh_from_db()
    assert patrol.distance_m < before + 20  # the 9 m step from the last counted point, not 2 × 1.1 km
    assert patrol.flagged_count == 1
    assert patrol.points.filter(flag=PointFlag.TOO_FAST).count() == 1


def test_the_speed_limit_is_a_setting(org, patrol, t0, settings):
    settings.GRIDGOV_PATROL_MAX_SPEED = 0.5  # the walk goes ~0.93 m/s
    result = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 3))
    assert result.accepted == 1
    assert [f["flag"] for f in result.flagged] == [PointFlag.TOO_FAST, PointFlag.TOO_FAST]


def test_a_batch_sent_again_is_skipped_as_duplicates(org, patrol, t0):
    points = walk(t0, 5)
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points)
    patrol.refresh_from_db()
    distance = patrol.distance_m
    # The answer was lost; the phone sends the batch again with two new points.
    again = services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points + walk(t0, 2, start=5))
    assert again.duplicates == 5
    assert again.accepted == 2
    assert again.flagged == []
    assert PatrolPoint.objects.filter(patrol=patrol).count() == 7
    patrol.refresh_from_db()
    assert patrol.point_count == 7
    assert patrol.distance_m == pytest.approx(distance + 2 * 0.5 * MILLIDEGREE_LAT_M, rel=1e-3)


BAD_POINTS = [
    ({"lat": LAT, "lng": LNG}, "t"),
    ({"t": "2024-05-01T08:00:00", "lat": LAT, "lng": LNG}, "t"),  # no time zone
    ({"t": "yesterday", "lat": LAT, "lng": LNG}, "t"),
    ({"t": True, "lat": LAT, "lng": LNG}, "t"),
    ({"t": 12, "lat": LAT, "lng": LNG}, "t"),  # epoch ms of 1970
    ({"t": "FUTURE", "lat": LAT, "lng": LNG}, "t"),
    ({"t": "OK", "lng": LNG}, "lat"),
    ({"t": "OK", "lat": "32.6", "lng": LNG}, "lat"),
    ({"t": "OK", "lat": 91, "lng": LNG}, "lat"),
    ({"t": "OK", "lat": LAT, "lng": -180.5}, "lng"),
    ({"t": "OK", "lat": LAT, "lng": float("nan")}, "lng"),
    ({"t": "OK", "lat": LAT, "lng": LNG, "accuracy": -1}, "accuracy"),
    ({"t": "OK", "lat": LAT, "lng": LNG, "accuracy": "good"}, "accuracy"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_POINTS)
def test_a_malformed_point_refuses_the_whole_batch_and_writes_nothing(org, patrol, t0, bad, field):
    good = walk(t0, 3)
    bad = dict(bad)
    if bad.get("t") == "OK":
        bad["t"] = iso(t0 + timedelta(seconds=90))
    elif bad.get("t") == "FUTURE":
        bad["t"] = iso(timezone.now() + timedelta(minutes=6))
    with pytest.raises(ApplicationError) as exc:
        services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=[good[0], bad, good[1]])
    assert_refused(exc, "invalid_points", 400)
    assert list(exc.value.fields) == [f"points.1.{field}"]
    assert PatrolPoint.objects.count() == 0
    patrol.refresh_from_db()
    assert (patrol.point_count, patrol.distance_m, patrol.last_point_at) == (0, 0, None)


def test_a_point_a_little_ahead_of_the_server_clock_is_accepted(org, patrol):
    soon = {"t": iso(timezone.now() + timedelta(minutes=4)), "lat": LAT, "lng": LNG}
    assert services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=[soon]).accepted == 1


@pytest.mark.parametrize("points", ["not a list", {"t": 1}, [1, 2]])
def test_a_batch_that_is_not_a_list_of_points_is_refused(org, patrol, points):
    with pytest.raises(ApplicationError) as exc:
        services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points)
    assert exc.value.status == 400
    assert exc.value.code in ("invalid", "invalid_points")
    assert PatrolPoint.objects.count() == 0


def test_a_batch_over_the_limit_is_refused(org, patrol, t0, settings):
    settings.GRIDGOV_PATROL_BATCH_MAX = 3
    with pytest.raises(ApplicationError) as exc:
        services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 4))
    assert_refused(exc, "batch_too_large", 400)
    assert PatrolPoint.objects.count() == 0
    assert services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 3)).accepted == 3


def test_only_the_patrols_worker_adds_points(org, patrol, t0):
    # The grid leader reads the patrol but it is not theirs.
    assert selectors.patrol_get(user=org.users.grid_leader, pk=patrol.pk) == patrol
    with pytest.raises(ApplicationError) as exc:
        services.patrol_add_points(actor=org.users.grid_leader, patrol=patrol, points=walk(t0, 2))
    assert_refused(exc, "forbidden", 403)
    with pytest.raises(ApplicationError) as exc:
        services.patrol_end(actor=org.users.grid_leader, patrol=patrol)
    assert_refused(exc, "forbidden", 403)
    assert PatrolPoint.objects.count() == 0
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ACTIVE


def test_another_grids_worker_does_not_find_the_patrol(org, patrol):
    other = person("wg21", (Role.GRID_WORKER, org.g21))
    with pytest.raises(ApplicationError) as exc:
        selectors.patrol_get(user=other, pk=patrol.pk)
    assert_refused(exc, "not_found", 404)


# --- end ------------------------------------------------------------------------------------------


def test_end_with_a_last_batch(org, patrol, t0):
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 3))
    end_at = t0 + timedelta(minutes=10)
    ended = services.patrol_end(
        actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 2, start=3), note=" 一切正常 ", now=end_at
    )
    assert ended.state == PatrolState.ENDED
    assert ended.ended_at == end_at
    assert ended.note == "一切正常"
    assert ended.point_count == 5
    assert ended.distance_m == pytest.approx(4 * 0.5 * MILLIDEGREE_LAT_M, rel=1e-3)
    assert patrol.state == PatrolState.ENDED  # the caller's object sees it too
    assert selectors.duration_seconds(ended) == 600
    assert AuditEvent.objects.filter(event_type="fieldwork.patrol.end", object_id=str(patrol.pk)).exists()
    assert selectors.active_patrol(user=org.users.grid_worker) is None


def test_an_ended_patrol_refuses_points_and_a_second_end(org, patrol, t0):
    services.patrol_end(actor=org.users.grid_worker, patrol=patrol, now=t0 + timedelta(minutes=5))
    with pytest.raises(ApplicationError) as exc:
        services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=walk(t0, 2))
    assert_refused(exc, "patrol_ended", 409)
    with pytest.raises(ApplicationError) as exc:
        services.patrol_end(actor=org.users.grid_worker, patrol=Patrol.objects.get(pk=patrol.pk))
    assert_refused(exc, "patrol_ended", 409)
    assert PatrolPoint.objects.count() == 0
    assert AuditEvent.objects.filter(event_type="fieldwork.patrol.end").count() == 1
    # After the end a new patrol may start.
    assert services.patrol_start(actor=org.users.grid_worker).state == PatrolState.ACTIVE


def test_a_malformed_last_batch_refuses_the_end(org, patrol, t0):
    with pytest.raises(ApplicationError) as exc:
        services.patrol_end(actor=org.users.grid_worker, patrol=patrol, points=[{"t": "x", "lat": 1, "lng": 2}])
    assert_refused(exc, "invalid_points", 400)
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ACTIVE
    assert PatrolPoint.objects.count() == 0


def test_forgotten_patrols_are_ended_at_their_last_point(org, t0):
    now = t0 + timedelta(hours=20)
    forgotten = services.patrol_start(actor=org.users.grid_worker, now=t0)
    services.patrol_add_points(actor=org.users.grid_worker, patrol=forgotten, points=walk(t0, 3))
    silent = services.patrol_start(actor=org.users.grid_leader, now=t0)  # no point at all
    walking = services.patrol_start(actor=org.users.group_leader, now=t0 + timedelta(hours=19))
    assert services.end_stale_patrols(now=now) == 2
    forgotten.refresh_from_db()
    silent.refresh_from_db()
    walking.refresh_from_db()
    assert forgotten.state == PatrolState.ENDED
    assert forgotten.ended_at == t0 + timedelta(minutes=3)
    assert silent.state == PatrolState.ENDED and silent.ended_at == t0
    assert walking.state == PatrolState.ACTIVE
    assert services.end_stale_patrols(now=now) == 0
    assert AuditEvent.objects.filter(event_type="fieldwork.patrol.end_stale").count() == 1


# --- reads ----------------------------------------------------------------------------------------


def test_the_patrol_list_follows_the_scope(org, patrol, t0):
    other = person("wg21", (Role.GRID_WORKER, org.g21))
    theirs = services.patrol_start(actor=other, now=t0)
    group = services.patrol_start(actor=org.users.group_leader, now=t0)

    def seen(user):
        return set(selectors.patrol_list(user=fresh(user)).values_list("pk", flat=True))

    assert seen(org.users.grid_worker) == {patrol.pk, group.pk}
    assert seen(org.users.grid_leader) == {patrol.pk, group.pk}
    assert seen(org.users.community) == {patrol.pk, group.pk}
    assert seen(org.users.center) == {patrol.pk, group.pk, theirs.pk}
    assert seen(org.users.group_leader) == {group.pk}
    assert seen(other) == {theirs.pk}
    assert seen(org.users.unit_handler) == set()
    assert seen(org.users.mediator) == set()
    assert seen(org.users.nobody) == set()


def test_the_track_is_a_line_of_counted_points_with_the_flagged_apart(org, patrol, t0):
    points = walk(t0, 3)
    points.insert(2, {"t": iso(t0 + timedelta(seconds=30)), "lat": LAT + 0.003, "lng": LNG})  # out of order
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points)
    track = selectors.patrol_track(patrol=patrol)
    assert track["type"] == "FeatureCollection"
    kinds = [f["properties"]["kind"] for f in track["features"]]
    assert kinds == ["track", "start", "last", "flagged"]
    line = track["features"][0]["geometry"]
    assert line["type"] == "LineString"
    assert line["coordinates"] == [[p["lng"], p["lat"]] for p in walk(t0, 3)]
    flagged = track["features"][3]
    assert flagged["geometry"]["coordinates"] == [LNG, LAT + 0.003]
    assert flagged["properties"]["flag"] == PointFlag.OUT_OF_ORDER


def test_the_summary_names_the_cases_reported_on_the_way(org, t0):
    from gridgov.cases.services import case_report

    before = case_report(actor=org.users.grid_worker, category="01001", title="之前", lat=LAT, lng=LNG)
    patrol = services.patrol_start(actor=org.users.grid_worker)
    during = case_report(actor=org.users.grid_worker, category="01001", title="路上", lat=LAT, lng=LNG)
    by_other = case_report(actor=org.users.grid_leader, category="01001", title="别人", lat=LAT, lng=LNG)
    services.patrol_end(actor=org.users.grid_worker, patrol=patrol)
    after = case_report(actor=org.users.grid_worker, category="01001", title="之后", lat=LAT, lng=LNG)
    summary = selectors.patrol_summary(user=org.users.grid_leader, patrol=patrol)
    assert [c.pk for c in summary.cases] == [during.pk]
    assert {before.pk, by_other.pk, after.pk}.isdisjoint(c.pk for c in summary.cases)
    assert summary.visits == []
    assert summary.point_count == 0


def test_the_summary_lists_the_visits_made_on_the_patrol(org, patrol):
    from gridgov.fieldwork.models import Visit

    # The visit service (the lead's) attaches visits to the active patrol; here the row is written directly.
    visit = Visit.objects.create(
        kind="household",
        label="1栋101",
        grid=org.g11,
        area_code=org.g11.code,
        visitor=org.users.grid_worker,
        visitor_name="wg01",
        visited_at=timezone.now(),
        patrol=selectors.active_patrol(user=org.users.grid_worker),
    )
    Visit.objects.create(
        kind="household",
        label="别的",
        grid=org.g11,
        area_code=org.g11.code,
        visitor_name="x",
        visited_at=timezone.now(),
    )
    summary = selectors.patrol_summary(user=org.users.grid_worker, patrol=patrol)
    assert summary.visits == [visit]
