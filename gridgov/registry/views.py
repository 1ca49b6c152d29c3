"""Pages of the registry (人·物): lists, detail pages, the resident form, the audited reveal, the map.

Every read goes through `registry.selectors` (so through the scope) and lists are narrowed to
the area switcher's current area; every write goes through `registry.services`. Full ID and
phone numbers reach a page only through `services.reveal`, which checks the role and audits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.areas.selectors import area_features, current_area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, NotFound, PermissionDenied
from gridgov.core.pages import list_context, map_settings
from gridgov.registry import selectors, services
from gridgov.registry.choices import BuildingUse, PlaceKind, Relation
from gridgov.registry.filtersets import (
    BuildingFilterSet,
    HouseholdFilterSet,
    PlaceFilterSet,
    ResidentFilterSet,
    ShopFilterSet,
)
from gridgov.registry.forms import ResidentForm, writable_grids, write_codes
from gridgov.registry.models import Building, Place, Resident, Shop

# The map draws at most this many buildings, shops and places each; the page says when it stopped.
MAP_LIMIT = 5000
# Map colours, in one place for the map script and the legend. Self-built houses stand out in orange.
USE_COLOURS = {
    BuildingUse.RESIDENTIAL: "#2f6db5",
    BuildingUse.SELF_BUILT: "#fd7e14",
    BuildingUse.COMMERCIAL: "#6f42c1",
    BuildingUse.MIXED: "#20a39e",
}
PLACE_COLOURS = {
    PlaceKind.PARK: "#2e9d4f",
    PlaceKind.ROAD: "#6c757d",
    PlaceKind.FIRE_LANE: "#d63384",
    PlaceKind.CAMERA: "#0d6efd",
    PlaceKind.KEY_SITE: "#dc3545",
}


# --- helpers ----------------------------------------------------------------------------------


def _get(getter: Callable[..., Any], request: HttpRequest, pk: int) -> Any:
    """One record through its selector; 404 when it is missing or outside the scope."""
    try:
        return getter(user=request.user, pk=pk)
    except NotFound as exc:
        raise Http404(exc.message) from exc


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def may_write(user: Any, code: str | None) -> bool:
    """The user keeps the registry of some grid in the area with this code (shows 新建 and 编辑).

    Buttons only: the services decide (`services.require_write`) on every write.
    """
    if not code:
        return False
    codes = write_codes(user)
    if codes is None:
        return True
    return any(code.startswith(c) or c.startswith(code) for c in codes)


def _narrowed(request: HttpRequest, queryset: QuerySet) -> tuple[QuerySet, Area | None]:
    """A scoped registry queryset narrowed to the current area of the area switcher."""
    area = current_area(request)
    if area is not None:
        queryset = selectors.in_area(queryset, area.code)
    return queryset, area


def age_of(birth: date | None, today: date | None = None) -> int | None:
    if birth is None:
        return None
    today = today or date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _member_count(user: Any) -> Coalesce:
    """The number of a household's members the user may see, as a correlated subquery: evaluated
    for the rows of one page only, unlike a GROUP BY over the whole list."""
    members = (
        selectors.resident_list(user=user)
        .filter(household=OuterRef("pk"))
        .order_by()
        .values("household")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(members), 0)


def _household_count(user: Any) -> Coalesce:
    households = (
        selectors.household_list(user=user)
        .filter(building=OuterRef("pk"))
        .order_by()
        .values("building")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(households), 0)


def _with_ages(residents: Iterable[Resident]) -> None:
    today = date.today()
    for resident in residents:
        resident.age = age_of(resident.birth_date, today)


def _sensitive_rows(obj: Resident | Shop, full: dict[str, str] | None = None) -> list[dict[str, str]]:
    """The ID and phone rows of a detail page: masked, or full after an audited reveal."""
    rows = []
    for name, label in (("id_number", _("ID number")), ("phone", _("Phone"))):
        if hasattr(obj, name):
            value = getattr(obj, name)
            rows.append({"name": name, "label": label, "masked": str(value), "full": (full or {}).get(name, "")})
    return rows


def _reveal(request: HttpRequest, obj: Resident | Shop, page: Callable[..., HttpResponse], url: str) -> HttpResponse:
    """Run the audited reveal: a partial for HTMX, else the whole page with the full values."""
    try:
        values = services.reveal(actor=request.user, obj=obj, ip=audit.client_ip(request))
    except PermissionDenied as exc:
        if _is_htmx(request):
            context = {"rows": _sensitive_rows(obj), "reveal_url": url, "refused": exc.message}
            return render(request, "registry/partials/_sensitive.html", context, status=403)
        messages.error(request, exc.message)
        return page(request, obj, status=403)
    if _is_htmx(request):
        context = {"rows": _sensitive_rows(obj, values), "reveal_url": url, "revealed": True}
        response = render(request, "registry/partials/_sensitive.html", context)
    else:
        response = page(request, obj, revealed=values)
    # Full numbers must not stay in a browser or proxy cache.
    add_never_cache_headers(response)
    return response


# --- residents --------------------------------------------------------------------------------


def resident_list(request: HttpRequest) -> HttpResponse:
    queryset, area = _narrowed(request, selectors.resident_list(user=request.user))
    context = list_context(request, ResidentFilterSet, queryset)
    _with_ages(context["page"])
    context.update(area=area, may_write=may_write(request.user, area.code if area else None))
    return render(request, "registry/resident_list.html", context)


def _resident_page(
    request: HttpRequest, resident: Resident, *, revealed: dict[str, str] | None = None, status: int = 200
) -> HttpResponse:
    members: list[Resident] = []
    if resident.household_id:
        members = list(
            selectors.household_members(user=request.user, household=resident.household).exclude(pk=resident.pk)
        )
    _with_ages([resident, *members])
    url = reverse("registry:resident_reveal", args=[resident.pk])
    context = {
        "resident": resident,
        "members": members,
        "head_id": resident.household.head_id if resident.household_id else None,
        "rows": _sensitive_rows(resident, revealed),
        "revealed": revealed is not None,
        "reveal_url": url,
        "may_reveal": services.may_reveal(request.user, resident.area_code),
        "may_write": may_write(request.user, resident.grid.code),
    }
    return render(request, "registry/resident_detail.html", context, status=status)


def resident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _resident_page(request, _get(selectors.resident_get, request, pk))


def _get_for_reveal(getter: Callable[..., Any], model: type, request: HttpRequest, pk: int) -> Any:
    """The record to reveal; a record missing or outside the scope is a 404, audited as a denied reveal."""
    try:
        return getter(user=request.user, pk=pk)
    except NotFound as exc:
        services.reveal_refused_unseen(actor=request.user, model=model, pk=pk, ip=audit.client_ip(request))
        raise Http404(exc.message) from exc


@require_POST
def resident_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get_for_reveal(selectors.resident_get, Resident, request, pk)
    return _reveal(request, resident, _resident_page, reverse("registry:resident_reveal", args=[pk]))


def _resident_form_page(
    request: HttpRequest, form: ResidentForm, resident: Resident | None, existing: str | None = None
) -> HttpResponse:
    context = {"form": form, "resident": resident, "existing_resident": existing}
    return render(request, "registry/resident_form.html", context)


def _save_resident(request: HttpRequest, form: ResidentForm, resident: Resident | None) -> HttpResponse:
    """Call the service with the form's data; a refusal re-renders the bound form with its reasons."""
    existing = None
    if form.is_valid():
        try:
            if resident is None:
                resident = services.resident_create(actor=request.user, **form.service_arguments())
            else:
                services.resident_update(actor=request.user, resident=resident, **form.service_arguments())
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except ApplicationError as exc:
            existing = form.add_application_error(exc)
        else:
            messages.success(request, _("Resident %(name)s saved.") % {"name": resident.name})
            return redirect("registry:resident_detail", pk=resident.pk)
    return _resident_form_page(request, form, resident, existing)


