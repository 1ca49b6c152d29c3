"""Forms of the notification settings page. They only parse input: the services validate and write."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.core.errors import ApplicationError
from gridgov.notifications.choices import WeComMessageType
from gridgov.notifications.services import HTTP_URL_MAX, SECRET_MAX, wecom_url_prefix


class AddressForm(forms.Form):
    """The user's own addresses. The secret and the robot URL are write-only: blank keeps what is stored."""

    http_url = forms.CharField(
        label=_("HTTP endpoint"),
        required=False,
        strip=True,
        help_text=_("Each notification is POSTed to this address as JSON."),
        widget=forms.URLInput(
            attrs={"class": "form-control", "placeholder": "https://", "maxlength": HTTP_URL_MAX, "inputmode": "url"}
        ),
    )
    http_secret = forms.CharField(
        label=_("Signing secret"),
        required=False,
        strip=True,
        help_text=_("Optional. With a secret, every POST carries X-Gridgov-Signature: sha256=<HMAC of the body>."),
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"class": "form-control", "autocomplete": "new-password", "maxlength": SECRET_MAX},
        ),
    )
    clear_http_secret = forms.BooleanField(
        label=_("Remove the secret"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    wecom_url = forms.CharField(
        label=_("WeCom robot webhook URL"),
        required=False,
        strip=True,
        widget=forms.TextInput(attrs={"class": "form-control", "autocomplete": "off", "spellcheck": "false"}),
    )
    remove_wecom = forms.BooleanField(
        label=_("Remove the robot"),
        required=False,
        widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
    )
    wecom_msgtype = forms.ChoiceField(
        label=_("WeCom message type"),
        choices=WeComMessageType.choices,
        help_text=_("Markdown messages are not shown in WeChat; choose plain text if members read the group there."),
        widget=forms.Select(attrs={"class": "form-select"}),
    )

    HTTP_FIELDS = ("http_url", "http_secret", "clear_http_secret")
    WECOM_FIELDS = ("wecom_url", "remove_wecom", "wecom_msgtype")

    def __init__(
        self, *args: Any, has_wecom: bool = False, http: bool = True, wecom: bool = True, **kwargs: Any
    ) -> None:
        """`http`, `wecom`: whether the site runs that channel; the fields of one it does not run are left out
        (and what the user stored for it is kept)."""
        super().__init__(*args, **kwargs)
        for name in (() if http else self.HTTP_FIELDS) + (() if wecom else self.WECOM_FIELDS):
            del self.fields[name]
        if wecom:
            prefix = wecom_url_prefix()
            field = self.fields["wecom_url"]
            field.widget.attrs["placeholder"] = f"{prefix}?key=…"
            field.help_text = (
                _("The robot's URL holds its key: it is stored encrypted and shown masked. Leave blank to keep it.")
                if has_wecom
                else _("In the WeCom group: ··· → Group robots → Add, then copy the webhook address.")
            )

    def service_arguments(self) -> dict[str, Any]:
        """None for what the form does not change: the service keeps it."""
        data = self.cleaned_data
        arguments: dict[str, Any] = {}
        if "http_url" in self.fields:
            arguments["http_url"] = data["http_url"]
            arguments["http_secret"] = "" if data["clear_http_secret"] else (data["http_secret"] or None)
        if "wecom_url" in self.fields:
            arguments["wecom_url"] = "" if data["remove_wecom"] else (data["wecom_url"] or None)
            arguments["wecom_msgtype"] = data["wecom_msgtype"]
        return arguments

    def add_service_error(self, exc: ApplicationError) -> None:
        """Each reason of the service beside its input; the others at the top."""
        for name, reasons in exc.fields.items():
            for reason in reasons:
                self.add_error(name if name in self.fields else None, reason)
        if not exc.fields:
            self.add_error(None, exc.message)
