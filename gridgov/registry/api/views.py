"""/api/v1/residents/, /households/, /buildings/, /shops/, /places/, /tags/.

Reads go through the registry selectors (scoped: a record outside the caller's area is a 404),
writes through the registry services (validation, permission, audit); serializers only parse
the input and render the output. ID and phone numbers are always masked; `POST …/reveal/` gives
the full values to a permitted role, and every call — refused ones too — is audited.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.core.api.views import ScopedReadOnlyViewSet, ServiceWriteMixin, error, write_schema
from gridgov.core.audit import client_ip
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.registry import selectors, services
from gridgov.registry.api.serializers import (
    BuildingInputSerializer,
    BuildingSerializer,
    HouseholdInputSerializer,
    HouseholdSerializer,
    PlaceInputSerializer,
    PlaceSerializer,
    ResidentInputSerializer,
    ResidentSerializer,
    RevealSerializer,
    ShopInputSerializer,
    ShopSerializer,
    TagSerializer,
)
from gridgov.registry.filtersets import (
    BuildingFilterSet,
    HouseholdFilterSet,
    PlaceFilterSet,
    ResidentFilterSet,
    ShopFilterSet,
)
from gridgov.registry.models import Resident, Shop


class RevealMixin:
    """`POST …/{id}/reveal/`: the full ID and phone numbers, for a permitted role, always audited."""

    reveal_model: type[Resident] | type[Shop]

    @extend_schema(
        request=None,
        responses={
            200: RevealSerializer,
            403: error("`forbidden`: the caller's role may not see full values (the refusal is audited)."),
            404: error("`not_found`: no such record in the caller's area (audited too)."),
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def reveal(self, request, pk=None):
        """The full ID and phone numbers of one record. Every call is audited (`privacy.reveal`), refusals too."""
        ip = client_ip(request)
        try:
            obj = self.get_object()
        except NotFound:
            services.reveal_refused_unseen(actor=request.user, model=self.reveal_model, pk=pk, ip=ip)
            raise
        return Response(services.reveal(actor=request.user, obj=obj, ip=ip))


@extend_schema_view(
    **write_schema(
        ResidentInputSerializer,
        ResidentSerializer,
        {409: error("`duplicate_id_number`: `fields.existing_resident` links to the holder.")},
    )
)
class ResidentViewSet(RevealMixin, ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Residents of the caller's area. `q` finds a full ID or phone number exactly, else a name prefix."""

    serializer_class = ResidentSerializer
    input_serializer_class = ResidentInputSerializer
    filterset_class = ResidentFilterSet
    list_selector = selectors.resident_list
    get_selector = selectors.resident_get
    create_service = services.resident_create
    update_service = services.resident_update
    update_kwarg = "resident"
    reveal_model = Resident


def _member_count() -> Coalesce:
    members = (
        Resident.objects.filter(household=OuterRef("pk")).order_by().values("household").annotate(n=Count("id"))
    ).values("n")
    return Coalesce(Subquery(members, output_field=IntegerField()), 0)


@extend_schema_view(**write_schema(HouseholdInputSerializer, HouseholdSerializer))
class HouseholdViewSet(ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Households (户) of the caller's area, with their head and how many members they have."""

    serializer_class = HouseholdSerializer
    input_serializer_class = HouseholdInputSerializer
    filterset_class = HouseholdFilterSet
    list_selector = selectors.household_list
    get_selector = selectors.household_get
    create_service = services.household_create
    update_service = services.household_update
    update_kwarg = "household"

    def get_queryset(self):
        # One correlated count per row of the page, not per household in the scope.
        return super().get_queryset().annotate(member_count=_member_count())

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(request, partial=False)
        if data.pop("head", None) is not None:
            # A new household has no members yet: its head is chosen once residents join it.
            message = _("The head must be a member of the household.")
            raise ApplicationError("invalid_household", message, fields={"head": [message]})
        household = services.household_create(actor=request.user, **data)
        return Response(self.rendered(household), status=status.HTTP_201_CREATED)


@extend_schema_view(**write_schema(BuildingInputSerializer, BuildingSerializer))
class BuildingViewSet(ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Buildings (房屋) of the caller's area, self-built houses included."""

    serializer_class = BuildingSerializer
    input_serializer_class = BuildingInputSerializer
    filterset_class = BuildingFilterSet
    list_selector = selectors.building_list
    get_selector = selectors.building_get
    create_service = services.building_create
    update_service = services.building_update
    update_kwarg = "building"


@extend_schema_view(**write_schema(ShopInputSerializer, ShopSerializer))
class ShopViewSet(RevealMixin, ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Shops (门店) of the caller's area; phone numbers masked, `reveal` as for residents."""

    serializer_class = ShopSerializer
    input_serializer_class = ShopInputSerializer
    filterset_class = ShopFilterSet
    list_selector = selectors.shop_list
    get_selector = selectors.shop_get
    create_service = services.shop_create
    update_service = services.shop_update
    update_kwarg = "shop"
    reveal_model = Shop


@extend_schema_view(**write_schema(PlaceInputSerializer, PlaceSerializer))
class PlaceViewSet(ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Places (点位) of the caller's area: parks, roads, fire lanes, camera points, key sites."""

    serializer_class = PlaceSerializer
    input_serializer_class = PlaceInputSerializer
    filterset_class = PlaceFilterSet
    list_selector = selectors.place_list
    get_selector = selectors.place_get
    create_service = services.place_create
    update_service = services.place_update
    update_kwarg = "place"


class TagViewSet(ScopedReadOnlyViewSet):
    """The tag catalogue (read-only); key-person tags only for users with the permission."""

    serializer_class = TagSerializer
    list_selector = selectors.tag_list
    get_selector = selectors.tag_get
