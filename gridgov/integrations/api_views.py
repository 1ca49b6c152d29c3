"""POST /api/v1/intake/{channel}/: a camera alarm, a 12345 work order or another system's message, signed.

Checked in this order, each refusal logged: the body's size (413 `too_large`, read no further),
the key of the channel (403 `invalid_api_key`), the signature over the exact bytes (401
`invalid_signature`, nothing stored), then the JSON and its fields and the type's mapping (400),
the sender's id (409 `intake_id_reused`). A new message answers 201 with the case, a replay 200.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from gridgov.cases.models import Case
from gridgov.core import audit
from gridgov.core.api.views import error
from gridgov.core.errors import ApplicationError
from gridgov.integrations import intake
from gridgov.integrations.models import ApiKey
from gridgov.integrations.services import apikey_authenticate

logger = logging.getLogger("gridgov.integrations")

API_KEY_HEADER = "X-Api-Key"

MESSAGE = inline_serializer(
    "IntakeMessageBody",
    {
        "id": serializers.CharField(help_text="The sender's own id of the message (unique per channel)."),
        "type": serializers.CharField(help_text="The sender's event type; mapping rules turn it into a category."),
        "title": serializers.CharField(required=False),
        "description": serializers.CharField(required=False),
        "lat": serializers.FloatField(required=False),
        "lng": serializers.FloatField(required=False),
        "address": serializers.CharField(required=False),
        "occurred_at": serializers.DateTimeField(required=False),
        "priority": serializers.ChoiceField(choices=["normal", "urgent", "critical"], required=False),
        "reporter_name": serializers.CharField(required=False),
        "reporter_phone": serializers.CharField(required=False),
        "media_url": serializers.URLField(required=False),
        "extra": serializers.DictField(required=False, help_text="The category's extra fields."),
    },
)
RECEIVED = inline_serializer(
    "IntakeReceived",
    {
        "id": serializers.IntegerField(),
        "code": serializers.CharField(),
        "state": serializers.CharField(),
        "category": serializers.CharField(),
        "priority": serializers.CharField(),
        "level": serializers.CharField(),
        "outside_grids": serializers.BooleanField(),
        "tracking_code": serializers.CharField(),
        "created_at": serializers.DateTimeField(),
        "channel": serializers.CharField(),
        "intake_id": serializers.CharField(),
        "replayed": serializers.BooleanField(),
    },
)


def _body(received: intake.Received) -> dict[str, Any]:
    case: Case = received.case
    return {
        "id": case.pk,
        "code": case.code,
        "state": case.state,
        "category": case.category.code,
        "priority": case.priority,
        "level": case.level,
        "outside_grids": case.outside_grids,
        "tracking_code": case.tracking_code or "",
        "created_at": timezone.localtime(case.created_at).isoformat(),
        "channel": received.message.channel,
        "intake_id": received.message.sender_id,
        "replayed": received.replayed,
    }


def read_body(request: Any) -> bytes:
    """The raw body, refused (413) without reading it when it is larger than GRIDGOV_INTAKE_MAX_BYTES."""
    limit = intake.max_bytes()
    refusal = ApplicationError(
        "too_large",
        _("The body is larger than %(size)d bytes.") % {"size": limit},
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise refusal
    # Django bounds the stream by Content-Length; reading one byte more than allowed tells an overlong body.
    body = request._request.read(limit + 1)
    if len(body) > limit:
        raise refusal
    return body


class IntakeView(APIView):
    """Receive one signed message of an intake channel."""

    authentication_classes: list = []  # the API key and the signature authenticate, not a user
    permission_classes = [AllowAny]
    parser_classes: list = []  # the body is read raw: the signature covers its exact bytes

    @extend_schema(
        operation_id="intake_receive",
        summary="Receive a signed message (camera alarm, 12345 work order, another system's event)",
        parameters=[
            OpenApiParameter("channel", str, OpenApiParameter.PATH, enum=["camera", "hotline_12345", "generic"]),
            OpenApiParameter(API_KEY_HEADER, str, OpenApiParameter.HEADER, required=True),
            OpenApiParameter(
                intake.SIGNATURE_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="sha256=<hex HMAC-SHA256 of the raw body under the channel's signing secret>",
            ),
        ],
        request={"application/json": MESSAGE},
        responses={
            201: RECEIVED,
            200: OpenApiResponse(RECEIVED, description="A replay of the same id and body: the first case."),
            400: error(
                "`invalid_json`, `invalid` (fields say which), `unknown_field`, `unmapped_type`, "
                "`unknown_category`, `invalid_extra`, `invalid_point`, `outside_scope`."
            ),
            401: error("`invalid_signature`: the signature header is missing or does not match."),
            403: error("`invalid_api_key` (unknown, revoked or another channel's key) or `channel_disabled`."),
            404: error("`unknown_channel`."),
            409: error("`intake_id_reused`: the id was used for another body."),
            413: error("`too_large`: the body is larger than GRIDGOV_INTAKE_MAX_BYTES."),
        },
    )
    def post(self, request, channel: str) -> Response:
        key: ApiKey | None = None
        ip = audit.client_ip(request)
        try:
            row = intake.intake_channel_get(channel)
            body = read_body(request)
            key = apikey_authenticate(raw=request.headers.get(API_KEY_HEADER, ""), channel=channel, ip=ip)
            intake.verify_signature(row=row, body=body, header=request.headers.get(intake.SIGNATURE_HEADER))
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                raise ApplicationError("invalid_json", _("The body is not valid UTF-8 JSON.")) from None
            received = intake.intake_receive(channel=channel, data=data, key=key)
        except ApplicationError as exc:
            logger.warning(
                "intake refused channel=%s status=%s code=%s key=%s ip=%s",
                channel,
                exc.status,
                exc.code,
                key.prefix if key is not None else "-",
                ip or "-",
            )
            raise
        return Response(_body(received), status=status.HTTP_200_OK if received.replayed else status.HTTP_201_CREATED)