def _start_grid(request: HttpRequest) -> Area | None:
    area = current_area(request)
    return area if area is not None and area.level == Level.GRID else None


def resident_create(request: HttpRequest) -> HttpResponse:
    if not writable_grids(request.user).exists():
        raise DjangoPermissionDenied
    if request.method == "POST":
        form = ResidentForm(request.POST, user=request.user)
        return _save_resident(request, form, None)
    # The grid select reloads the placement fields through HTMX with ?grid=…
    initial = {"grid": request.GET["grid"]} if request.GET.get("grid") else {}
    form = ResidentForm(initial=initial, user=request.user, default_grid=_start_grid(request))
    return _resident_form_page(request, form, None)


def resident_edit(request: HttpRequest, pk: int) -> HttpResponse:
    resident = _get(selectors.resident_get, request, pk)
    if not may_write(request.user, resident.grid.code):
        raise DjangoPermissionDenied
    if request.method == "POST":
        form = ResidentForm(request.POST, user=request.user, resident=resident)
        return _save_resident(request, form, resident)
    initial = ResidentForm.initial_for(resident)
    if request.GET.get("grid"):
        initial.update(grid=request.GET["grid"], group=None, household=None)
    form = ResidentForm(initial=initial, user=request.user, resident=resident)
    return _resident_form_page(request, form, resident)


