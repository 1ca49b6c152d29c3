"""One FilterSet per model, shared by the pages and the API."""

from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

from gridgov.areas.choices import Level, UnitKind
from gridgov.areas.models import Area, PartyBranch, Unit


def _visible_areas(*levels: str):
    """Choices limited to the areas the requesting user may see (django-filter passes the request)."""

    def queryset(request):
        from gridgov.areas.selectors import area_list

        user = getattr(request, "user", None)
        return area_list(user=user).filter(level__in=levels).only("id", "code", "name", "level")

    return queryset


class AreaFilterSet(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("Level"))
    parent = django_filters.NumberFilter(field_name="parent_id", label=_("Parent"))
    code = django_filters.CharFilter(field_name="code", lookup_expr="startswith", label=_("Code (prefix)"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))

    class Meta:
        model = Area
        fields = ["level", "parent", "code", "q", "mode"]


ACTIVE_CHOICES = [("", _("All")), ("true", _("Active")), ("false", _("Inactive"))]


class UnitFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=UnitKind.choices, label=_("Kind"))
    area = django_filters.ModelChoiceFilter(
        field_name="area",
        queryset=_visible_areas(Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID),
        label=_("Area served"),
    )
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))

    active = django_filters.BooleanFilter(label=_("Status"), widget=forms.Select(choices=ACTIVE_CHOICES))

    class Meta:
        model = Unit
        fields = ["kind", "area", "q", "active"]


class PartyBranchFilterSet(django_filters.FilterSet):
    grid = django_filters.ModelChoiceFilter(field_name="grids", queryset=_visible_areas(Level.GRID), label=_("Grid"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("Name contains"))

    class Meta:
        model = PartyBranch
        fields = ["grid", "q"]
