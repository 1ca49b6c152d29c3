"""/api/v1/visits/: what a visit can do at a target (`context/`), recording one, and reading them back.

A visit is posted as JSON, or as multipart with `campaigns` and `care_checks` as JSON text beside
the `photos` files (a photo item's answer is the file name of one of them).
"""

from __future__ import annotations

import json
from typing import Any

import django_filters
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from gridgov.core.api.views import ScopedReadOnlyViewSet, error
from gridgov.core.errors import ApplicationError
from gridgov.core.filtersets import AreaSubtreeFilter
from gridgov.fieldwork.api.campaigns import ChecklistItemSerializer, FindingSerializer
from gridgov.fieldwork.choices import TargetKind
from gridgov.fieldwork.models import Visit
from gridgov.fieldwork.selectors import campaigns as campaign_selectors
from gridgov.fieldwork.selectors import visits as selectors
from gridgov.fieldwork.services import visits as services


class VisitSerializer(serializers.ModelSerializer):
    target_id = serializers.IntegerField(read_only=True)
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    group = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    visitor = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    targets_done = serializers.SerializerMethodField()
    care_checks = serializers.SerializerMethodField()
    findings = FindingSerializer(many=True, read_only=True)
    photos = serializers.SerializerMethodField()

    class Meta:
        model = Visit
        fields = [
            "id",
            "kind",
            "target_id",
            "label",
            "address",
            "grid",
            "group",
            "area_code",
            "visitor",
            "visitor_name",
            "visited_at",
            "lat",
            "lng",
            "note",
            "patrol",
            "targets_done",
            "care_checks",
            "findings",
            "photos",
        ]
        read_only_fields = fields

    def get_targets_done(self, visit: Visit) -> list[dict[str, Any]]:
        return [
            {"id": t.pk, "campaign": t.campaign_id, "campaign_name": t.campaign.name, "answers": t.answers}
            for t in visit.targets_done.all()
        ]

    def get_care_checks(self, visit: Visit) -> list[dict[str, Any]]:
        return [
            {"id": c.pk, "plan": c.plan_id, "resident": c.resident_id, "note": c.note} for c in visit.care_checks.all()
        ]

    def get_photos(self, visit: Visit) -> list[dict[str, Any]]:
        from django.urls import reverse

        return [
            {"id": p.pk, "name": p.name, "url": reverse("fieldwork:photo", args=[p.pk])} for p in visit.photos.all()
        ]


class VisitInputSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=TargetKind.choices)
    target_id = serializers.IntegerField()
    campaigns = serializers.JSONField(
        required=False, help_text='[{"target": campaign target id, "answers": {item code: answer}}]'
    )
    care_checks = serializers.JSONField(required=False, help_text='[{"check": care check id, "note": "..."}]')
    lat = serializers.FloatField(required=False, allow_null=True)
    lng = serializers.FloatField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_blank=True, default="")
    visited_at = serializers.DateTimeField(required=False, allow_null=True)
    photos = serializers.ListField(child=serializers.FileField(), required=False)


def _json_list(value: Any, name: str) -> Any:
    """Multipart sends the lists as JSON text."""
    if isinstance(value, str):
        try:
            return json.loads(value) if value.strip() else []
        except ValueError:
            message = _("Give valid JSON.")
            raise ApplicationError("invalid", message, fields={name: [message]}) from None
    return value


class VisitFilterSet(django_filters.FilterSet):
    area = AreaSubtreeFilter(field_name="area_code")
    visitor = django_filters.CharFilter(field_name="visitor__username")
    visited_after = django_filters.IsoDateTimeFilter(field_name="visited_at", lookup_expr="gte")
    visited_before = django_filters.IsoDateTimeFilter(field_name="visited_at", lookup_expr="lt")

    class Meta:
        model = Visit
        fields = ["kind", "household", "building", "shop", "place", "patrol", "visitor"]


