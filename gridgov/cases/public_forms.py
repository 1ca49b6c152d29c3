"""Forms of the resident pages (居民下单): report a problem, follow it with a code, rate the result.

The forms only parse and pre-check input so that a mistake is shown beside its field; the services
(`case_report`, `case_transition`) decide. A category's extra fields are rendered for every resident
category at once (named `x_<code>_<name>`), and only the chosen category's are sent to the service:
the page works without JavaScript, and with it the fields of other categories are hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.cases.attachments import CheckedUpload, check_upload
from gridgov.cases.choices import FieldType
from gridgov.cases.models import Category
from gridgov.core.errors import ApplicationError
from gridgov.core.validators import validate_phone

MAX_PHOTOS = 3
TRACKING_CODE_LENGTH = 16
# Service error fields → the form field that shows them.
SERVICE_FIELDS = {"files": "photos", "lat": "location", "lng": "location", "grid": "location"}


class MultipleImageInput(forms.FileInput):
    """A file input that lets a phone pick several photos (or take one with the camera)."""

    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Up to MAX_PHOTOS uploads, each checked from its content to be a photo (JPEG, PNG, WebP)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[CheckedUpload]:
        uploads = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if len(uploads) > MAX_PHOTOS:
            raise ValidationError(_("At most %(n)d photos.") % {"n": MAX_PHOTOS}, code="too_many_photos")
        checked = []
        for upload in uploads:
            super().clean(upload, initial)
            try:
                item = check_upload(upload)
            except ApplicationError as exc:
                raise ValidationError(exc.message, code=exc.code) from None
            if not item.content_type.startswith("image/"):
                raise ValidationError(
                    _("%(name)s is not a photo (JPEG, PNG, WebP).") % {"name": item.name}, code="not_a_photo"
                )
            checked.append(item)
        return checked


class StyledForm(forms.Form):
    """Bootstrap classes on every widget (full-size: these pages are used on phones), and
    `is-invalid` on the fields that have errors."""

    def style_widgets(self) -> None:
        for field in self.fields.values():
            widget = field.widget
            if isinstance(widget, forms.HiddenInput | forms.RadioSelect | forms.CheckboxInput):
                continue
            css = "form-select" if isinstance(widget, forms.Select) else "form-control"
            widget.attrs["class"] = f"{css} {widget.attrs.get('class', '')}".strip()

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name in self._errors or {}:
            if name in self.fields and "is-invalid" not in self.fields[name].widget.attrs.get("class", ""):
                widget = self.fields[name].widget
                widget.attrs["class"] = f"{widget.attrs.get('class', '')} is-invalid".strip()


@dataclass
class ExtraGroup:
    """The extra fields of one category, as bound fields of the report form."""

    category: Category
    fields: list[Any]


def _extra_field(spec: dict[str, Any]) -> forms.Field:
    """A form field for one entry of a category's schema; the service types and checks the value."""
    label = spec.get("label") or spec["name"]
    kind = spec.get("type", FieldType.TEXT)
    attrs: dict[str, Any] = {}
    widget: forms.Widget
    if kind in (FieldType.NUMBER, FieldType.INTEGER):
        attrs = {"step": "1" if kind == FieldType.INTEGER else "any", "inputmode": "decimal"}
        widget = forms.NumberInput(attrs=attrs)
    elif kind == FieldType.BOOLEAN:
        widget = forms.Select(choices=[("", "—"), ("true", _("Yes")), ("false", _("No"))])
    elif kind == FieldType.CHOICE:
        widget = forms.Select(choices=[("", "—"), *[(c, c) for c in spec.get("choices") or []]])
    elif kind == FieldType.DATE:
        widget = forms.DateInput(attrs={"type": "date"})
    else:
        widget = forms.TextInput(attrs={"maxlength": spec.get("max_length") or 200})
    field = forms.CharField(label=label, required=False, widget=widget, max_length=200)
    field.schema_required = bool(spec.get("required"))
    return field


