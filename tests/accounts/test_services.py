"""Accounts services: password rules, lockout, audit of every attempt, TOTP policy and tokens."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from gridgov.accounts import services
from gridgov.accounts.models import SecurityPolicy, User
from gridgov.accounts.services import LoginFailed
from gridgov.accounts.validators import ComplexityValidator, character_classes
from gridgov.core.errors import ApplicationError, PermissionDenied
from gridgov.core.models import AuditEvent, AuditResult
from tests.conftest import PASSWORD, next_totp_code, totp_code

IP = "192.0.2.7"


def fail(username: str, password: str = "Wrong-password-1") -> LoginFailed:
    with pytest.raises(LoginFailed) as excinfo:
        services.password_check(username=username, password=password, ip=IP)
    return excinfo.value


def reload(user: User) -> User:
    return User.objects.get(pk=user.pk)


# Password rules


@pytest.mark.parametrize(
    ("password", "classes"),
    [("abcdefghij", 1), ("abcdeFGHIJ", 2), ("abcdeFGH12", 3), ("abcdeFGH1!", 4), ("密码abc123XY", 4)],
)
def test_character_classes(password, classes):
    assert character_classes(password) == classes


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Ab1!xyz", "password_too_short"),  # 7 characters, 4 classes
        ("Ab1!xyzab", "password_too_short"),  # 9 characters
        ("abcdefghijkl", "password_too_simple"),  # one class
        ("abcdefgh1234", "password_too_simple"),  # two classes
        ("ABCDEFGH!!!!", "password_too_simple"),  # two classes
    ],
)
def test_complexity_validator_refuses(password, reason):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as excinfo:
        ComplexityValidator().validate(password)
    assert reason in {e.code for e in excinfo.value.error_list}


@pytest.mark.parametrize("password", ["Qwmnvbrt42", "qwmnv-brt42", "QWMNV-BRT42", "Ab1!Ab1!Ab"])
def test_complexity_validator_accepts_ten_characters_of_three_classes(password):
    ComplexityValidator().validate(password)


@pytest.mark.parametrize("password", ["Ab1!xyz", "abcdefghijkl", "abcdefgh1234", ""])
def test_user_create_refuses_weak_password_and_writes_nothing(db, password):
    users, events = User.objects.count(), AuditEvent.objects.count()
    with pytest.raises(ApplicationError) as excinfo:
        services.user_create(actor=None, username="weak01", password=password)
    assert excinfo.value.code == "invalid_user"
    assert "password" in excinfo.value.fields
    assert excinfo.value.fields["password"]
    assert User.objects.count() == users
    assert AuditEvent.objects.count() == events


def test_user_create_refuses_password_like_the_username(db):
    with pytest.raises(ApplicationError) as excinfo:
        services.user_create(actor=None, username="Wangxiaoming1", password="Wangxiaoming1")
    assert excinfo.value.code == "invalid_user"
    assert "password" in excinfo.value.fields


def test_user_create_refuses_bad_username(db):
    with pytest.raises(ApplicationError) as excinfo:
        services.user_create(actor=None, username="bad name!", password=PASSWORD)
    assert excinfo.value.code == "invalid_user"
    assert "username" in excinfo.value.fields


def test_user_create_reports_every_bad_field_at_once(db):
    with pytest.raises(ApplicationError) as excinfo:
        services.user_create(actor=None, username="bad name!", password="short")
    assert {"username", "password"} <= set(excinfo.value.fields)


def test_user_create_refuses_duplicate_username(org):
    with pytest.raises(ApplicationError) as excinfo:
        services.user_create(actor=None, username="wg01", password=PASSWORD)
    assert "username" in excinfo.value.fields


def test_user_create_stores_a_hash(db):
    user = services.user_create(actor=None, username="ok01", password=PASSWORD, name="小王")
    assert user.password != PASSWORD
    assert reload(user).check_password(PASSWORD)
    assert not user.is_superuser


def test_set_password_checks_the_rules(org):
    user = org.users.grid_worker
    with pytest.raises(ApplicationError) as excinfo:
        services.user_set_password(actor=org.users.admin, user=user, password="short")
    assert excinfo.value.code == "invalid_password"
    assert "password" in excinfo.value.fields
    assert reload(user).check_password(PASSWORD)
    services.user_set_password(actor=org.users.admin, user=user, password="Brand-new-2027")
    assert reload(user).check_password("Brand-new-2027")


# Lockout


def test_right_password_returns_the_user(org):
    assert services.password_check(username="wg01", password=PASSWORD, ip=IP) == org.users.grid_worker


def test_five_wrong_passwords_lock_the_account(org):
    for attempt in range(1, 5):
        assert fail("wg01").code == "invalid_credentials"
        assert reload(org.users.grid_worker).failed_logins == attempt
    fifth = fail("wg01")
    assert fifth.code == "account_locked", "the fifth answer already says locked"
    assert fifth.status == 401
    user = reload(org.users.grid_worker)
    assert user.is_locked()
    remaining = user.locked_until - timezone.now()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)


def test_locked_account_refuses_the_right_password(org):
    for _ in range(5):
        fail("wg01")
    assert fail("wg01", PASSWORD).code == "account_locked"
    denied = AuditEvent.objects.filter(event_type="auth.login", result=AuditResult.DENIED).get()
    assert denied.data == {"reason": "locked"}


def test_lock_lifts_after_fifteen_minutes(org):
    for _ in range(5):
        fail("wg01")
    later = timezone.now() + timedelta(minutes=15, seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert services.password_check(username="wg01", password=PASSWORD, ip=IP) == org.users.grid_worker
    user = reload(org.users.grid_worker)
    assert user.locked_until is None
    assert user.failed_logins == 0


def test_lock_still_holds_at_fourteen_minutes(org):
    for _ in range(5):
        fail("wg01")
    later = timezone.now() + timedelta(minutes=14)
    with mock.patch("django.utils.timezone.now", return_value=later):
        assert fail("wg01", PASSWORD).code == "account_locked"


def test_lock_lifts_when_locked_until_has_passed(org):
    for _ in range(5):
        fail("wg01")
    User.objects.filter(pk=org.users.grid_worker.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert services.password_check(username="wg01", password=PASSWORD, ip=IP) == org.users.grid_worker


def test_after_the_lock_a_new_series_of_five_is_needed(org):
    for _ in range(5):
        fail("wg01")
    User.objects.filter(pk=org.users.grid_worker.pk).update(locked_until=timezone.now() - timedelta(seconds=1))
    assert fail("wg01").code == "invalid_credentials"
    assert reload(org.users.grid_worker).failed_logins == 1


def test_success_resets_the_failure_count(org):
    for _ in range(4):
        fail("wg01")
    services.password_check(username="wg01", password=PASSWORD, ip=IP)
    assert reload(org.users.grid_worker).failed_logins == 0
    for _ in range(4):
        assert fail("wg01").code == "invalid_credentials"
    assert not reload(org.users.grid_worker).is_locked()


def test_lockout_is_per_account(org):
    for _ in range(5):
        fail("wg01")
    assert services.password_check(username="gl01", password=PASSWORD, ip=IP) == org.users.grid_leader


def test_unknown_username_gives_the_same_error_as_a_wrong_password(org):
    unknown = fail("no-such-user")
    wrong = fail("wg01")
    assert unknown.as_dict() == wrong.as_dict()
    assert unknown.status == wrong.status == 401


def test_inactive_user_gives_the_same_error_as_a_wrong_password(org):
    User.objects.filter(pk=org.users.grid_worker.pk).update(is_active=False)
    assert fail("wg01", PASSWORD).as_dict() == fail("gl01").as_dict()


def test_unknown_username_does_not_lock_anything(org):
    for _ in range(6):
        assert fail("ghost").code == "invalid_credentials"
    assert not User.objects.filter(username="ghost").exists()


# Audit of attempts


def test_every_attempt_is_audited_with_the_ip(org):
    start = AuditEvent.objects.count()
    fail("ghost")
    fail("wg01")
    user = services.password_check(username="wg01", password=PASSWORD, ip=IP)
    services.login_succeeded(user=user, ip=IP, channel="web")
    events = list(AuditEvent.objects.order_by("id")[start:])
    assert [(e.event_type, e.result, e.actor_username) for e in events] == [
        ("auth.login", "failure", "ghost"),
        ("auth.login", "failure", "wg01"),
        ("auth.login", "success", "wg01"),
    ]
    assert {e.ip for e in events} == {IP}
    assert events[0].data == {"reason": "unknown_user"}
    assert events[0].actor is None
    assert events[1].data == {"reason": "wrong_password", "failures": 1}
    assert events[1].object_id == str(org.users.grid_worker.pk)
    assert events[2].actor == org.users.grid_worker
    assert events[2].data == {"channel": "web"}


def test_lockout_is_audited(org):
    for _ in range(5):
        fail("wg01")
    lockout = AuditEvent.objects.filter(event_type="auth.lockout").get()
    assert lockout.result == AuditResult.DENIED
    assert lockout.actor_username == "wg01"
    assert lockout.ip == IP
    assert lockout.data == {"minutes": 15}
    fifth = AuditEvent.objects.filter(event_type="auth.login", data__failures=5).get()
    assert "locked_until" in fifth.data


def test_login_succeeded_sets_last_login(org):
    user = org.users.grid_worker
    assert reload(user).last_login is None
    services.login_succeeded(user=user, ip=IP, channel="api")
    assert reload(user).last_login is not None


# Security policy and TOTP


def test_security_policy_update_by_superuser(org):
    policy = services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker", "center", "center"])
    assert policy.totp_roles == ["center", "grid_worker"]
    assert SecurityPolicy.load().totp_roles == ["center", "grid_worker"]
    event = AuditEvent.objects.filter(event_type="security.policy_update").get()
    assert event.data == {"before": [], "after": ["center", "grid_worker"]}


@pytest.mark.parametrize("role", ["center", "leader", "grid_worker", "nobody"])
def test_security_policy_update_refused_to_non_superusers(org, role):
    with pytest.raises(PermissionDenied):
        services.security_policy_update(actor=getattr(org.users, role), totp_roles=["grid_worker"])
    assert SecurityPolicy.load().totp_roles == []
    assert not AuditEvent.objects.filter(event_type="security.policy_update").exists()


def test_security_policy_refuses_unknown_roles(org):
    with pytest.raises(ApplicationError) as excinfo:
        services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker", "emperor"])
    assert excinfo.value.code == "invalid_role"
    assert "totp_roles" in excinfo.value.fields
    assert SecurityPolicy.load().totp_roles == []


def test_totp_required_follows_the_policy(org):
    assert not services.totp_required(org.users.grid_worker)
    services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker", "superuser"])
    assert services.totp_required(org.users.grid_worker)
    assert services.totp_required(org.users.admin)
    assert not services.totp_required(org.users.grid_leader)
    assert not services.totp_required(org.users.nobody)


def test_totp_not_required_through_an_inactive_post(org):
    services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker"])
    for post in org.users.grid_worker.posts.all():  # as the admin ends a post: through save()
        post.active = False
        post.save()
    assert not services.totp_required(org.users.grid_worker)


def test_totp_enrol_and_verify(org):
    user = org.users.grid_worker
    device = services.totp_enrol_start(user=user)
    assert not device.confirmed
    assert services.totp_enrol_start(user=user) == device, "reused until confirmed"
    assert services.totp_device(user) is None
    services.totp_verify(user=user, token=totp_code(device), ip=IP)
    assert services.totp_device(user) == device
    assert TOTPDevice.objects.get(pk=device.pk).confirmed
    assert AuditEvent.objects.filter(event_type="auth.otp_enrolled", actor=user).exists()


@pytest.mark.parametrize("token", ["000000", "abcdef", "", "12 34"])
def test_totp_wrong_code_refused(org, token):
    user = org.users.grid_worker
    device = services.totp_enrol_start(user=user)
    if token == "000000" and totp_code(device) == "000000":
        token = "000001"
    with pytest.raises(LoginFailed) as excinfo:
        services.totp_verify(user=user, token=token, ip=IP)
    assert excinfo.value.code == "otp_invalid"
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert AuditEvent.objects.filter(event_type="auth.otp", result=AuditResult.FAILURE, ip=IP).exists()


def test_totp_code_cannot_be_replayed(org):
    user = org.users.grid_worker
    device = services.totp_enrol_start(user=user)
    code = totp_code(device)
    services.totp_verify(user=user, token=code, ip=IP)
    with pytest.raises(LoginFailed) as excinfo:
        services.totp_verify(user=user, token=code, ip=IP)
    assert excinfo.value.code == "otp_invalid"


def test_totp_verify_without_device(org):
    with pytest.raises(LoginFailed) as excinfo:
        services.totp_verify(user=org.users.grid_worker, token="123456", ip=IP)
    assert excinfo.value.code == "otp_not_enrolled"


# API tokens


def test_token_issue_returns_one_token_per_user(org):
    key = services.token_issue(username="wg01", password=PASSWORD, ip=IP)
    assert key == Token.objects.get(user=org.users.grid_worker).key
    assert services.token_issue(username="wg01", password=PASSWORD, ip=IP) == key
    login = AuditEvent.objects.filter(event_type="auth.login", result="success", actor=org.users.grid_worker).first()
    assert login.data == {"channel": "api"}


def test_token_issue_counts_towards_the_lockout(org):
    for _ in range(4):
        with pytest.raises(LoginFailed):
            services.token_issue(username="wg01", password="nope", ip=IP)
    with pytest.raises(LoginFailed) as excinfo:
        services.token_issue(username="wg01", password="nope", ip=IP)
    assert excinfo.value.code == "account_locked"
    assert not Token.objects.filter(user=org.users.grid_worker).exists()


@pytest.fixture
def totp_policy(org):
    services.security_policy_update(actor=org.users.admin, totp_roles=["grid_worker"])
    return org


def test_token_issue_needs_otp_when_the_policy_asks(totp_policy, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = totp_policy.users.grid_worker
    with pytest.raises(LoginFailed) as excinfo:
        services.token_issue(username="wg01", password=PASSWORD, ip=IP)
    assert excinfo.value.code == "otp_not_enrolled"

    device = services.totp_enrol_start(user=user)
    services.totp_verify(user=user, token=totp_code(device), ip=IP)
    with pytest.raises(LoginFailed) as excinfo:
        services.token_issue(username="wg01", password=PASSWORD, ip=IP)
    assert excinfo.value.code == "otp_required"
    assert "otp" in excinfo.value.fields
    with pytest.raises(LoginFailed) as excinfo:
        services.token_issue(username="wg01", password=PASSWORD, otp="999999x", ip=IP)
    assert excinfo.value.code == "otp_invalid"
    assert not Token.objects.filter(user=user).exists()

    key = services.token_issue(username="wg01", password=PASSWORD, otp=next_totp_code(device), ip=IP)
    assert Token.objects.get(user=user).key == key


def test_token_issue_for_other_roles_ignores_the_policy(totp_policy):
    assert services.token_issue(username="gl01", password=PASSWORD, ip=IP)
