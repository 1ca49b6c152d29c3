"""Login, one-time codes, logout, idle sessions and the security policy page, through the test client."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.contrib import messages
from django.contrib.sessions.models import Session
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from gridgov.accounts import services
from gridgov.accounts.models import SecurityPolicy, User
from gridgov.core.models import AuditEvent
from tests.conftest import PASSWORD, next_totp_code, totp_code

LOGIN = "/accounts/login/"
OTP = "/accounts/otp/"


def signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def login(client, username: str = "wg01", password: str = PASSWORD, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


# The login page


def test_login_page_renders(client, db):
    response = client.get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="login-form"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert 'name="username"' in html
    assert 'type="password"' in html
    assert '<html lang="zh-hans">' in html
    assert response["Cache-Control"].startswith("max-age=0")


def test_login_page_in_english_on_request(client, db):
    response = client.get(LOGIN, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 200
    assert '<html lang="en">' in response.content.decode()


def test_login_succeeds_and_redirects_home(org, client):
    response = login(client)
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(org.users.grid_worker.pk)
    assert client.get("/").status_code == 200
    event = AuditEvent.objects.filter(event_type="auth.login", result="success").get()
    assert event.actor == org.users.grid_worker
    assert event.ip == "127.0.0.1"
    assert event.data == {"channel": "web"}


def test_wrong_password_stays_on_the_page(org, client):
    response = login(client, password="Wrong-password-1")
    assert response.status_code == 200
    assert 'data-testid="login-error"' in response.content.decode()
    assert response.context["form"].non_field_errors()
    assert signed_in_user_id(client) is None
    event = AuditEvent.objects.filter(event_type="auth.login", result="failure").get()
    assert event.ip == "127.0.0.1"
    assert event.actor_username == "wg01"


def test_unknown_user_gets_the_same_page_as_a_wrong_password(org, client):
    unknown = login(client, username="ghost", password="Wrong-password-1")
    wrong = login(client, password="Wrong-password-1")
    assert unknown.context["form"].non_field_errors() == wrong.context["form"].non_field_errors()


def test_empty_form_is_refused_without_touching_accounts(org, client):
    response = client.post(LOGIN, {"username": "", "password": ""})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"username", "password"}
    assert not AuditEvent.objects.filter(event_type="auth.login").exists()


def test_five_wrong_passwords_lock_the_web_login(org, client):
    for _ in range(4):
        login(client, password="Wrong-password-1")
    fifth = login(client, password="Wrong-password-1")
    locked_message = fifth.context["form"].non_field_errors()
    assert User.objects.get(username="wg01").is_locked()
    again = login(client)  # the right password while locked
    assert again.status_code == 200
    assert again.context["form"].non_field_errors() == locked_message
    assert signed_in_user_id(client) is None
    assert AuditEvent.objects.filter(event_type="auth.lockout", ip="127.0.0.1").count() == 1

    User.objects.filter(username="wg01").update(locked_until=timezone.now() - timedelta(seconds=1))
    assert login(client).status_code == 302
    assert signed_in_user_id(client) == str(org.users.grid_worker.pk)


def test_signed_in_user_visiting_login_is_sent_on(org, client):
    client.force_login(org.users.grid_worker)
    response = client.get(LOGIN, {"next": "/units/"})
    assert response.status_code == 302
    assert response["Location"] == "/units/"


# The next URL


@pytest.mark.parametrize("target", ["/units/", "/areas/1/?tab=people"])
def test_next_url_on_this_site_is_followed(org, client, target):
    response = login(client, next=target)
    assert response.status_code == 302
    assert response["Location"] == target


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/steal",
        "http://testserver.evil.example/",
        "javascript:alert(1)",
        "\\\\evil.example",
        "/\\evil.example",
        "https:///evil.example",
    ],
)
def test_next_url_elsewhere_is_ignored(org, client, target):
    response = login(client, next=target)
    assert response.status_code == 302
    assert response["Location"] == "/"


def test_next_url_from_the_query_string(org, client):
    response = client.post(f"{LOGIN}?next=/party-branches/", {"username": "wg01", "password": PASSWORD})
    assert response["Location"] == "/party-branches/"


def test_login_page_carries_only_a_safe_next(client, db):
    assert client.get(LOGIN, {"next": "/units/"}).context["next"] == "/units/"
    page = client.get(LOGIN, {"next": "https://evil.example/"})
    assert page.context["next"] == "/"
    assert "evil.example" not in page.content.decode()


def test_anonymous_page_request_comes_back_after_login(org, client):
    response = client.get("/units/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/?next=/units/"
    assert login(client, next="/units/")["Location"] == "/units/"


# Logout


def test_logout_needs_post(org, client):
    client.force_login(org.users.grid_worker)
    assert client.get("/accounts/logout/").status_code == 405
    assert signed_in_user_id(client) == str(org.users.grid_worker.pk)


def test_logout(org, client):
    login(client)
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert signed_in_user_id(client) is None
    assert client.get("/").status_code == 302
    event = AuditEvent.objects.filter(event_type="auth.logout").get()
    assert event.actor == org.users.grid_worker
    assert event.ip == "127.0.0.1"


def test_logout_leaves_an_info_message(org, client):
    login(client)
    page = client.post("/accounts/logout/", follow=True)
    assert page.status_code == 200
    assert [m.level for m in page.context["messages"]] == [messages.INFO]


def test_anonymous_logout_is_harmless(client, db):
    response = client.post("/accounts/logout/")
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(event_type="auth.logout").exists()


# Idle sessions


def test_session_settings():
    assert django_settings.SESSION_COOKIE_AGE == 30 * 60
    assert django_settings.SESSION_SAVE_EVERY_REQUEST is True
    assert django_settings.SESSION_COOKIE_HTTPONLY is True
    assert django_settings.SESSION_ENGINE == "django.contrib.sessions.backends.db"


def _session_row(client) -> Session:
    return Session.objects.get(session_key=client.cookies[django_settings.SESSION_COOKIE_NAME].value)


def test_expired_session_is_logged_out(org, client):
    login(client)
    assert client.get("/").status_code == 200
    Session.objects.filter(pk=_session_row(client).pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_activity_extends_the_session(org, client):
    login(client)
    Session.objects.filter(pk=_session_row(client).pk).update(expire_date=timezone.now() + timedelta(seconds=60))
    assert client.get("/units/").status_code == 200
    assert _session_row(client).expire_date > timezone.now() + timedelta(minutes=29)


def test_thirty_one_idle_minutes_end_the_session(org, client):
    login(client)
    later = timezone.now() + timedelta(minutes=31)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)


def test_twenty_nine_idle_minutes_keep_the_session(org, client):
    login(client)
    later = timezone.now() + timedelta(minutes=29)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert client.get("/").status_code == 200


# One-time codes


@pytest.fixture
def totp_policy(org, settings):
    # django-otp delays a retry after a wrong code by a second; the tests need no delay.
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker"])
    return org


def test_totp_user_is_sent_to_the_code_page(totp_policy, client):
    response = login(client)
    assert response.status_code == 302
    assert response["Location"] == OTP
    assert signed_in_user_id(client) is None
    assert client.get("/").status_code == 302, "not signed in before the code"
    assert not AuditEvent.objects.filter(event_type="auth.login", result="success").exists()


def test_totp_enrolment_and_login(totp_policy, client):
    user = totp_policy.users.grid_worker
    login(client, next="/units/")
    page = client.get(OTP)
    assert page.status_code == 200
    enrol = page.context["enrol"]
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert enrol["secret"]
    assert enrol["uri"].startswith("otpauth://totp/")
    assert enrol["qr"].startswith("data:image/svg+xml;base64,")
    assert 'data-testid="otp-secret"' in page.content.decode()

    wrong = "000000" if totp_code(device) != "000000" else "000001"
    refused = client.post(OTP, {"token": wrong})
    assert refused.status_code == 200
    assert refused.context["form"].errors["token"]
    assert signed_in_user_id(client) is None
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed

    response = client.post(OTP, {"token": totp_code(device)})
    assert response.status_code == 302
    assert response["Location"] == "/units/"
    assert signed_in_user_id(client) == str(user.pk)
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert AuditEvent.objects.filter(event_type="auth.otp_enrolled", actor=user).exists()
    assert AuditEvent.objects.filter(event_type="auth.login", result="success", actor=user).count() == 1


def test_totp_second_login_asks_for_a_code_without_enrolment(totp_policy, client):
    user = totp_policy.users.grid_worker
    device = services.totp_enrol_start(user=user)
    services.totp_verify(user=user, token=totp_code(device), ip=None)
    login(client)
    page = client.get(OTP)
    assert page.context["enrol"] is None
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert client.post(OTP, {"token": "abcdef"}).status_code == 200
    assert signed_in_user_id(client) is None
    response = client.post(OTP, {"token": next_totp_code(device)})  # the current code was used above
    assert response.status_code == 302
    assert signed_in_user_id(client) == str(user.pk)


def test_code_page_without_a_password_step_goes_back_to_login(totp_policy, client):
    response = client.get(OTP)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert [m.level for m in client.get(LOGIN).context["messages"]] == [messages.ERROR]


def test_code_page_expires_after_five_minutes(totp_policy, client):
    import time

    login(client)
    later = time.time() + 301
    with mock.patch("gridgov.accounts.views.time.time", return_value=later):
        response = client.get(OTP)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert client.get(OTP)["Location"] == LOGIN, "the pending login was dropped"


def test_roles_outside_the_policy_log_in_directly(totp_policy, client):
    response = login(client, username="gl01")
    assert response["Location"] == "/"
    assert signed_in_user_id(client) == str(totp_policy.users.grid_leader.pk)


# The security policy page


def test_security_policy_page_for_the_superuser(org, client):
    client.force_login(org.users.admin)
    assert client.get("/accounts/security/").status_code == 200
    response = client.post("/accounts/security/", {"totp_roles": ["grid_worker", "superuser"]})
    assert response.status_code == 302
    assert SecurityPolicy.load().totp_roles == ["grid_worker", "superuser"]
    assert [m.level for m in client.get("/accounts/security/").context["messages"]] == [messages.SUCCESS]


def test_security_policy_page_refuses_unknown_roles(org, client):
    client.force_login(org.users.admin)
    response = client.post("/accounts/security/", {"totp_roles": ["emperor"]})
    assert response.status_code == 200
    assert response.context["form"].errors["totp_roles"]
    assert SecurityPolicy.load().totp_roles == []


@pytest.mark.parametrize("role", ["center", "grid_worker"])
def test_security_policy_page_refused_to_others(org, client, role):
    client.force_login(getattr(org.users, role))
    assert client.get("/accounts/security/").status_code == 302
    response = client.post("/accounts/security/", {"totp_roles": ["grid_worker"]})
    assert response.status_code == 302
    assert response["Location"].startswith(LOGIN)
    assert SecurityPolicy.load().totp_roles == []


def test_user_changes_own_password_and_stays_signed_in(org, client):
    client.force_login(org.users.grid_worker)
    new = "Fresh-password-2027"
    response = client.post(
        "/accounts/password/", {"old_password": PASSWORD, "password": new, "password2": new}, follow=True
    )
    assert response.status_code == 200
    assert response.wsgi_request.user.is_authenticated, "the session survives the change"
    user = User.objects.get(username="wg01")
    assert user.check_password(new)
    assert AuditEvent.objects.filter(event_type="user.set_password", object_id=str(user.pk)).exists()


@pytest.mark.parametrize(
    ("old", "new", "again", "field"),
    [
        ("Wrong-password-1", "Fresh-password-2027", "Fresh-password-2027", "old_password"),
        (PASSWORD, "short", "short", "password"),
        (PASSWORD, "Fresh-password-2027", "Other-password-2027", "password2"),
        (PASSWORD, PASSWORD, PASSWORD, "password"),
    ],
)
def test_password_change_refusals_keep_the_old_password(org, client, old, new, again, field):
    client.force_login(org.users.grid_worker)
    response = client.post("/accounts/password/", {"old_password": old, "password": new, "password2": again})
    assert response.status_code == 200
    assert response.context["form"].errors.get(field), response.context["form"].errors
    assert User.objects.get(username="wg01").check_password(PASSWORD)
