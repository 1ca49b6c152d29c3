"""POST /api/v1/auth/token/, token authentication and /api/v1/auth/me/ over HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from django_otp.oath import totp
from rest_framework.authtoken.models import Token

from gridgov.accounts import services
from gridgov.accounts.models import User
from gridgov.core.models import AuditEvent
from tests.conftest import PASSWORD, next_totp_code, token_for

TOKEN_URL = "/api/v1/auth/token/"
ME_URL = "/api/v1/auth/me/"


def post_token(client, **data):
    return client.post(TOKEN_URL, data, content_type="application/json")


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_token_for_username_and_password(org, client):
    response = post_token(client, username="wg01", password=PASSWORD)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"token"}
    assert re.fullmatch(r"[0-9a-f]{40}", body["token"])
    assert Token.objects.get(key=body["token"]).user == org.users.grid_worker
    event = AuditEvent.objects.filter(event_type="auth.login", result="success").get()
    assert event.data == {"channel": "api"}
    assert event.ip == "127.0.0.1"


def test_token_is_stable_across_logins(org, client):
    assert token_for(client, "wg01") == token_for(client, "wg01")


def test_token_endpoint_ignores_a_bad_authorization_header(org, client):
    response = client.post(
        TOKEN_URL,
        {"username": "wg01", "password": PASSWORD},
        content_type="application/json",
        HTTP_AUTHORIZATION="Token broken",
    )
    assert response.status_code == 200


def test_wrong_password(org, client):
    body = assert_error(post_token(client, username="wg01", password="Wrong-password-1"), 401, "invalid_credentials")
    assert body["fields"] == {}
    assert AuditEvent.objects.filter(event_type="auth.login", result="failure", ip="127.0.0.1").count() == 1


def test_unknown_user_answers_like_a_wrong_password(org, client):
    unknown = post_token(client, username="ghost", password="Wrong-password-1")
    wrong = post_token(client, username="wg01", password="Wrong-password-1")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json() == wrong.json()


def test_locked_account(org, client):
    for _ in range(4):
        assert_error(post_token(client, username="wg01", password="nope"), 401, "invalid_credentials")
    assert_error(post_token(client, username="wg01", password="nope"), 401, "account_locked")
    assert_error(post_token(client, username="wg01", password=PASSWORD), 401, "account_locked")
    User.objects.filter(username="wg01").update(locked_until=timezone.now() - timedelta(minutes=1))
    assert post_token(client, username="wg01", password=PASSWORD).status_code == 200


@pytest.mark.parametrize(
    ("data", "missing"),
    [
        ({"password": PASSWORD}, {"username"}),
        ({"username": "wg01"}, {"password"}),
        ({}, {"username", "password"}),
        ({"username": "", "password": PASSWORD}, {"username"}),
    ],
)
def test_missing_fields(org, client, data, missing):
    body = assert_error(client.post(TOKEN_URL, data, content_type="application/json"), 400, "invalid")
    assert set(body["fields"]) == missing
    assert all(body["fields"][name] for name in missing)
    assert not AuditEvent.objects.filter(event_type="auth.login").exists()


def test_token_needs_otp_when_the_policy_asks(org, client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker"])
    user = org.users.grid_worker
    assert_error(post_token(client, username="wg01", password=PASSWORD), 401, "otp_not_enrolled")

    device = services.totp_enrol_start(user=user)
    services.totp_verify(user=user, token=f"{totp(device.bin_key):06d}", ip=None)
    body = assert_error(post_token(client, username="wg01", password=PASSWORD), 401, "otp_required")
    assert "otp" in body["fields"]
    too_long = assert_error(post_token(client, username="wg01", password=PASSWORD, otp="0" * 11), 400, "invalid")
    assert set(too_long["fields"]) == {"otp"}
    assert_error(post_token(client, username="wg01", password=PASSWORD, otp="abcdef"), 401, "otp_invalid")
    assert_error(post_token(client, username="wg01", password=PASSWORD, otp="12345"), 401, "otp_invalid")
    assert not Token.objects.filter(user=user).exists()

    response = post_token(client, username="wg01", password=PASSWORD, otp=next_totp_code(device))
    assert response.status_code == 200
    assert response.json()["token"] == Token.objects.get(user=user).key


# Token authentication


def test_me_with_a_token(org, client):
    key = token_for(client, "wg01")
    response = client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {key}")
    assert response.status_code == 200
    assert response.json() == {
        "id": org.users.grid_worker.pk,
        "username": "wg01",
        "name": "wg01",
        "is_superuser": False,
        "posts": [{"role": "grid_worker", "area": org.g11.pk, "area_code": org.g11.code, "unit": None}],
    }


def test_me_for_a_unit_handler_and_a_superuser(org, client):
    handler = client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {token_for(client, 'unit01')}").json()
    assert handler["posts"] == [{"role": "unit_handler", "area": None, "area_code": None, "unit": org.prop.pk}]
    admin = client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {token_for(client, 'admin')}").json()
    assert admin["is_superuser"] is True
    assert admin["posts"] == []


def test_me_leaves_out_inactive_posts(org, client):
    key = token_for(client, "wg01")
    for post in org.users.grid_worker.posts.all():  # as the admin ends a post: through save()
        post.active = False
        post.save()
    assert client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {key}").json()["posts"] == []


def test_keyword_is_case_insensitive(org, client):
    key = token_for(client, "wg01")
    assert client.get(ME_URL, HTTP_AUTHORIZATION=f"token {key}").status_code == 200


def test_me_with_a_session(org, client):
    client.force_login(org.users.grid_worker)
    assert client.get(ME_URL).json()["username"] == "wg01"


def test_no_credentials(org, client):
    response = client.get(ME_URL)
    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_unknown_token(org, client):
    token_for(client, "wg01")
    assert_error(client.get(ME_URL, HTTP_AUTHORIZATION="Token " + "a" * 40), 401, "token_invalid")


def test_revoked_token(org, client):
    key = token_for(client, "wg01")
    Token.objects.filter(key=key).delete()
    assert_error(client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {key}"), 401, "token_invalid")


def test_token_of_a_disabled_account(org, client):
    key = token_for(client, "wg01")
    User.objects.filter(username="wg01").update(is_active=False)
    assert_error(client.get(ME_URL, HTTP_AUTHORIZATION=f"Token {key}"), 401, "account_disabled")


@pytest.mark.parametrize(
    "header",
    [
        "Token",
        "Token a b",
        "Token " + "a" * 20 + " " + "b" * 20,
        "Token abc",
        "Token " + "a" * 41,
        "Token " + "a" * 39 + "-",
        "Token " + "é" * 40,
        "Token " + "a" * 38 + "\u00ff\u00fe",
    ],
    ids=["no-key", "two-parts", "two-halves", "short", "long", "punctuation", "latin1", "non-ascii-tail"],
)
def test_malformed_header(org, client, header):
    response = client.get(ME_URL, HTTP_AUTHORIZATION=header)
    assert_error(response, 401, "token_malformed")


def test_other_schemes_fall_through_to_not_authenticated(org, client):
    assert_error(client.get(ME_URL, HTTP_AUTHORIZATION="Bearer " + "a" * 40), 401, "not_authenticated")
