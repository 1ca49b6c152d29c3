"""Case API serializers: read serializers render, input parsers only pick the fields out. Neither writes.

Every check of a value (category, point, extra fields, files, the state of a case) belongs to
`cases.services`, so the API, the pages and the public form refuse the same input with the same
code. The input side here only refuses fields the endpoint does not know, and turns a multipart
body (where `extra` is a JSON string and lists repeat their key) into the keyword arguments of
the service. The reporter's phone is a `Sensitive` value rendered masked (`138****5678`), always.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gridgov.cases.choices import Action, CaseLevel, Priority, Source, State
from gridgov.cases.models import BusinessLine, Case, CaseAttachment, CaseEvent, Category
from gridgov.core.api.serializers import PlannedRepresentation
from gridgov.core.errors import ApplicationError
from gridgov.core.scope import scope_for

# --- references -------------------------------------------------------------------------------


class CaseAreaRefSerializer(PlannedRepresentation, serializers.Serializer):
    """An area by id, code and name (loaded with the row: no query per row)."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class CaseUnitRefSerializer(PlannedRepresentation, serializers.Serializer):
    """A unit by id and name."""

    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)


class CaseCodeNameSerializer(PlannedRepresentation, serializers.Serializer):
    """A category or business line by code and name."""

    code = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class CaseRefSerializer(PlannedRepresentation, serializers.Serializer):
    """Another case (merged into, related) by id, number, title and state."""

    id = serializers.IntegerField(read_only=True)
    code = serializers.CharField(read_only=True)
    title = serializers.CharField(read_only=True)
    state = serializers.CharField(read_only=True)


@extend_schema_field(OpenApiTypes.STR)
class MaskedField(serializers.Field):
    """A personal value (a phone number) in its masked form: `138****5678`."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["read_only"] = True
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> str:
        return str(value) if value else ""


# --- the case ---------------------------------------------------------------------------------


def _label(choices: type[models.TextChoices], value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:  # a value no longer among the choices: shown as stored
        return value


class CaseListSerializer(PlannedRepresentation, serializers.ModelSerializer):
    """One row of the case list: the case and what the list shows of its relations (loaded with the row)."""

    category = CaseCodeNameSerializer(read_only=True)
    business_line = CaseCodeNameSerializer(read_only=True)
    state_label = serializers.SerializerMethodField()
    grid = CaseAreaRefSerializer(read_only=True, allow_null=True)
    handling_area = CaseAreaRefSerializer(read_only=True)
    unit = CaseUnitRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Case
        fields = [
            "id",
            "code",
            "title",
            "category",
            "business_line",
            "kind",
            "source",
            "priority",
            "state",
            "state_label",
            "level",
            "grid",
            "handling_area",
            "unit",
            "address",
            "lat",
            "lng",
            "outside_grids",
            "due_at",
            "warned",
            "overdue",
            "urged",
            "created_at",
            "closed_at",
            "closed_level",
        ]
        read_only_fields = fields

    def get_state_label(self, case: Case) -> str:
        """The state in words. From the enum: `get_state_display` hashed every choice on every call."""
        return _label(State, case.state)


# Columns the list never shows: not read, and the phone is not even decrypted.
LIST_DEFERRED = ("description", "extra", "media_url", "reporter_phone", "measures", "result", "satisfaction_note")


class AttachmentSerializer(PlannedRepresentation, serializers.ModelSerializer):
    """A photo or file; `url` and `thumbnail_url` go through the scoped case pages, never straight to storage."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    class Meta:
        model = CaseAttachment
        fields = ["id", "name", "content_type", "size", "url", "thumbnail_url"]
        read_only_fields = fields

    def get_url(self, attachment: CaseAttachment) -> str:
        """The file, served through the case's scope."""
        return reverse("cases:attachment", args=[attachment.case_id, attachment.pk])

    def get_thumbnail_url(self, attachment: CaseAttachment) -> str | None:
        """The thumbnail of a photo; None for a document."""
        if not attachment.thumbnail:
            return None
        return reverse("cases:attachment_thumbnail", args=[attachment.case_id, attachment.pk])


