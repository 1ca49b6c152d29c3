"""Forms of the campaign and visit pages. They parse input only: `gridgov.fieldwork.services` validates and writes.

The campaign form carries the target filter as `filter_<key>` fields (the keys of
`services.campaigns.FILTER_KEYS`); only the chosen checklist's kind is read. The visit form is
built from the open campaign tasks and care checks of one target: its inputs are named like the
service's error fields (`campaigns.<n>.answers.<code>`, `care_checks.<n>.note`), so every reason
lands beside the input it is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.areas.models import Area
from gridgov.cases.models import BusinessLine
from gridgov.core.errors import ApplicationError
from gridgov.fieldwork.choices import AssignTo, CampaignState, ItemType, TargetKind, TargetState
from gridgov.fieldwork.models import CampaignTarget, CareCheck, ChecklistItem, ChecklistTemplate
from gridgov.fieldwork.services.campaigns import FILTER_KEYS
from gridgov.registry.choices import BuildingUse, PlaceKind, SafetyGrade, Structure

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
FILTER_PREFIX = "filter_"


def _area_label(area: Area) -> str:
    return f"{area.name} ({area.get_level_display()})"


def style(form: forms.Form) -> None:
    """Full-size Bootstrap inputs, marked where a reason was given (the forms are used on phones too)."""
    for name, fld in form.fields.items():
        widget = fld.widget
        if isinstance(widget, forms.CheckboxSelectMultiple | forms.RadioSelect):
            continue
        if isinstance(widget, forms.CheckboxInput):
            css = "form-check-input"
        elif isinstance(widget, forms.Select | forms.SelectMultiple):
            css = "form-select"
        else:
            css = "form-control"
        if form.is_bound and name in form.errors:
            css += " is-invalid"
        widget.attrs["class"] = css


# --- campaigns ------------------------------------------------------------------------------------


def _multi(label: Any, choices: Any) -> forms.MultipleChoiceField:
    return forms.MultipleChoiceField(
        label=label, required=False, choices=choices, widget=forms.SelectMultiple(attrs={"size": 4})
    )


class CampaignForm(forms.Form):
    """A new campaign: what, where, which checklist, when, who carries it, and which targets."""

    name = forms.CharField(label=_("Name"), max_length=100)
    business_line = forms.ModelChoiceField(
        label=_("Business line"),
        queryset=BusinessLine.objects.none(),
        required=False,
        help_text=_("Empty: the checklist's business line."),
    )
    area = forms.ModelChoiceField(label=_("Area"), queryset=Area.objects.none())
    checklist = forms.ModelChoiceField(label=_("Checklist"), queryset=ChecklistTemplate.objects.none())
    starts_on = forms.DateField(label=_("Starts on"), widget=DATE)
    ends_on = forms.DateField(label=_("Ends on"), widget=DATE)
    assign_to = forms.ChoiceField(label=_("Carried by"), choices=AssignTo.choices, initial=AssignTo.GRID_WORKER)
    description = forms.CharField(
        label=_("Description"), required=False, max_length=4000, widget=forms.Textarea(attrs={"rows": 2})
    )

    # The target filter, by kind (FILTER_KEYS); `area` narrows any kind to a part of the campaign's area.
    filter_area = forms.ChoiceField(label=_("Only in"), required=False)
    filter_member_tags = forms.MultipleChoiceField(label=_("A member has one of the tags"), required=False)
    filter_member_age_min = forms.IntegerField(label=_("A member is at least (years old)"), required=False)
    filter_building_use = _multi(_("Building use"), BuildingUse.choices)
    filter_use = _multi(_("Use"), BuildingUse.choices)
    filter_structure = _multi(_("Structure"), Structure.choices)
    filter_safety_grade = _multi(_("Safety grade"), [c for c in SafetyGrade.choices if c[0]])
    filter_floors_min = forms.IntegerField(label=_("At least (floors)"), required=False)
    filter_built_before = forms.IntegerField(label=_("Built before (year)"), required=False)
    filter_business_type = forms.CharField(label=_("Business type contains"), required=False, max_length=50)
    filter_kind = _multi(_("Kind of place"), PlaceKind.choices)

    def __init__(
        self,
        *args: Any,
        areas: list[Area],
        filter_areas: list[Area],
        checklists: list[ChecklistTemplate],
        tags: list[Any],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["area"].queryset = Area.objects.filter(pk__in=[a.pk for a in areas]).order_by("code")
        self.fields["area"].label_from_instance = _area_label
        self.fields["checklist"].queryset = ChecklistTemplate.objects.filter(pk__in=[c.pk for c in checklists])
        self.fields["checklist"].label_from_instance = lambda c: f"{c.name} · {c.get_target_kind_display()}"
        self.fields["business_line"].queryset = BusinessLine.objects.filter(active=True)
        self.fields["filter_area"].choices = [("", "—")] + [(a.code, _area_label(a)) for a in filter_areas]
        self.fields["filter_member_tags"].choices = [(t.code, t.name) for t in tags]
        self.fields["filter_member_tags"].widget.attrs["size"] = min(8, max(3, len(tags)))
        self.checklist_kinds = {str(c.pk): c.target_kind for c in checklists}
        self.filter_errors: list[str] = []

    # The filter fields of each kind, for the template (one fieldset per kind, shown for the chosen checklist).
    def filter_sections(self) -> list[dict[str, Any]]:
        chosen = self.chosen_kind()
        return [
            {
                "kind": kind,
                "label": TargetKind(kind).label,
                "fields": [self[FILTER_PREFIX + key] for key in FILTER_KEYS[kind] if key != "area"],
                "chosen": kind == chosen,
            }
            for kind in TargetKind.values
        ]

    def chosen_kind(self) -> str:
        value = self.data.get("checklist") if self.is_bound else self.initial.get("checklist")
        return self.checklist_kinds.get(str(value or ""), "")

    def target_filter(self) -> dict[str, Any]:
        """The cleaned filter of the chosen checklist's kind, empty values left out."""
        kind = self.cleaned_data["checklist"].target_kind
        result: dict[str, Any] = {}
        for key in FILTER_KEYS[kind]:
            value = self.cleaned_data.get(FILTER_PREFIX + key)
            if value in (None, "", []):
                continue
            result[key] = value
        return result

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "area": data["area"],
            "checklist": data["checklist"],
            "starts_on": data["starts_on"],
            "ends_on": data["ends_on"],
            "business_line": data.get("business_line"),
            "assign_to": data["assign_to"],
            "description": data.get("description") or "",
            "target_filter": self.target_filter(),
        }

    def add_service_error(self, exc: ApplicationError) -> None:
        """The service's reasons at the fields: `target_filter.<key>` at the filter field, the rest at the top."""
        for name, reasons in exc.fields.items():
            if name.startswith("target_filter."):
                target = FILTER_PREFIX + name.removeprefix("target_filter.")
                if target in self.fields:
                    for reason in reasons:
                        self.add_error(target, reason)
                    continue
            if name == "target_filter":
                self.filter_errors.extend(reasons)
            elif name in self.fields:
                for reason in reasons:
                    if reason not in self.errors.get(name, []):
                        self.add_error(name, reason)
            elif exc.message not in self.non_field_errors():
                self.add_error(None, exc.message)
        if not exc.fields and exc.message not in self.non_field_errors():
            self.add_error(None, exc.message)