TARGET_PARAMS = [
    OpenApiParameter("kind", str, enum=TargetKind.values, required=True),
    OpenApiParameter("id", int, required=True, description="The household, building, shop or place id."),
]


@extend_schema_view(
    create=extend_schema(
        request={"application/json": VisitInputSerializer, "multipart/form-data": VisitInputSerializer},
        responses={
            201: VisitSerializer,
            400: error("`invalid_visit`: every answer that does not fit its checklist, in `fields`."),
            403: error("`outside_grid`: the target is not in the caller's grid."),
            409: error("`target_done`: someone completed a task a moment before."),
        },
    ),
    context=extend_schema(
        parameters=TARGET_PARAMS,
        responses={
            200: inline_serializer(
                "VisitContext",
                {
                    "kind": serializers.CharField(),
                    "target_id": serializers.IntegerField(),
                    "label": serializers.CharField(),
                    "tasks": serializers.ListField(child=serializers.DictField()),
                    "care_checks": serializers.ListField(child=serializers.DictField()),
                },
            ),
            403: error("`outside_grid`."),
        },
    ),
)
class VisitViewSet(ScopedReadOnlyViewSet):
    """Visits in the caller's area; `POST` records one, doing every task listed in it at once."""

    list_selector = selectors.visit_list
    get_selector = selectors.visit_get
    serializer_class = VisitSerializer
    filterset_class = VisitFilterSet
    parser_classes = [JSONParser, MultiPartParser]

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .prefetch_related("targets_done__campaign", "care_checks", "findings__item", "findings__case", "photos")
        )

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = VisitInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        photos = values.pop("photos", None) or request.FILES.getlist("photos")
        values["campaigns"] = _json_list(values.get("campaigns"), "campaigns")
        values["care_checks"] = _json_list(values.get("care_checks"), "care_checks")
        visit = services.visit_record(actor=request.user, photos=photos, **values)
        fresh = self.get_queryset().get(pk=visit.pk)
        body = VisitSerializer(fresh, context=self.get_serializer_context()).data
        stamp = serializers.DateTimeField().to_representation
        body["cases_opened"] = [
            {
                "id": case.pk,
                "code": case.code,
                "grid": case.area_code,
                "category": case.category.code,
                "due_at": stamp(case.due_at) if case.due_at else None,
                "rectify_by": stamp(case.rectify_by) if case.rectify_by else None,
            }
            for case in visit.opened_cases
        ]
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=False, methods=["get"])
    def context(self, request) -> Response:
        """Everything a visit to this target can do now: open campaign tasks with their items, care checks due."""
        target = services.find_target(
            actor=request.user, kind=request.query_params.get("kind"), target_id=request.query_params.get("id")
        )
        from gridgov.fieldwork.selectors.care import care_checks_for_residents

        tasks = campaign_selectors.open_targets(user=request.user, kind=target.kind, target_id=target.obj.pk)
        checks = (
            care_checks_for_residents(user=request.user, resident_ids=target.resident_ids, on=timezone.localdate())
            if target.resident_ids
            else []
        )
        return Response(
            {
                "kind": target.kind,
                "target_id": target.obj.pk,
                "label": target.label,
                "tasks": [
                    {
                        "target": t.pk,
                        "campaign": t.campaign_id,
                        "campaign_name": t.campaign.name,
                        "due_on": t.due_on,
                        "checklist": t.campaign.checklist.code,
                        "items": ChecklistItemSerializer(t.campaign.checklist.items.all(), many=True).data,
                    }
                    for t in tasks
                ],
                "care_checks": [
                    {
                        "check": c.pk,
                        "plan": c.plan_id,
                        "resident": c.resident_id,
                        "resident_name": c.resident.name,
                        "method": c.method,
                        "due_on": c.due_on,
                        "state": c.state,
                    }
                    for c in checks
                ],
            }
        )


ROUTES = [("visits", VisitViewSet, "visit")]
