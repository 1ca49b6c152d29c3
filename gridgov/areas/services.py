"""Every write to the organisation tree: areas, units, party branches and posts. Each one audited."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import (
    CODE_LENGTH,
    COUNTY_CODE_LENGTH,
    PARENT_LEVEL,
    ROLE_LEVELS,
    UNIT_ROLES,
    Level,
    Mode,
    Role,
    UnitKind,
)
from gridgov.areas.geo import AREAS_GENERATION, centre_of, parse_boundary
from gridgov.areas.models import Area, PartyBranch, Post, Unit
from gridgov.core import audit, generations
from gridgov.core.errors import ApplicationError, PermissionDenied, duplicates_refused, from_validation_error
from gridgov.core.scope import subtree
from gridgov.core.validators import PROVINCES


def _require_admin(actor: User | None) -> None:
    """The organisation tree is kept by administrators (and by system jobs, actor None)."""
    if actor is not None and not actor.is_superuser:
        raise PermissionDenied("forbidden", _("Only administrators may change the organisation tree."))


def _invalid(field: str, message: str, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={field: [message]})


def validate_area_code(*, code: str, level: str, parent: Area | None) -> None:
    """The code must be the parent's code plus this level's segment (CJ/T 349 materialised path)."""
    expected = CODE_LENGTH[level]
    if not code.isdigit() or not code.isascii():
        raise _invalid("code", _("The area code may contain digits only."), "invalid_area_code")
    if len(code) != expected:
        raise _invalid(
            "code",
            _("A %(level)s code has %(n)d digits.") % {"level": Level(level).label, "n": expected},
            "invalid_area_code",
        )
    if parent is None:
        if code[:2] not in PROVINCES or code[2:COUNTY_CODE_LENGTH] == "0000":
            raise _invalid("code", _("The first 6 digits must be a GB/T 2260 county code."), "invalid_area_code")
    elif not code.startswith(parent.code):
        raise _invalid(
            "code",
            _("The code must begin with the parent's code %(code)s.") % {"code": parent.code},
            "invalid_area_code",
        )
    if set(code[len(parent.code) if parent else COUNTY_CODE_LENGTH :]) == {"0"}:
        raise _invalid("code", _("The area's own segment of the code cannot be all zeros."), "invalid_area_code")


def _geometry_fields(boundary: Any, centre: tuple[float, float] | None) -> dict[str, Any]:
    """Boundary and centre as stored: the centre defaults to a point inside the boundary."""
    fields: dict[str, Any] = {}
    if boundary is not None:
        geometry = parse_boundary(boundary)
        fields["boundary"] = boundary
        if centre is None:
            centre = centre_of(geometry)
    if centre is not None:
        lng, lat = centre
        if not (-180 <= float(lng) <= 180 and -90 <= float(lat) <= 90):
            raise _invalid("centre", _("The centre must be a longitude and latitude in degrees."))
        fields["centre_lng"], fields["centre_lat"] = float(lng), float(lat)
    return fields


def area_create(
    *,
    actor: User | None,
    code: str,
    name: str,
    parent: Area | None = None,
    boundary: dict[str, Any] | None = None,
    centre: tuple[float, float] | None = None,
    mode: str = Mode.NORMAL,
) -> Area:
    """Add an area under `parent` (a subdistrict when there is none); its level follows the parent's."""
    _require_admin(actor)
    if parent is None:
        level = Level.SUBDISTRICT
    else:
        level = next((child for child, up in PARENT_LEVEL.items() if up == parent.level), None)
        if level is None:
            raise _invalid("parent", _("A household group cannot have areas under it."), "invalid_parent")
    validate_area_code(code=code, level=level, parent=parent)
    if mode not in Mode.values:
        raise _invalid("mode", _("Unknown mode."))
    area = Area(
        code=code, name=name.strip(), level=level, parent=parent, mode=mode, **_geometry_fields(boundary, centre)
    )
    try:
        area.full_clean()
    except ValidationError as exc:
        # A taken code is a code problem like the others validate_area_code finds.
        code_taken = "code" in getattr(exc, "error_dict", {})
        raise from_validation_error(exc, code="invalid_area_code" if code_taken else "invalid_area") from exc
    with (
        duplicates_refused("invalid_area_code", _("This area code is already taken."), field="code"),
        transaction.atomic(),
    ):
        area.save()
        generations.bump(AREAS_GENERATION)
        audit.record(actor=actor, event="area.create", obj=area, data={"code": code, "level": level})
    return area


_UNSET: Any = object()


def area_update(
    *,
    actor: User | None,
    area: Area,
    name: str = _UNSET,
    boundary: dict[str, Any] | None = _UNSET,
    centre: tuple[float, float] | None = _UNSET,
    mode: str = _UNSET,
) -> Area:
    """Change an area's name, boundary, centre or mode. Codes never change: they are paths."""
    _require_admin(actor)
    changes: dict[str, Any] = {}
    if name is not _UNSET:
        if not name or not name.strip():
            raise _invalid("name", _("This field is required."))
        changes["name"] = name.strip()
    if mode is not _UNSET:
        if mode not in Mode.values:
            raise _invalid("mode", _("Unknown mode."))
        changes["mode"] = mode
    if boundary is not _UNSET:
        if boundary is None:
            changes["boundary"] = None
        else:
            changes.update(_geometry_fields(boundary, None if centre is _UNSET else centre))
    if centre is not _UNSET and "centre_lng" not in changes:
        changes.update(_geometry_fields(None, centre))
    before = {key: getattr(area, key) for key in changes if key != "boundary"}
    with transaction.atomic():
        locked = Area.objects.select_for_update().get(pk=area.pk)
        for key, value in changes.items():
            setattr(locked, key, value)
        locked.save()
        generations.bump(AREAS_GENERATION)
        audit.record(
            actor=actor,
            event="area.update",
            obj=locked,
            data={
                "before": before,
                "after": {k: v for k, v in changes.items() if k != "boundary"},
                "boundary_changed": "boundary" in changes,
            },
        )
    for key, value in changes.items():
        setattr(area, key, value)
    return area


