"""The one API error body: {"code", "message", "fields"} for every failure."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from gridgov.core.errors import ApplicationError, from_validation_error

logger = logging.getLogger("gridgov.api")

# DRF's own failures, with our codes and Chinese-first messages.
_DRF_CODES: dict[type[exceptions.APIException], tuple[str, Any]] = {
    exceptions.NotAuthenticated: ("not_authenticated", lambda: _("Authentication credentials were not provided.")),
    exceptions.PermissionDenied: ("forbidden", lambda: _("You do not have permission to do this.")),
    exceptions.NotFound: ("not_found", lambda: _("Not found.")),
    exceptions.MethodNotAllowed: ("method_not_allowed", lambda: _("Method not allowed.")),
    exceptions.UnsupportedMediaType: ("unsupported_media_type", lambda: _("Unsupported media type.")),
    exceptions.Throttled: ("throttled", lambda: _("Too many requests; try again later.")),
    exceptions.ParseError: ("malformed_request", lambda: _("The request body could not be parsed.")),
    exceptions.NotAcceptable: ("not_acceptable", lambda: _("The requested format is not available.")),
}


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "field.sub": [reasons]}."""
    fields: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for sub, reasons in _flatten(value, name).items():
                fields.setdefault(sub, []).extend(reasons)
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list) and item:
                for sub, reasons in _flatten(item, f"{prefix}.{index}" if prefix else str(index)).items():
                    fields.setdefault(sub, []).extend(reasons)
            elif item:
                fields.setdefault(prefix or "non_field_errors", []).append(str(item))
    elif detail:
        fields.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return fields


def error_body(exc: Exception) -> tuple[dict[str, Any], int]:
    """The body and status for any exception a view may raise."""
    if isinstance(exc, ApplicationError):
        return exc.as_dict(), exc.status
    if isinstance(exc, DjangoValidationError):
        app = from_validation_error(exc)
        return app.as_dict(), app.status
    if isinstance(exc, Http404):
        return {"code": "not_found", "message": _("Not found."), "fields": {}}, 404
    if isinstance(exc, DjangoPermissionDenied):
        return {"code": "forbidden", "message": _("You do not have permission to do this."), "fields": {}}, 403
    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        first = next(iter(fields.values()), [_("The data is not valid.")])[0]
        return {"code": "invalid", "message": first, "fields": fields}, status.HTTP_400_BAD_REQUEST
    if isinstance(exc, exceptions.AuthenticationFailed):
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) and codes != "authentication_failed" else "authentication_failed"
        return {"code": code, "message": str(exc.detail), "fields": {}}, exc.status_code
    if isinstance(exc, exceptions.APIException):
        code, message = _DRF_CODES.get(type(exc), (None, None))
        if code is None:
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else "error"
            message = str(exc.detail)
        else:
            message = message()
        return {"code": code, "message": message, "fields": {}}, exc.status_code
    raise exc


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every handled failure as {code, message, fields}, and a log line."""
    try:
        body, code = error_body(exc)
    except Exception:
        return None  # an unexpected exception: let Django's 500 handler log and answer it
    request = context.get("request")
    logger.warning(
        "api error status=%s code=%s path=%s user=%s",
        code,
        body["code"],
        getattr(request, "path", "-"),
        getattr(getattr(request, "user", None), "username", "-") or "-",
    )
    response = Response(body, status=code)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        response["WWW-Authenticate"] = 'Token realm="api"'
        response.status_code = 401
    return response


def json_error(code: str, message: str, status_code: int, fields: dict | None = None) -> JsonResponse:
    return JsonResponse(
        {"code": code, "message": message, "fields": fields or {}},
        status=status_code,
        json_dumps_params={"ensure_ascii": False},
    )
