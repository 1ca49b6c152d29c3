"""Every write to the registry, and the audited reveal of full ID and phone numbers.

Validation lives in `validate_*` functions that collect every problem of a record at once and
raise one ApplicationError with per-field reasons; the services and the spreadsheet import use
the same functions, so a row refused by the import is refused for the same reason on the page.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas.choices import Level, Role
from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied, duplicates_refused
from gridgov.core.privacy import ID_NUMBER, plain_of, search_hash
from gridgov.core.scope import scope_for
from gridgov.core.validators import parse_id_number, validate_phone
from gridgov.registry.choices import (
    BuildingUse,
    Gender,
    LivingStatus,
    PlaceKind,
    Relation,
    SafetyGrade,
    Structure,
    TagKind,
)
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag

# Roles that keep the registry of their area; leaders and group leaders read it.
WRITE_ROLES = frozenset({Role.CENTER, Role.COMMUNITY, Role.GRID_LEADER, Role.GRID_WORKER})


# --- permissions ------------------------------------------------------------------------------


def _covers(actor: User | None, code: str, roles: Iterable[str]) -> bool:
    if actor is None or actor.is_superuser:
        return True
    roles = set(roles)
    return any(
        code.startswith(area_code)
        for role, area_code in actor.posts.filter(active=True, area__isnull=False).values_list("role", "area__code")
        if role in roles
    )


def require_write(actor: User | None, grid: Area) -> None:
    """The actor keeps the registry of this grid (system jobs, actor None, always may)."""
    if not _covers(actor, grid.code, WRITE_ROLES):
        if actor is not None and not scope_for(actor).covers_code(grid.code):
            raise NotFound("not_found", _("%(name)s not found.") % {"name": Area._meta.verbose_name})
        raise PermissionDenied("forbidden", _("You may not change the registry of this area."))


def may_reveal(actor: User | None, code: str) -> bool:
    """Roles listed in GRIDGOV_REVEAL_ROLES may see full values of records in their area."""
    return _covers(actor, code, settings.GRIDGOV_REVEAL_ROLES)


def may_see_restricted(actor: User | None) -> bool:
    return actor is None or actor.has_perm("registry.view_restricted_tags")


# --- placement --------------------------------------------------------------------------------


def placement(*, grid: Area | None, group: Area | None) -> dict[str, Any]:
    """grid, group and area_code of a record; the group must lie in the grid."""
    if grid is None and group is not None and group.parent_id:
        grid = group.parent
    if grid is None or grid.level != Level.GRID:
        message = _("Choose a grid.")
        raise ApplicationError("invalid_area", message, fields={"grid": [message]})
    if group is not None and (group.level != Level.GROUP or group.parent_id != grid.pk):
        message = _("The household group must belong to the grid.")
        raise ApplicationError("invalid_area", message, fields={"group": [message]})
    return {"grid": grid, "group": group, "area_code": (group or grid).code}


# --- validation -------------------------------------------------------------------------------


@dataclass
class Problems:
    """Per-field reasons collected while checking one record."""

    fields: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, message: Any) -> None:
        self.fields.setdefault(name, []).append(str(message))

    def raise_if_any(self, code: str = "invalid") -> None:
        if self.fields:
            first = next(iter(self.fields.values()))[0]
            raise ApplicationError(code, first, fields=self.fields)


@cache
def _allowed(choices: Any) -> frozenset[str]:
    """The stored values of a choice set, computed once (`.values` rebuilds a list on every call, which
    was a third of `validate_resident`'s time in a 100,000-row import)."""
    return frozenset(choices.values)


def _choice(problems: Problems, name: str, value: str, choices: Any, *, required: bool = False) -> str:
    value = (value or "").strip()
    if not value:
        if required:
            problems.add(name, _("This field is required."))
        return ""
    if value not in _allowed(choices):
        problems.add(name, _("Not one of the allowed values."))
    return value


@dataclass
class ResidentInput:
    """A resident's fields after checking: ID number normalised, gender and birth date derived."""

    name: str
    gender: str
    birth_date: date | None
    id_number: str
    phone: str
    relation: str
    address: str
    notes: str
    living_status: str


def validate_resident(
    *,
    name: str,
    gender: str = "",
    birth_date: date | None = None,
    id_number: str = "",
    phone: str = "",
    relation: str = "",
    address: str = "",
    notes: str = "",
    living_status: str = LivingStatus.RESIDENT,
) -> ResidentInput:
    """Check one resident; every problem is reported at once. Gender and birth date come from the
    ID number when it is given, and must agree with what was entered."""
    problems = Problems()
    name = (name or "").strip()
    if not name:
        problems.add("name", _("This field is required."))
    elif len(name) > 50:
        problems.add("name", _("At most 50 characters."))
    gender = _choice(problems, "gender", gender, Gender)
    id_plain = plain_of(id_number).strip()
    if id_plain:
        try:
            info = parse_id_number(id_plain)
        except ValidationError as exc:
            problems.add("id_number", exc.messages[0])
        else:
            id_plain = info.number
            if gender and gender != info.gender:
                problems.add("gender", _("The ID number says %(gender)s.") % {"gender": Gender(info.gender).label})
            if birth_date and birth_date != info.birth_date:
                problems.add(
                    "birth_date",
                    _("The ID number says %(date)s.") % {"date": info.birth_date.isoformat()},
                )
            gender = gender or info.gender
            birth_date = birth_date or info.birth_date
    if not gender and "gender" not in problems.fields:
        problems.add("gender", _("This field is required (or give an ID number)."))
    if birth_date and birth_date > date.today():
        problems.add("birth_date", _("The birth date lies in the future."))
    phone_plain = plain_of(phone).strip()
    if phone_plain:
        try:
            phone_plain = validate_phone(phone_plain)
        except ValidationError as exc:
            problems.add("phone", exc.messages[0])
    relation = _choice(problems, "relation", relation, Relation)
    living_status = _choice(problems, "living_status", living_status or LivingStatus.RESIDENT, LivingStatus)
    problems.raise_if_any()
    return ResidentInput(
        name=name,
        gender=gender,
        birth_date=birth_date,
        id_number=id_plain,
        phone=phone_plain,
        relation=relation,
        address=(address or "").strip(),
        notes=(notes or "").strip(),
        living_status=living_status,
    )


def duplicate_id_number(id_number: str, *, exclude_pk: int | None = None) -> Resident | None:
    """The resident who already holds this ID number, if any."""
    if not id_number:
        return None
    qs = Resident.objects.filter(id_number_hash=search_hash(ID_NUMBER, id_number))
    if exclude_pk is not None:
        qs = qs.exclude(pk=exclude_pk)
    return qs.only("id", "name", "area_code").first()


def _refuse_duplicate(existing: Resident, actor: User | None) -> Conflict:
    """409 naming the existing record; `fields.existing_resident` links to it when the actor may see it.

    Outside the actor's area the refusal only says the number is registered elsewhere: it must not
    tell who holds it or where.
    """
    if actor is not None and not scope_for(actor).covers_code(existing.area_code):
        message = _("This ID number is already registered in another area; ask the subdistrict center.")
        return Conflict("duplicate_id_number", message, fields={"id_number": [message]})
    message = _("This ID number is already registered (resident #%(id)s).") % {"id": existing.pk}
    url = reverse("registry:resident_detail", args=[existing.pk])
    return Conflict("duplicate_id_number", message, fields={"id_number": [message], "existing_resident": [url]})


def _check_household(household: Household | None, place: dict[str, Any]) -> None:
    if household is not None and household.grid_id != place["grid"].pk:
        message = _("The household must belong to the grid.")
        raise ApplicationError("invalid_area", message, fields={"household": [message]})


def _check_tags(actor: User | None, tags: Iterable[Tag]) -> list[Tag]:
    tags = list(tags)
    if any(t.restricted for t in tags) and not may_see_restricted(actor):
        raise PermissionDenied("forbidden", _("Key-person tags need their own permission."))
    return tags


# --- residents --------------------------------------------------------------------------------


def resident_create(
    *,
    actor: User | None,
    grid: Area | None = None,
    group: Area | None = None,
    household: Household | None = None,
    tags: Iterable[Tag] = (),
    **fields: Any,
) -> Resident:
    """Register a resident in a grid (and household group, household)."""
    if household is not None:
        grid, group = grid or household.grid, group or household.group
    place = placement(grid=grid, group=group)
    require_write(actor, place["grid"])
    _check_household(household, place)
    data = validate_resident(**fields)
    tags = _check_tags(actor, tags)
    existing = duplicate_id_number(data.id_number)
    if existing is not None:
        raise _refuse_duplicate(existing, actor)
    resident = Resident(household=household, **place, **data.__dict__)
    with (
        duplicates_refused("duplicate_id_number", _("This ID number is already registered."), field="id_number"),
        transaction.atomic(),
    ):
        resident.save()
        if tags:
            resident.tags.set(tags)
        audit.record(
            actor=actor,
            event="resident.create",
            obj=resident,
            data={"area": place["area_code"], "tags": [t.code for t in tags]},
        )
    return resident


RESIDENT_FIELDS = (
    "name",
    "gender",
    "birth_date",
    "id_number",
    "phone",
    "relation",
    "address",
    "notes",
    "living_status",
)


def resident_update(
    *,
    actor: User | None,
    resident: Resident,
    grid: Area | None = None,
    group: Area | None = None,
    household: Household | None = None,
    tags: Iterable[Tag] | None = None,
    **changes: Any,
) -> Resident:
    """Change a resident. ID and phone numbers left out (or blank on a form) keep their value."""
    require_write(actor, resident.grid)
    unknown = set(changes) - set(RESIDENT_FIELDS)
    if unknown:
        raise ApplicationError("invalid", _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    current = {name: getattr(resident, name) for name in RESIDENT_FIELDS}
    merged = {**current, **{k: v for k, v in changes.items() if v is not None}}
    data = validate_resident(**merged)
    place = placement(grid=grid or resident.grid, group=group if grid or group else resident.group)
    if place["grid"].pk != resident.grid_id:
        require_write(actor, place["grid"])
    _check_household(household, place)
    if tags is not None:
        tags = _check_tags(actor, tags)
        if not may_see_restricted(actor):
            # Those who cannot see key-person tags cannot remove them either.
            tags += [t for t in resident.tags.all() if t.restricted and t not in tags]
    existing = duplicate_id_number(data.id_number, exclude_pk=resident.pk)
    if existing is not None:
        raise _refuse_duplicate(existing, actor)
    changed = [name for name in RESIDENT_FIELDS if plain_of(getattr(data, name)) != plain_of(current[name])]
    moved = {"area": place["area_code"]} if place["area_code"] != resident.area_code else {}
    if moved:
        changed.append("area")
    if household is not None and household.pk != resident.household_id:
        changed.append("household")
    before_tags = sorted(t.code for t in resident.tags.all()) if tags is not None else []
    tag_change = {}
    if tags is not None and sorted(t.code for t in tags) != before_tags:
        tag_change = {"tags": {"before": before_tags, "after": sorted(t.code for t in tags)}}
    with (
        duplicates_refused("duplicate_id_number", _("This ID number is already registered."), field="id_number"),
        transaction.atomic(),
    ):
        for name in RESIDENT_FIELDS:
            setattr(resident, name, getattr(data, name))
        for name, value in place.items():
            setattr(resident, name, value)
        if household is not None:
            resident.household = household
        resident.save()
        if tags is not None:
            resident.tags.set(tags)
        # Never the values of sensitive fields: which fields changed, a new area, tag codes.
        audit.record(
            actor=actor,
            event="resident.update",
            obj=resident,
            data={"fields": sorted(changed), **moved, **tag_change},
        )
    return resident


def reveal(*, actor: User | None, obj: Resident | Shop, ip: str | None = None) -> dict[str, str]:
    """The full ID and phone numbers of one record, for a permitted role; every call is audited."""
    if not may_reveal(actor, obj.area_code):
        audit.record(actor=actor, event="privacy.reveal", obj=obj, result="denied", ip=ip)
        raise PermissionDenied("forbidden", _("Your role may not see full ID and phone numbers."))
    values = {name: plain_of(getattr(obj, name)) for name in ("id_number", "phone") if hasattr(obj, name)}
    audit.record(actor=actor, event="privacy.reveal", obj=obj, ip=ip, data={"fields": sorted(values)})
    return values


def reveal_refused_unseen(
    *, actor: User | None, model: type[Resident] | type[Shop], pk: Any, ip: str | None = None
) -> None:
    """Audit a reveal asked for a record that is missing or outside the actor's scope (answered 404)."""
    audit.record(actor=actor, event="privacy.reveal", obj=model(pk=str(pk)[:64]), result="denied", ip=ip)


# --- households, buildings, shops, places, tags -----------------------------------------------


def _clean_and_save(actor: User | None, obj: Any, event: str, code: str, data: dict | None = None) -> Any:
    try:
        obj.full_clean(exclude=["grid", "group", "head", "household", "building"])
    except ValidationError as exc:
        from gridgov.core.errors import from_validation_error

        raise from_validation_error(exc, code=code) from exc
    with transaction.atomic():
        obj.save()
        audit.record(actor=actor, event=event, obj=obj, data=data or {})
    return obj


def _comparable(value: Any) -> Any:
    return value.pk if hasattr(value, "_meta") else plain_of(value)


def _create_placed(
    *,
    actor: User | None,
    model: type,
    grid: Area | None,
    group: Area | None,
    fields: dict[str, Any],
    clean: Any,
    event: str,
    code: str,
) -> Any:
    """Register a household, building, shop or place: `clean` (the same checks as on update) takes
    the fields, and its signature is the list of fields the record has."""
    place = placement(grid=grid, group=group)
    require_write(actor, place["grid"])
    parameters = inspect.signature(clean).parameters
    unknown = set(fields) - set(parameters)
    if unknown:
        raise ApplicationError(code, _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    missing = [n for n, p in parameters.items() if p.default is inspect.Parameter.empty and n not in fields]
    if missing:
        required = str(_("This field is required."))
        raise ApplicationError(code, required, fields={name: [required] for name in missing})
    values = clean(**fields)
    return _clean_and_save(actor, model(**values, **place), event, code, {"area": place["area_code"]})


def _update_placed(
    *,
    actor: User | None,
    obj: Any,
    grid: Area | None,
    group: Area | None,
    changes: dict[str, Any],
    clean: Any,
    event: str,
    code: str,
) -> Any:
    """Change a household, building, shop or place: fields left out keep their value, the new values
    pass the same checks as on creation, and the audit lists the names of the changed fields only."""
    require_write(actor, obj.grid)
    names = tuple(inspect.signature(clean).parameters)
    unknown = set(changes) - set(names)
    if unknown:
        raise ApplicationError(code, _("Unknown fields: %(names)s") % {"names": ", ".join(sorted(unknown))})
    place = placement(grid=grid or obj.grid, group=group if grid or group else obj.group)
    if place["grid"].pk != obj.grid_id:
        require_write(actor, place["grid"])
    current = {name: getattr(obj, name) for name in names}
    values = clean(**{**current, **changes})
    changed = sorted(name for name in values if _comparable(values[name]) != _comparable(current[name]))
    changed += [name for name in ("grid", "group") if _comparable(place[name]) != _comparable(getattr(obj, name))]
    for name, value in {**values, **place}.items():
        setattr(obj, name, value)
    # Never the values: only which fields changed (a shop's phone number is personal data).
    return _clean_and_save(actor, obj, event, code, {"fields": sorted(changed)})


def _household_values(*, address: str, building: Building | None = None, room: str = "", number: str = "") -> dict:
    return {"address": (address or "").strip(), "building": building, "room": (room or "").strip(), "number": number}


def household_create(
    *, actor: User | None, grid: Area | None = None, group: Area | None = None, **fields: Any
) -> Household:
    """Register a household (户): the fields of `_household_values`. Members join it through
    `resident_create(household=...)`, and `household_set_head` names its head."""
    return _create_placed(
        actor=actor,
        model=Household,
        grid=grid,
        group=group,
        fields=fields,
        clean=_household_values,
        event="household.create",
        code="invalid_household",
    )


def household_update(
    *,
    actor: User | None,
    household: Household,
    grid: Area | None = None,
    group: Area | None = None,
    head: Resident | None = None,
    **changes: Any,
) -> Household:
    """Change a household's address, building, room or number, and its head (one of its members)."""
    if head is not None and head.household_id != household.pk:
        message = _("The head must be a member of the household.")
        raise ApplicationError("invalid_household", message, fields={"head": [message]})
    with transaction.atomic():
        household = _update_placed(
            actor=actor,
            obj=household,
            grid=grid,
            group=group,
            changes=changes,
            clean=_household_values,
            event="household.update",
            code="invalid_household",
        )
        if head is not None and head.pk != household.head_id:
            household_set_head(actor=actor, household=household, head=head)
    return household


def household_set_head(*, actor: User | None, household: Household, head: Resident) -> Household:
    """Make a member the head of the household."""
    require_write(actor, household.grid)
    if head.household_id != household.pk:
        message = _("The head must be a member of the household.")
        raise ApplicationError("invalid_household", message, fields={"head": [message]})
    with transaction.atomic():
        household.head = head
        household.save(update_fields=["head", "updated_at"])
        head.relation = Relation.HEAD
        head.save(update_fields=["relation", "updated_at"])
        audit.record(actor=actor, event="household.set_head", obj=household, data={"head": head.pk})
    return household


def _building_values(
    *,
    address: str,
    use: str,
    name: str = "",
    floors: int | None = None,
    structure: str = "",
    year_built: int | None = None,
    safety_grade: str = "",
    lng: float | None = None,
    lat: float | None = None,
) -> dict:
    problems = Problems()
    _choice(problems, "use", use, BuildingUse, required=True)
    _choice(problems, "structure", structure, Structure)
    if safety_grade and safety_grade not in SafetyGrade.values:
        problems.add("safety_grade", _("Not one of the allowed values."))
    if year_built is not None and not (1800 <= int(year_built) <= date.today().year):
        problems.add("year_built", _("Not a plausible year."))
    _check_point(problems, lng, lat)
    problems.raise_if_any("invalid_building")
    return {
        "address": (address or "").strip(),
        "use": use,
        "name": (name or "").strip(),
        "floors": floors,
        "structure": structure,
        "year_built": year_built,
        "safety_grade": safety_grade,
        "lng": lng,
        "lat": lat,
    }


def building_create(
    *, actor: User | None, grid: Area | None = None, group: Area | None = None, **fields: Any
) -> Building:
    """Register a building (房屋), self-built houses included: the fields of `_building_values`."""
    return _create_placed(
        actor=actor,
        model=Building,
        grid=grid,
        group=group,
        fields=fields,
        clean=_building_values,
        event="building.create",
        code="invalid_building",
    )


def building_update(
    *, actor: User | None, building: Building, grid: Area | None = None, group: Area | None = None, **changes: Any
) -> Building:
    """Change a building; fields left out keep their value."""
    return _update_placed(
        actor=actor,
        obj=building,
        grid=grid,
        group=group,
        changes=changes,
        clean=_building_values,
        event="building.update",
        code="invalid_building",
    )


def _check_point(problems: Problems, lng: float | None, lat: float | None) -> None:
    if (lng is None) != (lat is None):
        problems.add("lng", _("Give both longitude and latitude, or neither."))
        return
    if lng is None:
        return
    try:
        inside = -180 <= float(lng) <= 180 and -90 <= float(lat) <= 90
    except (TypeError, ValueError):
        inside = False
    if not inside:
        problems.add("lng", _("Not a longitude and latitude in degrees."))


def _shop_values(
    *,
    name: str,
    business_type: str,
    licence_number: str = "",
    operator: str = "",
    phone: Any = "",
    address: str = "",
    lng: float | None = None,
    lat: float | None = None,
) -> dict:
    problems = Problems()
    phone_plain = plain_of(phone).strip()
    if phone_plain:
        try:
            phone_plain = validate_phone(phone_plain)
        except ValidationError as exc:
            problems.add("phone", exc.messages[0])
    licence_number = (licence_number or "").strip().upper()
    if licence_number and (len(licence_number) != 18 or not licence_number.isalnum()):
        problems.add("licence_number", _("A unified social credit code has 18 letters and digits."))
    _check_point(problems, lng, lat)
    problems.raise_if_any("invalid_shop")
    return {
        "name": (name or "").strip(),
        "business_type": (business_type or "").strip(),
        "licence_number": licence_number,
        "operator": (operator or "").strip(),
        "phone": phone_plain,
        "address": (address or "").strip(),
        "lng": lng,
        "lat": lat,
    }


def shop_create(*, actor: User | None, grid: Area | None = None, group: Area | None = None, **fields: Any) -> Shop:
    """Register a shop (门店) in a household group of shops: the fields of `_shop_values`."""
    return _create_placed(
        actor=actor,
        model=Shop,
        grid=grid,
        group=group,
        fields=fields,
        clean=_shop_values,
        event="shop.create",
        code="invalid_shop",
    )


def shop_update(
    *, actor: User | None, shop: Shop, grid: Area | None = None, group: Area | None = None, **changes: Any
) -> Shop:
    """Change a shop; fields left out (the phone number too) keep their value."""
    return _update_placed(
        actor=actor,
        obj=shop,
        grid=grid,
        group=group,
        changes=changes,
        clean=_shop_values,
        event="shop.update",
        code="invalid_shop",
    )


def _place_values(*, kind: str, name: str, geometry: Any, description: str = "") -> dict:
    problems = Problems()
    _choice(problems, "kind", kind, PlaceKind, required=True)
    if not isinstance(geometry, dict) or geometry.get("type") not in ("Point", "LineString", "Polygon"):
        problems.add("geometry", _("A GeoJSON Point, LineString or Polygon is expected."))
    else:
        from shapely.errors import ShapelyError
        from shapely.geometry import shape

        try:
            geom = shape(geometry)
            west, south, east, north = geom.bounds  # NaN when empty: the comparison fails
            if geom.is_empty or not geom.is_valid or not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
                problems.add("geometry", _("The geometry is not valid."))
        except (KeyError, TypeError, ValueError, AttributeError, IndexError, ShapelyError):
            problems.add("geometry", _("The geometry is not valid."))
    problems.raise_if_any("invalid_place")
    return {
        "kind": kind,
        "name": (name or "").strip(),
        "geometry": geometry,
        "description": (description or "").strip(),
    }


def place_create(*, actor: User | None, grid: Area | None = None, group: Area | None = None, **fields: Any) -> Place:
    """Register a place (点位), a point or a line such as the road beside a park: the fields of
    `_place_values`."""
    return _create_placed(
        actor=actor,
        model=Place,
        grid=grid,
        group=group,
        fields=fields,
        clean=_place_values,
        event="place.create",
        code="invalid_place",
    )


def place_update(
    *, actor: User | None, place: Place, grid: Area | None = None, group: Area | None = None, **changes: Any
) -> Place:
    """Change a place; fields left out keep their value."""
    return _update_placed(
        actor=actor,
        obj=place,
        grid=grid,
        group=group,
        changes=changes,
        clean=_place_values,
        event="place.update",
        code="invalid_place",
    )


def tag_create(*, actor: User | None, code: str, name: str, kind: str, description: str = "", order: int = 100) -> Tag:
    """Add a tag to the catalogue (administrators)."""
    if actor is not None and not actor.is_superuser:
        raise PermissionDenied("forbidden", _("Only administrators may change the tag catalogue."))
    problems = Problems()
    _choice(problems, "kind", kind, TagKind, required=True)
    problems.raise_if_any("invalid_tag")
    tag = Tag(code=code.strip(), name=name.strip(), kind=kind, description=description, order=order)
    with duplicates_refused("invalid_tag", _("A tag with this code or name exists."), field="code"):
        return _clean_and_save(actor, tag, "tag.create", "invalid_tag")
