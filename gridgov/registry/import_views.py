"""Pages of Excel in and out: the import page and its job, the templates, and the exports.

Imports go through `registry.imports` (which calls `excel.import_file`); exports read through
the list pages' selectors and FilterSets, narrowed to the area switcher's current area, and
write masked values only.
"""

from __future__ import annotations

import io
import tempfile
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import content_disposition_header, url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from gridgov.areas.selectors import current_area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.registry import excel, imports, selectors
from gridgov.registry.filtersets import (
    BuildingFilterSet,
    HouseholdFilterSet,
    PlaceFilterSet,
    ResidentFilterSet,
    ShopFilterSet,
)
from gridgov.registry.models import ImportJob

ERRORS_SHOWN = 500  # rows of the error table on the page; the report has them all


def _xlsx_response(content: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=excel.XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=filename)
    add_never_cache_headers(response)
    return response


# --- import ---------------------------------------------------------------------------------------


class ImportForm(forms.Form):
    """Kind, file and the dry-run switch; refuses a file too large or not an .xlsx before saving it."""

    kind = forms.ChoiceField(label=gettext_lazy("Records"), choices=ImportJob.Kind.choices)
    file = forms.FileField(
        label=gettext_lazy("Excel file (.xlsx)"),
        widget=forms.ClearableFileInput(attrs={"accept": ".xlsx," + excel.XLSX_CONTENT_TYPE}),
    )
    dry_run = forms.BooleanField(label=gettext_lazy("Check only: import nothing"), required=False)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if not (upload.name or "").lower().endswith(".xlsx"):
            raise forms.ValidationError(
                _("Choose an Excel workbook (.xlsx): save the file as .xlsx and upload it again.")
            )
        try:
            excel.check_upload(upload, size=upload.size)
        except ApplicationError as exc:
            raise forms.ValidationError(exc.message) from None
        return upload


def _job_or_404(request: HttpRequest, pk: int) -> ImportJob:
    try:
        return imports.import_job_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def import_start(request: HttpRequest) -> HttpResponse:
    """Choose the kind of records, upload the filled template, optionally only check it."""
    if not imports.may_import(request.user):
        raise DjangoPermissionDenied
    kind = request.GET.get("kind") if request.GET.get("kind") in excel.IMPORT_KINDS else "residents"
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            try:
                job = imports.import_job_create(
                    actor=request.user,
                    kind=form.cleaned_data["kind"],
                    upload=form.cleaned_data["file"],
                    dry_run=form.cleaned_data["dry_run"],
                )
            except ApplicationError as exc:
                form.add_error("file", exc.message)
            else:
                return redirect("registry:import_job", pk=job.pk)
    else:
        form = ImportForm(initial={"kind": kind})
    context = {
        "form": form,
        "kind": kind,
        "templates": [(k, excel.FORMATS[k].title) for k in excel.IMPORT_KINDS],
        "jobs": imports.import_job_list(user=request.user)[:10],
        "max_mb": f"{settings.GRIDGOV_IMPORT_MAX_BYTES / (1024 * 1024):g}",
    }
    return render(request, "registry/imports/import_start.html", context)


def _job_context(job: ImportJob) -> dict[str, Any]:
    percent = 100 if job.finished else (int(job.processed * 100 / job.total) if job.total else 0)
    return {
        "job": job,
        "percent": min(percent, 100),
        "errors": job.errors[:ERRORS_SHOWN],
        "errors_cut": job.error_count > ERRORS_SHOWN,
        "writing": job.state == ImportJob.State.RUNNING and job.total and job.processed >= job.total,
        "list_url": reverse(EXPORT_SOURCES[job.kind][2]) if job.kind in EXPORT_SOURCES else "",
    }


def import_job(request: HttpRequest, pk: int) -> HttpResponse:
    """A job's page: the progress bar while it runs, then what it created or every error."""
    job = _job_or_404(request, pk)
    return render(request, "registry/imports/import_job.html", _job_context(job))


