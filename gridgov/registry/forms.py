"""Forms of the registry pages. They parse input only: the services validate and write.

Choices are scoped: a user is offered the grids whose registry they keep, and the household
groups and households of the chosen grid (the lists follow the grid, with HTMX or on re-render).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.areas.selectors import area_list
from gridgov.core.errors import ApplicationError
from gridgov.core.scope import subtree
from gridgov.registry import selectors
from gridgov.registry.choices import Gender, LivingStatus, Relation
from gridgov.registry.models import Household, Resident, Tag
from gridgov.registry.services import WRITE_ROLES


def write_codes(user: Any) -> tuple[str, ...] | None:
    """Codes of the areas whose registry `user` keeps; None means everywhere (superusers)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return ()
    if user.is_superuser:
        return None
    cached = getattr(user, "_gridgov_registry_write_codes", None)
    if cached is None:
        cached = tuple(
            sorted(
                set(
                    user.posts.filter(active=True, role__in=WRITE_ROLES, area__isnull=False).values_list(
                        "area__code", flat=True
                    )
                )
            )
        )
        user._gridgov_registry_write_codes = cached
    return cached


def writable_grids(user: Any) -> QuerySet[Area]:
    """The grids in `user`'s scope whose registry they keep."""
    grids = area_list(user=user).filter(level=Level.GRID).only("id", "code", "name", "level", "parent_id")
    codes = write_codes(user)
    if codes is None:
        return grids
    q = Q(pk__in=[])
    for code in codes:
        q |= subtree("code", code)
    return grids.filter(q)


class ResidentForm(forms.Form):
    """A resident's fields. On edit, ID and phone numbers left empty keep their value."""

    name = forms.CharField(label=pgettext_lazy("person", "Name"), max_length=50)
    gender = forms.ChoiceField(
        label=_("Gender"),
        required=False,
        choices=[("", _("From the ID number"))] + list(Gender.choices),
    )
    birth_date = forms.DateField(
        label=_("Birth date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=_("Taken from the ID number when left empty."),
    )
    id_number = forms.CharField(
        label=_("ID number"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "text", "spellcheck": "false"}),
    )
    phone = forms.CharField(
        label=_("Phone"),
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "tel"}),
    )
    grid = forms.ModelChoiceField(label=_("Grid"), queryset=Area.objects.none())
    group = forms.ModelChoiceField(
        label=_("Household group"), queryset=Area.objects.none(), required=False, empty_label="—"
    )
    household = forms.ModelChoiceField(
        label=_("Household"), queryset=Household.objects.none(), required=False, empty_label="—"
    )
    relation = forms.ChoiceField(
        label=_("Relation to head"), required=False, choices=[("", "—")] + list(Relation.choices)
    )
    address = forms.CharField(label=_("Address"), max_length=200, required=False)
    tags = forms.ModelMultipleChoiceField(
        label=_("Tags"),
        queryset=Tag.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple(attrs={"class": "form-check-input"}),
    )
    living_status = forms.ChoiceField(label=_("Living status"), choices=LivingStatus.choices)
    notes = forms.CharField(label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(
        self,
        *args: Any,
        user: Any,
        resident: Resident | None = None,
        default_grid: Area | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.resident = resident
        grids = writable_grids(user)
        self.fields["grid"].queryset = grids
        self.fields["tags"].queryset = selectors.tag_list(user=user)
        grid = self._chosen_grid(grids, default_grid)
        self.chosen_grid = grid
        if grid is not None and not self.is_bound:
            self.initial["grid"] = grid.pk
        if grid is not None:
            self.fields["group"].queryset = (
                area_list(user=user).filter(level=Level.GROUP, parent_id=grid.pk).only("id", "code", "name")
            )
            self.fields["household"].queryset = (
                selectors.household_list(user=user)
                .filter(grid_id=grid.pk)
                .select_related(None)
                .only("id", "address", "room", "number", "grid", "group")
                .order_by("address", "room", "id")
            )
        else:
            self.fields["household"].help_text = _("Choose a grid first: the list shows its households.")
        if resident is not None:
            for name, value in (("id_number", resident.id_number), ("phone", resident.phone)):
                if value:
                    self.fields[name].widget.attrs["placeholder"] = str(value)
                    self.fields[name].help_text = _("Leave empty to keep the current number.")
        if self._only_grid is not None:
            # One grid to choose from: choose it.
            self.fields["grid"].empty_label = None

    def _chosen_grid(self, grids: QuerySet[Area], default: Area | None) -> Area | None:
        """The grid whose groups and households are offered: the one posted, else the form's start value."""
        only = list(grids[:2])
        self._only_grid = only[0] if len(only) == 1 else None
        key = self.add_prefix("grid")
        raw = self.data.get(key) if self.is_bound else self.initial.get("grid")
        if isinstance(raw, Area):
            raw = raw.pk
        if raw not in (None, ""):
            try:
                return grids.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                return None
        if default is not None and default.level == Level.GRID and grids.filter(pk=default.pk).exists():
            return default
        return self._only_grid

    @classmethod
    def initial_for(cls, resident: Resident) -> dict[str, Any]:
        """The form's start values for editing `resident` (ID and phone stay empty: empty keeps)."""
        return {
            "name": resident.name,
            "gender": resident.gender,
            "birth_date": resident.birth_date,
            "grid": resident.grid_id,
            "group": resident.group_id,
            "household": resident.household_id,
            "relation": resident.relation,
            "address": resident.address,
            "tags": [t.pk for t in resident.tags.all()],
            "living_status": resident.living_status,
            "notes": resident.notes,
        }

    def service_arguments(self) -> dict[str, Any]:
        """The cleaned data as keyword arguments of resident_create / resident_update."""
        data = dict(self.cleaned_data)
        household = data.get("household")
        group = data.get("group")
        if group is None and household is not None and household.grid_id == data["grid"].pk:
            group = household.group
        arguments = {
            "grid": data["grid"],
            "group": group,
            "household": household,
            "tags": list(data.get("tags") or []),
            "name": data["name"],
            "gender": data.get("gender") or "",
            "birth_date": data.get("birth_date"),
            "relation": data.get("relation") or "",
            "address": data.get("address") or "",
            "notes": data.get("notes") or "",
            "living_status": data.get("living_status") or LivingStatus.RESIDENT,
        }
        for name in ("id_number", "phone"):
            value = (data.get(name) or "").strip()
            # On edit an empty box keeps the stored number (services keep a value passed as None).
            arguments[name] = value if value or self.resident is None else None
        if self.resident is not None and arguments["birth_date"] is None:
            # An emptied birth date is taken from the ID number (the new one, or the stored one);
            # without any ID number the stored date stays.
            has_id = bool(arguments["id_number"]) or bool(self.resident.id_number)
            arguments["birth_date"] = "" if has_id else None
        return arguments

    def add_application_error(self, exc: ApplicationError) -> str | None:
        """Show a refusal from the services on the form. Returns the link to an already registered
        resident when the ID number was a duplicate."""
        existing = None
        shown = False
        for name, reasons in exc.fields.items():
            if name == "existing_resident":
                existing = reasons[0] if reasons else None
                continue
            target = name if name in self.fields else None
            for reason in reasons:
                if target is not None and reason in self.errors.get(target, []):
                    continue
                self.add_error(target, reason)
                shown = shown or target is not None
        if not shown and exc.message not in self.non_field_errors():
            self.add_error(None, exc.message)
        return existing