class TimelineEntrySerializer(PlannedRepresentation, serializers.ModelSerializer):
    """One step of the timeline, with the files attached at that step."""

    action_label = serializers.SerializerMethodField()
    unit = CaseUnitRefSerializer(read_only=True, allow_null=True)
    attachments = AttachmentSerializer(many=True, read_only=True)

    class Meta:
        model = CaseEvent
        fields = [
            "id",
            "time",
            "actor_name",
            "action",
            "action_label",
            "from_state",
            "to_state",
            "from_level",
            "to_level",
            "unit",
            "note",
            "data",
            "attachments",
        ]
        read_only_fields = fields

    def get_action_label(self, event: CaseEvent) -> str:
        """The action in words."""
        return _label(Action, event.action)


class _WrittenEntrySerializer(TimelineEntrySerializer):
    """A timeline entry this request wrote: its files are the ones stored with it, not read back."""

    attachments = None

    class Meta(TimelineEntrySerializer.Meta):
        fields = [name for name in TimelineEntrySerializer.Meta.fields if name != "attachments"]
        read_only_fields = fields


class CaseDetailSerializer(CaseListSerializer):
    """The case page: the row, its text, its timeline and what the caller may do now.

    Rendered from `selectors.case_detail` (a `CaseDetail`), not from the model alone.
    `tracking_code` is shown to the staff of the case's area only (not to unit handlers).
    """

    description = serializers.CharField(read_only=True)
    extra = serializers.JSONField(read_only=True)
    measures = serializers.CharField(read_only=True)
    result = serializers.CharField(read_only=True)
    satisfaction = serializers.IntegerField(read_only=True, allow_null=True)
    satisfaction_note = serializers.CharField(read_only=True)
    reporter_name = serializers.CharField(read_only=True)
    reporter_phone = MaskedField(help_text="Masked: the full number is never given by the API.")
    tracking_code = serializers.SerializerMethodField()
    assignee_name = serializers.SerializerMethodField()
    merged_into = CaseRefSerializer(read_only=True, allow_null=True)
    escalation_count = serializers.IntegerField(read_only=True)
    urge_count = serializers.IntegerField(read_only=True)
    extension_requested_hours = serializers.IntegerField(read_only=True, allow_null=True)
    accepted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    dispatched_at = serializers.DateTimeField(read_only=True, allow_null=True)
    resolved_at = serializers.DateTimeField(read_only=True, allow_null=True)
    rectify_by = serializers.DateTimeField(read_only=True, allow_null=True)

    class Meta(CaseListSerializer.Meta):
        fields = [
            *CaseListSerializer.Meta.fields,
            "description",
            "extra",
            "media_url",
            "measures",
            "result",
            "satisfaction",
            "satisfaction_note",
            "reporter_name",
            "reporter_phone",
            "tracking_code",
            "assignee_name",
            "merged_into",
            "escalation_count",
            "urge_count",
            "extension_requested_hours",
            "accepted_at",
            "dispatched_at",
            "resolved_at",
            "rectify_by",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_tracking_code(self, case: Case) -> str | None:
        """The resident's tracking code, for the staff of the case's area only."""
        user = self.context["request"].user
        return case.tracking_code if scope_for(user).covers_code(case.area_code) else None

    def get_assignee_name(self, case: Case) -> str:
        """Who claimed the case, if anyone."""
        if case.assignee_id is None:
            return ""
        return case.assignee.name or case.assignee.get_username()


_per_thread = threading.local()


def _serializer(cls: type[serializers.BaseSerializer], context: dict[str, Any]) -> serializers.BaseSerializer:
    """This thread's instance of `cls`, given `context`: its fields are built once per thread, not per request.

    Making a ModelSerializer introspects the model and deep-copies every declared field; for the case body
    that cost more than the rest of rendering it (make bench: cases.intake_http). `to_representation` keeps
    no state on the instance and fields read the context through their root, so one instance per thread
    (gunicorn's threads render at the same time) serves every request.
    """
    instances = _per_thread.__dict__.setdefault("instances", {})
    serializer = instances.get(cls)
    if serializer is None:
        serializer = instances[cls] = cls(context={})
    serializer._context = context
    return serializer


def _many(cls: type[serializers.BaseSerializer], items: Any) -> list[Any]:
    serializer = _serializer(cls, {})
    return [serializer.to_representation(item) for item in items]


def render_detail(detail: Any, context: dict[str, Any], *, reported: bool = False) -> dict[str, Any]:
    """A `selectors.CaseDetail` as the API's case body (create, detail and every action answer with it).

    `reported`: the case was reported by this request and its timeline is the report, written with every
    file of the case, so the entry's files are `detail.attachments` rather than read back.
    """
    case_serializer = _serializer(CaseDetailSerializer, context)
    try:
        data = dict(case_serializer.to_representation(detail.case))
    finally:
        case_serializer._context = {}  # the request is not kept alive until the thread's next one
    data["timeline"] = _many(_WrittenEntrySerializer if reported else TimelineEntrySerializer, detail.timeline)
    data["attachments"] = _many(AttachmentSerializer, detail.attachments)
    if reported:
        for entry in data["timeline"]:
            entry["attachments"] = data["attachments"]
    data["allowed_actions"] = list(detail.actions)
    data["co_units"] = _many(CaseUnitRefSerializer, detail.co_units)
    data["related"] = _many(CaseRefSerializer, detail.related)
    return data


class CaseDetailDocSerializer(CaseDetailSerializer):
    """The case body as documented: the detail plus its timeline, files, allowed actions and links."""

    timeline = TimelineEntrySerializer(many=True, read_only=True)
    attachments = AttachmentSerializer(many=True, read_only=True)
    allowed_actions = serializers.ListField(child=serializers.ChoiceField(choices=Action.choices), read_only=True)
    co_units = CaseUnitRefSerializer(many=True, read_only=True)
    related = CaseRefSerializer(many=True, read_only=True)

    class Meta(CaseDetailSerializer.Meta):
        fields = [
            *CaseDetailSerializer.Meta.fields,
            "timeline",
            "attachments",
            "allowed_actions",
            "co_units",
            "related",
        ]
        read_only_fields = fields


# --- input ------------------------------------------------------------------------------------


def _unknown_fields(data: Any, allowed: set[str]) -> None:
    names = sorted(name for name in data if name not in allowed)
    if names:
        message = _("Unknown field: %(name)s.") % {"name": names[0]}
        raise ApplicationError(
            "unknown_field", message, fields={name: [_("Unknown field: %(name)s.") % {"name": name}] for name in names}
        )


def _mapping(data: Any) -> Any:
    if not hasattr(data, "keys") or not hasattr(data, "get"):
        raise ApplicationError("malformed_request", _("The request body must be an object."))
    return data


def _is_multipart(data: Any) -> bool:
    return hasattr(data, "getlist")


def _json_object(value: Any, field: str, code: str) -> Any:
    """`extra` arrives as an object in JSON and as a JSON string in a form body."""
    if isinstance(value, str):
        if not value.strip():
            return None
        try:
            value = json.loads(value)
        except ValueError:
            message = _("A JSON object is required.")
            raise ApplicationError(code, message, fields={field: [message]}) from None
    return value


class CaseReportSerializer(serializers.Serializer):
    """`POST /api/v1/cases/` as JSON. Every value is checked by the intake service, not here."""

    category = serializers.CharField(help_text="A minor category code, e.g. `01001`.")
    title = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True)
    lat = serializers.FloatField(required=False, allow_null=True)
    lng = serializers.FloatField(required=False, allow_null=True)
    address = serializers.CharField(required=False, allow_blank=True)
    priority = serializers.ChoiceField(choices=Priority.choices, required=False)
    source = serializers.ChoiceField(choices=Source.choices, required=False)
    extra = serializers.DictField(
        required=False, help_text="The category's extra fields by name (see `form_schema` of the category)."
    )
    reporter_name = serializers.CharField(required=False, allow_blank=True)
    reporter_phone = serializers.CharField(required=False, allow_blank=True)


