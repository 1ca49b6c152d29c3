"""One FilterSet per registry model, shared by the list pages, the exports and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from gridgov.areas.choices import Level
from gridgov.core.scope import subtree
from gridgov.registry.choices import BuildingUse, Gender, LivingStatus, PlaceKind, SafetyGrade
from gridgov.registry.models import Building, Household, Place, Resident, Shop
from gridgov.registry.selectors import age_range_q, resident_search_q, tag_list


def _areas(*levels: str):
    """Choices among the areas the requesting user may see (django-filter passes the request)."""

    def queryset(request):
        from gridgov.areas.selectors import area_list

        return area_list(user=getattr(request, "user", None)).filter(level__in=levels).only("id", "code", "name")

    return queryset


def _tags(request):
    return tag_list(user=getattr(request, "user", None))


class PlacedFilterSet(django_filters.FilterSet):
    """Filters every registry list has: the area (any level, its subtree), the grid and the group."""

    area = django_filters.ModelChoiceFilter(
        queryset=_areas(Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID, Level.GROUP),
        method="filter_area",
        label=_("Area"),
    )
    grid = django_filters.ModelChoiceFilter(queryset=_areas(Level.GRID), field_name="grid", label=_("Grid"))
    group = django_filters.ModelChoiceFilter(
        queryset=_areas(Level.GROUP), field_name="group", label=_("Household group")
    )

    @extend_schema_field(OpenApiTypes.INT)
    def filter_area(self, queryset, name, value):
        return queryset.filter(subtree("area_code", value.code)) if value else queryset


class ResidentFilterSet(PlacedFilterSet):
    q = django_filters.CharFilter(
        method="filter_q",
        label=_("Name, full ID number or full phone number"),
        widget=forms.TextInput(attrs={"placeholder": _("Name, full ID or phone number")}),
    )
    # conjoined: one join per tag, each matching a resident once, so no DISTINCT (which would make the
    # count wrap every column over millions of rows).
    tags = django_filters.ModelMultipleChoiceFilter(
        queryset=_tags, field_name="tags", conjoined=True, distinct=False, label=_("Tags")
    )
    living_status = django_filters.ChoiceFilter(choices=LivingStatus.choices, label=_("Living status"))
    gender = django_filters.ChoiceFilter(choices=Gender.choices, label=_("Gender"))
    age_min = django_filters.NumberFilter(method="filter_age", label=_("Age from"), min_value=0, max_value=150)
    age_max = django_filters.NumberFilter(method="filter_age", label=_("Age to"), min_value=0, max_value=150)

    class Meta:
        model = Resident
        fields = ["q", "area", "grid", "group", "tags", "living_status", "gender", "age_min", "age_max"]

    def filter_q(self, queryset, name, value):
        return queryset.filter(resident_search_q(value))

    def filter_age(self, queryset, name, value):
        if value is None:
            return queryset
        bound = {"age_min": int(value)} if name == "age_min" else {"age_max": int(value)}
        return queryset.filter(age_range_q(**bound))


class HouseholdFilterSet(PlacedFilterSet):
    q = django_filters.CharFilter(field_name="address", lookup_expr="icontains", label=_("Address contains"))

    class Meta:
        model = Household
        fields = ["q", "area", "grid", "group"]


class BuildingFilterSet(PlacedFilterSet):
    q = django_filters.CharFilter(field_name="address", lookup_expr="icontains", label=_("Address contains"))
    use = django_filters.ChoiceFilter(choices=BuildingUse.choices, label=_("Use"))
    safety_grade = django_filters.ChoiceFilter(
        choices=[c for c in SafetyGrade.choices if c[0]], label=_("Safety grade")
    )

    class Meta:
        model = Building
        fields = ["q", "area", "grid", "group", "use", "safety_grade"]


class ShopFilterSet(PlacedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))
    business_type = django_filters.CharFilter(lookup_expr="icontains", label=_("Business type"))

    class Meta:
        model = Shop
        fields = ["q", "area", "grid", "group", "business_type"]


class PlaceFilterSet(PlacedFilterSet):
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))
    kind = django_filters.ChoiceFilter(choices=PlaceKind.choices, label=_("Kind"))

    class Meta:
        model = Place
        fields = ["q", "area", "grid", "kind"]
