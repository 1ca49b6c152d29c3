"""Forms of the case pages. They parse input only: `gridgov.cases.services` validates and writes.

The report form offers the leaf categories grouped by business line; a category's extra fields
come from its `form_schema` and are posted as `extra.<name>`. Each action of the case page has a
small form whose cleaned data become the keyword arguments of `services.case_transition`.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from gridgov.areas.models import Area, Unit
from gridgov.cases.choices import Action, FieldType, Priority
from gridgov.cases.models import Category
from gridgov.core.errors import ApplicationError

EXTRA_PREFIX = "extra."
YES_NO = [("yes", _("Yes")), ("no", _("No"))]
SCORES = [(str(n), str(n)) for n in range(5, 0, -1)]


def add_application_error(form: forms.Form, exc: ApplicationError, *, extra_errors: dict | None = None) -> None:
    """Show a refusal from the services on the form: per field where it names one, else at the top.

    Reasons about `extra.<name>` go to `extra_errors` (the extra fields are not Django fields).
    """
    shown = False
    for name, reasons in exc.fields.items():
        if name.startswith(EXTRA_PREFIX) and extra_errors is not None:
            extra_errors.setdefault(name.removeprefix(EXTRA_PREFIX), []).extend(reasons)
            shown = True
        elif name in form.fields:
            for reason in reasons:
                if reason not in form.errors.get(name, []):
                    form.add_error(name, reason)
            shown = True
    if not shown and exc.message not in form.non_field_errors():
        form.add_error(None, exc.message)


# --- the report form --------------------------------------------------------------------------


def category_choices(categories: QuerySet[Category] | list[Category]) -> list[Any]:
    """Leaf categories as select choices grouped by business line, in the lines' order."""
    groups: dict[Any, list[tuple[str, str]]] = {}
    for category in sorted(categories, key=lambda c: (c.business_line.order, c.business_line.code, c.code)):
        groups.setdefault(category.business_line.name, []).append((category.code, f"{category.code} {category.name}"))
    return [("", "—"), *groups.items()]


