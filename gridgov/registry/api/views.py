"""/api/v1/residents/, /households/, /buildings/, /shops/, /places/, /tags/.

Reads go through the registry selectors (scoped: a record outside the caller's area is a 404),
writes through the registry services (validation, permission, audit); serializers only parse
the input and render the output. ID and phone numbers are always masked; `POST …/reveal/` gives
the full values to a permitted role, and every call — refused ones too — is audited.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view, inline_serializer
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.core.api.views import ScopedReadOnlyViewSet
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

WRITE_ACTIONS = frozenset({"create", "update", "partial_update"})

ERROR = inline_serializer(
    "ApiError",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR, description=description)


def write_schema(
    input_serializer: type[serializers.Serializer],
    output_serializer: type[serializers.Serializer],
    more_errors: dict[int, OpenApiResponse] | None = None,
):
    """OpenAPI for the write endpoints of a viewset: the input body, the rendered record, the errors."""
    errors = {
        400: error("`invalid` (fields say why) or the service's own code, such as `invalid_area`."),
        403: error("`forbidden`: the caller's role may not change this area's registry."),
        404: error("`not_found`: no such record in the caller's area."),
        **(more_errors or {}),
    }
    return {
        "create": extend_schema(request=input_serializer, responses={201: output_serializer, **errors}),
        "update": extend_schema(request=input_serializer, responses={200: output_serializer, **errors}),
        "partial_update": extend_schema(request=input_serializer, responses={200: output_serializer, **errors}),
    }


class ServiceWriteMixin:
    """create (POST), update (PUT) and partial_update (PATCH) through the app's services.

    The input serializer parses and looks up; the service validates, checks the permission,
    writes and audits, raising ApplicationError (rendered as {code, message, fields}) on refusal.
    The answer is the record read back through the selector, rendered by the read serializer.
    PUT needs the required fields; fields left out keep their value under both PUT and PATCH.
    """

    input_serializer_class: type[serializers.Serializer]
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    update_kwarg: str  # the keyword under which the update service takes the record

    def get_serializer_class(self):
        # The browsable API's forms and the schema use the input serializer for writes.
        if getattr(self, "action", None) in WRITE_ACTIONS:
            return self.input_serializer_class
        return super().get_serializer_class()

    def parse(self, request, *, partial: bool) -> dict[str, Any]:
        data = self.input_serializer_class(data=request.data, partial=partial, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def rendered(self, obj: Any) -> dict[str, Any]:
        fresh = type(self).get_selector(user=self.request.user, pk=obj.pk)
        return self.serializer_class(fresh, context=self.get_serializer_context()).data

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(request, partial=False)
        obj = type(self).create_service(actor=request.user, **data)
        return Response(self.rendered(obj), status=status.HTTP_201_CREATED)

    def update(self, request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        obj = self.get_object()
        data = self.parse(request, partial=partial)
        obj = type(self).update_service(actor=request.user, **{self.update_kwarg: obj}, **data)
        return Response(self.rendered(obj))

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)


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
