"""One error body for every API failure, HTML errors for pages, and /healthz."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client

from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied, from_validation_error
from tests.conftest import PASSWORD, api_headers


def assert_error(response, status: int, code: str) -> dict:
    """The response is the one API error body with this status and code."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert isinstance(body["message"], str)
    assert body["message"]
    assert isinstance(body["fields"], dict)
    return body


# ApplicationError itself


def test_application_error_body_and_status():
    exc = ApplicationError("invalid_thing", "bad", fields={"name": ["too long", "wrong"]})
    assert exc.as_dict() == {"code": "invalid_thing", "message": "bad", "fields": {"name": ["too long", "wrong"]}}
    assert exc.status == 400
    assert ApplicationError("x", "y", status=418).status == 418
    assert NotFound("n", "m").status == 404
    assert PermissionDenied("p", "m").status == 403
    assert Conflict("c", "m").status == 409


def test_from_validation_error_keeps_fields():
    exc = from_validation_error(
        ValidationError({"code": ["digits only"], "__all__": ["clash"]}), code="invalid_area_code"
    )
    assert exc.code == "invalid_area_code"
    assert exc.fields == {"code": ["digits only"], "non_field_errors": ["clash"]}
    assert exc.message == "digits only"
    plain = from_validation_error(ValidationError("just wrong"))
    assert plain.code == "invalid"
    assert plain.fields == {"non_field_errors": ["just wrong"]}


# Every API failure


@pytest.fixture
def headers(org, client):
    return api_headers(client, "wg01")


@pytest.mark.parametrize("url", ["/api/v1/nothing-here/", "/api/v1/areas/1/nested/", "/api/elsewhere"])
def test_unknown_api_url(org, client, headers, url):
    assert_error(client.get(url, **headers), 404, "not_found")


def test_unknown_api_url_for_anonymous(client, db):
    assert_error(client.get("/api/v1/nothing-here/"), 404, "not_found")


def test_method_not_allowed(org, client, headers):
    assert_error(
        client.post("/api/v1/areas/", {}, content_type="application/json", **headers), 405, "method_not_allowed"
    )
    assert_error(client.delete(f"/api/v1/areas/{org.g11.pk}/", **headers), 405, "method_not_allowed")
    assert_error(client.get("/api/v1/auth/token/"), 405, "method_not_allowed")


@pytest.mark.parametrize(
    ("query", "field"),
    [("level=bogus", "level"), ("parent=abc", "parent"), ("mode=nope", "mode")],
)
def test_bad_filter_value(org, client, headers, query, field):
    body = assert_error(client.get(f"/api/v1/areas/?{query}", **headers), 400, "invalid")
    assert list(body["fields"]) == [field]
    assert body["fields"][field]


def test_bad_unit_filter_value(org, client, headers):
    body = assert_error(client.get("/api/v1/units/?kind=spaceship", **headers), 400, "invalid")
    assert "kind" in body["fields"]


def test_not_authenticated(org, client):
    response = client.get("/api/v1/areas/")
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Token")


def test_bad_token(org, client):
    assert_error(client.get("/api/v1/areas/", HTTP_AUTHORIZATION="Token " + "0" * 40), 401, "token_invalid")


def test_out_of_scope_detail_is_404_not_403(org, client, headers):
    """Outside the scope looks exactly like missing."""
    outside = assert_error(client.get(f"/api/v1/areas/{org.g21.pk}/", **headers), 404, "not_found")
    missing = assert_error(client.get("/api/v1/areas/999999/", **headers), 404, "not_found")
    assert outside == missing
    assert_error(client.get(f"/api/v1/units/{org.police.pk + 1000}/", **headers), 404, "not_found")


def test_csrf_failure_on_session_auth_is_403(org):
    client = Client(enforce_csrf_checks=True)
    client.force_login(org.users.grid_worker)
    assert_error(client.post("/api/v1/auth/me/", {}, content_type="application/json"), 403, "forbidden")


