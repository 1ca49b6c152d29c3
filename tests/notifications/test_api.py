"""/api/v1/notifications/ over HTTP: own rows only, marking read, the error body, the schema."""

from __future__ import annotations

import pytest

from gridgov.notifications import services
from gridgov.notifications.models import Notification
from tests.conftest import api_headers

URL = "/api/v1/notifications/"


@pytest.fixture
def inbox(people, channels):
    channels()
    services.notify(users=[people.a, people.b], kind="case.dispatched", title="案件已派遣", url="/cases/1/")
    services.notify(users=[people.a], kind="case.overdue", title="案件已超时")
    return people


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert body["code"] == code
    return body


def test_list_shows_the_callers_own_notifications(inbox, client):
    headers = api_headers(client, "alice")
    body = client.get(URL, **headers).json()
    assert body["count"] == 2
    assert [n["title"] for n in body["results"]] == ["案件已超时", "案件已派遣"]
    first = body["results"][1]
    assert set(first) == {
        "id",
        "kind",
        "title",
        "body",
        "url",
        "object_type",
        "object_id",
        "read",
        "read_at",
        "created_at",
    }
    assert (first["kind"], first["url"]) == ("case.dispatched", "/cases/1/")
    assert (first["read"], first["read_at"]) == (False, None)
    bob = client.get(URL, **api_headers(client, "bob")).json()
    assert [n["title"] for n in bob["results"]] == ["案件已派遣"]


def test_list_unread_only(inbox, client):
    headers = api_headers(client, "alice")
    newest = Notification.objects.filter(user=inbox.a).first()
    services.notification_mark_read(actor=inbox.a, notification=newest)
    assert client.get(URL, {"unread": "1"}, **headers).json()["count"] == 1
    assert client.get(URL, {"unread": "0"}, **headers).json()["count"] == 2


def test_mark_one_read(inbox, client):
    headers = api_headers(client, "alice")
    notification = Notification.objects.filter(user=inbox.a).last()
    response = client.post(f"{URL}{notification.pk}/read/", **headers)
    assert response.status_code == 200, response.content
    assert response.json()["read"] is True
    assert response.json()["read_at"]
    notification.refresh_from_db()
    assert notification.read_at is not None
    again = client.post(f"{URL}{notification.pk}/read/", **headers)
    assert again.json()["read_at"] == response.json()["read_at"]


def test_mark_all_read(inbox, client):
    headers = api_headers(client, "alice")
    response = client.post(f"{URL}read-all/", **headers)
    assert response.status_code == 200, response.content
    assert response.json() == {"marked": 2}
    assert client.get(URL, {"unread": "1"}, **headers).json()["count"] == 0
    assert Notification.objects.filter(user=inbox.b, read_at__isnull=True).count() == 1, "others' untouched"


def test_anybody_elses_notification_is_not_found(inbox, client):
    theirs = Notification.objects.get(user=inbox.b)
    headers = api_headers(client, "alice")
    assert_error(client.get(f"{URL}{theirs.pk}/", **headers), 404, "not_found")
    assert_error(client.post(f"{URL}{theirs.pk}/read/", **headers), 404, "not_found")
    assert_error(client.post(f"{URL}abc/read/", **headers), 404, "not_found")
    theirs.refresh_from_db()
    assert theirs.read_at is None


def test_the_api_needs_a_signed_in_user(inbox, client):
    assert_error(client.get(URL), 401, "not_authenticated")
    assert_error(client.post(f"{URL}read-all/"), 401, "not_authenticated")


def test_list_is_a_fixed_number_of_queries(inbox, client, django_assert_max_num_queries):
    headers = api_headers(client, "alice")
    for _ in range(20):
        services.notify(users=[inbox.a], kind="case.overdue", title="又一件")
    with django_assert_max_num_queries(6):
        assert client.get(URL, **headers).json()["count"] == 22


def test_schema_describes_the_endpoints(admin_client):
    paths = admin_client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    assert set(paths[URL]) == {"get"}
    assert "unread" in {p["name"] for p in paths[URL]["get"]["parameters"]}
    assert set(paths[f"{URL}{{id}}/read/"]) == {"post"}
    assert set(paths[f"{URL}read-all/"]) == {"post"}
