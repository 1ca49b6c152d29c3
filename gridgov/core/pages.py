"""The one way a list page filters and paginates, so every list feels the same."""

from __future__ import annotations

from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest

PER_PAGE = 50


def list_context(request: HttpRequest, filterset_class: type, queryset: Any, per_page: int = PER_PAGE) -> dict:
    """Filter `queryset` (already scoped) by the request and return the page with its query string."""
    filterset = filterset_class(request.GET or None, queryset=queryset, request=request)
    rows = filterset.qs if filterset.is_bound and filterset.is_valid() else filterset.queryset
    page = Paginator(rows, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return {"filter": filterset, "page": page, "query": query.urlencode()}


def map_settings() -> dict[str, str]:
    """What every page with a Leaflet map needs: the optional tile layer (none by default: intranets)."""
    from django.conf import settings

    return {"tile_url": settings.GRIDGOV_MAP_TILE_URL, "attribution": settings.GRIDGOV_MAP_TILE_ATTRIBUTION}
