"""Patrol pages: Start and End as plain forms (no JavaScript), the list, the patrol page and its map data."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.areas import services as areas
from gridgov.areas.choices import Role
from gridgov.fieldwork.choices import PatrolState
from gridgov.fieldwork.models import Patrol, PatrolPoint
from gridgov.fieldwork.services import patrols as services
from tests.conftest import PASSWORD

LAT, LNG = 32.602, 117.005


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


def points(t0, n: int, start: int = 0) -> list[dict]:
    return [
        {"t": (t0 + timedelta(minutes=start + i + 1)).isoformat(), "lat": LAT + 0.0005 * (start + i), "lng": LNG}
        for i in range(n)
    ]


def login(client, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


def test_start_and_end_work_as_plain_forms(client, org, t0):
    login(client, "wg01")
    page = client.get("/fieldwork/patrols/current/")
    assert page.status_code == 200
    assert b'data-testid="patrol-start"' in page.content
    started = client.post("/fieldwork/patrols/start/", {"grid": org.g11.code})
    assert started.status_code == 302 and started.url == "/fieldwork/patrols/current/"
    patrol = Patrol.objects.get()
    assert patrol.state == PatrolState.ACTIVE
    page = client.get("/fieldwork/patrols/current/")
    assert b'data-testid="patrol-end"' in page.content
    config = page.context["patrol_config"]
    assert config["id"] == patrol.pk
    assert config["pointsUrl"] == f"/api/v1/patrols/{patrol.pk}/points/"
    assert config["last"] is None

    # Without JavaScript the form sends no points; with it, the points the page still held.
    Patrol.objects.filter(pk=patrol.pk).update(started_at=t0)
    ended = client.post(f"/fieldwork/patrols/{patrol.pk}/end/", {"note": "完成", "points": json.dumps(points(t0, 3))})
    assert ended.status_code == 302 and ended.url == f"/fieldwork/patrols/{patrol.pk}/"
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ENDED
    assert patrol.point_count == 3
    assert patrol.note == "完成"
    detail = client.get(ended.url)
    assert detail.status_code == 200
    map_data = detail.context["map_data"]
    assert map_data["track"]["features"][0]["geometry"]["type"] == "LineString"
    assert map_data["boundary"] == org.g11.boundary
    assert b'id="gg-patrol-map-data"' in detail.content


def test_a_second_start_from_the_page_shows_the_message(client, org):
    login(client, "wg01")
    services.patrol_start(actor=org.users.grid_worker)
    response = client.post("/fieldwork/patrols/start/", {})
    assert response.status_code == 409
    assert Patrol.objects.count() == 1
    assert any("patrol" in str(m).lower() or "巡" in str(m) for m in response.context["messages"])


def test_held_points_that_cannot_be_saved_do_not_stop_the_end(client, org):
    login(client, "wg01")
    patrol = services.patrol_start(actor=org.users.grid_worker)
    response = client.post(f"/fieldwork/patrols/{patrol.pk}/end/", {"points": json.dumps([{"t": "x"}])})
    assert response.status_code == 302
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ENDED
    assert PatrolPoint.objects.count() == 0


def test_the_end_of_someone_elses_patrol_is_refused(client, org):
    patrol = services.patrol_start(actor=org.users.grid_worker)
    login(client, "gl01")
    response = client.post(f"/fieldwork/patrols/{patrol.pk}/end/", {})
    assert response.status_code == 403
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ACTIVE


def test_pages_of_a_patrol_outside_the_scope_are_404(client, org):
    patrol = services.patrol_start(actor=org.users.grid_worker)
    other = type(org.users.nobody).objects.get(username="nobody")
    areas.post_create(actor=None, user=other, role=Role.GRID_WORKER, area=org.g21)
    login(client, "nobody")
    assert client.get(f"/fieldwork/patrols/{patrol.pk}/").status_code == 404
    assert client.post(f"/fieldwork/patrols/{patrol.pk}/end/", {}).status_code == 404
    assert patrol.pk not in [p.pk for p in client.get("/fieldwork/patrols/").context["page"]]


def test_the_list_shows_distance_and_duration(client, org, t0):
    patrol = services.patrol_start(actor=org.users.grid_worker, now=t0)
    services.patrol_add_points(actor=org.users.grid_worker, patrol=patrol, points=points(t0, 20))
    services.patrol_end(actor=org.users.grid_worker, patrol=patrol, now=t0 + timedelta(minutes=75))
    login(client, "gl01")
    response = client.get("/fieldwork/patrols/")
    assert response.status_code == 200
    row = response.context["page"][0]
    assert row.pk == patrol.pk
    assert row.distance_text in ("1.06 km", "1.06 公里")
    assert "15" in row.duration_text and "1" in row.duration_text
    assert row.distance_text.encode() in response.content


def test_a_role_that_does_not_patrol_sees_no_start_button(client, org):
    login(client, "sq01")
    page = client.get("/fieldwork/patrols/current/")
    assert page.status_code == 200
    assert b'data-testid="patrol-start"' not in page.content
    assert b'data-testid="cannot-patrol"' in page.content
    assert client.post("/fieldwork/patrols/start/", {}).status_code == 403
    assert Patrol.objects.count() == 0
