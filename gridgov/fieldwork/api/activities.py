"""/api/v1/activities/ and /api/v1/activities/stats/.

Reads go through `fieldwork.selectors.activities` (scoped), writes through
`fieldwork.services.activities`. POST and PATCH take JSON, or multipart with `photos` files;
photos are served by the scoped page views `fieldwork:photo` and `fieldwork:photo_thumb`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from gridgov.areas.selectors import area_by_code_or_id
from gridgov.core.api.views import ScopedReadOnlyViewSet, error
from gridgov.fieldwork.api.care import (
    AreaSubtreeFilterSet,
    CareAreaRefSerializer,
    CareResidentRefSerializer,
    CareUserRefSerializer,
)
from gridgov.fieldwork.choices import ActivityKind
from gridgov.fieldwork.models import Activity, FieldPhoto
from gridgov.fieldwork.selectors import activities as selectors
from gridgov.fieldwork.services import activities as services
from gridgov.registry.api.serializers import ResidentField


class ActivityFilterSet(AreaSubtreeFilterSet):
    kind = django_filters.ChoiceFilter(choices=ActivityKind.choices, label=_("Kind"))
    held_after = django_filters.DateFilter(field_name="held_on", lookup_expr="gte", label=_("From"))
    held_before = django_filters.DateFilter(field_name="held_on", lookup_expr="lte", label=_("To"))
    q = django_filters.CharFilter(field_name="title", lookup_expr="icontains", label=_("Title contains"))

    class Meta:
        model = Activity
        fields = ["q", "kind", "area", "grid", "held_after", "held_before"]


class PhotoSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = FieldPhoto
        fields = ["id", "name", "content_type", "size", "url", "thumbnail_url"]
        read_only_fields = fields

    def get_url(self, photo: FieldPhoto) -> str:
        return reverse("fieldwork:photo", args=[photo.pk])

    def get_thumbnail_url(self, photo: FieldPhoto) -> str:
        return reverse("fieldwork:photo_thumb", args=[photo.pk])


class ActivitySerializer(serializers.ModelSerializer):
    area = CareAreaRefSerializer(read_only=True)
    participant_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Activity
        fields = [
            "id",
            "title",
            "kind",
            "organiser",
            "area",
            "area_code",
            "held_on",
            "place",
            "description",
            "households_reached",
            "participant_count",
            "created_at",
        ]
        read_only_fields = fields


class ActivityDetailSerializer(ActivitySerializer):
    participants = CareResidentRefSerializer(many=True, read_only=True)
    photos = PhotoSerializer(many=True, read_only=True)
    created_by = CareUserRefSerializer(read_only=True, allow_null=True)

    class Meta(ActivitySerializer.Meta):
        fields = [*ActivitySerializer.Meta.fields, "participants", "photos", "created_by"]
        read_only_fields = fields


@extend_schema_field(OpenApiTypes.INT)
class ActivityAreaField(serializers.PrimaryKeyRelatedField):
    """A community, grid or household group by id, among the areas the caller sees."""

    def get_queryset(self):
        from gridgov.areas.selectors import area_list

        request = self.context.get("request")
        return area_list(user=getattr(request, "user", None))


class ActivityInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=100)
    kind = serializers.ChoiceField(choices=ActivityKind.choices)
    organiser = serializers.CharField(max_length=100)
    area = ActivityAreaField(help_text="A community, grid or household group in the caller's area.")
    held_on = serializers.DateField(help_text="Not in the future.")
    place = serializers.CharField(required=False, allow_blank=True, max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, max_length=4000)
    households_reached = serializers.IntegerField(required=False, min_value=0)
    participants = ResidentField(
        many=True, required=False, help_text="Residents tagged 志愿者 (volunteer); the list replaces the old one."
    )
    photos = serializers.ListField(
        child=serializers.FileField(), required=False, help_text="Multipart only: photos (JPEG, PNG, WebP)."
    )


class ActivityStatsRowSerializer(serializers.Serializer):
    area = CareAreaRefSerializer(allow_null=True)
    activities = serializers.IntegerField()
    households_reached = serializers.IntegerField()
    participations = serializers.IntegerField(help_text="Volunteer participations (one volunteer at one activity).")


class ActivityStatsSerializer(ActivityStatsRowSerializer):
    start = serializers.DateField()
    end = serializers.DateField()
    area_itself = ActivityStatsRowSerializer(help_text="Activities held for the area as a whole, not in one child.")
    children = ActivityStatsRowSerializer(many=True)


AREA = OpenApiParameter("area", OpenApiTypes.STR, description="An area id or code; default the caller's top area.")
START = OpenApiParameter("start", OpenApiTypes.DATE, description="First day (inclusive); default 1 January.")
END = OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (inclusive); default today.")
WRITE_ERRORS = {
    400: error("`invalid`, `invalid_area`, `not_volunteer` (fields.participants names them), `unsupported_file`."),
    403: error("`forbidden`: the caller's role may not record activities here."),
    404: error("`not_found`"),
}


@extend_schema_view(
    retrieve=extend_schema(responses={200: ActivityDetailSerializer, 404: error("`not_found`")}),
    create=extend_schema(
        request={"application/json": ActivityInputSerializer, "multipart/form-data": ActivityInputSerializer},
        responses={201: ActivityDetailSerializer, **WRITE_ERRORS},
    ),
    partial_update=extend_schema(
        request={"application/json": ActivityInputSerializer, "multipart/form-data": ActivityInputSerializer},
        responses={200: ActivityDetailSerializer, **WRITE_ERRORS},
    ),
    destroy=extend_schema(responses={204: None, 403: error("`forbidden`"), 404: error("`not_found`")}),
)
class ActivityViewSet(ScopedReadOnlyViewSet):
    """Volunteer and publicity activities (志愿宣传活动) of the caller's area."""

    serializer_class = ActivitySerializer
    filterset_class = ActivityFilterSet
    list_selector = selectors.activity_list
    get_selector = selectors.activity_get
    parser_classes = [JSONParser, MultiPartParser, FormParser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        action_name = getattr(self, "action", None)
        if action_name in ("create", "partial_update"):
            return ActivityInputSerializer
        if action_name == "retrieve":
            return ActivityDetailSerializer
        return super().get_serializer_class()

    def _parse(self, request, *, partial: bool) -> dict[str, Any]:
        data = ActivityInputSerializer(data=request.data, partial=partial, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        values.pop("photos", None)
        return values

    def _body(self, activity: Activity) -> dict[str, Any]:
        fresh = selectors.activity_get(user=self.request.user, pk=activity.pk)
        return ActivityDetailSerializer(fresh, context=self.get_serializer_context()).data

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        values = self._parse(request, partial=False)
        activity = services.activity_create(actor=request.user, photos=request.FILES.getlist("photos"), **values)
        return Response(self._body(activity), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        activity = self.get_object()
        values = self._parse(request, partial=True)
        activity = services.activity_update(
            actor=request.user, activity=activity, photos=request.FILES.getlist("photos"), **values
        )
        return Response(self._body(activity))

    def destroy(self, request, *args: Any, **kwargs: Any) -> Response:
        services.activity_delete(actor=request.user, activity=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        parameters=[AREA, START, END],
        responses={
            200: ActivityStatsSerializer,
            400: error("`invalid`: a date is malformed, or the end is before the start."),
            404: error("`not_found`: the area is outside the caller's scope."),
        },
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def stats(self, request) -> Response:
        """Activities, households reached and volunteer participations of `area` and of each of its children."""
        area = area_by_code_or_id(user=request.user, value=request.query_params.get("area", ""))
        figures = selectors.activity_stats(
            user=request.user,
            area=area,
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
        )
        return Response(figures.as_dict())


ROUTES: list = [("activities", ActivityViewSet, "activity")]
