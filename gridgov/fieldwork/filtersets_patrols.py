"""The one FilterSet of the patrol list, shared by the page and the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from gridgov.areas.models import Area
from gridgov.cases.filtersets import AreaFilter, _local_midnight
from gridgov.core.scope import subtree
from gridgov.fieldwork.choices import PatrolState
from gridgov.fieldwork.models import Patrol


def _areas(request) -> QuerySet[Area]:
    """Areas of the caller's scope down to household groups (a group leader's patrols are filed there)."""
    from gridgov.areas.selectors import area_list

    return area_list(user=getattr(request, "user", None)).only("id", "code", "name", "level").order_by("code")


class PatrolFilterSet(django_filters.FilterSet):
    """Filters of the patrol list; invalid values are form errors (a 400 in the API), never ignored."""

    worker = django_filters.CharFilter(method="filter_worker", label=_("Worker (id or user name)"))
    area = AreaFilter(queryset=_areas, method="filter_area", label=_("Grid or area"))
    state = django_filters.ChoiceFilter(choices=PatrolState.choices, label=_("State"))
    started_after = django_filters.DateFilter(
        method="filter_started", label=_("Started from"), widget=forms.DateInput(attrs={"type": "date"})
    )
    started_before = django_filters.DateFilter(
        method="filter_started", label=_("Started to"), widget=forms.DateInput(attrs={"type": "date"})
    )

    class Meta:
        model = Patrol
        fields = ["worker", "area", "state", "started_after", "started_before"]

    def filter_worker(self, queryset: QuerySet[Patrol], name: str, value: str) -> QuerySet[Patrol]:
        """Patrols of one worker, named by user id or user name."""
        text = value.strip()
        if not text:
            return queryset
        if text.isdigit():
            return queryset.filter(Q(worker_id=int(text)) | Q(worker__username=text))
        return queryset.filter(worker__username=text)

    @extend_schema_field(OpenApiTypes.STR)
    def filter_area(self, queryset: QuerySet[Patrol], name: str, value: Area | None) -> QuerySet[Patrol]:
        """Patrols filed in the area's subtree (a grid: its own and its household groups')."""
        return queryset.filter(subtree("area_code", value.code)) if value is not None else queryset

    def filter_started(self, queryset: QuerySet[Patrol], name: str, value: Any) -> QuerySet[Patrol]:
        """Patrols started on or after / on or before a local day (whole days, inclusive)."""
        if value is None:
            return queryset
        if name == "started_after":
            return queryset.filter(started_at__gte=_local_midnight(value))
        return queryset.filter(started_at__lt=_local_midnight(value + timedelta(days=1)))
