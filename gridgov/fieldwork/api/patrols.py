"""/api/v1/patrols/: the patrols of the caller's area; start, track batches, end, the track as GeoJSON.

Reads go through `fieldwork.selectors.patrols` (a patrol outside the caller's area is a 404),
writes through `fieldwork.services.patrols`; every refusal is an ApplicationError rendered as
{code, message, fields}. Start, detail and end answer with the same patrol body (with its summary).
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.core.api.views import ScopedReadOnlyViewSet, error
from gridgov.core.errors import ApplicationError
from gridgov.fieldwork.filtersets_patrols import PatrolFilterSet
from gridgov.fieldwork.models import Patrol
from gridgov.fieldwork.selectors import patrols as selectors
from gridgov.fieldwork.services import patrols as services

# --- serializers ----------------------------------------------------------------------------------


class PatrolUserSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True, source="display_name")


class PatrolAreaSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class PatrolSerializer(serializers.ModelSerializer):
    """One patrol: who, where, when, how far (loaded with the row: no query per row)."""

    worker = PatrolUserSerializer(read_only=True)
    grid = PatrolAreaSerializer(read_only=True)
    duration_s = serializers.SerializerMethodField()
    distance_m = serializers.SerializerMethodField()

    class Meta:
        model = Patrol
        fields = [
            "id",
            "worker",
            "grid",
            "area_code",
            "state",
            "started_at",
            "ended_at",
            "duration_s",
            "distance_m",
            "point_count",
            "flagged_count",
            "note",
        ]
        read_only_fields = fields

    def get_duration_s(self, patrol: Patrol) -> int:
        """Seconds from start to end, or to now while under way."""
        return round(selectors.duration_seconds(patrol, self.context.get("now")))

    def get_distance_m(self, patrol: Patrol) -> float:
        return round(patrol.distance_m, 1)


class PatrolVisitRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    visited_at = serializers.DateTimeField(read_only=True)


class PatrolCaseRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class PatrolDetailSerializer(PatrolSerializer):
    """The patrol with its summary: counted points, the visits and cases made on the way, the track's URL."""

    counted_count = serializers.IntegerField(read_only=True)
    visits = PatrolVisitRefSerializer(many=True, read_only=True)
    cases = PatrolCaseRefSerializer(many=True, read_only=True)
    track_url = serializers.CharField(read_only=True)

    class Meta(PatrolSerializer.Meta):
        fields = [*PatrolSerializer.Meta.fields, "counted_count", "visits", "cases", "track_url"]
        read_only_fields = fields


def render_detail(patrol: Patrol, user: Any, context: dict[str, Any]) -> dict[str, Any]:
    """The patrol body every endpoint of one patrol answers with."""
    now = timezone.now()
    summary = selectors.patrol_summary(user=user, patrol=patrol, now=now)
    data = PatrolSerializer(patrol, context={**context, "now": now}).data
    data.update(
        counted_count=summary.counted_count,
        visits=PatrolVisitRefSerializer(summary.visits, many=True).data,
        cases=PatrolCaseRefSerializer(summary.cases, many=True).data,
        track_url=reverse("api:patrol-track", args=[patrol.pk]),
    )
    return data


class PatrolStartSerializer(serializers.Serializer):
    grid = serializers.CharField(
        required=False, allow_blank=True, help_text="The grid's id or code; needed only with posts in several grids."
    )


class PointSerializer(serializers.Serializer):
    """One track point (documentation only: the service checks the batch whole)."""

    t = serializers.CharField(help_text="ISO 8601 with a time zone, or epoch milliseconds (a number).")
    lat = serializers.FloatField()
    lng = serializers.FloatField()
    accuracy = serializers.FloatField(required=False, help_text="Metres.")


class PointsSerializer(serializers.Serializer):
    points = PointSerializer(many=True)


class PatrolEndSerializer(serializers.Serializer):
    points = PointSerializer(many=True, required=False, help_text="An optional last batch.")
    note = serializers.CharField(required=False, allow_blank=True)


POINTS_RESULT = inline_serializer(
    "PatrolPointsResult",
    {
        "accepted": serializers.IntegerField(help_text="Points counted in the distance."),
        "flagged": inline_serializer(
            "PatrolFlaggedPoint",
            {"index": serializers.IntegerField(), "flag": serializers.ChoiceField(["out_of_order", "too_fast"])},
            many=True,
        ),
        "duplicates": serializers.IntegerField(help_text="Points already stored, skipped."),
        "distance_m": serializers.FloatField(),
        "point_count": serializers.IntegerField(),
        "flagged_count": serializers.IntegerField(),
    },
)
POINT_ERRORS = {
    400: error(
        "`invalid_points` (fields `points.<index>.<field>`: nothing was saved), `batch_too_large` "
        "(more than GRIDGOV_PATROL_BATCH_MAX points) or `invalid`."
    ),
    403: error("`forbidden`: only the patrol's worker adds points or ends it."),
    404: error("`not_found`: no such patrol in the caller's area."),
    409: error("`patrol_ended`: the patrol has ended."),
}


