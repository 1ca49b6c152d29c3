from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.areas.choices import Role


class LoginForm(forms.Form):
    username = forms.CharField(
        label=_("Username"),
        max_length=150,
        widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )
    password = forms.CharField(
        label=_("Password"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"})
    )


class OtpForm(forms.Form):
    token = forms.CharField(
        label=_("One-time code"),
        max_length=10,
        widget=forms.TextInput(attrs={"autofocus": True, "inputmode": "numeric", "autocomplete": "one-time-code"}),
    )


class SecurityPolicyForm(forms.Form):
    totp_roles = forms.MultipleChoiceField(
        label=_("Roles that must confirm each login with a one-time code (TOTP)"),
        choices=[("superuser", _("Superuser")), *Role.choices],
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
