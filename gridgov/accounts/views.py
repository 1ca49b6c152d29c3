"""Login (password, then a one-time code where the policy asks), logout, the security policy page."""

from __future__ import annotations

import base64
import io
import time

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import user_passes_test
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from gridgov.accounts import services
from gridgov.accounts.forms import LoginForm, OtpForm, PasswordChangeForm, SecurityPolicyForm
from gridgov.accounts.models import SecurityPolicy, User
from gridgov.core.audit import client_ip
from gridgov.core.errors import ApplicationError

PENDING_KEY = "gridgov_pending_login"
PENDING_SECONDS = 300
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next_url(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _complete_login(request: HttpRequest, user: User, next_url: str) -> HttpResponse:
    request.session.pop(PENDING_KEY, None)
    login(request, user, backend=BACKEND)
    services.login_succeeded(user=user, ip=client_ip(request), channel="web")
    return redirect(next_url)


@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect(_next_url(request))
    form = LoginForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_check(
                username=form.cleaned_data["username"], password=form.cleaned_data["password"], ip=client_ip(request)
            )
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if services.totp_required(user):
                request.session[PENDING_KEY] = {"user": user.pk, "at": time.time(), "next": _next_url(request)}
                return redirect("accounts:otp")
            return _complete_login(request, user, _next_url(request))
    return render(request, "accounts/login.html", {"form": form, "next": _next_url(request)})


def _qr_svg(uri: str) -> str:
    image = qrcode.make(uri, image_factory=qrcode.image.svg.SvgPathImage, box_size=8)
    buffer = io.BytesIO()
    image.save(buffer)
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue()).decode()


@never_cache
def otp_view(request: HttpRequest) -> HttpResponse:
    """Second step: the one-time code, with enrolment the first time."""
    pending = request.session.get(PENDING_KEY)
    if not pending or time.time() - pending["at"] > PENDING_SECONDS:
        request.session.pop(PENDING_KEY, None)
        messages.error(request, _("The sign-in took too long; enter your password again."))
        return redirect("accounts:login")
    user = User.objects.filter(pk=pending["user"], is_active=True).first()
    if user is None:
        request.session.pop(PENDING_KEY, None)
        return redirect("accounts:login")
    device = services.totp_device(user)
    enrol = None
    if device is None:
        unconfirmed = services.totp_enrol_start(user=user)
        enrol = {
            "uri": unconfirmed.config_url,
            "qr": _qr_svg(unconfirmed.config_url),
            "secret": base64.b32encode(unconfirmed.bin_key).decode(),
        }
    form = OtpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.totp_verify(user=user, token=form.cleaned_data["token"], ip=client_ip(request))
        except ApplicationError as exc:
            form.add_error("token", exc.message)
        else:
            return _complete_login(request, user, pending.get("next") or "/")
    return render(request, "accounts/otp.html", {"form": form, "enrol": enrol, "pending_user": user})


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        services.logout_recorded(user=request.user, ip=client_ip(request))
    logout(request)
    messages.info(request, _("You have signed out."))
    return redirect("accounts:login")


@user_passes_test(lambda u: u.is_superuser)
def security_policy(request: HttpRequest) -> HttpResponse:
    policy = SecurityPolicy.load()
    form = SecurityPolicyForm(request.POST or None, initial={"totp_roles": policy.totp_roles})
    if request.method == "POST" and form.is_valid():
        try:
            services.security_policy_update(actor=request.user, totp_roles=form.cleaned_data["totp_roles"])
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("The security policy has been saved."))
            return redirect("accounts:security_policy")
    return render(request, "accounts/security_policy.html", {"form": form})


def password_change(request: HttpRequest) -> HttpResponse:
    """A signed-in user changes their own password; the session stays signed in."""
    form = PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.password_change(
                user=request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["password"],
            )
        except ApplicationError as exc:
            for field, reasons in exc.fields.items():
                for reason in reasons:
                    form.add_error(field if field in form.fields else None, reason)
            if not exc.fields:
                form.add_error(None, exc.message)
        else:
            update_session_auth_hash(request, request.user)
            messages.success(request, _("Your password has been changed."))
            return redirect("home")
    return render(request, "accounts/password_change.html", {"form": form})
