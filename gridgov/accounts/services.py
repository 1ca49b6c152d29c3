"""Every write about accounts: creating users, signing in with lockout, TOTP, API tokens."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import SecurityPolicy, User
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, PermissionDenied, duplicates_refused, from_validation_error
from gridgov.core.models import AuditResult


class LoginFailed(ApplicationError):
    status = 401


def _invalid_credentials() -> LoginFailed:
    return LoginFailed("invalid_credentials", _("Wrong username or password."))


def _locked(user: User) -> LoginFailed:
    minutes = max(1, int((user.locked_until - timezone.now()).total_seconds() // 60) + 1)
    return LoginFailed(
        "account_locked",
        _("Too many failed logins: this account is locked. Try again in %(minutes)d minutes.") % {"minutes": minutes},
    )


def user_create(
    *,
    actor: User | None,
    username: str,
    password: str = "",
    password_hash: str = "",
    name: str = "",
    phone: str = "",
    is_superuser: bool = False,
    email: str = "",
) -> User:
    """Create a user after checking the password rules.

    `password_hash` (from `make_password` of a password that passed the rules) lets bulk callers
    such as the demo hash once for many accounts.
    """
    user = User(
        username=username, name=name, phone=phone, email=email, is_superuser=is_superuser, is_staff=is_superuser
    )
    errors: dict[str, list[ValidationError]] = {}
    if password_hash:
        user.password = password_hash
    else:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = exc.error_list  # the validators raise a bare list: name the field
        user.set_password(password)
    try:
        user.full_clean()
    except ValidationError as exc:
        errors.update(exc.error_dict)
    if errors:
        raise from_validation_error(ValidationError(errors), code="invalid_user")
    taken = _("A user with that username already exists.")
    with duplicates_refused("invalid_user", taken, field="username"), transaction.atomic():
        user.save()
        audit.record(actor=actor, event="user.create", obj=user, data={"superuser": is_superuser})
    return user


def user_set_password(*, actor: User | None, user: User, password: str) -> None:
    """Change a password after checking the password rules."""
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise from_validation_error(ValidationError({"password": exc.error_list}), code="invalid_password") from exc
    with transaction.atomic():
        user.set_password(password)
        user.save(update_fields=["password"])
        audit.record(actor=actor, event="user.set_password", obj=user)


def password_change(*, user: User, old_password: str, new_password: str) -> None:
    """A user changes their own password: the current one first, then the rules for the new one."""
    if not user.check_password(old_password):
        message = _("The current password is wrong.")
        raise ApplicationError("wrong_password", message, fields={"old_password": [message]})
    if old_password == new_password:
        message = _("The new password must differ from the current one.")
        raise ApplicationError("invalid_password", message, fields={"password": [message]})
    user_set_password(actor=user, user=user, password=new_password)


def _login_refused(*, user: User | None, username: str, ip: str | None, result: str, **data) -> None:
    audit.record(actor=None, event="auth.login", obj=user, result=result, ip=ip, username=username, data=data)


def password_check(*, username: str, password: str, ip: str | None) -> User:
    """Check a username and password, with lockout: the first step of every login.

    Five failures in a row lock the account for fifteen minutes; a locked account is refused even
    with the right password. Every attempt is audited. Raises LoginFailed.
    """
    failure: LoginFailed | None = None
    attempt = {"username": username, "ip": ip}
    with transaction.atomic():
        user = User.objects.select_for_update().filter(username=username).first()
        if user is None or not user.is_active:
            reason = "unknown_user" if user is None else "inactive"
            _login_refused(user=user, result=AuditResult.FAILURE, reason=reason, **attempt)
            failure = _invalid_credentials()
        elif user.is_locked():
            _login_refused(user=user, result=AuditResult.DENIED, reason="locked", **attempt)
            failure = _locked(user)
        elif not user.check_password(password):
            user.failed_logins += 1
            data: dict = {"reason": "wrong_password", "failures": user.failed_logins}
            if user.failed_logins >= settings.GRIDGOV_LOCKOUT_FAILURES:
                user.locked_until = timezone.now() + timedelta(minutes=settings.GRIDGOV_LOCKOUT_MINUTES)
                user.failed_logins = 0
                data["locked_until"] = user.locked_until.isoformat()
            user.save(update_fields=["failed_logins", "locked_until"])
            _login_refused(user=user, result=AuditResult.FAILURE, **data, **attempt)
            if user.is_locked():
                audit.record(
                    actor=None,
                    event="auth.lockout",
                    obj=user,
                    result=AuditResult.DENIED,
                    data={"minutes": settings.GRIDGOV_LOCKOUT_MINUTES},
                    **attempt,
                )
                failure = _locked(user)
            else:
                failure = _invalid_credentials()
        elif user.failed_logins or user.locked_until:
            user.failed_logins = 0
            user.locked_until = None
            user.save(update_fields=["failed_logins", "locked_until"])
    if failure is not None:
        raise failure
    return user


def login_succeeded(*, user: User, ip: str | None, channel: str) -> None:
    """Record a completed login (after the password and, where required, the one-time code)."""
    with transaction.atomic():
        user.last_login = timezone.now()
        user.save(update_fields=["last_login"])
        audit.record(actor=user, event="auth.login", obj=user, ip=ip, data={"channel": channel})


def logout_recorded(*, user: User, ip: str | None) -> None:
    audit.record(actor=user, event="auth.logout", obj=user, ip=ip)


def totp_required(user: User) -> bool:
    """Whether the security policy asks this user for a one-time code at every login."""
    roles = set(SecurityPolicy.load().totp_roles or [])
    if not roles:
        return False
    if user.is_superuser and "superuser" in roles:
        return True
    return user.posts.filter(active=True, role__in=roles).exists()


def totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def totp_enrol_start(*, user: User) -> TOTPDevice:
    """An unconfirmed device whose secret the user scans; reused until confirmed."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="gridgov", confirmed=False)
    return device


