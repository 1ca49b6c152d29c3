"""/api/v1/cases/, /categories/, /business-lines/, /stats/resolution/.

Reads go through `cases.selectors` (scoped: a case outside the caller's area is a 404), writes
through `cases.services` (`case_report` and the one transition door `case_transition`). The
views parse the body, call one service or selector and render; every refusal is an
ApplicationError rendered as {code, message, fields}. Create, detail and every action answer
with the same case body (`serializers.render_detail`).
"""

from __future__ import annotations

import contextlib
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from gridgov.areas.selectors import area_by_code_or_id
from gridgov.cases import selectors, services
from gridgov.cases.api.pagination import CasePagination
from gridgov.cases.api.serializers import (
    LIST_DEFERRED,
    ActionMultipartSerializer,
    ActionSerializer,
    BusinessLineSerializer,
    CaseDetailDocSerializer,
    CaseListSerializer,
    CaseReportMultipartSerializer,
    CaseReportSerializer,
    CategorySerializer,
    QueueSectionSerializer,
    ResolutionStatsSerializer,
    action_input,
    render_detail,
    report_input,
)
from gridgov.cases.filtersets import CaseFilterSet
from gridgov.cases.models import Case
from gridgov.cases.transitions import USER_ACTIONS
from gridgov.core.api.views import ScopedReadOnlyViewSet
from gridgov.core.errors import ApplicationError, NotFound

ERROR = inline_serializer(
    "CaseApiError",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


def error(description: str) -> OpenApiResponse:
    """An error response for the OpenAPI document."""
    return OpenApiResponse(response=ERROR, description=description)


TRUE_VALUES = frozenset({"1", "true", "yes", "on"})


# --- uploads ----------------------------------------------------------------------------------


class CaseFileLimitHandler(FileUploadHandler):
    """Stops reading an uploaded file once it passes the case file limit, and remembers its name.

    Without it a 30 MB photo would be read to the end and spooled to disk before the service
    refuses it; with it at most the limit is read, and the view refuses the request with
    `file_too_large` before anything is written.
    """

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.limit = settings.GRIDGOV_CASE_FILE_MAX_BYTES
        self.received = 0
        self.too_large: list[str] = []

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        """Count each file from zero."""
        super().new_file(*args, **kwargs)
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        """Pass the chunk on, or skip the rest of a file that has grown past the limit."""
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large.append(self.file_name or "file")
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        """Leave the file to the next handler."""
        return None


def _install_upload_limit(request: Any) -> None:
    """Put the limit first among the request's upload handlers (before anything reads the body)."""
    if request.method != "POST" or not request.content_type.startswith("multipart/"):
        return
    # AttributeError: the body was already read; the service's own size check still applies.
    with contextlib.suppress(AttributeError):
        request.upload_handlers = [CaseFileLimitHandler(request), *request.upload_handlers]


def _refuse_skipped_files(request: Any) -> None:
    handler = next((h for h in request._request.upload_handlers if isinstance(h, CaseFileLimitHandler)), None)
    if handler is not None and handler.too_large:
        limit = settings.GRIDGOV_CASE_FILE_MAX_BYTES / 1048576
        message = _("%(name)s is too large (at most %(limit).0f MB).") % {"name": handler.too_large[0], "limit": limit}
        raise ApplicationError("file_too_large", message, fields={"files": [message]})


# --- rendering --------------------------------------------------------------------------------


def _detail(case: Case, user: Any) -> selectors.CaseDetail:
    """The case body read back through the scope; if the caller's own step took the case out of
    their scope (a unit returned it, a point outside every grid went to the subdistrict), the case
    the service returned, with what the caller may still do (usually nothing)."""
    try:
        return selectors.case_detail(user=user, pk=case.pk)
    except NotFound:
        return selectors.CaseDetail(
            case=case,
            timeline=selectors.case_timeline(case=case),
            attachments=selectors.case_attachments(case=case),
            actions=services.allowed_actions(actor=user, case=case),
            co_units=[link.unit for link in case.co_unit_links.select_related("unit")],
            related=list(case.related.all()),
        )


STATE_ERRORS = {
    403: error("`forbidden`: the caller's role may not take this action on this case."),
    404: error("`not_found`: no such case in the caller's area; `unknown_action`: no such action."),
    409: error("`illegal_transition`: the case's state does not allow the action (`fields.state` says which)."),
}
AREA = OpenApiParameter("area", OpenApiTypes.STR, description="An area id or code; default the caller's top area.")
START = OpenApiParameter("start", OpenApiTypes.DATE, description="First day (inclusive); default 1 January.")
END = OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (inclusive); default today.")
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    location=OpenApiParameter.HEADER,
    description="Replaying the same key with the same body returns the same case (200); another body is a 409.",
)


