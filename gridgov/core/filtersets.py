"""Filters every app shares: the audit trail's, and an area of the caller's scope by code or id."""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from django_filters.fields import ModelChoiceField
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from gridgov.core.models import AuditEvent, AuditResult


class AuditEventFilterSet(django_filters.FilterSet):
    actor = django_filters.CharFilter(field_name="actor_username", lookup_expr="icontains", label=_("Actor"))
    event_type = django_filters.CharFilter(lookup_expr="startswith", label=_("Event type"))
    object_type = django_filters.CharFilter(lookup_expr="exact", label=_("Object type"))
    result = django_filters.ChoiceFilter(choices=AuditResult.choices, label=_("Result"))
    ip = django_filters.CharFilter(lookup_expr="exact", label=_("IP address"))
    since = django_filters.DateFilter(
        field_name="time", lookup_expr="date__gte", label=_("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    until = django_filters.DateFilter(
        field_name="time", lookup_expr="date__lte", label=_("To"), widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = AuditEvent
        fields = ["actor", "event_type", "object_type", "result", "ip", "since", "until"]


class AreaField(ModelChoiceField):
    """An area the user may see, given by its code or its id (a code is tried first)."""

    def to_python(self, value: Any) -> Any:
        if value in self.empty_values:
            return None
        if hasattr(value, "code") and not isinstance(value, str):
            return value
        text = str(value).strip()
        if not text.isdigit():
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        match = Q(code=text) | Q(pk=int(text)) if len(text) < 19 else Q(code=text)
        found = sorted(self.queryset.filter(match), key=lambda area: area.code != text)
        if not found:
            raise ValidationError(self.error_messages["invalid_choice"], code="invalid_choice")
        return found[0]


class AreaFilter(django_filters.ModelChoiceFilter):
    """An area of the caller's scope by id or code."""

    field_class = AreaField


def visible_areas(request):
    """Areas the caller may see (the choices of an area filter)."""
    from gridgov.areas.selectors import area_list

    return area_list(user=getattr(request, "user", None)).only("id", "code", "name", "level")


@extend_schema_field(OpenApiTypes.STR)
class AreaSubtreeFilter(AreaFilter):
    """Rows whose area code (`field_name`) lies in the subtree of an area the caller may see."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("queryset", visible_areas)
        kwargs.setdefault("label", _("Area"))
        super().__init__(*args, **kwargs)

    def filter(self, qs, value):
        from gridgov.core.scope import subtree

        return qs.filter(subtree(self.field_name, value.code)) if value else qs