class CaseReportMultipartSerializer(CaseReportSerializer):
    """`POST /api/v1/cases/` as multipart/form-data: photos under `files`, `extra` as a JSON string."""

    extra = serializers.CharField(required=False, help_text='A JSON object as text: `{"floors": 3}`.')
    files = serializers.ListField(child=serializers.FileField(), required=False)


REPORT_FIELDS = frozenset(CaseReportSerializer().fields)


def report_input(data: Any, files: Any) -> tuple[dict[str, Any], list[Any]]:
    """The intake service's keyword arguments and files from a JSON or multipart body; unknown fields refused."""
    data = _mapping(data)
    # Files come only in a multipart body, where DRF lists them among the data too.
    _unknown_fields(data, set(REPORT_FIELDS) | ({"files"} if _is_multipart(data) else set()))
    fields: dict[str, Any] = {}
    for name in REPORT_FIELDS:
        if name in data:
            fields[name] = data.get(name)
    if "extra" in fields:
        fields["extra"] = _json_object(fields["extra"], "extra", "invalid_extra")
    return fields, list(files.getlist("files")) if files is not None else []


# What each action takes besides files (multipart, under `files`, on any action).
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    Action.ACCEPT: ("note",),
    Action.REJECT: ("reason",),
    Action.HANDLE_ON_SITE: ("result", "measures"),
    Action.DISPATCH: ("unit", "co_units", "note", "measures"),
    Action.CLAIM: ("note",),
    Action.RETURN: ("reason",),
    Action.ESCALATE: ("reason",),
    Action.RESOLVE: ("result", "measures"),
    Action.VERIFY: ("passed", "note"),
    Action.REOPEN: ("reason",),
    Action.RATE: ("score", "note"),
    Action.URGE: ("note",),
    Action.EXTEND_REQUEST: ("hours", "reason"),
    Action.EXTEND_APPROVE: ("approved", "note"),
    Action.MERGE: ("target", "note"),
    Action.COMMENT: ("note",),
    Action.ATTACH: ("note",),
}
LIST_FIELDS = frozenset({"co_units"})


