"""One FilterSet per model, shared by the pages and the API."""

from __future__ import annotations

import django_filters
from django.utils.translation import gettext_lazy as _

from gridgov.areas.choices import Level, UnitKind
from gridgov.areas.models import Area, PartyBranch, Unit


class AreaFilterSet(django_filters.FilterSet):
    level = django_filters.ChoiceFilter(choices=Level.choices, label=_("level"))
    parent = django_filters.NumberFilter(field_name="parent_id", label=_("parent"))
    code = django_filters.CharFilter(field_name="code", lookup_expr="startswith", label=_("code (prefix)"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("name contains"))

    class Meta:
        model = Area
        fields = ["level", "parent", "code", "q", "mode"]


class UnitFilterSet(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=UnitKind.choices, label=_("kind"))
    area = django_filters.NumberFilter(field_name="area_id", label=_("area served"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("name contains"))

    class Meta:
        model = Unit
        fields = ["kind", "area", "q", "active"]


class PartyBranchFilterSet(django_filters.FilterSet):
    grid = django_filters.NumberFilter(field_name="grids", label=_("grid"))
    q = django_filters.CharFilter(field_name="name", lookup_expr="icontains", label=_("name contains"))

    class Meta:
        model = PartyBranch
        fields = ["grid", "q"]