class ReportForm(forms.Form):
    """A new case as a grid worker reports it on the spot: what, where, how urgent."""

    category = forms.ChoiceField(label=_("Category"))
    title = forms.CharField(label=_("Title"), max_length=100)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices, initial=Priority.NORMAL)
    address = forms.CharField(label=_("Address"), required=False, max_length=200)
    lat = forms.CharField(
        label=_("Latitude"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    lng = forms.CharField(
        label=_("Longitude"),
        required=False,
        max_length=32,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )

    def __init__(self, *args: Any, categories: list[Category], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.categories = {c.code: c for c in categories}
        self.fields["category"].choices = category_choices(categories)
        self.extra_errors: dict[str, list[str]] = {}

    @property
    def chosen_category(self) -> Category | None:
        """The category the form shows extra fields for: the one posted, else the initial one."""
        code = self.data.get("category") if self.is_bound else self.initial.get("category")
        return self.categories.get(str(code or ""))

    def style_widgets(self) -> None:
        """Full-size Bootstrap inputs (the form is used on phones), marked where a reason was given."""
        for name, field in self.fields.items():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if name in self.errors:
                css += " is-invalid"
            field.widget.attrs["class"] = css

    def extra_values(self) -> dict[str, str]:
        """The posted `extra.<name>` values of the chosen category's fields (others are ignored)."""
        category = self.chosen_category
        if category is None or not self.is_bound:
            return {}
        values = {}
        for field in category.form_schema or []:
            raw = self.data.get(EXTRA_PREFIX + field["name"], "")
            if isinstance(raw, str) and raw.strip() == "":
                continue
            if field.get("type") == FieldType.BOOLEAN:
                raw = {"yes": True, "no": False}.get(raw, raw)
            values[field["name"]] = raw
        return values

    def extra_fields(self) -> list[dict[str, Any]]:
        """The chosen category's extra fields with the posted values and reasons, for the template."""
        category = self.chosen_category
        if category is None:
            return []
        fields = []
        for field in category.form_schema or []:
            name = field["name"]
            fields.append(
                {
                    **field,
                    "input_name": EXTRA_PREFIX + name,
                    "value": self.data.get(EXTRA_PREFIX + name, "") if self.is_bound else "",
                    "errors": self.extra_errors.get(name, []),
                }
            )
        return fields

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of `services.case_report`."""
        data = self.cleaned_data
        return {
            "category": data["category"],
            "title": data["title"],
            "description": data.get("description") or "",
            "priority": data.get("priority") or Priority.NORMAL,
            "address": data.get("address") or "",
            "lat": (data.get("lat") or "").strip() or None,
            "lng": (data.get("lng") or "").strip() or None,
            "extra": self.extra_values(),
        }


# --- the action forms -------------------------------------------------------------------------


def _reason() -> forms.CharField:
    return forms.CharField(label=_("Reason"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2}))


def _note(label: Any = None) -> forms.CharField:
    return forms.CharField(
        label=label or _("Note"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class ActionForm(forms.Form):
    """An action without input of its own: an optional note for the timeline."""

    note = _note()
    takes_files = False

    def __init__(self, *args: Any, case: Any = None, units: list[Unit] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "id_%s")
        super().__init__(*args, **kwargs)
        self.case = case

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of `services.case_transition` (empty values left out,
        so the service names what is missing)."""
        return {k: v for k, v in self.cleaned_data.items() if v not in (None, "", [])}


class ReasonForm(ActionForm):
    """Reject, return, escalate, reopen: a reason for the timeline."""

    note = None
    reason = _reason()


class ResultForm(ActionForm):
    """Resolve and handle on site: what was done, the measures taken and optional photos."""

    note = None
    result = forms.CharField(
        label=_("Result"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    measures = forms.CharField(
        label=_("Measures taken"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )
    takes_files = True


class DispatchForm(ActionForm):
    """Dispatch: the responsible unit, co-handling units and the measures asked for."""

    note = None
    unit = forms.ModelChoiceField(label=_("Responsible unit"), queryset=Unit.objects.none(), required=False)
    co_units = forms.ModelMultipleChoiceField(
        label=_("Co-handling units"),
        queryset=Unit.objects.none(),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 4}),
    )
    measures = forms.CharField(
        label=_("Rectification measures required"),
        required=False,
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: Any, units: list[Unit] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        units = units or []
        ids = [u.pk for u in units]
        queryset = Unit.objects.filter(pk__in=ids)
        # The choices come from the list already read (the suggested kind first), not from a new query.
        choices = [(u.pk, unit_label(u)) for u in units]
        for name in ("unit", "co_units"):
            self.fields[name].queryset = queryset
            self.fields[name].choices = choices if name == "co_units" else [("", "—"), *choices]

    def service_arguments(self) -> dict[str, Any]:
        """The unit, the co-handling units (an empty list clears them) and the measures."""
        data = self.cleaned_data
        arguments: dict[str, Any] = {"co_units": list(data.get("co_units") or [])}
        if data.get("unit") is not None:
            arguments["unit"] = data["unit"]
        if data.get("measures"):
            arguments["measures"] = data["measures"]
        return arguments


class VerifyForm(ActionForm):
    """Verify: solved or not, with a note (required when not solved)."""

    passed = forms.ChoiceField(
        label=_("Is the problem solved?"), choices=YES_NO, required=False, widget=forms.RadioSelect
    )
    note = _note(_("Verification note"))

    def service_arguments(self) -> dict[str, Any]:
        """`passed` as a boolean."""
        arguments = super().service_arguments()
        if "passed" in arguments:
            arguments["passed"] = arguments["passed"] == "yes"
        return arguments


class RateForm(ActionForm):
    """Rate: a satisfaction score from 1 to 5."""

    score = forms.ChoiceField(label=_("Satisfaction"), choices=SCORES, required=False, widget=forms.RadioSelect)


class ExtendRequestForm(ActionForm):
    """Request an extension: how many hours more, and why."""

    note = None
    hours = forms.IntegerField(label=_("Extra hours"), required=False, min_value=1, max_value=24 * 90)
    reason = _reason()


class ExtendApproveForm(ActionForm):
    """Decide an extension request: grant or refuse."""

    approved = forms.ChoiceField(
        label=_("Grant the extension?"), choices=YES_NO, required=False, widget=forms.RadioSelect
    )

    def service_arguments(self) -> dict[str, Any]:
        """`approved` as a boolean."""
        arguments = super().service_arguments()
        if "approved" in arguments:
            arguments["approved"] = arguments["approved"] == "yes"
        return arguments


class MergeForm(ActionForm):
    """Merge into another case, named by its case number."""

    target = forms.CharField(label=_("Merge into case number"), required=False, max_length=32)


class CommentForm(ActionForm):
    """Comment: a note on the timeline."""

    note = forms.CharField(
        label=_("Comment"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )


class AttachForm(ActionForm):
    """Attach photos or files, with an optional note."""

    takes_files = True


ACTION_FORMS: dict[str, type[ActionForm]] = {
    Action.ACCEPT: ActionForm,
    Action.REJECT: ReasonForm,
    Action.HANDLE_ON_SITE: ResultForm,
    Action.DISPATCH: DispatchForm,
    Action.CLAIM: ActionForm,
    Action.RETURN: ReasonForm,
    Action.ESCALATE: ReasonForm,
    Action.RESOLVE: ResultForm,
    Action.VERIFY: VerifyForm,
    Action.REOPEN: ReasonForm,
    Action.RATE: RateForm,
    Action.URGE: ActionForm,
    Action.EXTEND_REQUEST: ExtendRequestForm,
    Action.EXTEND_APPROVE: ExtendApproveForm,
    Action.MERGE: MergeForm,
    Action.COMMENT: CommentForm,
    Action.ATTACH: AttachForm,
}


def unit_label(unit: Unit) -> str:
    """A unit as the dispatch select shows it: name, kind and the area it serves."""
    area = unit.area.name if isinstance(getattr(unit, "area", None), Area) else ""
    return f"{unit.name}（{unit.get_kind_display()}{' · ' + area if area else ''}）"


# --- the figures' form ------------------------------------------------------------------------


class StatsForm(forms.Form):
    """Which area and period the resolution figures cover."""

    area = forms.ChoiceField(label=_("Area"), required=False)
    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def __init__(self, *args: Any, areas: list[Area], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.areas = {str(a.pk): a for a in areas}
        self.fields["area"].choices = [(str(a.pk), ("\u3000" * area_depth(a)) + a.name) for a in areas]

    def chosen_area(self, default: Area | None) -> Area | None:
        """The area asked for (one of the offered areas), else `default`."""
        if self.is_bound and self.is_valid() and self.cleaned_data.get("area"):
            return self.areas.get(self.cleaned_data["area"])
        return default


def area_depth(area: Area) -> int:
    """How deep an area sits below the subdistrict (for indenting the area select)."""
    return {9: 0, 12: 1, 15: 2}.get(len(area.code), 3 if len(area.code) > 15 else 0)