def action_input(action: str, data: Any, files: Any) -> dict[str, Any]:
    """The transition door's keyword arguments for `action` from a JSON or multipart body."""
    data = _mapping(data)
    allowed = ACTION_FIELDS[action]
    multipart = _is_multipart(data)
    _unknown_fields(data, {*allowed, "files"} if multipart else set(allowed))
    params: dict[str, Any] = {}
    for name in allowed:
        if name not in data:
            continue
        if name in LIST_FIELDS:
            value = data.getlist(name) if multipart else data.get(name)
            if multipart and len(value) == 1 and "," in value[0]:
                value = [part.strip() for part in value[0].split(",") if part.strip()]
            if value is not None and not isinstance(value, list):
                message = _("A list is required.")
                raise ApplicationError("invalid", message, fields={name: [message]})
            params[name] = value
        else:
            params[name] = data.get(name)
    uploaded = list(files.getlist("files")) if files is not None else []
    if uploaded or action == Action.ATTACH:
        params["files"] = uploaded
    return params


class ActionSerializer(serializers.Serializer):
    """`POST /api/v1/cases/{id}/actions/{action}/`: the fields each action takes (the rest are refused).

    dispatch: `unit` (id or name), `co_units` (list), `note`, `measures`; reject / return / escalate /
    reopen: `reason`; resolve / handle_on_site: `result`, `measures`; verify: `passed`, `note`;
    rate: `score` 1–5, `note`; urge / comment / accept / claim: `note`; extend_request: `hours`, `reason`;
    extend_approve: `approved`, `note`; merge: `target` (id or case number); attach: `files` (multipart).
    """

    unit = serializers.CharField(required=False, help_text="dispatch: a unit id or name.")
    co_units = serializers.ListField(child=serializers.CharField(), required=False)
    reason = serializers.CharField(required=False)
    result = serializers.CharField(required=False)
    measures = serializers.CharField(required=False)
    passed = serializers.BooleanField(required=False)
    score = serializers.IntegerField(required=False, min_value=1, max_value=5)
    note = serializers.CharField(required=False)
    hours = serializers.IntegerField(required=False, min_value=1)
    approved = serializers.BooleanField(required=False)
    target = serializers.CharField(required=False, help_text="merge: the id or number of the case to merge into.")


