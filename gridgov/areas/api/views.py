"""/api/v1/areas/, /units/, /party-branches/: scoped and filtered reads, and the area mode switch."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.areas import selectors, services
from gridgov.areas.api.serializers import AreaSerializer, PartyBranchSerializer, UnitSerializer
from gridgov.areas.choices import Mode
from gridgov.areas.filtersets import AreaFilterSet, PartyBranchFilterSet, UnitFilterSet
from gridgov.core.api.views import ScopedReadOnlyViewSet


class ModeSerializer(serializers.Serializer):
    mode = serializers.ChoiceField(choices=Mode.choices)


class AreaViewSet(ScopedReadOnlyViewSet):
    """Areas of the caller's scope: subdistrict, communities, grids and household groups."""

    serializer_class = AreaSerializer
    filterset_class = AreaFilterSet
    list_selector = selectors.area_list
    get_selector = selectors.area_get

    @extend_schema(request=ModeSerializer, responses={200: AreaSerializer})
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def mode(self, request, pk=None):
        """Switch the area and its subtree to `normal` or `emergency` mode (centre and leaders, admins)."""
        area = self.get_object()
        data = ModeSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.area_set_mode(actor=request.user, area=area, mode=data.validated_data["mode"])
        return Response(AreaSerializer(area).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("lat", OpenApiTypes.DOUBLE, required=True, description="latitude, WGS 84"),
            OpenApiParameter("lng", OpenApiTypes.DOUBLE, required=True, description="longitude, WGS 84"),
        ],
        responses={200: AreaSerializer},
    )
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def locate(self, request):
        """The grid that contains the point; 404 `outside_grids` when no grid does."""
        area = selectors.area_locate(
            user=request.user, lat=request.query_params.get("lat"), lng=request.query_params.get("lng")
        )
        return Response(AreaSerializer(area).data)


class UnitViewSet(ScopedReadOnlyViewSet):
    """Responsible units serving the caller's area."""

    serializer_class = UnitSerializer
    filterset_class = UnitFilterSet
    list_selector = selectors.unit_list
    get_selector = selectors.unit_get


class PartyBranchViewSet(ScopedReadOnlyViewSet):
    """Party branches built on the caller's grids."""

    serializer_class = PartyBranchSerializer
    filterset_class = PartyBranchFilterSet
    list_selector = selectors.party_branch_list
    get_selector = selectors.party_branch_get