@require_GET
def import_job_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's status partial; HTMX polls it every second until the job has finished."""
    job = _job_or_404(request, pk)
    response = render(request, "registry/imports/partials/_job_status.html", _job_context(job))
    add_never_cache_headers(response)
    return response


@require_GET
def import_report_xlsx(request: HttpRequest, pk: int) -> HttpResponse:
    """The job's errors as an .xlsx: row, column, masked value, reason."""
    job = _job_or_404(request, pk)
    if not job.errors:
        raise Http404(_("This import has no errors."))
    buffer = io.BytesIO()
    title = f"{job.file_name} · {job.get_kind_display()} · {timezone.localtime(job.created_at):%Y-%m-%d %H:%M}"
    excel.write_error_report(job.errors, buffer, title=title)
    return _xlsx_response(buffer.getvalue(), f"导入错误报告-{job.pk}.xlsx")


@require_GET
def template_download(request: HttpRequest, kind: str) -> HttpResponse:
    """The import template of a kind: the same file `gridgov template <kind> FILE.xlsx` writes."""
    if kind not in excel.FORMATS:
        raise Http404(_("Unknown kind of records: %(kind)s") % {"kind": kind})
    buffer = io.BytesIO()
    excel.write_template(kind, buffer)
    return _xlsx_response(buffer.getvalue(), f"{excel.FORMATS[kind].title}导入模板.xlsx")


# --- export ---------------------------------------------------------------------------------------

EXPORT_SOURCES = {
    "residents": (selectors.resident_list, ResidentFilterSet, "registry:resident_list"),
    "households": (selectors.household_list, HouseholdFilterSet, "registry:household_list"),
    "buildings": (selectors.building_list, BuildingFilterSet, "registry:building_list"),
    "shops": (selectors.shop_list, ShopFilterSet, "registry:shop_list"),
    "places": (selectors.place_list, PlaceFilterSet, "registry:place_list"),
}


def _back(request: HttpRequest, list_url_name: str) -> HttpResponse:
    target = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        query = request.GET.urlencode()
        target = reverse(list_url_name) + (f"?{query}" if query else "")
    return redirect(target)


def _filters_for_audit(request: HttpRequest) -> dict[str, list[str]]:
    # A search by full ID or phone number must not reach the audit trail in clear.
    return {
        name: [excel.masked_value(None, value) for value in values]
        for name, values in request.GET.lists()
        if name != "page"
    }


@require_GET
def export(request: HttpRequest, kind: str) -> HttpResponse:
    """The list page's rows (same selector, FilterSet and current area) as an .xlsx ledger, masked."""
    if kind not in EXPORT_SOURCES:
        raise Http404(_("Unknown kind of records: %(kind)s") % {"kind": kind})
    selector, filterset_class, list_url_name = EXPORT_SOURCES[kind]
    queryset = selector(user=request.user)
    if kind == "households":
        queryset = queryset.annotate(member_count=Count("members"))
    area = current_area(request)
    if area is not None:
        queryset = selectors.in_area(queryset, area.code)
    filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    count = rows[: excel.EXPORT_MAX_ROWS + 1].count()
    if count > excel.EXPORT_MAX_ROWS:
        messages.error(
            request,
            _("An export holds at most %(limit)s rows: narrow the list with the filters and export again.")
            % {"limit": f"{excel.EXPORT_MAX_ROWS:,}"},
        )
        return _back(request, list_url_name)
    day = timezone.localdate()
    handle = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it once it has been sent
    written = excel.write_export(
        kind, rows.iterator(chunk_size=2000), handle, area_name=area.name if area else "", day=day
    )
    audit.record(
        actor=request.user,
        event="registry.export",
        ip=audit.client_ip(request),
        data={
            "kind": kind,
            "filters": _filters_for_audit(request),
            "rows": written,
            "area": area.code if area else "",
        },
    )
    handle.seek(0)
    filename = f"{area.name if area else ''}{excel.EXPORTS[kind].title}-{day:%Y%m%d}.xlsx"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=excel.XLSX_CONTENT_TYPE)
    add_never_cache_headers(response)
    return response