class ReportForm(StyledForm):
    """What a resident reports: the kind of problem, what and where it is, photos, who to call back."""

    category = forms.ChoiceField(label=gettext_lazy("Kind of problem"))
    title = forms.CharField(
        label=gettext_lazy("Title"),
        max_length=100,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("In a few words, e.g. a pothole by the gate")}),
    )
    description = forms.CharField(
        label=gettext_lazy("Description"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": gettext_lazy("What did you see, since when?")}),
    )
    address = forms.CharField(
        label=gettext_lazy("Address"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": gettext_lazy("Street, building, landmark")}),
    )
    lat = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    lng = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)
    photos = MultipleImageField(
        label=gettext_lazy("Photos"),
        required=False,
        help_text=gettext_lazy("Up to 3 photos (JPEG, PNG, WebP)."),
    )
    reporter_name = forms.CharField(label=gettext_lazy("Your name"), required=False, max_length=50)
    reporter_phone = forms.CharField(
        label=gettext_lazy("Your phone"),
        required=False,
        max_length=20,
        help_text=gettext_lazy("Optional. Only the staff handling your report see it."),
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
    )
    # A honeypot: hidden from people, filled in by robots that fill in every box.
    website = forms.CharField(
        label=gettext_lazy("Leave this empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {c.code: c for c in categories}
        grouped = [
            (line.name, [(c.code, c.name) for c in items])
            for line, items in groupby(
                sorted(categories, key=lambda c: (c.business_line.order, c.business_line.code, c.code)),
                key=lambda c: c.business_line,
            )
        ]
        self.fields["category"].choices = [("", _("Choose the kind of problem")), *grouped]
        self.extra_names: dict[str, list[tuple[str, str]]] = {}
        for category in categories:
            names = []
            for spec in category.form_schema or []:
                if not isinstance(spec, dict) or not spec.get("name"):
                    continue
                field_name = f"x_{category.code}_{spec['name']}"
                self.fields[field_name] = _extra_field(spec)
                names.append((field_name, spec["name"]))
            if names:
                self.extra_names[category.code] = names
        self.style_widgets()

    @property
    def is_robot(self) -> bool:
        """The honeypot was filled in."""
        return bool((self.data.get("website") or "").strip())

    def extra_groups(self) -> list[ExtraGroup]:
        """Per category with extra fields, its bound fields (the template shows the chosen one's)."""
        return [
            ExtraGroup(category=self.categories[code], fields=[self[field_name] for field_name, _name in names])
            for code, names in self.extra_names.items()
        ]

    def clean_reporter_phone(self) -> str:
        value = (self.cleaned_data.get("reporter_phone") or "").strip()
        return validate_phone(value) if value else ""

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.is_robot:
            raise ValidationError(_("Your report could not be accepted."), code="honeypot")
        code = data.get("category")
        for field_name, _name in self.extra_names.get(code or "", []):
            field = self.fields[field_name]
            if field.schema_required and not (data.get(field_name) or "").strip():
                self.add_error(field_name, _("This field is required."))
        return data

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of `services.case_report` (files included)."""
        data = self.cleaned_data
        code = data["category"]
        extra = {name: data[field_name] for field_name, name in self.extra_names.get(code, []) if data.get(field_name)}
        return {
            "category": code,
            "title": data["title"],
            "description": data.get("description") or "",
            "address": data.get("address") or "",
            "lat": data.get("lat"),
            "lng": data.get("lng"),
            "extra": extra,
            "reporter_name": data.get("reporter_name") or "",
            "reporter_phone": data.get("reporter_phone") or "",
            "files": data.get("photos") or [],
        }

    def add_application_error(self, exc: ApplicationError) -> None:
        """Show a refusal from the services beside the field it names (or above the form)."""
        code = self.data.get("category") or ""
        shown = False
        for name, reasons in exc.fields.items():
            if name.startswith("extra."):
                target = f"x_{code}_{name.removeprefix('extra.')}"
            else:
                target = SERVICE_FIELDS.get(name, name)
            if target == "location":
                self.location_errors = [*getattr(self, "location_errors", []), *reasons]
                shown = True
                continue
            if target not in self.fields:
                continue
            for reason in reasons:
                if reason not in self.errors.get(target, []):
                    self.add_error(target, reason)
            shown = True
        if not shown:
            self.add_error(None, exc.message)

    @property
    def location_error_list(self) -> list[str]:
        """Reasons about the location (from the lat/lng fields or the service)."""
        reasons = list(getattr(self, "location_errors", []))
        if self.is_bound and hasattr(self, "cleaned_data"):
            for name in ("lat", "lng"):
                reasons.extend(str(e) for e in self.errors.get(name, []))
        return list(dict.fromkeys(reasons))


class TrackForm(StyledForm):
    """The tracking code a resident was given."""

    code = forms.CharField(
        label=gettext_lazy("Tracking code"),
        max_length=TRACKING_CODE_LENGTH,
        widget=forms.TextInput(
            attrs={
                "autocapitalize": "characters",
                "autocomplete": "off",
                "spellcheck": "false",
                "class": "text-uppercase",
            }
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style_widgets()

    def clean_code(self) -> str:
        return "".join(self.cleaned_data["code"].split()).upper()


class RateForm(StyledForm):
    """A resident's satisfaction with the result: 1 to 5 stars and a note."""

    score = forms.TypedChoiceField(
        label=gettext_lazy("Your rating"),
        choices=[(str(n), str(n)) for n in range(5, 0, -1)],
        coerce=int,
        widget=forms.RadioSelect,
    )
    note = forms.CharField(
        label=gettext_lazy("Comment"),
        required=False,
        max_length=200,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": gettext_lazy("Optional")}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.style_widgets()
