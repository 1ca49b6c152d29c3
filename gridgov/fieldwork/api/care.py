"""/api/v1/care-plans/, /care-checks/, /home-services/.

Reads go through `fieldwork.selectors.care` (scoped: a record outside the caller's area is a 404),
writes through `fieldwork.services.care`. Residents are rendered by id and name only: no ID or
phone numbers, masked or not.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.areas.choices import Level
from gridgov.core.api.views import ScopedReadOnlyViewSet, ServiceWriteMixin, error
from gridgov.core.scope import subtree
from gridgov.fieldwork.choices import CareCheckState, CareMethod, ServiceKind
from gridgov.fieldwork.models import CareCheck, CarePlan, HomeService
from gridgov.fieldwork.selectors import care as selectors
from gridgov.fieldwork.services import care as services
from gridgov.registry.api.serializers import ResidentField

TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


def _user(field: serializers.Field) -> Any:
    request = field.context.get("request")
    return getattr(request, "user", None)


def _areas(request: Any):
    from gridgov.areas.selectors import area_list

    return area_list(user=getattr(request, "user", None)).only("id", "code", "name", "level")


# --- filters ----------------------------------------------------------------------------------


class AreaSubtreeFilterSet(django_filters.FilterSet):
    """`area`: an area id, its whole subtree; `grid`: one grid id."""

    area = django_filters.ModelChoiceFilter(queryset=_areas, method="filter_area", label=_("Area"))
    grid = django_filters.ModelChoiceFilter(
        queryset=lambda request: _areas(request).filter(level=Level.GRID), method="filter_area", label=_("Grid")
    )

    @extend_schema_field(OpenApiTypes.INT)
    def filter_area(self, queryset, name, value):
        return queryset.filter(subtree("area_code", value.code)) if value else queryset


class CarePlanFilterSet(AreaSubtreeFilterSet):
    q = django_filters.CharFilter(field_name="resident__name", lookup_expr="startswith", label=_("Resident name"))
    method = django_filters.ChoiceFilter(choices=CareMethod.choices, label=_("How"))
    active = django_filters.BooleanFilter(label=_("Active"))
    overdue = django_filters.BooleanFilter(method="filter_overdue", label=_("Check overdue"))
    resident = django_filters.NumberFilter(field_name="resident_id", label=_("Resident id"))
    caretaker = django_filters.NumberFilter(field_name="caretaker_id", label=_("Caretaker (user id)"))

    class Meta:
        model = CarePlan
        fields = ["q", "area", "grid", "resident", "method", "active", "caretaker", "overdue"]

    def filter_overdue(self, queryset, name, value):
        if value is None:
            return queryset
        late = queryset.filter(next_due__lt=timezone.localdate())
        return late if value else queryset.exclude(pk__in=late.values("pk"))


class CareCheckFilterSet(AreaSubtreeFilterSet):
    state = django_filters.ChoiceFilter(choices=CareCheckState.choices, label=_("State"))
    due_before = django_filters.DateFilter(field_name="due_on", lookup_expr="lte", label=_("Due on or before"))
    due_after = django_filters.DateFilter(field_name="due_on", lookup_expr="gte", label=_("Due on or after"))
    mine = django_filters.BooleanFilter(method="filter_mine", label=_("Mine (I am the caretaker)"))
    plan = django_filters.NumberFilter(field_name="plan_id", label=_("Care plan id"))
    resident = django_filters.NumberFilter(field_name="resident_id", label=_("Resident id"))

    class Meta:
        model = CareCheck
        fields = ["state", "area", "grid", "plan", "resident", "due_before", "due_after", "mine"]

    def filter_mine(self, queryset, name, value):
        user = getattr(self.request, "user", None)
        if not value or user is None:
            return queryset
        return queryset.filter(plan__caretaker=user)


class HomeServiceFilterSet(AreaSubtreeFilterSet):
    kind = django_filters.ChoiceFilter(choices=ServiceKind.choices, label=_("Service"))
    served_after = django_filters.DateFilter(field_name="served_on", lookup_expr="gte", label=_("From"))
    served_before = django_filters.DateFilter(field_name="served_on", lookup_expr="lte", label=_("To"))
    plan = django_filters.NumberFilter(field_name="plan_id", label=_("Care plan id"))
    resident = django_filters.NumberFilter(field_name="resident_id", label=_("Resident id"))

    class Meta:
        model = HomeService
        fields = ["area", "grid", "resident", "plan", "kind", "served_after", "served_before"]


# --- serializers ------------------------------------------------------------------------------


class CareResidentRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CareUserRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class CareAreaRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class CareCheckSerializer(serializers.ModelSerializer):
    resident = CareResidentRefSerializer(read_only=True)
    done_by = CareUserRefSerializer(read_only=True, allow_null=True)
    caretaker = serializers.SerializerMethodField()

    class Meta:
        model = CareCheck
        fields = [
            "id",
            "plan",
            "resident",
            "area_code",
            "method",
            "due_on",
            "state",
            "done_at",
            "done_by",
            "visit",
            "note",
            "missed_at",
            "caretaker",
        ]
        read_only_fields = fields

    @extend_schema_field(CareUserRefSerializer(allow_null=True))
    def get_caretaker(self, check: CareCheck) -> dict[str, Any] | None:
        caretaker = check.plan.caretaker
        return CareUserRefSerializer(caretaker).data if caretaker else None


class CarePlanSerializer(serializers.ModelSerializer):
    resident = CareResidentRefSerializer(read_only=True)
    grid = CareAreaRefSerializer(read_only=True)
    caretaker = CareUserRefSerializer(read_only=True, allow_null=True)
    next_due = serializers.DateField(read_only=True, allow_null=True, help_text="When the open check is due.")
    missed_count = serializers.IntegerField(read_only=True, help_text="How many checks were missed.")

    class Meta:
        model = CarePlan
        fields = [
            "id",
            "resident",
            "grid",
            "area_code",
            "method",
            "interval_days",
            "caretaker",
            "needs",
            "starts_on",
            "active",
            "next_due",
            "missed_count",
            "created_at",
        ]
        read_only_fields = fields


class HomeServiceSerializer(serializers.ModelSerializer):
    resident = CareResidentRefSerializer(read_only=True)
    served_by = CareUserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = HomeService
        fields = ["id", "resident", "plan", "area_code", "kind", "description", "served_on", "served_by"]
        read_only_fields = fields


class CarePlanDetailSerializer(CarePlanSerializer):
    checks = serializers.SerializerMethodField()
    services = serializers.SerializerMethodField()

    class Meta(CarePlanSerializer.Meta):
        fields = [*CarePlanSerializer.Meta.fields, "checks", "services"]
        read_only_fields = fields

    @extend_schema_field(CareCheckSerializer(many=True))
    def get_checks(self, plan: CarePlan) -> list[dict[str, Any]]:
        checks = selectors.care_plan_checks(plan=plan)
        for check in checks:
            check.plan = plan
        return CareCheckSerializer(checks, many=True).data

    @extend_schema_field(HomeServiceSerializer(many=True))
    def get_services(self, plan: CarePlan) -> list[dict[str, Any]]:
        return HomeServiceSerializer(selectors.care_plan_services(plan=plan), many=True).data


@extend_schema_field(OpenApiTypes.INT)
class CaretakerField(serializers.PrimaryKeyRelatedField):
    """A user by id; the service checks that they hold a post in the resident's grid."""

    def get_queryset(self):
        from gridgov.accounts.models import User

        return User.objects.filter(is_active=True)


