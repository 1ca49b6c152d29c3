"""/api/v1/checklists/, /campaigns/, /campaign-targets/: reads through the selectors, writes through the services."""

from __future__ import annotations

from typing import Any

import django_filters
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.accounts.models import User
from gridgov.areas.models import Area
from gridgov.cases.models import BusinessLine
from gridgov.core.api.views import ScopedReadOnlyViewSet, error
from gridgov.core.errors import ApplicationError
from gridgov.core.filtersets import AreaSubtreeFilter
from gridgov.core.scope import scoped
from gridgov.fieldwork.choices import AssignTo, CampaignState, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget, ChecklistItem, ChecklistTemplate
from gridgov.fieldwork.selectors import campaigns as selectors
from gridgov.fieldwork.services import campaigns as services


class ChecklistItemSerializer(serializers.ModelSerializer):
    category = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)

    class Meta:
        model = ChecklistItem
        fields = [
            "code",
            "order",
            "label",
            "type",
            "choices",
            "required",
            "problem_values",
            "problem_below",
            "problem_above",
            "category",
            "rectify_days",
            "help_text",
        ]
        read_only_fields = fields


class ChecklistSerializer(serializers.ModelSerializer):
    business_line = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    items = ChecklistItemSerializer(many=True, read_only=True)

    class Meta:
        model = ChecklistTemplate
        fields = ["id", "code", "name", "business_line", "target_kind", "description", "items"]
        read_only_fields = fields


class ChecklistViewSet(ScopedReadOnlyViewSet):
    """Checklists in use, with their items (what a visit form asks)."""

    list_selector = selectors.checklist_list
    get_selector = selectors.checklist_get
    serializer_class = ChecklistSerializer


class ProgressSerializer(serializers.Serializer):
    key = serializers.CharField()
    name = serializers.CharField()
    total = serializers.IntegerField()
    done = serializers.IntegerField()
    overdue = serializers.IntegerField()
    problems = serializers.IntegerField()
    rate = serializers.FloatField()


class CampaignSerializer(serializers.ModelSerializer):
    area = serializers.SlugRelatedField(slug_field="code", read_only=True)
    area_name = serializers.CharField(source="area.name", read_only=True)
    business_line = serializers.SlugRelatedField(slug_field="code", read_only=True)
    checklist = serializers.SlugRelatedField(slug_field="code", read_only=True)

    class Meta:
        model = Campaign
        fields = [
            "id",
            "name",
            "business_line",
            "area",
            "area_name",
            "checklist",
            "target_kind",
            "target_filter",
            "assign_to",
            "starts_on",
            "ends_on",
            "state",
            "description",
            "target_count",
            "done_count",
            "created_at",
        ]
        read_only_fields = fields


class CampaignInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    area = serializers.CharField(help_text="Area code: the subdistrict, a community or a grid.")
    checklist = serializers.CharField(help_text="Checklist code.")
    business_line = serializers.CharField(required=False, allow_blank=True, help_text="Business line code.")
    starts_on = serializers.DateField()
    ends_on = serializers.DateField()
    target_filter = serializers.DictField(required=False, default=dict)
    assign_to = serializers.ChoiceField(choices=AssignTo.choices, default=AssignTo.GRID_WORKER)
    description = serializers.CharField(required=False, allow_blank=True, default="")

    def validate_area(self, value: str) -> Area:
        area = scoped(Area.objects.all(), self.context["request"].user).filter(code=value).first()
        if area is None:
            raise serializers.ValidationError(_("No such area in your scope."))
        return area

    def validate_checklist(self, value: str) -> ChecklistTemplate:
        checklist = ChecklistTemplate.objects.filter(code=value).first()
        if checklist is None:
            raise serializers.ValidationError(_("No such checklist."))
        return checklist

    def validate_business_line(self, value: str) -> BusinessLine | None:
        if not value:
            return None
        line = BusinessLine.objects.filter(code=value).first()
        if line is None:
            raise serializers.ValidationError(_("No such business line."))
        return line


class CampaignFilterSet(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=CampaignState.choices)
    business_line = django_filters.CharFilter(field_name="business_line__code")
    checklist = django_filters.CharFilter(field_name="checklist__code")

    class Meta:
        model = Campaign
        fields = ["state", "business_line", "checklist"]


BREAKDOWN = OpenApiParameter("by", str, enum=list(selectors.BREAKDOWNS), description="Breakdown of the progress.")