def _body(request) -> dict[str, Any]:
    """The JSON object of the request, or a 400."""
    data = request.data
    if not isinstance(data, dict):
        message = _("Send a JSON object.")
        raise ApplicationError("invalid", message, fields={"non_field_errors": [message]})
    return data


# --- the viewset ----------------------------------------------------------------------------------


@extend_schema_view(
    list=extend_schema(
        responses={200: PatrolSerializer(many=True), 400: error("`invalid`: a filter value (fields say which).")}
    ),
    retrieve=extend_schema(
        responses={200: PatrolDetailSerializer, 404: error("`not_found`: no such patrol in the caller's area.")}
    ),
)
class PatrolViewSet(ScopedReadOnlyViewSet):
    """Patrols (格中走) of the caller's area."""

    serializer_class = PatrolSerializer
    filterset_class = PatrolFilterSet
    list_selector = selectors.patrol_list
    get_selector = selectors.patrol_get
    lookup_value_regex = r"\d+"

    def get_serializer_context(self) -> dict[str, Any]:
        # One "now" for a whole page, so the durations of patrols under way agree with each other.
        return {**super().get_serializer_context(), "now": timezone.now()}

    def retrieve(self, request, *args: Any, **kwargs: Any) -> Response:
        """One patrol with distance, duration, counts, and the visits and cases made on it."""
        patrol = self.get_object()
        return Response(render_detail(patrol, request.user, self.get_serializer_context()))

    @extend_schema(
        request=PatrolStartSerializer,
        responses={
            201: PatrolDetailSerializer,
            400: error("`grid_required`: the caller works in several grids; `invalid_grid`."),
            403: error("`forbidden`: the caller patrols no grid, or not this one."),
            404: error("`not_found`: no such grid in the caller's area."),
            409: error("`patrol_active`: the caller has a patrol under way (`fields.patrol` is its id)."),
        },
    )
    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        """Start a patrol of the caller's grid."""
        data = _body(request)
        grid = data.get("grid")
        patrol = services.patrol_start(actor=request.user, grid=None if grid in (None, "") else grid)
        fresh = selectors.patrol_get(user=request.user, pk=patrol.pk)
        body = render_detail(fresh, request.user, self.get_serializer_context())
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=PointsSerializer, responses={200: POINTS_RESULT, **POINT_ERRORS})
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def points(self, request, pk=None) -> Response:
        """Add a batch of track points (kept in the order received; implausible ones flagged)."""
        patrol = self.get_object()
        data = _body(request)
        if "points" not in data:
            message = _("This field is required.")
            raise ApplicationError("invalid", message, fields={"points": [message]})
        result = services.patrol_add_points(actor=request.user, patrol=patrol, points=data["points"])
        return Response(result.as_dict())

    @extend_schema(request=PatrolEndSerializer, responses={200: PatrolDetailSerializer, **POINT_ERRORS})
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def end(self, request, pk=None) -> Response:
        """End the patrol, after an optional last batch of points."""
        patrol = self.get_object()
        data = _body(request)
        note = data.get("note") or ""
        if not isinstance(note, str):
            message = _("Enter a text.")
            raise ApplicationError("invalid", message, fields={"note": [message]})
        patrol = services.patrol_end(actor=request.user, patrol=patrol, points=data.get("points") or [], note=note)
        fresh = selectors.patrol_get(user=request.user, pk=patrol.pk)
        return Response(render_detail(fresh, request.user, self.get_serializer_context()))

    @extend_schema(
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT,
                description="A GeoJSON FeatureCollection: a LineString (`kind` track) of the counted points, "
                "`start` and `end` (or `last`) Points, and each flagged point (`kind` flagged, `flag`).",
            ),
            404: error("`not_found`: no such patrol in the caller's area."),
        }
    )
    @action(detail=True, methods=["get"], filterset_class=None, pagination_class=None)
    def track(self, request, pk=None) -> Response:
        """The patrol's track as GeoJSON (WGS 84, lng/lat)."""
        patrol = self.get_object()
        return Response(selectors.patrol_track(patrol=patrol))


ROUTES = [("patrols", PatrolViewSet, "patrol")]  # (prefix, viewset, basename)