@extend_schema_field(OpenApiTypes.INT)
class PlanField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return selectors.care_plan_list(user=_user(self))


@extend_schema_field(OpenApiTypes.INT)
class CheckField(serializers.PrimaryKeyRelatedField):
    def get_queryset(self):
        return selectors.care_check_list(user=_user(self))


class CarePlanInputSerializer(serializers.Serializer):
    resident = ResidentField(help_text="A resident of the caller's area (creation only).")
    method = serializers.ChoiceField(choices=CareMethod.choices)
    interval_days = serializers.IntegerField(help_text="Every how many days, 1 to 365.")
    caretaker = CaretakerField(
        required=False, allow_null=True, help_text="Default (creation): the grid's worker. Null (update): nobody."
    )
    needs = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    starts_on = serializers.DateField(required=False, help_text="The first check's due day (creation only).")
    active = serializers.BooleanField(required=False, help_text="Update only: false deletes the open due check.")


class CarePlanUpdateSerializer(CarePlanInputSerializer):
    resident = None
    starts_on = None


class CompleteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    method = serializers.ChoiceField(
        choices=CareMethod.choices, required=False, help_text="How it was done, if not the plan's way."
    )


class HomeServiceInputSerializer(serializers.Serializer):
    resident = ResidentField()
    kind = serializers.ChoiceField(choices=ServiceKind.choices)
    description = serializers.CharField(max_length=2000)
    served_on = serializers.DateField(required=False, help_text="Default today; never in the future.")
    plan = PlanField(required=False, allow_null=True)
    check = CheckField(
        required=False, allow_null=True, help_text="A due check of a home-service plan: completed by this service."
    )


# --- views ------------------------------------------------------------------------------------


