"""The one FilterSet of the case list, shared by the HTML list, the exports and the API."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.cases.choices import CaseLevel, Priority, Source, State
from gridgov.cases.models import BusinessLine, Case, Category
from gridgov.core.filtersets import AreaFilter
from gridgov.core.scope import subtree

BOOLEAN_WORDS = {
    "true": True,
    "1": True,
    "yes": True,
    "on": True,
    "false": False,
    "0": False,
    "no": False,
    "off": False,
}


class StrictBooleanField(forms.Field):
    """A yes/no filter value: true/false, 1/0, yes/no, on/off; anything else is an error, never ignored."""

    widget = forms.Select(choices=[("", _("All")), ("true", _("Yes")), ("false", _("No"))])

    def to_python(self, value: Any) -> bool | None:
        if value in (None, ""):
            return None
        if isinstance(value, bool):
            return value
        try:
            return BOOLEAN_WORDS[str(value).strip().lower()]
        except KeyError:
            raise ValidationError(_("Enter true or false."), code="invalid") from None

    def validate(self, value: Any) -> None:
        if value is None and self.required:
            raise ValidationError(self.error_messages["required"], code="required")


class StrictBooleanFilter(django_filters.Filter):
    """A yes/no filter that refuses anything but true/false, 1/0, yes/no, on/off."""

    field_class = StrictBooleanField


class MultipleStateField(forms.MultipleChoiceField):
    """States given as repeated parameters (?state=a&state=b) or comma-separated (?state=a,b)."""

    def to_python(self, value: Any) -> list[str]:
        values = super().to_python(value)
        return [part.strip() for item in values for part in item.split(",") if part.strip()]


class MultipleStateFilter(django_filters.MultipleChoiceFilter):
    """Several states, repeated or comma-separated."""

    field_class = MultipleStateField


def _business_lines(request) -> QuerySet[BusinessLine]:
    from gridgov.cases.selectors import business_line_list

    return business_line_list()


def _units(request):
    from gridgov.areas.selectors import unit_list

    return unit_list(user=getattr(request, "user", None)).only("id", "name", "area_id", "kind")


def _categories(request) -> QuerySet[Category]:
    from gridgov.cases.selectors import category_list

    return category_list(user=getattr(request, "user", None))


def _areas(request) -> QuerySet[Area]:
    from gridgov.areas.selectors import area_list

    return (
        area_list(user=getattr(request, "user", None))
        .filter(level__in=[Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID])
        .only("id", "code", "name", "level")
        .order_by("code")
    )


def _local_midnight(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class CaseFilterSet(django_filters.FilterSet):
    """Filters of the case list; invalid values are form errors (a 400 in the API), never silently ignored."""

    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Case number or title"),
        widget=forms.TextInput(attrs={"placeholder": _("Case number or title")}),
    )
    # distinct=False: a state is a column of the row, no join can repeat it (DISTINCT would cost a sort).
    state = MultipleStateFilter(choices=State.choices, distinct=False, label=_("State"))
    level = django_filters.ChoiceFilter(choices=CaseLevel.choices, label=_("Level"))
    category = django_filters.ModelChoiceFilter(
        queryset=_categories, to_field_name="code", method="filter_category", label=_("Category")
    )
    business_line = django_filters.ModelChoiceFilter(
        queryset=_business_lines, to_field_name="code", field_name="business_line", label=_("Business line")
    )
    area = AreaFilter(queryset=_areas, method="filter_area", label=_("Area"))
    overdue = StrictBooleanFilter(field_name="overdue", label=_("Overdue"))
    warned = StrictBooleanFilter(field_name="warned", label=_("Warning"))
    source = django_filters.ChoiceFilter(choices=Source.choices, label=_("Source"))
    priority = django_filters.ChoiceFilter(choices=Priority.choices, label=_("Priority"))
    unit = django_filters.ModelChoiceFilter(queryset=_units, field_name="unit", label=_("Responsible unit"))
    created_after = django_filters.DateFilter(
        method="filter_created",
        label=_("Reported from"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    created_before = django_filters.DateFilter(
        method="filter_created",
        label=_("Reported to"),
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    closed_level = django_filters.ChoiceFilter(choices=CaseLevel.choices, label=_("Level at closure"))

    class Meta:
        model = Case
        fields = [
            "q",
            "state",
            "level",
            "category",
            "business_line",
            "area",
            "overdue",
            "warned",
            "source",
            "priority",
            "unit",
            "created_after",
            "created_before",
            "closed_level",
        ]

    def filter_q(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        """Cases whose number or title contains the text (a number's start uses the index)."""
        text = value.strip()
        if not text:
            return queryset
        if text.isdigit() and len(text) >= 15:
            # A case number (area code + date + sequence) or its start: a range on the unique index,
            # which serves it in any collation (LIKE would not).
            return queryset.filter(subtree("code", text))
        return queryset.filter(Q(code__icontains=text) | Q(title__icontains=text))

    @extend_schema_field(OpenApiTypes.STR)
    def filter_category(self, queryset: QuerySet[Case], name: str, value: Category | None) -> QuerySet[Case]:
        """Cases of a minor category, or of every minor under a major one."""
        if value is None:
            return queryset
        if value.is_major:
            # A subquery on the indexed category column, not a join to the category table.
            return queryset.filter(category_id__in=Category.objects.filter(parent=value).values("pk"))
        return queryset.filter(category_id=value.pk)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_area(self, queryset: QuerySet[Case], name: str, value: Area | None) -> QuerySet[Case]:
        """Cases lying in the area's subtree."""
        return queryset.filter(subtree("area_code", value.code)) if value is not None else queryset

    def filter_created(self, queryset: QuerySet[Case], name: str, value: Any) -> QuerySet[Case]:
        """Cases reported on or after / on or before a local day."""
        # Whole local days, inclusive at both ends; a range on created_at keeps the index usable.
        if value is None:
            return queryset
        if name == "created_after":
            return queryset.filter(created_at__gte=_local_midnight(value))
        return queryset.filter(created_at__lt=_local_midnight(value + timedelta(days=1)))
