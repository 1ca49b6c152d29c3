"""Pages of the organisation tree: home (tree and map), area page, units, party branches."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.areas import selectors, services
from gridgov.areas.choices import Level
from gridgov.areas.filtersets import PartyBranchFilterSet, UnitFilterSet
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.pages import list_context, map_settings


def home(request: HttpRequest) -> HttpResponse:
    """The area tree beside a map of the boundaries of the current area, with its counts."""
    area = selectors.current_area(request)
    context: dict = {
        "area": area,
        "map": map_settings(),
        "tree": [],
        "summary": None,
        "features": {"type": "FeatureCollection", "features": []},
    }
    if area is not None:
        # Within a grid the work is its household groups; higher up, tree and map stop at grids to stay legible.
        low = area.level in (Level.GRID, Level.GROUP)
        context["tree"] = selectors.area_tree(
            user=request.user, root=area, depth_level=Level.GROUP if low else Level.GRID
        )
        context["features"] = selectors.area_features(
            user=request.user, root=area, levels=(Level.GRID, Level.GROUP) if low else (Level.COMMUNITY, Level.GRID)
        )
        context["summary"] = selectors.area_summary(user=request.user, root=area)
    return render(request, "areas/home.html", context)


def area_detail(request: HttpRequest, pk: int) -> HttpResponse:
    try:
        detail = selectors.area_detail(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc
    features = selectors.area_features(user=request.user, root=detail.area, levels=(detail.area.level, "grid", "group"))
    return render(
        request,
        "areas/area_detail.html",
        {
            "d": detail,
            "area": detail.area,
            "features": features,
            "map": map_settings(),
            "may_set_mode": services.may_set_mode(actor=request.user, area=detail.area),
        },
    )


@require_POST
def switch_area(request: HttpRequest) -> HttpResponse:
    """The area switcher: narrow the pages to one area of the user's scope."""
    try:
        area = selectors.area_get(user=request.user, pk=request.POST.get("area"))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    request.session[selectors.SESSION_AREA_KEY] = area.pk
    target = request.POST.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "/"
    return redirect(target)


def unit_list(request: HttpRequest) -> HttpResponse:
    context = list_context(request, UnitFilterSet, selectors.unit_list(user=request.user))
    return render(request, "areas/unit_list.html", context)


def party_branch_list(request: HttpRequest) -> HttpResponse:
    context = list_context(request, PartyBranchFilterSet, selectors.party_branch_list(user=request.user))
    return render(request, "areas/party_branch_list.html", context)


@require_POST
def area_set_mode(request: HttpRequest, pk: int) -> HttpResponse:
    """Switch an area's subtree between normal and emergency mode (平时 / 战时)."""
    try:
        area = selectors.area_get(user=request.user, pk=pk)
        services.area_set_mode(actor=request.user, area=area, mode=request.POST.get("mode", ""))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request, _("%(area)s is now in %(mode)s mode.") % {"area": area.name, "mode": area.get_mode_display()}
        )
    return redirect("areas:area_detail", pk=pk)