MODE_ROLES = (Role.CENTER, Role.LEADER)


def may_set_mode(*, actor: User | None, area: Area) -> bool:
    """Administrators, and the subdistrict's dispatchers and leaders for areas under their post."""
    if actor is None or actor.is_superuser:
        return True
    codes = actor.posts.filter(active=True, role__in=MODE_ROLES).values_list("area__code", flat=True)
    return any(code and area.code.startswith(code) for code in codes)


def area_set_mode(*, actor: User | None, area: Area, mode: str) -> Area:
    """Switch an area and its whole subtree between normal and emergency mode (平时 / 战时).

    Emergency mode shortens the deadlines of the cases in the area ("随时进入战时状态").
    """
    if not may_set_mode(actor=actor, area=area):
        raise PermissionDenied(
            "forbidden", _("Only administrators and the subdistrict's dispatchers and leaders may switch modes.")
        )
    if mode not in Mode.values:
        raise _invalid("mode", _("Unknown mode."))
    with transaction.atomic():
        count = Area.objects.filter(subtree("code", area.code)).update(mode=mode)
        generations.bump(AREAS_GENERATION)  # update() sends no signal
        audit.record(actor=actor, event="area.set_mode", obj=area, data={"mode": mode, "areas": count})
    area.mode = mode
    return area


def area_delete(*, actor: User | None, area: Area) -> None:
    """Remove an area that nothing points at."""
    _require_admin(actor)
    if area.children.exists() or area.posts.exists() or area.units.exists() or area.party_branches.exists():
        raise ApplicationError(
            "area_in_use", _("This area still has sub-areas, posts, units or party branches."), status=409
        )
    with transaction.atomic():
        audit.record(actor=actor, event="area.delete", obj=area, data={"code": area.code})
        area.delete()
        generations.bump(AREAS_GENERATION)


def unit_create(*, actor: User | None, name: str, kind: str, area: Area, phone: str = "", address: str = "") -> Unit:
    """Register a responsible unit serving `area`."""
    _require_admin(actor)
    if kind not in UnitKind.values:
        raise _invalid("kind", _("Unknown unit kind."))
    unit = Unit(name=name.strip(), kind=kind, area=area, phone=phone, address=address)
    try:
        unit.full_clean()
    except ValidationError as exc:
        raise from_validation_error(exc, code="invalid_unit") from exc
    duplicate = _("A unit of this name already serves this area.")
    with duplicates_refused("invalid_unit", duplicate, field="name"), transaction.atomic():
        unit.save()
        audit.record(actor=actor, event="unit.create", obj=unit, data={"kind": kind, "area": area.code})
    return unit


def party_branch_create(
    *, actor: User | None, name: str, grids: Iterable[Area], secretary: str = "", member_count: int = 0
) -> PartyBranch:
    """A party branch built on one or more grids (党支部建在网格上)."""
    _require_admin(actor)
    grids = list(grids)
    if not grids:
        raise _invalid("grids", _("A party branch is built on at least one grid."))
    wrong = [g.name for g in grids if g.level != Level.GRID]
    if wrong:
        raise _invalid("grids", _("Not a grid: %(names)s") % {"names": "、".join(wrong)})
    branch = PartyBranch(name=name.strip(), secretary=secretary, member_count=member_count)
    try:
        branch.full_clean()
    except ValidationError as exc:
        raise from_validation_error(exc, code="invalid_party_branch") from exc
    duplicate = _("A party branch of this name already exists.")
    with duplicates_refused("invalid_party_branch", duplicate, field="name"), transaction.atomic():
        branch.save()
        branch.grids.set(grids)
        audit.record(actor=actor, event="party_branch.create", obj=branch, data={"grids": [g.code for g in grids]})
    return branch


def post_create(
    *,
    actor: User | None,
    user: User,
    role: str,
    area: Area | None = None,
    unit: Unit | None = None,
    title: str = "",
) -> Post:
    """Give `user` a role at an area or a unit; the level must fit the role (a grid worker at a grid)."""
    _require_admin(actor)
    if role not in Role.values:
        raise _invalid("role", _("Unknown role."))
    if role in UNIT_ROLES:
        if unit is None or area is not None:
            raise _invalid("unit", _("This role is held at a unit."))
    else:
        if area is None or unit is not None:
            raise _invalid("area", _("This role is held at an area."))
        if area.level not in ROLE_LEVELS[role]:
            raise _invalid(
                "area",
                _("A %(role)s post is held at a %(levels)s.")
                % {"role": Role(role).label, "levels": "/".join(str(Level(lv).label) for lv in ROLE_LEVELS[role])},
            )
    with duplicates_refused("duplicate_post", _("This user already holds this post.")), transaction.atomic():
        post = Post.objects.create(user=user, role=role, area=area, unit=unit, title=title)
        audit.record(
            actor=actor,
            event="post.create",
            obj=post,
            data={
                "user": user.username,
                "role": role,
                "area": area.code if area else None,
                "unit": unit.pk if unit else None,
            },
        )
    user.__dict__.pop("_gridgov_scope", None)
    user.__dict__.pop("_gridgov_area_posts", None)
    return post