@extend_schema_view(
    retrieve=extend_schema(responses={200: CarePlanDetailSerializer, 404: error("`not_found`")}),
    create=extend_schema(
        request=CarePlanInputSerializer,
        responses={
            201: CarePlanDetailSerializer,
            400: error("`invalid`, `invalid_caretaker`, `resident_gone`."),
            403: error("`forbidden`: the caller's role may not set up care plans."),
            404: error("`not_found`"),
        },
    ),
    partial_update=extend_schema(
        request=CarePlanUpdateSerializer,
        responses={
            200: CarePlanDetailSerializer,
            400: error("`invalid`, `invalid_caretaker`."),
            403: error("`forbidden`"),
            404: error("`not_found`"),
        },
    ),
)
class CarePlanViewSet(ServiceWriteMixin, ScopedReadOnlyViewSet):
    """Care plans (关爱计划) of the caller's area, with the date of the open check and how many were missed."""

    serializer_class = CarePlanSerializer
    input_serializer_class = CarePlanInputSerializer
    filterset_class = CarePlanFilterSet
    list_selector = selectors.care_plan_list
    get_selector = selectors.care_plan_get
    create_service = services.care_plan_create
    update_service = services.care_plan_update
    update_kwarg = "plan"
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        if getattr(self, "action", None) == "partial_update":
            return CarePlanUpdateSerializer
        if getattr(self, "action", None) == "retrieve":
            return CarePlanDetailSerializer
        return super().get_serializer_class()

    def rendered(self, obj: Any) -> dict[str, Any]:
        fresh = selectors.care_plan_get(user=self.request.user, pk=obj.pk)
        return CarePlanDetailSerializer(fresh, context=self.get_serializer_context()).data

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(request, partial=False)
        data.pop("active", None)
        plan = services.care_plan_create(actor=request.user, **data)
        return Response(self.rendered(plan), status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        plan = self.get_object()
        data = CarePlanUpdateSerializer(data=request.data, partial=True, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        plan = services.care_plan_update(actor=request.user, plan=plan, **data.validated_data)
        return Response(self.rendered(plan))


@extend_schema_view(
    list=extend_schema(responses={200: CareCheckSerializer(many=True), 400: error("`invalid`: a filter value.")}),
    retrieve=extend_schema(responses={200: CareCheckSerializer, 404: error("`not_found`")}),
)
class CareCheckViewSet(ScopedReadOnlyViewSet):
    """Care checks of the caller's area: due, done and missed. `?mine=1`: the caller's as caretaker."""

    serializer_class = CareCheckSerializer
    filterset_class = CareCheckFilterSet
    list_selector = selectors.care_check_list
    get_selector = selectors.care_check_get
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return super().get_queryset().order_by("due_on", "id")

    @extend_schema(
        request=CompleteSerializer,
        responses={
            200: CareCheckSerializer,
            400: error("`invalid`"),
            403: error("`forbidden`: the caller's role may not record care checks."),
            404: error("`not_found`"),
            409: error("`care_check_not_due`: the check is done or missed already."),
        },
    )
    @action(detail=True, methods=["post"], filterset_class=None, pagination_class=None)
    def complete(self, request, pk=None) -> Response:
        """Record the check done; the plan's next check is made, due `interval_days` after today."""
        check = self.get_object()
        data = CompleteSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        done = services.care_check_complete(actor=request.user, check=check, **data.validated_data)
        fresh = selectors.care_check_get(user=request.user, pk=done.pk)
        return Response(CareCheckSerializer(fresh).data)


@extend_schema_view(
    create=extend_schema(
        request=HomeServiceInputSerializer,
        responses={
            201: HomeServiceSerializer,
            400: error("`invalid` (fields say which), `care_check_not_due` is 409."),
            403: error("`forbidden`"),
            404: error("`not_found`"),
            409: error("`care_check_not_due`"),
        },
    )
)
class HomeServiceViewSet(ScopedReadOnlyViewSet):
    """Home services (上门服务: 代办、代购、代送, repairs) done for residents of the caller's area."""

    serializer_class = HomeServiceSerializer
    filterset_class = HomeServiceFilterSet
    list_selector = selectors.home_service_list
    get_selector = selectors.home_service_get
    lookup_value_regex = r"\d+"

    def get_serializer_class(self):
        if getattr(self, "action", None) == "create":
            return HomeServiceInputSerializer
        return super().get_serializer_class()

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = HomeServiceInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        service = services.home_service_record(actor=request.user, **data.validated_data)
        fresh = selectors.home_service_get(user=request.user, pk=service.pk)
        return Response(HomeServiceSerializer(fresh).data, status=status.HTTP_201_CREATED)


ROUTES: list = [
    ("care-plans", CarePlanViewSet, "care-plan"),
    ("care-checks", CareCheckViewSet, "care-check"),
    ("home-services", HomeServiceViewSet, "home-service"),
]
