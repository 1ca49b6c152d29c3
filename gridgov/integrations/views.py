"""Pages of the integrations app: the 12345 work-order import and its template."""

from __future__ import annotations

import io

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_http_methods

from gridgov.core.errors import ApplicationError
from gridgov.integrations import hotline, intake, selectors
from gridgov.integrations.forms import HotlineImportForm
from gridgov.integrations.services import can_manage_keys
from gridgov.registry.excel import XLSX_CONTENT_TYPE

RECENT = 20


def _require_manager(request: HttpRequest) -> None:
    if not can_manage_keys(request.user):
        raise DjangoPermissionDenied


@require_http_methods(["GET", "POST"])
def hotline_import(request: HttpRequest) -> HttpResponse:
    """Upload a 12345 export: every row checked, then all orders imported in one go, or the list of errors."""
    _require_manager(request)
    intake.intake_channel_get(hotline.CHANNEL)  # puts the default rules back after a flush, before listing them
    result = None
    if request.method == "POST":
        form = HotlineImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = hotline.import_hotline_file(
                    upload, actor=request.user, dry_run=form.cleaned_data["dry_run"], file_name=upload.name
                )
            except ApplicationError as exc:
                form.add_error("file", exc.message)
    else:
        form = HotlineImportForm()
    context = {
        "form": form,
        "result": result,
        "rules": selectors.mapping_rule_list(channel=hotline.CHANNEL),
        "messages_recent": selectors.intake_message_list(user=request.user, channel=hotline.CHANNEL)[:RECENT],
        "max_mb": f"{hotline.max_bytes() / (1024 * 1024):g}",
        "max_rows": f"{hotline.MAX_ROWS:,}",
    }
    return render(request, "integrations/hotline_import.html", context, status=200)


@require_GET
def hotline_template(request: HttpRequest) -> HttpResponse:
    """The import template, with the hotline's current mapping rules on its third sheet."""
    _require_manager(request)
    buffer = io.BytesIO()
    hotline.write_template(buffer)
    response = HttpResponse(buffer.getvalue(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename="12345工单导入模板.xlsx")
    add_never_cache_headers(response)
    return response