def totp_verify(*, user: User, token: str, ip: str | None) -> None:
    """Check a one-time code, confirming the device on first use. Raises LoginFailed."""
    token = (token or "").strip()
    with transaction.atomic():
        device = totp_device(user) or TOTPDevice.objects.filter(user=user, confirmed=False).first()
        if device is None:
            raise LoginFailed("otp_not_enrolled", _("No authenticator app is set up for this account."))
        if not token.isdigit() or not device.verify_token(token):
            audit.record(
                actor=None, event="auth.otp", obj=user, result=AuditResult.FAILURE, ip=ip, username=user.username
            )
            failure = LoginFailed("otp_invalid", _("The one-time code is wrong or has expired."))
        else:
            failure = None
            if not device.confirmed:
                device.confirmed = True
                device.save(update_fields=["confirmed"])
                audit.record(actor=user, event="auth.otp_enrolled", obj=user, ip=ip)
    if failure is not None:
        raise failure


def security_policy_update(*, actor: User, totp_roles: list[str]) -> SecurityPolicy:
    """Set which roles must use TOTP. Only a superuser may."""
    if not actor.is_superuser:
        raise PermissionDenied("forbidden", _("Only the superuser may change the security policy."))
    from gridgov.areas.choices import Role

    allowed = {*Role.values, "superuser"}
    unknown = sorted(set(totp_roles) - allowed)
    if unknown:
        raise ApplicationError(
            "invalid_role",
            _("Unknown role: %(roles)s") % {"roles": ", ".join(unknown)},
            fields={"totp_roles": [_("Unknown role: %(roles)s") % {"roles": ", ".join(unknown)}]},
        )
    with transaction.atomic():
        policy = SecurityPolicy.load()
        before = list(policy.totp_roles)
        policy.totp_roles = sorted(set(totp_roles))
        policy.save()
        audit.record(
            actor=actor, event="security.policy_update", obj=policy, data={"before": before, "after": policy.totp_roles}
        )
    return policy


def token_issue(*, username: str, password: str, otp: str = "", ip: str | None) -> str:
    """The API token of a user who proves their password (and one-time code where required)."""
    user = password_check(username=username, password=password, ip=ip)
    if totp_required(user):
        if totp_device(user) is None:
            raise LoginFailed("otp_not_enrolled", _("Set up an authenticator app on the web page first."))
        if not otp:
            raise LoginFailed(
                "otp_required",
                _("This account needs a one-time code (field 'otp')."),
                fields={"otp": [_("This field is required.")]},
            )
        totp_verify(user=user, token=otp, ip=ip)
    with transaction.atomic():
        token, _created = Token.objects.get_or_create(user=user)
        login_succeeded(user=user, ip=ip, channel="api")
    return token.key