# --- households -------------------------------------------------------------------------------


def household_list(request: HttpRequest) -> HttpResponse:
    queryset, area = _narrowed(request, selectors.household_list(user=request.user))
    context = list_context(request, HouseholdFilterSet, queryset.annotate(member_count=_member_count(request.user)))
    context.update(area=area, may_write=may_write(request.user, area.code if area else None))
    return render(request, "registry/household_list.html", context)


def household_detail(request: HttpRequest, pk: int) -> HttpResponse:
    household = _get(selectors.household_get, request, pk)
    members = list(selectors.household_members(user=request.user, household=household))
    # The head first, then the others in the order they were registered.
    members.sort(key=lambda m: (m.pk != household.head_id, m.relation != Relation.HEAD))
    _with_ages(members)
    return render(request, "registry/household_detail.html", {"household": household, "members": members})


# --- buildings --------------------------------------------------------------------------------


def building_list(request: HttpRequest) -> HttpResponse:
    queryset, area = _narrowed(request, selectors.building_list(user=request.user))
    context = list_context(
        request, BuildingFilterSet, queryset.annotate(household_count=_household_count(request.user))
    )
    context.update(area=area, may_write=may_write(request.user, area.code if area else None))
    return render(request, "registry/building_list.html", context)


def building_detail(request: HttpRequest, pk: int) -> HttpResponse:
    building = _get(selectors.building_get, request, pk)
    households = list(
        selectors.household_list(user=request.user)
        .filter(building=building)
        .annotate(member_count=_member_count(request.user))
        .order_by("room", "id")
    )
    context = {"building": building, "households": households, "map": map_settings()}
    if building.lng is not None:
        context["features"] = _single_feature_layers(building.grid, _building_feature(building), "buildings")
    return render(request, "registry/building_detail.html", context)


# --- shops ------------------------------------------------------------------------------------


def shop_list(request: HttpRequest) -> HttpResponse:
    queryset, area = _narrowed(request, selectors.shop_list(user=request.user))
    context = list_context(request, ShopFilterSet, queryset)
    context.update(area=area, may_write=may_write(request.user, area.code if area else None))
    return render(request, "registry/shop_list.html", context)


def _shop_page(
    request: HttpRequest, shop: Shop, *, revealed: dict[str, str] | None = None, status: int = 200
) -> HttpResponse:
    url = reverse("registry:shop_reveal", args=[shop.pk])
    context = {
        "shop": shop,
        "rows": _sensitive_rows(shop, revealed),
        "revealed": revealed is not None,
        "reveal_url": url,
        "may_reveal": services.may_reveal(request.user, shop.area_code),
        "map": map_settings(),
    }
    if shop.lng is not None:
        context["features"] = _single_feature_layers(shop.grid, _shop_feature(shop), "shops")
    return render(request, "registry/shop_detail.html", context, status=status)


def shop_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _shop_page(request, _get(selectors.shop_get, request, pk))


@require_POST
def shop_reveal(request: HttpRequest, pk: int) -> HttpResponse:
    shop = _get_for_reveal(selectors.shop_get, Shop, request, pk)
    return _reveal(request, shop, _shop_page, reverse("registry:shop_reveal", args=[pk]))


# --- places -----------------------------------------------------------------------------------


def place_list(request: HttpRequest) -> HttpResponse:
    queryset, area = _narrowed(request, selectors.place_list(user=request.user))
    context = list_context(request, PlaceFilterSet, queryset)
    context.update(area=area, may_write=may_write(request.user, area.code if area else None))
    return render(request, "registry/place_list.html", context)


def place_detail(request: HttpRequest, pk: int) -> HttpResponse:
    place = _get(selectors.place_get, request, pk)
    context = {
        "place": place,
        "map": map_settings(),
        "features": _single_feature_layers(place.grid, _place_feature(place), "places"),
    }
    return render(request, "registry/place_detail.html", context)


# --- the map ----------------------------------------------------------------------------------


def _point(lng: float, lat: float) -> dict:
    return {"type": "Point", "coordinates": [lng, lat]}