class ActionMultipartSerializer(ActionSerializer):
    """An action as multipart/form-data, with photos or files under `files`."""

    files = serializers.ListField(child=serializers.FileField(), required=False)


# --- catalogue, figures, queue ----------------------------------------------------------------


class BusinessLineSerializer(serializers.ModelSerializer):
    """A business line (业务条线)."""

    class Meta:
        model = BusinessLine
        fields = ["id", "code", "name", "order"]
        read_only_fields = fields


class DeadlinesSerializer(serializers.Serializer):
    """Accept within (minutes) and handle within (hours), per priority."""

    accept_minutes = serializers.DictField(child=serializers.IntegerField(), read_only=True)
    handle_hours = serializers.DictField(child=serializers.IntegerField(), read_only=True)


class CategorySerializer(serializers.ModelSerializer):
    """A category of the tree: majors (2 digits) have `parent` null, minors name their major's code."""

    business_line = CaseCodeNameSerializer(read_only=True)
    parent = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    is_major = serializers.BooleanField(read_only=True)
    deadlines = serializers.SerializerMethodField()

    class Meta:
        model = Category
        fields = [
            "id",
            "code",
            "name",
            "business_line",
            "parent",
            "is_major",
            "kind",
            "level",
            "unit_kind",
            "resident_reportable",
            "deadlines",
            "form_schema",
        ]
        read_only_fields = fields

    @extend_schema_field(DeadlinesSerializer)
    def get_deadlines(self, category: Category) -> dict[str, dict[str, int]]:
        """The category's deadlines per priority."""
        return {
            "accept_minutes": {p: category.accept_minutes(p) for p in Priority.values},
            "handle_hours": {p: category.handle_hours(p) for p in Priority.values},
        }


class ResolutionFiguresSerializer(serializers.Serializer):
    """Cases closed under one area in the period, by the level they were closed at, and the three rates."""

    area = CaseAreaRefSerializer(read_only=True, allow_null=True)
    closed = serializers.IntegerField(read_only=True)
    closed_by_level = serializers.DictField(
        child=serializers.IntegerField(), read_only=True, help_text=f"Keys: {', '.join(CaseLevel.values)}."
    )
    within_grid = serializers.FloatField(read_only=True, allow_null=True, help_text="不出网率")
    within_community = serializers.FloatField(read_only=True, allow_null=True, help_text="不出社区率")
    within_subdistrict = serializers.FloatField(read_only=True, allow_null=True, help_text="不出街道率")


class ResolutionStatsSerializer(ResolutionFiguresSerializer):
    """The figures of an area in a period, and those of each of its children."""

    start = serializers.DateField(read_only=True)
    end = serializers.DateField(read_only=True)
    children = ResolutionFiguresSerializer(many=True, read_only=True)


class QueueSectionSerializer(serializers.Serializer):
    """One section of the work queue (待办): its cases (at most 50, overdue first) and how many there are."""

    key = serializers.CharField(read_only=True)
    label = serializers.CharField(read_only=True)
    total = serializers.IntegerField(read_only=True)
    cases = CaseListSerializer(many=True, read_only=True)
