"""Reads of the organisation tree, always through the scope."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from gridgov.areas.choices import CODE_LENGTH, Level, Role
from gridgov.areas.geo import grid_index
from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.scope import scope_for, scoped, scoped_get, subtree


def area_list(*, user: Any) -> QuerySet[Area]:
    # No select_related("parent"): callers narrow columns with only(), and lists need parent_id alone.
    return scoped(Area.objects.all(), user)


def area_get(*, user: Any, pk: Any) -> Area:
    return scoped_get(Area.objects.select_related("parent"), user, pk=pk)


def area_get_by_code(*, user: Any, code: str) -> Area:
    return scoped_get(Area.objects.select_related("parent"), user, code=code)


def area_roots(*, user: Any) -> list[Area]:
    """The highest areas the user sees: the tops of their subtrees."""
    scope = scope_for(user)
    qs = area_list(user=user).only("id", "code", "name", "level", "parent_id")
    if scope.everything:
        return list(qs.filter(parent__isnull=True))
    return list(qs.filter(code__in=scope.reference_codes))


@dataclass
class TreeNode:
    area: Area
    children: list[TreeNode] = field(default_factory=list)
    label: str = ""  # the name without the parent's name in front: 新建社区第一网格 under 新建社区 is 第一网格


def area_tree(*, user: Any, root: Area | None = None, depth_level: str = Level.GRID) -> list[TreeNode]:
    """The visible tree down to `depth_level` (grids by default), under `root` when given."""
    levels = [Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID, Level.GROUP]
    wanted = levels[: levels.index(depth_level) + 1]
    qs = area_list(user=user).filter(level__in=wanted).only("id", "code", "name", "level", "parent_id", "mode")
    if root is not None:
        qs = qs.filter(subtree("code", root.code))
    nodes = {a.pk: TreeNode(a) for a in qs.order_by("code")}
    tops: list[TreeNode] = []
    for node in nodes.values():
        parent = nodes.get(node.area.parent_id)
        (parent.children if parent else tops).append(node)
        node.label = node.area.name
        if parent and node.area.name != parent.area.name:
            node.label = node.area.name.removeprefix(parent.area.name)
    return tops


def area_features(
    *, user: Any, root: Area | None = None, levels: tuple[str, ...] = (Level.COMMUNITY, Level.GRID)
) -> dict:
    """A GeoJSON FeatureCollection of the visible boundaries, for the map.

    Each feature carries a short `label` (the name without its parent's name in front) and the
    code of its community, by which the map colours it.
    """
    qs = area_list(user=user).filter(level__in=levels, boundary__isnull=False)
    if root is not None:
        qs = qs.filter(subtree("code", root.code))
    features = []
    for a in qs.select_related("parent").only("id", "code", "name", "level", "mode", "boundary", "parent__name"):
        parent_name = a.parent.name if a.parent else ""
        label = a.name.removeprefix(parent_name) if parent_name and a.name != parent_name else a.name
        features.append(
            {
                "type": "Feature",
                "geometry": a.boundary,
                "properties": {
                    "id": a.pk,
                    "code": a.code,
                    "name": a.name,
                    "label": label or a.name,
                    "level": a.level,
                    "mode": a.mode,
                    "community": a.code[: CODE_LENGTH[Level.COMMUNITY]],
                    "url": reverse("areas:area_detail", args=[a.pk]),
                },
            }
        )
    return {"type": "FeatureCollection", "features": features}


@dataclass
class AreaSummary:
    """Counts shown on the overview for one area's subtree."""

    communities: int
    grids: int
    groups: int
    party_branches: int
    units: int
    staff: int


def area_summary(*, user: Any, root: Area) -> AreaSummary:
    """How many communities, grids, groups, party branches, units and staff lie in `root`'s subtree."""
    by_level = dict(
        area_list(user=user)
        .filter(subtree("code", root.code))
        .values_list("level")
        .annotate(n=Count("id"))
        .values_list("level", "n")
    )
    return AreaSummary(
        communities=by_level.get(Level.COMMUNITY, 0),
        grids=by_level.get(Level.GRID, 0),
        groups=by_level.get(Level.GROUP, 0),
        party_branches=party_branch_list(user=user).filter(subtree("grids__code", root.code[:15])).distinct().count(),
        # Units serving the subtree and those serving the areas above it (the police station serves every grid).
        units=unit_list(user=user)
        .filter(subtree("area__code", root.code) | Q(area__code__in=root.ancestor_codes()))
        .count(),
        staff=scoped(Post.objects.filter(active=True), user)
        .filter(subtree("area__code", root.code) | subtree("unit__area__code", root.code))
        .values("user")
        .distinct()
        .count(),
    )


def area_locate(*, user: Any, lat: Any, lng: Any) -> Area:
    """The grid containing a point (WGS 84), inside the user's scope."""
    fields: dict[str, list[str]] = {}
    values: dict[str, float] = {}
    for name, raw, low, high in (("lat", lat, -90, 90), ("lng", lng, -180, 180)):
        if raw in (None, ""):
            fields[name] = [_("This field is required.")]
            continue
        try:
            value = float(raw)
        except (TypeError, ValueError):
            fields[name] = [_("A number is required.")]
            continue
        if not (low <= value <= high) or value != value:
            fields[name] = [_("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}]
            continue
        values[name] = value
    if fields:
        raise ApplicationError("invalid_point", _("The point's coordinates are not valid."), fields=fields)
    grid_id = grid_index.locate(values["lng"], values["lat"])
    if grid_id is None:
        raise NotFound("outside_grids", _("The point lies outside every grid."))
    return scoped_get(Area.objects.select_related("parent"), user, pk=grid_id)


def unit_list(*, user: Any) -> QuerySet[Unit]:
    return scoped(Unit.objects.select_related("area"), user)


def unit_get(*, user: Any, pk: Any) -> Unit:
    return scoped_get(Unit.objects.select_related("area"), user, pk=pk)


def party_branch_list(*, user: Any) -> QuerySet[PartyBranch]:
    return scoped(PartyBranch.objects.all(), user).prefetch_related(
        Prefetch("grids", queryset=Area.objects.only("id", "code", "name", "parent_id").order_by("code"))
    )


def party_branch_get(*, user: Any, pk: Any) -> PartyBranch:
    return scoped_get(party_branch_list(user=user), user, pk=pk)


@dataclass
class AreaDetail:
    area: Area
    ancestors: list[Area]
    children: list[Area]
    workers: list[Post]
    leaders: list[Post]
    party_branches: list[PartyBranch]
    units: list[Unit]


def area_detail(*, user: Any, pk: Any) -> AreaDetail:
    """An area with what its page shows: its people, party branches, sub-areas and units."""
    area = area_get(user=user, pk=pk)
    visible = area_list(user=user)
    ancestors = list(visible.filter(code__in=area.ancestor_codes()).order_by("code"))
    children = list(visible.filter(parent=area).annotate(child_count=Count("children")).order_by("code"))
    posts = list(
        scoped(Post.objects.filter(area=area, active=True), user)
        .select_related("user")
        .order_by("role", "user__username")
    )
    return AreaDetail(
        area=area,
        ancestors=ancestors,
        children=children,
        workers=[
            p
            for p in posts
            if p.role in (Role.GRID_WORKER, Role.GROUP_LEADER, Role.COMMUNITY, Role.CENTER, Role.MEDIATOR)
        ],
        leaders=[p for p in posts if p.role in (Role.GRID_LEADER, Role.LEADER)],
        party_branches=list(
            party_branch_list(user=user).filter(subtree("grids__code", area.code)).distinct()
            if area.level != Level.GROUP
            else party_branch_list(user=user).filter(grids__code=area.code[:15])
        ),
        units=list(unit_list(user=user).filter(area__code__in=[area.code, *area.ancestor_codes()])),
    )


def user_default_area(*, user: Any) -> Area | None:
    """The area a user's pages open on: the top of their scope."""
    scope = scope_for(user)
    if scope.is_empty:
        return None
    roots = area_roots(user=user)
    return roots[0] if roots else None


SESSION_AREA_KEY = "gridgov_area_id"
SWITCHER_LIMIT = 300


def current_area(request) -> Area | None:
    """The area the user's pages are narrowed to (the area switcher), cached on the request."""
    if hasattr(request, "_gridgov_area"):
        return request._gridgov_area
    area = None
    area_id = request.session.get(SESSION_AREA_KEY)
    if area_id is not None:
        area = area_list(user=request.user).filter(pk=area_id).first()
    if area is None:
        area = user_default_area(user=request.user)
    request._gridgov_area = area
    return area


def switchable_areas(*, user: Any) -> list[Area]:
    """Areas offered by the switcher: the user's subdistrict, communities and grids (capped)."""
    return list(
        area_list(user=user)
        .filter(level__in=[Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID])
        .only("id", "code", "name", "level")
        .order_by("code")[:SWITCHER_LIMIT]
    )


def area_by_code_or_id(*, user: Any, value: str) -> Area:
    """The area named by code or id (a code first) inside the user's scope; empty: the user's own top area."""
    text = (value or "").strip()
    if not text:
        area = user_default_area(user=user)
        if area is None:
            raise NotFound("not_found", _("You have no area."))
        return area
    try:
        return area_get_by_code(user=user, code=text)
    except NotFound:
        if not text.isdigit() or len(text) > 18:
            raise
        return area_get(user=user, pk=int(text))
