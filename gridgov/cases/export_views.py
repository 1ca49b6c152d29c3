"""Ledger and notice downloads: the case list as a 问题整改台账 (.xlsx), one case as a 整改通知书 (.docx).

The ledger reads what the case list shows: `selectors.case_list` (the scope) narrowed by the same
`CaseFilterSet` from the same query string. Invalid filters and lists above GRIDGOV_EXPORT_MAX_ROWS
are refused with a message on the list, never exported silently unfiltered or cut short. Both
downloads are audited (the filters masked, as in the registry's exports).
"""

from __future__ import annotations

import io
import tempfile
from datetime import date
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.db.models import Model
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from gridgov.areas.models import Area
from gridgov.areas.selectors import user_default_area
from gridgov.cases import ledgers, selectors
from gridgov.cases.filtersets import CaseFilterSet
from gridgov.cases.models import Category
from gridgov.core import audit
from gridgov.core.errors import NotFound
from gridgov.registry.excel import masked_value

DEFAULT_EXPORT_MAX_ROWS = 50_000
EXPORT_CHUNK = 2_000


def _max_rows() -> int:
    return int(getattr(settings, "GRIDGOV_EXPORT_MAX_ROWS", DEFAULT_EXPORT_MAX_ROWS))


def _back_to_list(request: HttpRequest) -> HttpResponse:
    """Back to the list the export was asked from (its filters kept)."""
    target = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        query = request.GET.urlencode()
        target = reverse("cases:list") + (f"?{query}" if query else "")
    return redirect(target)


def _display(field: forms.Field, value: Any) -> str:
    """A cleaned filter value as the ledger's summary prints it (a category prints as 02003 路灯损坏)."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Model):
        return str(value)
    choices = {str(k): v for k, v in getattr(field, "choices", None) or [] if not isinstance(v, list | tuple)}
    values = value if isinstance(value, list | tuple) else [value]
    return "、".join(str(choices.get(str(v), v)) for v in values)


def filter_summary(filterset: CaseFilterSet) -> str:
    """The filters in effect, e.g. 状态：已结案；类别：02001 道路塌陷与破损 (全部 when none)."""
    if not filterset.is_bound:
        return "全部"
    data = filterset.form.cleaned_data
    parts = []
    for name, field in filterset.form.fields.items():
        value = data.get(name)
        if value in (None, "", [], ()):
            continue
        if name == "q":
            text = masked_value(None, value)
        elif name == "category" and isinstance(value, str):
            category = Category.objects.filter(code=value).only("code", "name").first()
            text = str(category) if category else value
        else:
            text = _display(field, value)
        parts.append(f"{field.label}：{text}")
    return "；".join(parts) or "全部"


def _filter_area(filterset: CaseFilterSet) -> Area | None:
    """The area the list is filtered to, if any (its name heads the ledger)."""
    if not filterset.is_bound:
        return None
    data = filterset.form.cleaned_data
    area = data.get("area")
    return area if isinstance(area, Area) else data.get("_area")


def _filters_for_audit(request: HttpRequest) -> dict[str, list[str]]:
    # A search text may hold a phone number: the audit trail keeps it masked.
    return {name: [masked_value(None, v) for v in values] for name, values in request.GET.lists() if name != "page"}


@require_GET
def ledger_export(request: HttpRequest) -> HttpResponse:
    """The filtered case list as the 问题整改台账 .xlsx (only cases in the user's scope)."""
    filterset = CaseFilterSet(request.GET or None, queryset=selectors.case_list(user=request.user), request=request)
    if filterset.is_bound and not filterset.is_valid():
        reasons = "；".join(str(e) for errors in filterset.form.errors.values() for e in errors)
        messages.error(
            request, _("The filters are not valid, nothing was exported: %(reasons)s") % {"reasons": reasons}
        )
        return _back_to_list(request)
    rows = filterset.qs if filterset.is_bound else filterset.queryset
    limit = _max_rows()
    if rows.order_by()[: limit + 1].count() > limit:
        messages.error(
            request,
            _("A ledger holds at most %(limit)s cases: narrow the list with the filters and export again.")
            % {"limit": f"{limit:,}"},
        )
        return _back_to_list(request)
    area = _filter_area(filterset) or user_default_area(user=request.user)
    now = timezone.now()
    cases = (
        rows.select_related("verifier")
        .prefetch_related("co_unit_links__unit")
        .order_by("id")
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    handle = tempfile.TemporaryFile()  # noqa: SIM115 — FileResponse closes it once it has been sent
    written = ledgers.write_ledger(
        cases,
        handle,
        info=ledgers.LedgerInfo(
            area_name=area.name if area else "", summary=filter_summary(filterset), exported_at=now
        ),
    )
    audit.record(
        actor=request.user,
        event="cases.export",
        ip=audit.client_ip(request),
        data={"filters": _filters_for_audit(request), "rows": written, "area": area.code if area else ""},
    )
    handle.seek(0)
    filename = f"{ledgers.LEDGER_TITLE}-{timezone.localtime(now):%Y%m%d}.xlsx"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=ledgers.XLSX_CONTENT_TYPE)
    add_never_cache_headers(response)
    return response


def _subdistrict_name(case: Any) -> str:
    """The subdistrict whose 综治中心 issues the notice. Its name is not personal data and a unit's
    handler, whose scope is the unit, may not read areas: a plain lookup by the case's code."""
    code = case.area_code[:9]
    if case.handling_area.code == code:
        return case.handling_area.name
    return Area.objects.filter(code=code).values_list("name", flat=True).first() or ""


@require_GET
def rectification_notice(request: HttpRequest, pk: int) -> HttpResponse:
    """The 整改通知书 (.docx) for a case in the user's scope that has a responsible unit."""
    try:
        case = selectors.case_get(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    if case.unit_id is None:
        return render(request, "cases/ledger/notice_unavailable.html", {"case": case}, status=409)
    user = request.user
    info = ledgers.NoticeInfo(
        subdistrict=_subdistrict_name(case),
        contact_name=user.name or user.get_username(),
        contact_phone=getattr(user, "phone", "") or "",
    )
    handle = io.BytesIO()
    ledgers.write_rectification_notice(case, handle, info=info)
    audit.record(actor=user, event="cases.notice", obj=case, ip=audit.client_ip(request), data={"unit": case.unit_id})
    handle.seek(0)
    filename = f"{ledgers.NOTICE_TITLE}-{case.code}.docx"
    response = FileResponse(handle, as_attachment=True, filename=filename, content_type=ledgers.DOCX_CONTENT_TYPE)
    add_never_cache_headers(response)
    return response
