"""Pages of fieldwork: exports (ledgers).

The campaign ledger (排查台账) holds the campaign's targets the user's scope covers: a grid worker
downloads their grid's rows of a subdistrict campaign. The download is audited; a ledger above
GRIDGOV_EXPORT_MAX_ROWS is refused with a message, never cut short.
"""

from __future__ import annotations

import io
import re

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET

from gridgov.areas.selectors import user_default_area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.fieldwork import ledgers
from gridgov.fieldwork.models import Campaign
from gridgov.fieldwork.selectors import campaigns as selectors

_UNSAFE_FILENAME = re.compile(r'[\\/:*?"<>|\x00-\x1f]+')


def _back(request: HttpRequest, campaign: Campaign) -> HttpResponse:
    """Back to the page the export was asked from (the campaign's page when there is no usable Referer)."""
    target = request.headers.get("Referer", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("fieldwork:campaign", args=[campaign.pk])
    return redirect(target)


@login_required
@require_GET
def campaign_ledger(request: HttpRequest, pk: int) -> HttpResponse:
    """The campaign's 排查台账 .xlsx: the targets in the user's scope, their findings and cases."""
    user = request.user
    try:
        campaign = selectors.campaign_get(user=user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    targets = selectors.target_list(user=user, campaign=campaign)
    # A ledger narrower than the campaign says whose it is (a grid worker's: their grid).
    area = user_default_area(user=user)
    narrower = area is not None and area.code.startswith(campaign.area_code) and area.code != campaign.area_code
    area_name = area.name if narrower else campaign.area.name
    now = timezone.now()
    try:
        content = ledgers.campaign_ledger(campaign=campaign, targets=targets, area_name=area_name, exported_at=now)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return _back(request, campaign)
    audit.record(
        actor=user,
        event="fieldwork.campaign.export",
        obj=campaign,
        ip=audit.client_ip(request),
        data={"rows": targets.count(), "area": area.code if narrower else campaign.area_code},
    )
    name = _UNSAFE_FILENAME.sub("_", ledgers.ledger_title(campaign))
    filename = f"{name}-{timezone.localtime(now):%Y%m%d}.xlsx"
    response = FileResponse(
        io.BytesIO(content), as_attachment=True, filename=filename, content_type=ledgers.XLSX_CONTENT_TYPE
    )
    add_never_cache_headers(response)
    return response


urlpatterns = [
    path("campaigns/<int:pk>/ledger.xlsx", campaign_ledger, name="campaign_ledger"),
]