def _building_feature(b: Building) -> dict:
    return {
        "type": "Feature",
        "geometry": _point(b.lng, b.lat),
        "properties": {
            "name": str(b),
            "detail": b.get_use_display() + (" · " + _("%(floors)s floors") % {"floors": b.floors} if b.floors else ""),
            "use": b.use,
            "self_built": b.use == BuildingUse.SELF_BUILT,
            "url": reverse("registry:building_detail", args=[b.pk]),
        },
    }


def _shop_feature(s: Shop) -> dict:
    return {
        "type": "Feature",
        "geometry": _point(s.lng, s.lat),
        "properties": {
            "name": s.name,
            "detail": s.business_type,
            "url": reverse("registry:shop_detail", args=[s.pk]),
        },
    }


def _place_feature(p: Place) -> dict:
    return {
        "type": "Feature",
        "geometry": p.geometry,
        "properties": {
            "name": p.name,
            "detail": p.get_kind_display(),
            "kind": p.kind,
            "url": reverse("registry:place_detail", args=[p.pk]),
        },
    }


def _layer_names() -> dict[str, str]:
    return {
        "grids": _("Grids"),
        "buildings": _("Buildings"),
        "shops": _("Shops"),
        "places": _("Places"),
    }


def _colours() -> dict:
    return {"uses": {str(k): v for k, v in USE_COLOURS.items()}, "kinds": {str(k): v for k, v in PLACE_COLOURS.items()}}


def _collection(features: list[dict]) -> dict:
    return {"type": "FeatureCollection", "features": features}


def _single_feature_layers(grid: Area, feature: dict, key: str) -> dict:
    """One record on a small map, over the boundary of its grid."""
    names = _layer_names()
    grid_layer = _collection([])
    if grid.boundary:
        grid_layer["features"].append(
            {"type": "Feature", "geometry": grid.boundary, "properties": {"name": grid.name, "level": "grid"}}
        )
    return {
        "layers": [
            {"key": "grids", "name": names["grids"], "features": grid_layer},
            {"key": key, "name": names[key], "features": _collection([feature])},
        ],
        "capped": [],
        "total": 1,
        "colours": _colours(),
    }


def registry_features(*, user: Any, area: Area | None, limit: int | None = None) -> dict:
    """The map's layers for `area` (scoped): grid boundaries, buildings, shops and places.

    Each layer stops at `limit` features; `capped` names the layers that stopped.
    """
    limit = MAP_LIMIT if limit is None else limit
    names = _layer_names()
    if area is None:
        return {"layers": [], "capped": [], "total": 0, "colours": _colours()}
    low = area.level in (Level.GRID, Level.GROUP)
    grids = area_features(user=user, root=area, levels=(Level.GRID, Level.GROUP) if low else (Level.GRID,))
    sources = (
        (
            "buildings",
            selectors.building_list(user=user)
            .select_related(None)
            .filter(lng__isnull=False, lat__isnull=False)
            .only("id", "name", "address", "use", "floors", "lng", "lat"),
            _building_feature,
        ),
        (
            "shops",
            selectors.shop_list(user=user)
            .select_related(None)
            .filter(lng__isnull=False, lat__isnull=False)
            .only("id", "name", "business_type", "lng", "lat"),
            _shop_feature,
        ),
        (
            "places",
            selectors.place_list(user=user).select_related(None).only("id", "name", "kind", "geometry"),
            _place_feature,
        ),
    )
    layers = [{"key": "grids", "name": names["grids"], "features": grids}]
    capped = []
    total = 0
    for key, queryset, feature in sources:
        rows = list(selectors.in_area(queryset, area.code)[: limit + 1])
        if len(rows) > limit:
            rows = rows[:limit]
            capped.append(names[key])
        layers.append({"key": key, "name": names[key], "features": _collection([feature(r) for r in rows])})
        total += len(rows)
    return {"layers": layers, "capped": capped, "total": total, "colours": _colours()}


def registry_map(request: HttpRequest) -> HttpResponse:
    area = current_area(request)
    features = registry_features(user=request.user, area=area)
    context = {
        "area": area,
        "features": features,
        "map": map_settings(),
        "limit": MAP_LIMIT,
        "legend_uses": [(label, USE_COLOURS[value]) for value, label in BuildingUse.choices],
        "legend_kinds": [(label, PLACE_COLOURS[value]) for value, label in PlaceKind.choices],
    }
    return render(request, "registry/map.html", context)