class CampaignFilterForm(forms.Form):
    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("All")), *CampaignState.choices])
    business_line = forms.ModelChoiceField(
        label=_("Business line"),
        required=False,
        queryset=BusinessLine.objects.all(),
        to_field_name="code",
        empty_label=_("All"),
    )


class TargetFilterForm(forms.Form):
    """The targets table of a campaign page: state, grid, person, overdue."""

    state = forms.ChoiceField(label=_("State"), required=False, choices=[("", _("All")), *TargetState.choices])
    grid = forms.ChoiceField(label=_("Grid"), required=False)
    assignee = forms.ChoiceField(label=_("Carried by"), required=False)
    overdue = forms.BooleanField(label=_("Overdue only"), required=False)

    def __init__(self, *args: Any, grids: list[tuple[str, str]], people: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["grid"].choices = [("", _("All")), *grids]
        self.fields["assignee"].choices = [("", _("All")), ("none", _("Not assigned")), *people]


class VisitFilterForm(forms.Form):
    visitor = forms.ChoiceField(label=_("Visitor"), required=False)
    grid = forms.ChoiceField(label=_("Grid"), required=False)
    since = forms.DateField(label=_("From"), required=False, widget=DATE)
    until = forms.DateField(label=_("To"), required=False, widget=DATE)

    def __init__(self, *args: Any, grids: list[tuple[str, str]], people: list[tuple[str, str]], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["grid"].choices = [("", _("All")), *grids]
        self.fields["visitor"].choices = [("", _("All")), *people]


# --- the visit form -------------------------------------------------------------------------------


@dataclass
class ItemInput:
    """One checklist item as the form renders it: its input name, the posted value and its reasons."""

    item: ChecklistItem
    name: str
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def is_yes_no(self) -> bool:
        return self.item.type == ItemType.YES_NO

    @property
    def problem_answer(self) -> str:
        """For yes / no items, which answer is the problem ("yes" or "no"), to mark it on the form."""
        values = self.item.problem_values or []
        if True in values:
            return "yes"
        if False in values:
            return "no"
        return ""


@dataclass
class TaskSection:
    """One open campaign task of the target: its checkbox ("done on this visit") and its items."""

    index: int
    target: CampaignTarget
    items: list[ItemInput]
    included: bool = True
    errors: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"campaigns.{self.index}"


@dataclass
class CheckSection:
    index: int
    check: CareCheck
    included: bool = True
    note: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"care_checks.{self.index}"


class VisitForm(forms.Form):
    """A visit to one target: the open campaign tasks (one section each), the care checks due, a note,
    the device's location and photos."""

    note = forms.CharField(label=_("Notes"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2}))
    lat = forms.CharField(
        label=_("Latitude"), required=False, max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    lng = forms.CharField(
        label=_("Longitude"), required=False, max_length=32, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )

    def __init__(self, *args: Any, tasks: list[CampaignTarget], checks: list[CareCheck], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        data = self.data if self.is_bound else {}
        # A posted form is matched by the ids it carries, not by position: a task done by someone else
        # between showing the form and posting it must not shift the answers onto another task.
        posted_tasks = _posted_ids(data, "campaigns", "target")
        posted_checks = _posted_ids(data, "care_checks", "check")
        task_index = _indices([t.pk for t in tasks], posted_tasks)
        check_index = _indices([c.pk for c in checks], posted_checks)
        self.sections: list[TaskSection] = []
        for target in tasks:
            n = task_index[target.pk]
            prefix = f"campaigns.{n}"
            items = [
                ItemInput(
                    item=item,
                    name=f"{prefix}.answers.{item.code}",
                    value=str(data.get(f"{prefix}.answers.{item.code}", "") or ""),
                )
                for item in target.campaign.checklist.items.all()
            ]
            # Unticked on a posted form means "not on this visit"; a fresh form does every task.
            included = (data.get(f"{prefix}.do") == "1") if self.is_bound else True
            self.sections.append(TaskSection(index=n, target=target, items=items, included=included))
        self.checks: list[CheckSection] = []
        for check in checks:
            n = check_index[check.pk]
            prefix = f"care_checks.{n}"
            included = (data.get(f"{prefix}.do") == "1") if self.is_bound else True
            note = str(data.get(f"{prefix}.note", "") or "") if self.is_bound else ""
            self.checks.append(CheckSection(index=n, check=check, included=included, note=note))
        # Ticked on the form but no longer open: passed on, so the service says what became of them.
        open_tasks, open_checks = {t.pk for t in tasks}, {c.pk for c in checks}
        self.gone_tasks = [
            pk for pk, n in posted_tasks.items() if pk not in open_tasks and data.get(f"campaigns.{n}.do") == "1"
        ]
        self.gone_checks = [
            pk for pk, n in posted_checks.items() if pk not in open_checks and data.get(f"care_checks.{n}.do") == "1"
        ]
        self._campaign_index: list[int | None] = []  # position in the service's list → form section
        self._check_index: list[int | None] = []
        self.top_errors: list[str] = []
        self.photo_errors: list[str] = []

    def campaigns(self) -> list[dict[str, Any]]:
        """The ticked tasks as `visit_record` takes them; answers left empty are left out (the service names them)."""
        out = []
        self._campaign_index = []
        for section in self.sections:
            if not section.included:
                continue
            answers = {i.item.code: i.value for i in section.items if i.value.strip() != ""}
            out.append({"target": section.target.pk, "answers": answers})
            self._campaign_index.append(section.index)
        for pk in self.gone_tasks:
            out.append({"target": pk, "answers": {}})
            self._campaign_index.append(None)
        return out

    def care_checks(self) -> list[dict[str, Any]]:
        out = []
        self._check_index = []
        for section in self.checks:
            if not section.included:
                continue
            out.append({"check": section.check.pk, "note": section.note})
            self._check_index.append(section.index)
        for pk in self.gone_checks:
            out.append({"check": pk, "note": ""})
            self._check_index.append(None)
        return out

    def service_arguments(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "campaigns": self.campaigns(),
            "care_checks": self.care_checks(),
            "note": data.get("note") or "",
            "lat": (data.get("lat") or "").strip() or None,
            "lng": (data.get("lng") or "").strip() or None,
        }

    @property
    def nothing_chosen(self) -> bool:
        return not any(s.included for s in self.sections) and not any(c.included for c in self.checks)

    def add_service_error(self, exc: ApplicationError) -> None:
        """Put each reason beside its input: the service numbers the tasks it was given, the form all of them."""
        items = {i.name: i for s in self.sections for i in s.items}
        sections = {s.index: s for s in self.sections}
        checks = {c.index: c for c in self.checks}
        for name, reasons in exc.fields.items():
            parts = name.split(".")
            placed = False
            if parts[0] in ("campaigns", "care_checks") and len(parts) >= 2 and parts[1].isdigit():
                index_map = self._campaign_index if parts[0] == "campaigns" else self._check_index
                position = int(parts[1])
                index = index_map[position] if position < len(index_map) else None
                if index is not None:
                    local = ".".join([parts[0], str(index), *parts[2:]])
                    if local in items:
                        items[local].errors.extend(reasons)
                    elif parts[0] == "campaigns":
                        sections[index].errors.extend(reasons)
                    else:
                        checks[index].errors.extend(reasons)
                    placed = True
            elif name in self.fields:
                for reason in reasons:
                    self.add_error(name, reason)
                placed = True
            elif name == "photos":
                self.photo_errors.extend(reasons)
                placed = True
            if not placed:
                self.top_errors.extend(reasons)
        if not exc.fields:
            self.top_errors.append(exc.message)


def _posted_ids(data: Any, name: str, key: str) -> dict[int, int]:
    """{id: form index} from the posted `<name>.<n>.<key>` hidden inputs."""
    found: dict[int, int] = {}
    for field_name in data:
        parts = field_name.split(".")
        if len(parts) == 3 and parts[0] == name and parts[2] == key and parts[1].isdigit():
            value = str(data.get(field_name) or "")
            if value.isdigit():
                found.setdefault(int(value), int(parts[1]))
    return found


def _indices(ids: list[int], posted: dict[int, int]) -> dict[int, int]:
    """The form index of each open id: the one it was posted under, else a fresh one."""
    result = {pk: posted[pk] for pk in ids if pk in posted}
    taken = set(posted.values())
    fresh = 0
    for pk in ids:
        if pk in result:
            continue
        while fresh in taken:
            fresh += 1
        result[pk] = fresh
        taken.add(fresh)
    return result
