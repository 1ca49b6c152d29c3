"""Views every deployment needs: health, the audit browser, and JSON-aware error pages."""

from __future__ import annotations

import logging
import time

from django.contrib.auth.decorators import user_passes_test
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from gridgov.core import generations, selectors
from gridgov.core.api.errors import json_error
from gridgov.core.filtersets import AuditEventFilterSet
from gridgov.core.pages import list_context

logger = logging.getLogger("gridgov")


def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database answers, 503 when it does not."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # any database failure means unhealthy
        logger.error("healthz: database unavailable: %s", exc)
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    from gridgov.core.tasks import HEARTBEAT

    beat = generations.current(HEARTBEAT)
    worker = {"last_seen_seconds_ago": int(time.time()) - beat} if beat else {"last_seen_seconds_ago": None}
    return JsonResponse({"status": "ok", "database": "ok", "worker": worker})


@user_passes_test(lambda u: u.is_superuser)
def audit_list(request: HttpRequest) -> HttpResponse:
    """Admins browse and filter the audit trail; nobody edits it."""
    context = list_context(request, AuditEventFilterSet, selectors.audit_event_list(user=request.user))
    return render(request, "core/audit_list.html", context)


def _wants_json(request: HttpRequest) -> bool:
    return request.path.startswith("/api/") or "application/json" in request.headers.get("Accept", "")


def error_404(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return json_error("not_found", _("Not found."), 404)
    return render(request, "errors/404.html", status=404)


def error_403(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return json_error("forbidden", _("You do not have permission to do this."), 403)
    return render(request, "errors/403.html", status=403)


def error_400(request: HttpRequest, exception=None) -> HttpResponse:
    if _wants_json(request):
        return json_error("bad_request", _("The request could not be understood."), 400)
    return render(request, "errors/400.html", status=400)


def error_500(request: HttpRequest) -> HttpResponse:
    if _wants_json(request):
        return json_error("server_error", _("An internal error occurred; it has been logged."), 500)
    return render(request, "errors/500.html", status=500)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    logger.warning("csrf failure path=%s reason=%s", request.path, reason)
    if _wants_json(request):
        return json_error("csrf_failed", _("The form expired or came from elsewhere; reload the page."), 403)
    return render(request, "errors/403.html", {"csrf": True}, status=403)
