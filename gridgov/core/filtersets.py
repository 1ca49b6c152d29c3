from __future__ import annotations

import django_filters
from django import forms
from django.utils.translation import gettext_lazy as _

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