@extend_schema_view(
    list=extend_schema(
        responses={200: CaseListSerializer(many=True), 400: error("`invalid`: a filter value (fields say which).")}
    ),
    retrieve=extend_schema(
        responses={200: CaseDetailDocSerializer, 404: error("`not_found`: no such case in the caller's area.")}
    ),
)
class CaseViewSet(ScopedReadOnlyViewSet):
    """Cases of the caller's area (a unit handler: the cases dispatched to their unit, also as co-handler)."""

    serializer_class = CaseListSerializer
    filterset_class = CaseFilterSet
    # The count stops at 10,000: an exact count over a million rows is most of a page's time.
    pagination_class = CasePagination
    list_selector = selectors.case_list
    get_selector = selectors.case_get
    lookup_value_regex = r"\d+"
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    def initialize_request(self, request, *args: Any, **kwargs: Any):
        """Install the upload limit before DRF (or its CSRF check) reads the body."""
        _install_upload_limit(request)
        return super().initialize_request(request, *args, **kwargs)

    def get_queryset(self):
        """The scoped cases without the columns a list row never shows."""
        return super().get_queryset().defer(*LIST_DEFERRED)

    def body(self, case: Case) -> dict[str, Any]:
        """The case body every write answers with."""
        return render_detail(_detail(case, self.request.user), self.get_serializer_context())

    def retrieve(self, request, *args: Any, **kwargs: Any) -> Response:
        """One case with its timeline, files, links and the actions the caller may take now."""
        detail = selectors.case_detail(user=request.user, pk=kwargs["pk"])
        return Response(render_detail(detail, self.get_serializer_context()))

    @extend_schema(
        parameters=[IDEMPOTENCY_KEY],
        request={"application/json": CaseReportSerializer, "multipart/form-data": CaseReportMultipartSerializer},
        responses={
            201: CaseDetailDocSerializer,
            200: OpenApiResponse(CaseDetailDocSerializer, description="A replay of an Idempotency-Key: the same case."),
            400: error(
                "`unknown_category`, `invalid_extra` (fields `extra.<name>`), `invalid_point`, `outside_scope`, "
                "`file_too_large`, `unsupported_file`, `invalid_file`, `unknown_field` or `invalid`."
            ),
            409: error("`idempotency_key_reused`: the key was used with another body."),
        },
    )
    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        """Report a case. A point outside every grid is taken by the subdistrict (`outside_grids: true`)."""
        fields, files = report_input(request.data, request.FILES)
        _refuse_skipped_files(request)
        case = services.case_report(
            actor=request.user, idempotency_key=request.headers.get("Idempotency-Key"), files=files, **fields
        )
        if getattr(case, "replayed", False):
            return Response(self.body(case), status=status.HTTP_200_OK)
        # A new case is answered from what the service wrote, its timeline entry and files included: reading
        # it back through the scope cost a nine-join query and seven more (make bench: cases.intake_http).
        detail = selectors.CaseDetail(
            case=case,
            timeline=[case.report_event],
            attachments=case.report_files,
            actions=services.allowed_actions(actor=request.user, case=case),
        )
        body = render_detail(detail, self.get_serializer_context(), reported=True)
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "action_name",
                OpenApiTypes.STR,
                location=OpenApiParameter.PATH,
                enum=list(USER_ACTIONS),
                description="The action to take.",
            )
        ],
        request={"application/json": ActionSerializer, "multipart/form-data": ActionMultipartSerializer},
        responses={
            200: CaseDetailDocSerializer,
            400: error("`invalid` (fields say which), `unknown_unit`, `unknown_case`, `file_too_large` …"),
            **STATE_ERRORS,
        },
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"actions/(?P<action_name>[a-z_]+)",
        url_name="action",
        filterset_class=None,
        pagination_class=None,
    )
    def act(self, request, pk=None, action_name: str = "") -> Response:
        """Take one action on the case through the transition door; the answer is the case after it."""
        if action_name not in USER_ACTIONS:
            raise NotFound("unknown_action", _("Unknown action: %(action)s.") % {"action": action_name})
        case = selectors.case_get(user=request.user, pk=pk)
        params = action_input(action_name, request.data, request.FILES)
        _refuse_skipped_files(request)
        case = services.case_transition(actor=request.user, case=case, action=action_name, **params)
        return Response(self.body(case))

    @extend_schema(responses={200: QueueSectionSerializer(many=True)})
    @action(detail=False, methods=["get"], filterset_class=None, pagination_class=None)
    def queue(self, request) -> Response:
        """The caller's work queue (待办): to accept, to dispatch, to claim, in hand, to verify, extensions."""
        sections = selectors.work_queue(user=request.user)
        return Response(QueueSectionSerializer(sections, many=True, context=self.get_serializer_context()).data)


RESIDENT = OpenApiParameter("resident", OpenApiTypes.BOOL, description="`1`: only minors residents may report.")


@extend_schema_view(list=extend_schema(parameters=[RESIDENT]))
class CategoryViewSet(viewsets.ReadOnlyModelViewSet):
    """The category tree (majors with `parent` null, minors naming their major), ordered by code. Not paged."""

    serializer_class = CategorySerializer
    pagination_class = None
    lookup_field = "code"
    lookup_value_regex = r"\d{2}|\d{5}"

    def get_queryset(self):
        """Every active category, or with `?resident=1` the minors residents may report."""
        resident = self.request.query_params.get("resident", "").strip().lower() in TRUE_VALUES
        return selectors.category_list(user=self.request.user, resident=resident)


class BusinessLineViewSet(viewsets.ReadOnlyModelViewSet):
    """The business lines (业务条线) the categories hang under. Not paged."""

    serializer_class = BusinessLineSerializer
    pagination_class = None

    def get_queryset(self):
        """The active business lines."""
        return selectors.business_line_list()


class ResolutionStatsViewSet(viewsets.ViewSet):
    """不出网率 / 不出社区率 / 不出街道率: cases closed in a period under an area, by level at closure."""

    @extend_schema(
        parameters=[AREA, START, END],
        responses={
            200: ResolutionStatsSerializer,
            400: error("`invalid`: a date is malformed, or the end is before the start."),
            404: error("`not_found`: the area is outside the caller's scope."),
        },
    )
    def list(self, request) -> Response:
        """The figures of `area` (default the caller's top area) from `start` to `end`, and of its children."""
        area = area_by_code_or_id(user=request.user, value=request.query_params.get("area", ""))
        stats = selectors.resolution_stats(
            user=request.user,
            area=area,
            start=request.query_params.get("start"),
            end=request.query_params.get("end"),
        )
        return Response(stats.as_dict())
