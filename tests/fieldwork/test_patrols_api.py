"""/api/v1/patrols/ over HTTP: start → batches → end → detail and track; refusals as {code, message, fields}."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.areas import services as areas
from gridgov.areas.choices import Role
from gridgov.fieldwork.choices import PatrolState
from gridgov.fieldwork.models import Patrol, PatrolPoint
from gridgov.fieldwork.services import patrols as services
from tests.conftest import PASSWORD, api_headers

LAT, LNG = 32.602, 117.005
URL = "/api/v1/patrols/"


def walk(t0, n: int, *, start: int = 0) -> list[dict]:
    """n points 0.0005° (55.6 m) apart northwards, one a minute; times as epoch milliseconds."""
    return [
        {
            "t": round((t0 + timedelta(minutes=start + i + 1)).timestamp() * 1000),
            "lat": round(LAT + 0.0005 * (start + i), 7),
            "lng": LNG,
            "accuracy": 5.5,
        }
        for i in range(n)
    ]


@pytest.fixture
def t0():
    return timezone.now().replace(microsecond=0) - timedelta(hours=1)


@pytest.fixture
def worker(client, org):
    return api_headers(client, "wg01")


def post(client, url, body, headers):
    return client.post(url, body, content_type="application/json", **headers)


def test_a_patrol_from_start_to_end_over_http(client, org, worker, t0):
    started = post(client, URL, {}, worker)
    assert started.status_code == 201, started.content
    body = started.json()
    pk = body["id"]
    assert body["state"] == PatrolState.ACTIVE
    assert body["grid"]["code"] == org.g11.code
    assert body["worker"]["username"] == "wg01"
    assert body["track_url"] == f"{URL}{pk}/track/"
    Patrol.objects.filter(pk=pk).update(started_at=t0)  # as if started an hour ago

    first = post(client, f"{URL}{pk}/points/", {"points": walk(t0, 5)}, worker)
    assert first.status_code == 200, first.content
    assert first.json()["accepted"] == 5
    second = post(client, f"{URL}{pk}/points/", {"points": walk(t0, 4, start=5)}, worker)
    assert second.status_code == 200, second.content
    result = second.json()
    assert result == {
        "accepted": 4,
        "flagged": [],
        "duplicates": 0,
        "distance_m": pytest.approx(8 * 55.6, rel=0.01),
        "point_count": 9,
        "flagged_count": 0,
    }

    ended = post(client, f"{URL}{pk}/end/", {"note": "正常"}, worker)
    assert ended.status_code == 200, ended.content
    assert ended.json()["state"] == PatrolState.ENDED

    detail = client.get(f"{URL}{pk}/", **worker)
    assert detail.status_code == 200
    data = detail.json()
    assert data["distance_m"] == pytest.approx(8 * 55.6, rel=0.01)
    assert data["point_count"] == 9
    assert data["counted_count"] == 9
    assert data["duration_s"] >= 3600
    assert data["visits"] == [] and data["cases"] == []
    assert data["note"] == "正常"

    track = client.get(f"{URL}{pk}/track/", **worker)
    assert track.status_code == 200
    geojson = track.json()
    assert geojson["type"] == "FeatureCollection"
    line = geojson["features"][0]
    assert line["geometry"]["type"] == "LineString"
    assert len(line["geometry"]["coordinates"]) == 9
    assert line["properties"]["distance_m"] == pytest.approx(8 * 55.6, rel=0.01)

    listed = client.get(URL, **worker).json()
    assert [row["id"] for row in listed["results"]] == [pk]
    assert listed["results"][0]["distance_m"] == pytest.approx(8 * 55.6, rel=0.01)


def test_session_authentication_needs_the_csrf_token(org, t0):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    assert browser.login(username="wg01", password=PASSWORD)
    patrol = services.patrol_start(actor=org.users.grid_worker, now=t0)
    url = f"{URL}{patrol.pk}/points/"
    refused = browser.post(url, {"points": walk(t0, 1)}, content_type="application/json")
    assert refused.status_code == 403
    assert PatrolPoint.objects.count() == 0
    browser.get("/fieldwork/patrols/current/")  # the page sets the CSRF cookie the script reads back
    token = browser.cookies["csrftoken"].value
    accepted = browser.post(url, {"points": walk(t0, 1)}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert accepted.status_code == 200, accepted.content
    assert PatrolPoint.objects.count() == 1


def test_refusals_come_back_as_code_message_fields(client, org, worker, t0):
    pk = post(client, URL, {}, worker).json()["id"]
    again = post(client, URL, {}, worker)
    assert again.status_code == 409
    assert again.json()["code"] == "patrol_active"
    assert again.json()["fields"] == {"patrol": [str(pk)]}

    bad = walk(t0, 3)
    bad[2]["lat"] = "north"
    refused = post(client, f"{URL}{pk}/points/", {"points": bad}, worker)
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_points"
    assert list(refused.json()["fields"]) == ["points.2.lat"]
    assert refused.json()["message"]
    missing = post(client, f"{URL}{pk}/points/", {"dots": []}, worker)
    assert missing.status_code == 400 and "points" in missing.json()["fields"]
    assert PatrolPoint.objects.count() == 0

    leader = api_headers(client, "gl01")
    forbidden = post(client, f"{URL}{pk}/points/", {"points": walk(t0, 1)}, leader)
    assert forbidden.status_code == 403
    assert forbidden.json()["code"] == "forbidden"

    areas.post_create(
        actor=None,
        user=type(org.users.nobody).objects.get(username="nobody"),
        role=Role.GRID_WORKER,
        area=org.g21,
    )
    stranger = api_headers(client, "nobody")
    for response in (
        client.get(f"{URL}{pk}/", **stranger),
        client.get(f"{URL}{pk}/track/", **stranger),
        post(client, f"{URL}{pk}/points/", {"points": walk(t0, 1)}, stranger),
        post(client, f"{URL}{pk}/end/", {}, stranger),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    assert post(client, f"{URL}{pk}/end/", {}, worker).status_code == 200
    twice = post(client, f"{URL}{pk}/end/", {}, worker)
    assert twice.status_code == 409 and twice.json()["code"] == "patrol_ended"
    late = post(client, f"{URL}{pk}/points/", {"points": walk(t0, 1)}, worker)
    assert late.status_code == 409 and late.json()["code"] == "patrol_ended"
    assert PatrolPoint.objects.count() == 0


def test_start_needs_a_patrolling_role(client, org):
    response = post(client, URL, {}, api_headers(client, "sq01"))
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    response = post(client, URL, {"grid": org.g21.code}, api_headers(client, "wg01"))
    assert response.status_code == 404
    assert Patrol.objects.count() == 0


def test_the_list_filters(client, org, t0):
    mine = services.patrol_start(actor=org.users.grid_worker, now=t0)
    services.patrol_end(actor=org.users.grid_worker, patrol=mine, now=t0 + timedelta(minutes=30))
    group = services.patrol_start(actor=org.users.group_leader, now=t0 - timedelta(days=3))
    center = api_headers(client, "center")

    def ids(query: str) -> set[int]:
        response = client.get(f"{URL}?{query}", **center)
        assert response.status_code == 200, response.content
        return {row["id"] for row in response.json()["results"]}

    assert ids("") == {mine.pk, group.pk}
    assert ids("state=active") == {group.pk}
    assert ids(f"worker={org.users.grid_worker.pk}") == {mine.pk}
    assert ids("worker=lb01") == {group.pk}
    assert ids(f"area={org.grp1.code}") == {group.pk}
    assert ids(f"area={org.g11.code}") == {mine.pk, group.pk}
    assert ids(f"area={org.g21.code}") == set()
    day = timezone.localdate(t0)
    assert ids(f"started_after={day.isoformat()}") == {mine.pk}
    assert ids(f"started_before={(day - timedelta(days=1)).isoformat()}") == {group.pk}
    bad = client.get(f"{URL}?state=flying", **center)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