@extend_schema_view(
    create=extend_schema(
        request=CampaignInputSerializer,
        responses={
            201: CampaignSerializer,
            400: error("`invalid`, `invalid_filter`, `no_targets` (the filter matches nothing: nothing written)."),
            403: error("`forbidden`: only the center or community staff run campaigns."),
        },
    ),
    progress=extend_schema(parameters=[BREAKDOWN], responses={200: ProgressSerializer(many=True)}),
)
class CampaignViewSet(ScopedReadOnlyViewSet):
    """Campaigns reaching into the caller's area; their progress by community, grid, group and person."""

    list_selector = selectors.campaign_list
    get_selector = selectors.campaign_get
    serializer_class = CampaignSerializer
    filterset_class = CampaignFilterSet

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = CampaignInputSerializer(data=request.data, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        campaign = services.campaign_create(actor=request.user, **data.validated_data)
        return Response(self._rendered(campaign), status=status.HTTP_201_CREATED)

    def _rendered(self, campaign: Campaign) -> dict[str, Any]:
        fresh = selectors.campaign_get(user=self.request.user, pk=campaign.pk)
        return CampaignSerializer(fresh, context=self.get_serializer_context()).data

    @action(detail=True, methods=["get"])
    def progress(self, request, pk=None) -> Response:
        """Targets, done, overdue and problems per community, grid, group (联户组) or person (?by=)."""
        campaign = self.get_object()
        by = request.query_params.get("by", "grid")
        if by not in selectors.BREAKDOWNS:
            message = _("Choose one of: %(choices)s.") % {"choices": ", ".join(selectors.BREAKDOWNS)}
            raise ApplicationError("invalid", message, fields={"by": [message]})
        rows = selectors.campaign_progress(user=request.user, campaign=campaign, by=by)
        return Response(ProgressSerializer(rows, many=True).data)

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: error("`campaign_not_running`.")})
    @action(detail=True, methods=["post"])
    def finish(self, request, pk=None) -> Response:
        campaign = services.campaign_finish(actor=request.user, campaign=self.get_object())
        return Response(self._rendered(campaign))

    @extend_schema(request=None, responses={200: CampaignSerializer, 409: error("`campaign_not_running`.")})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None) -> Response:
        campaign = services.campaign_cancel(actor=request.user, campaign=self.get_object())
        return Response(self._rendered(campaign))


class FindingSerializer(serializers.Serializer):
    item = serializers.CharField(source="item.code")
    label = serializers.CharField(source="item.label")
    answer = serializers.JSONField()
    case = serializers.CharField(source="case.code", allow_null=True, default=None)
    case_id = serializers.IntegerField(allow_null=True)
    rectify_by = serializers.DateField(allow_null=True)


class CampaignTargetSerializer(serializers.ModelSerializer):
    campaign_name = serializers.CharField(source="campaign.name", read_only=True)
    target_id = serializers.IntegerField(read_only=True)
    grid = serializers.SlugRelatedField(slug_field="code", read_only=True)
    group = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    overdue = serializers.SerializerMethodField()
    findings = FindingSerializer(many=True, read_only=True)

    class Meta:
        model = CampaignTarget
        fields = [
            "id",
            "campaign",
            "campaign_name",
            "kind",
            "target_id",
            "label",
            "address",
            "grid",
            "group",
            "area_code",
            "assignee",
            "due_on",
            "state",
            "overdue",
            "done_at",
            "visit",
            "answers",
            "problem_count",
            "findings",
        ]
        read_only_fields = fields

    def get_overdue(self, target: CampaignTarget) -> bool:
        today = self.context.get("today")
        return target.state == TargetState.PENDING and today is not None and target.due_on < today


class TargetFilterSet(django_filters.FilterSet):
    campaign = django_filters.NumberFilter(field_name="campaign_id")
    state = django_filters.ChoiceFilter(choices=TargetState.choices)
    assignee = django_filters.CharFilter(field_name="assignee__username")
    area = AreaSubtreeFilter(field_name="area_code")
    overdue = django_filters.BooleanFilter(method="filter_overdue")
    mine = django_filters.BooleanFilter(method="filter_mine")

    class Meta:
        model = CampaignTarget
        fields = ["campaign", "state", "assignee", "kind", "household", "building", "shop", "place"]

    def filter_overdue(self, queryset, name, value):
        q = selectors.overdue_q()
        return queryset.filter(q) if value else queryset.exclude(q)

    def filter_mine(self, queryset, name, value):
        return queryset.filter(assignee=self.request.user) if value else queryset


class ReassignSerializer(serializers.Serializer):
    assignee = serializers.CharField(allow_blank=True, allow_null=True, help_text="Username; empty for nobody.")


@extend_schema_view(
    reassign=extend_schema(
        request=ReassignSerializer,
        responses={200: CampaignTargetSerializer, 400: error("`invalid_assignee`."), 403: error("`forbidden`.")},
    )
)
class CampaignTargetViewSet(ScopedReadOnlyViewSet):
    """Campaign targets in the caller's area (`?mine=true`: the ones the caller carries)."""

    list_selector = selectors.target_list
    get_selector = selectors.target_get
    serializer_class = CampaignTargetSerializer
    filterset_class = TargetFilterSet

    def get_queryset(self):
        return super().get_queryset().prefetch_related("findings__item", "findings__case")

    def get_serializer_context(self) -> dict[str, Any]:
        from django.utils import timezone

        return {**super().get_serializer_context(), "today": timezone.localdate()}

    @action(detail=True, methods=["post"])
    def reassign(self, request, pk=None) -> Response:
        target = self.get_object()
        data = ReassignSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        username = data.validated_data.get("assignee") or ""
        assignee = None
        if username:
            assignee = User.objects.filter(username=username, is_active=True).first()
            if assignee is None:
                message = _("No such user.")
                raise ApplicationError("invalid_assignee", message, fields={"assignee": [message]})
        services.target_reassign(actor=request.user, target=target, assignee=assignee)
        fresh = selectors.target_get(user=request.user, pk=target.pk)
        return Response(CampaignTargetSerializer(fresh, context=self.get_serializer_context()).data)


ROUTES = [
    ("checklists", ChecklistViewSet, "checklist"),
    ("campaigns", CampaignViewSet, "campaign"),
    ("campaign-targets", CampaignTargetViewSet, "campaign-target"),
]