def test_malformed_json_body(org, client):
    response = client.post("/api/v1/auth/token/", "{not json", content_type="application/json")
    assert_error(response, 400, "malformed_request")


def test_unsupported_media_type(org, client):
    response = client.post("/api/v1/auth/token/", "username=wg01", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_locate_outside_grids(org, client, headers):
    assert_error(client.get("/api/v1/areas/locate/", {"lat": "10", "lng": "10"}, **headers), 404, "outside_grids")


def test_locate_in_a_grid_outside_the_scope(org, client, headers):
    # G21 is square(117.02, 32.6): its middle lies in the fixture but outside wg01's grid.
    assert_error(client.get("/api/v1/areas/locate/", {"lat": "32.605", "lng": "117.025"}, **headers), 404, "not_found")


@pytest.mark.parametrize(
    ("params", "bad_fields"),
    [
        ({}, {"lat", "lng"}),
        ({"lat": "32.6"}, {"lng"}),
        ({"lng": "117.0"}, {"lat"}),
        ({"lat": "", "lng": ""}, {"lat", "lng"}),
        ({"lat": "north", "lng": "117.0"}, {"lat"}),
        ({"lat": "32.6", "lng": "1e"}, {"lng"}),
        ({"lat": "91", "lng": "117.0"}, {"lat"}),
        ({"lat": "-90.5", "lng": "117.0"}, {"lat"}),
        ({"lat": "32.6", "lng": "180.01"}, {"lng"}),
        ({"lat": "32.6", "lng": "-181"}, {"lng"}),
        ({"lat": "nan", "lng": "117.0"}, {"lat"}),
        ({"lat": "32.6", "lng": "inf"}, {"lng"}),
    ],
)
def test_locate_invalid_point(org, client, headers, params, bad_fields):
    body = assert_error(client.get("/api/v1/areas/locate/", params, **headers), 400, "invalid_point")
    assert set(body["fields"]) == bad_fields


def test_validation_error_lists_fields(org, client):
    body = assert_error(client.post("/api/v1/auth/token/", {}, content_type="application/json"), 400, "invalid")
    assert set(body["fields"]) == {"username", "password"}


def test_login_failure_body(org, client):
    body = assert_error(
        client.post("/api/v1/auth/token/", {"username": "wg01", "password": "wrong"}, content_type="application/json"),
        401,
        "invalid_credentials",
    )
    assert body["fields"] == {}


def test_error_bodies_are_chinese_by_default(org, client):
    """Django's and DRF's own messages come from their zh_Hans catalogues."""
    body = client.get(
        "/api/v1/areas/?level=bogus", HTTP_AUTHORIZATION=api_headers(client, "wg01")["HTTP_AUTHORIZATION"]
    )
    message = body.json()["fields"]["level"][0]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in message), message


# Pages answer in HTML, or in JSON when asked


def test_page_404_is_html(org, client):
    client.force_login(org.users.grid_worker)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"<html" in response.content


def test_page_404_for_json_clients(org, client):
    client.force_login(org.users.grid_worker)
    assert_error(client.get("/no-such-page/", HTTP_ACCEPT="application/json"), 404, "not_found")


def test_anonymous_page_404_redirects_to_login_first(client, db):
    response = client.get("/no-such-page/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_csrf_failure_on_a_page(org):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "wg01", "password": PASSWORD})
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")


# /healthz


def test_healthz(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["worker"] == {"last_seen_seconds_ago": None}


def test_healthz_reports_the_worker_heartbeat(client, db):
    from gridgov.core.tasks import worker_heartbeat

    worker_heartbeat.call_local()
    body = client.get("/healthz").json()
    assert isinstance(body["worker"]["last_seen_seconds_ago"], int)
    assert body["worker"]["last_seen_seconds_ago"] >= 0


def test_healthz_when_the_database_is_down(client, db, monkeypatch):
    from gridgov.core import views

    class Broken:
        def cursor(self):
            raise RuntimeError("connection refused")

    monkeypatch.setattr(views, "connection", Broken())
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unavailable"}
