"""Every write to the case pipeline: intake (`case_report`) and the one transition door (`case_transition`).

The transition door locks the case row, checks the declarative table in `transitions`, applies
the step, writes its timeline entry in the same transaction and notifies people after commit.
Two concurrent actions on one case queue on the row lock; the second sees the new state and is
refused with 409. The deadline sweep (`sweep_deadlines`) works in bulk and is idempotent.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import shapely
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, connection, models, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.areas import cache as area_cache
from gridgov.areas.choices import Level, Mode, Role
from gridgov.areas.geo import grid_index, parse_boundary
from gridgov.areas.models import Area, Post, Unit
from gridgov.cases import transitions as table
from gridgov.cases.choices import (
    LEVEL_CODE_LENGTH,
    NEXT_LEVEL,
    TIMED_STATES,
    Action,
    CaseLevel,
    Priority,
    Source,
    State,
)
from gridgov.cases.models import (
    BusinessLine,
    Case,
    CaseAttachment,
    CaseCoUnit,
    CaseEvent,
    CaseSequence,
    Category,
    IdempotencyKey,
    SavedView,
)
from gridgov.cases.schema import clean_extra
from gridgov.core import audit, generations
from gridgov.core.db import prepared_cursor
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.scope import area_posts, scope_for
from gridgov.core.validators import validate_phone

logger = logging.getLogger("gridgov.cases")

# Roles that own a case at each level. The center may act at every level of its subdistrict.
LEVEL_ROLES: dict[str, frozenset[str]] = {
    CaseLevel.GRID: frozenset({Role.GRID_WORKER, Role.GRID_LEADER}),
    CaseLevel.COMMUNITY: frozenset({Role.COMMUNITY}),
    CaseLevel.SUBDISTRICT: frozenset({Role.CENTER}),
    CaseLevel.SUPERIOR: frozenset({Role.CENTER}),
}
OVERRIDE_ROLES = frozenset({Role.CENTER})
SUPERVISOR_ROLES = frozenset({Role.CENTER, Role.LEADER})
# Sources a grid's own staff report from: their cases start at grid level, the lowest that may solve them.
GRID_ROLES = LEVEL_ROLES[CaseLevel.GRID]
TRACKING_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
assert 256 % len(TRACKING_ALPHABET) == 0, "a byte modulo the alphabet's length must be unbiased"
MAX_TITLE = 100
MAX_TEXT = 4000
# Sources a case may come from without a signed-in user: the public form and the integrations' keys.
SYSTEM_SOURCES = frozenset({Source.RESIDENT, Source.OPEN311, Source.CAMERA, Source.HOTLINE})
URL_CHECK = URLValidator(schemes=["http", "https"])


# --- who the actor is -------------------------------------------------------------------------


def is_level_staff(actor: User | None, *, level: str, area_code: str) -> bool:
    """The actor owns cases at `level` in the area `area_code` (or is the center above it)."""
    if actor is None:
        return False
    if actor.is_superuser:
        return True
    roles = LEVEL_ROLES.get(level, frozenset())
    for role, code in area_posts(actor):
        if not area_code.startswith(code):
            continue
        if role in OVERRIDE_ROLES or (role in roles and len(code) == LEVEL_CODE_LENGTH[level]):
            return True
    return False


def actor_is(actor: User | None, who: str, case: Case, *, public: bool = False) -> bool:
    """Whether the actor is `who` (a name from `transitions`) for this case."""
    if who == table.PUBLIC:
        return public and actor is None
    if actor is None or not getattr(actor, "is_authenticated", False):
        return False
    if who == table.LEVEL_STAFF:
        return is_level_staff(actor, level=case.level, area_code=case.handling_area.code)
    if who == table.UNIT:
        return case.unit_id is not None and case.unit_id in scope_for(actor).unit_ids
    if who == table.ASSIGNEE:
        return case.assignee_id is not None and case.assignee_id == actor.pk
    if who == table.REPORTER:
        return case.reporter_id is not None and case.reporter_id == actor.pk
    if who == table.SUPERVISOR:
        return actor.is_superuser or any(
            role in SUPERVISOR_ROLES and case.area_code.startswith(code) for role, code in area_posts(actor)
        )
    if who == table.CONCERNED:
        scope = scope_for(actor)
        return (
            scope.covers_code(case.area_code)
            or (case.unit_id is not None and case.unit_id in scope.unit_ids)
            or bool(scope.unit_ids and set(scope.unit_ids) & co_unit_ids(case))
        )
    return False


def co_unit_ids(case: Case) -> set[int]:
    """The ids of the case's co-handling units, read once per case object."""
    cached = getattr(case, "_co_unit_ids", None)
    if cached is None:
        cached = case._co_unit_ids = set(case.co_unit_links.values_list("unit_id", flat=True))
    return cached


def _row_allows(row: table.Transition, case: Case, actor: User | None, *, public: bool) -> bool:
    if case.state not in row.sources:
        return False
    if row.levels is not None and case.level not in row.levels:
        return False
    if row.guard is not None and not row.guard(case):
        return False
    return any(actor_is(actor, who, case, public=public) for who in row.who)


def allowed_actions(*, actor: User | None, case: Case, public: bool = False) -> list[str]:
    """The actions this actor may take on the case now, in table order."""
    return [
        action
        for action in table.USER_ACTIONS
        if any(_row_allows(row, case, actor, public=public) for row in table.rows_for(action))
    ]


# --- deadlines --------------------------------------------------------------------------------


def _emergency_codes() -> list[str]:
    return list(Area.objects.filter(mode=Mode.EMERGENCY).values_list("code", flat=True))


def deadline_factor(area_code: str, emergency_codes: Sequence[str] | None = None) -> float:
    """How much of the normal time a step gets: less when the area or one above it is in emergency mode."""
    if emergency_codes is None:
        emergency = _in_emergency(area_code)
    else:
        emergency = any(area_code.startswith(code) for code in emergency_codes)
    return float(settings.GRIDGOV_EMERGENCY_DEADLINE_FACTOR) if emergency else 1.0


def _in_emergency(area_code: str) -> bool:
    """Whether the area or one above it is in emergency mode (kept per process: areas.cache)."""
    return area_cache.in_emergency(area_code)


def _start_clock(case: Case, *, now: datetime, minutes: float) -> None:
    """Start a step's clock: due after `minutes`, warn when 80 % of them have passed."""
    case.step_started_at = now
    case.due_at = now + timedelta(minutes=minutes)
    case.warn_at = now + timedelta(minutes=minutes * settings.GRIDGOV_DEADLINE_WARNING_SHARE)
    case.warned = False
    case.overdue = False
    case.overdue_at = None


def _stop_clock(case: Case) -> None:
    case.step_started_at = case.due_at = case.warn_at = None
    case.warned = case.overdue = False
    case.overdue_at = None


def accept_minutes(category: Category, priority: str, factor: float) -> float:
    return category.accept_minutes(priority) * factor


def handle_minutes(category: Category, priority: str, factor: float) -> float:
    return category.handle_hours(priority) * 60 * factor


# --- intake -----------------------------------------------------------------------------------


def _next_code(prefix: str) -> str:
    """`prefix` + a 4-digit (or longer) sequence, unique under concurrency.

    One upsert (PostgreSQL and SQLite ≥ 3.35 both have ON CONFLICT … RETURNING) takes the counter
    row's lock and its new value in a single round trip; concurrent intakes of one grid queue on it.
    """
    table = connection.ops.quote_name(CaseSequence._meta.db_table)
    sql = (
        f"INSERT INTO {table} (prefix, value) VALUES (%s, 1) ON CONFLICT (prefix) "  # noqa: S608 (our table)
        f"DO UPDATE SET value = {table}.value + 1 RETURNING value"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [prefix])
        return f"{prefix}{cursor.fetchone()[0]:04d}"


def _tracking_code() -> str:
    """Ten characters of the 32-letter alphabet: each random byte picks one (256 is a multiple of 32: no bias)."""
    return "".join(TRACKING_ALPHABET[byte % len(TRACKING_ALPHABET)] for byte in secrets.token_bytes(10))


def _invalid(field: str, message: Any, code: str = "invalid") -> ApplicationError:
    return ApplicationError(code, message, fields={field: [str(message)]})


def _text(value: Any, field: str, *, required: bool, limit: int) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise _invalid(field, _("Text is required."))
    value = value.strip()
    if required and not value:
        raise _invalid(field, _("This field is required."))
    if len(value) > limit:
        raise _invalid(field, _("At most %(n)d characters.") % {"n": limit})
    return value


def _link(value: Any, field: str) -> str:
    """An http(s) address of at most 500 characters, or ""."""
    text = _text(value, field, required=False, limit=500)
    if text:
        try:
            URL_CHECK(text)
        except ValidationError:
            raise _invalid(field, _("Enter a web address starting with http:// or https://.")) from None
    return text


def _coordinate(value: Any, field: str, low: float, high: float) -> float | None:
    if value in (None, ""):
        return None
    if isinstance(value, bool):
        raise _invalid(field, _("A number is required."), "invalid_point")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise _invalid(field, _("A number is required."), "invalid_point") from None
    if not (low <= number <= high):
        raise _invalid(field, _("Must be between %(low)s and %(high)s.") % {"low": low, "high": high}, "invalid_point")
    return number


CATALOGUE_GENERATION = "cases.catalogue"


def _load_catalogue() -> dict[str, Category]:
    return {category.code: category for category in Category.objects.select_related("business_line")}


# Every intake reads its category: kept per process, checked against a generation (one primary-key query)
# instead of read with its business line (a join the ORM took longer to build than the database to run).
_catalogue = generations.Cached(CATALOGUE_GENERATION, _load_catalogue)
# The Django admin edits categories and business lines directly, without a service to bump the generation.
generations.track(CATALOGUE_GENERATION, Category, BusinessLine)


def category_for_intake(code: Any) -> Category:
    """An active minor category by code (or instance), or an ApplicationError naming the field."""
    if isinstance(code, Category):
        category = code
    else:
        wanted = str(code or "").strip()
        category = _catalogue.get().get(wanted)
        if category is None:  # not cached: perhaps added since, without a signal (a data migration)
            category = Category.objects.select_related("business_line").filter(code=wanted).first()
    if category is None or not category.active:
        raise _invalid("category", _("Unknown category: %(code)s.") % {"code": code}, "unknown_category")
    if category.is_major:
        raise _invalid(
            "category", _("Choose a minor category under %(name)s.") % {"name": category.name}, "unknown_category"
        )
    return category


def _default_source(actor: User | None) -> str:
    if actor is None:
        return Source.RESIDENT
    return Source.GRID_WORKER


def _inside_boundary(area: Area, lng: float, lat: float) -> bool:
    """Whether a point outside every grid still lies within `area`'s drawn boundary (False when it has none)."""
    boundary = Area.objects.filter(pk=area.pk).values_list("boundary", flat=True).first()
    if not boundary:
        return False
    return bool(shapely.intersects_xy(parse_boundary(boundary), lng, lat))


def _fallback_area(actor: User | None, within: Area | None = None) -> Area:
    """The subdistrict that takes a case whose point lies outside every grid: the sender's, the reporter's, or the
    first."""
    if within is not None:
        area = Area.objects.filter(code=within.code[:9], level=Level.SUBDISTRICT).first()
        if area is not None:
            return area
    for _role, code in area_posts(actor):
        area = Area.objects.filter(code=code[:9], level=Level.SUBDISTRICT).first()
        if area is not None:
            return area
    area = Area.objects.filter(level=Level.SUBDISTRICT).order_by("code").first()
    if area is None:
        raise ApplicationError("no_area", _("No subdistrict is set up to take cases."))
    return area


def _grid(pk: int) -> Area:
    """The grid the index found, without its outline (kept per process: areas.cache)."""
    grid = area_cache.area_by_id(pk)
    if grid is None:
        raise Area.DoesNotExist(pk)
    return grid


def _level_area(grid: Area, level: str) -> Area:
    """The grid itself, or the ancestor that owns cases at `level`."""
    length = LEVEL_CODE_LENGTH[level]
    if len(grid.code) == length:
        return grid
    area = area_cache.area_by_code(grid.code[:length])
    if area is None:
        raise Area.DoesNotExist(grid.code[:length])
    return area


def body_hash(data: dict[str, Any]) -> str:
    """A stable hash of an intake body, to tell a replayed idempotency key from a reused one."""
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


@dataclass
class Intake:
    """A case's fields after checking, before anything is written."""

    category: Category
    title: str
    description: str
    priority: str
    source: str
    kind: str
    extra: dict[str, Any]
    lat: float | None
    lng: float | None
    address: str
    media_url: str
    reporter_name: str
    reporter_phone: str
    grid: Area | None
    outside_grids: bool
    level: str
    handling_area: Area


def check_intake(
    *,
    actor: User | None,
    category: Any,
    title: Any,
    description: Any = "",
    priority: Any = Priority.NORMAL,
    source: Any = None,
    extra: Any = None,
    lat: Any = None,
    lng: Any = None,
    address: Any = "",
    grid: Area | None = None,
    reporter_name: Any = "",
    reporter_phone: Any = "",
    media_url: Any = "",
    within: Area | None = None,
) -> Intake:
    """Everything about a new case that can be checked without writing; one ApplicationError otherwise.

    `within` limits a system sender (an API key's area) the way a user's scope limits a user.
    """
    category = category_for_intake(category)
    title = _text(title, "title", required=True, limit=MAX_TITLE)
    description = _text(description, "description", required=False, limit=MAX_TEXT)
    address = _text(address, "address", required=False, limit=200)
    reporter_name = _text(reporter_name, "reporter_name", required=False, limit=50)
    media_url = _link(media_url, "media_url")
    priority = priority or Priority.NORMAL
    if priority not in Priority.values:
        raise _invalid("priority", _("Not one of the allowed values."))
    source = source or _default_source(actor)
    if source not in Source.values:
        raise _invalid("source", _("Not one of the allowed values."))
    if actor is None and source not in SYSTEM_SOURCES:
        raise _invalid("source", _("Not one of the allowed values."))
    if source == Source.RESIDENT and not category.resident_reportable:
        raise _invalid("category", _("Residents cannot report this category."), "unknown_category")
    phone = ""
    if reporter_phone:
        try:
            phone = validate_phone(str(reporter_phone))
        except Exception as exc:  # the validator raises ValidationError with a translated message
            raise _invalid("reporter_phone", getattr(exc, "message", str(exc))) from None
    extra = clean_extra(category.form_schema, extra)

    lat_value = _coordinate(lat, "lat", -90, 90)
    lng_value = _coordinate(lng, "lng", -180, 180)
    if (lat_value is None) != (lng_value is None):
        missing = "lng" if lng_value is None else "lat"
        raise _invalid(missing, _("Give both latitude and longitude."), "invalid_point")
    outside = False
    if grid is None and lat_value is not None:
        grid_id = grid_index.locate(lng_value, lat_value)
        if grid_id is None:
            outside = True
        else:
            grid = _grid(grid_id)
    if grid is None and not outside:
        # No point: a grid's own staff report in their grid.
        own = [code for role, code in area_posts(actor) if role in GRID_ROLES]
        if len(own) == 1:
            grid = Area.objects.get(code=own[0])
        elif actor is None and address:
            outside = True  # a resident without a map point: the subdistrict takes it, never lost
        else:
            raise _invalid("lat", _("Give the location of the problem."), "invalid_point")
    if grid is not None and grid.level != Level.GRID:
        raise _invalid("grid", _("Choose a grid."), "invalid_area")

    scope = scope_for(actor) if actor is not None else None
    outside_scope = scope is not None and not scope.everything and bool(scope.area_codes)
    if grid is not None and outside_scope and not scope.covers_code(grid.code):
        raise _invalid("lat", _("The point lies outside your area."), "outside_scope")
    if within is not None and (
        (grid is not None and not grid.code.startswith(within.code))
        or (outside and lat_value is not None and not _inside_boundary(within, lng_value, lat_value))
    ):
        raise _invalid("lat", _("The point lies outside the area of this key."), "outside_scope")
    if outside:
        level, handling = CaseLevel.SUBDISTRICT, _fallback_area(actor, within)
    else:
        reported_by_grid = source == Source.GRID_WORKER and any(
            role in GRID_ROLES and grid.code.startswith(code) for role, code in area_posts(actor)
        )
        level = CaseLevel.GRID if reported_by_grid else category.level
        handling = _level_area(grid, level)
    return Intake(
        category=category,
        title=title,
        description=description,
        priority=priority,
        source=source,
        kind=category.kind,
        extra=extra,
        lat=lat_value,
        lng=lng_value,
        address=address,
        media_url=media_url,
        reporter_name=reporter_name,
        reporter_phone=phone,
        grid=grid,
        outside_grids=outside,
        level=level,
        handling_area=handling,
    )


def case_report(
    *,
    actor: User | None,
    idempotency_key: str | None = None,
    files: Sequence[Any] = (),
    rectify_by: datetime | None = None,
    **fields: Any,
) -> Case:
    """A new case at the lowest level that may solve it, with its timeline's first entry.

    `rectify_by` (a hazard found by an inspection, 整改时限) is the handling deadline instead of the
    category's hours.

    With an `idempotency_key`, a replay of the same body returns the case made the first time;
    the same key with another body is refused (409).
    """
    checked_files = _check_files(files)
    key_hash = body_hash(fields) if idempotency_key else ""
    if idempotency_key:
        if actor is None:
            raise _invalid("idempotency_key", _("Sign in to use an idempotency key."))
        if len(idempotency_key) > 100:
            raise _invalid("idempotency_key", _("At most %(n)d characters.") % {"n": 100})
        # Files are stored before the key is claimed: a replay must not leave copies behind. Without
        # files the claim below finds a replay in the same statement that stores the key.
        existing = _replayed(actor, idempotency_key, key_hash) if checked_files else None
        if existing is not None:
            return existing
    try:
        intake = check_intake(actor=actor, **fields)
    except ApplicationError:
        # A replay answers with the first case even when its body would be refused now.
        existing = _replayed(actor, idempotency_key, key_hash) if idempotency_key else None
        if existing is None:
            raise
        return existing
    key = _Key(actor, idempotency_key, key_hash) if idempotency_key else None
    try:
        # On PostgreSQL a report without files is one statement, atomic by itself (_insert_report).
        single = connection.vendor == "postgresql" and not checked_files
        with nullcontext() if single else transaction.atomic():
            case = _create_case(actor=actor, intake=intake, files=checked_files, rectify_by=rectify_by, key=key)
    except (_KeyHeld, IntegrityError):
        # An earlier request with the same key (or a concurrent one that committed first): answer as a replay.
        existing = _replayed(actor, idempotency_key, key_hash) if idempotency_key else None
        if existing is None:
            raise
        return existing
    return case


class _KeyHeld(Exception):
    """The idempotency key is already stored: the new case is rolled back and the request is a replay."""


@dataclass(frozen=True)
class _Key:
    """An Idempotency-Key to store with the new case: its sender, the key and the hash of the body."""

    user: User
    key: str
    body_hash: str


# Fields whose stored value is the Python value itself when it has exactly this type: no preparation needed.
_PLAIN_TYPES: dict[type[models.Field], type] = {
    models.CharField: str,
    models.TextField: str,
    models.BooleanField: bool,
    models.IntegerField: int,
    models.PositiveIntegerField: int,
    models.PositiveSmallIntegerField: int,
    models.SmallIntegerField: int,
    models.BigIntegerField: int,
    models.FloatField: float,
    models.ForeignKey: int,
}


@cache
def _insert_plan(model: type[models.Model]) -> tuple[tuple[models.Field, str, bool, type | None], ...]:
    """Per concrete field but the key: the field, its quoted column, whether its `pre_save` does more than read
    the attribute (timestamps, sealing), and the Python type a value may have to be stored as it is."""
    base_pre_save = models.Field.pre_save
    return tuple(
        (f, connection.ops.quote_name(f.column), type(f).pre_save is not base_pre_save, _PLAIN_TYPES.get(type(f)))
        for f in model._meta.concrete_fields
        if not f.primary_key
    )


def _insert_values(obj: Any, skip: Iterable[str] = ()) -> tuple[list[str], list[Any]]:
    """Quoted columns and prepared values of a new row, as Django's own INSERT prepares them (timestamps set).

    Columns left NULL are left out (no column of these tables has a database default): fewer parameters keep
    the statement under the driver's limit for caching its parsed form.
    """
    skipped = set(skip)
    columns, values = [], []
    for f, column, own_pre_save, plain in _insert_plan(type(obj)):
        if f.attname in skipped:
            continue
        value = f.pre_save(obj, True) if own_pre_save else getattr(obj, f.attname)
        if value is None:
            continue
        if type(value) is not plain:
            value = f.get_db_prep_save(value, connection)
            if value is None:
                continue
        columns.append(column)
        values.append(value)
    return columns, values


def _insert_report(case: Case, event: CaseEvent, prefix: str, key: _Key | None) -> None:
    """Write a new case (numbered from `prefix`), its first timeline entry and its idempotency key.

    PostgreSQL: one statement, its inserts chained by data-modifying WITH clauses: the key first (ON CONFLICT
    DO NOTHING), then the number, the case and the entry only if the key was new. Seven round trips
    (BEGIN, four statements, COMMIT) became one (make bench: cases.intake_http), which the server prepares
    (core.db). A concurrent request with the same key waits on the key's unique index until the first
    commits, then finds the key taken.

    Elsewhere (SQLite): the same rows one statement after another inside the caller's transaction.
    Either way `_KeyHeld` when an earlier request holds the key, with nothing written.
    """
    if connection.vendor != "postgresql":
        case.code = _next_code(prefix)
        case.save(force_insert=True)
        event.case = case
        event.save(force_insert=True)
        if key is not None and not _claim_key(key, case):
            raise _KeyHeld  # the caller's transaction rolls the case back
        return
    case_columns, case_values = _insert_values(case, skip=("code",))
    # The entry's case, state and level come from the case row the statement writes.
    event_columns, event_values = _insert_values(event, skip=("case_id", "to_state", "to_level"))
    sql = _report_sql(tuple(case_columns), tuple(event_columns), keyed=key is not None)
    params: list[Any] = []
    if key is not None:
        params += [key.user.pk, key.key, key.body_hash]
    params += [prefix, *case_values, *event_values]
    with prepared_cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        raise _KeyHeld
    case.pk, case.code, event.pk = row
    event.case = case
    for obj in (case, event):
        obj._state.adding, obj._state.db = False, connection.alias


@cache
def _case_id_sequence() -> str:
    """The sequence behind case ids, quoted, looked up once: in the statement, the server resolves it when it
    prepares the statement instead of searching the catalogue on every run."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [connection.ops.quote_name(Case._meta.db_table), "id"])
        name = cursor.fetchone()[0]
    return name.replace("'", "''")


@cache
def _report_sql(case_columns: tuple[str, ...], event_columns: tuple[str, ...], *, keyed: bool) -> str:
    """The one statement of `_insert_report` on PostgreSQL, for these columns, with or without a key.

    Identifiers come from the models' metadata, quoted; every value is a parameter.
    """
    quote = connection.ops.quote_name
    case_table, event_table = quote(Case._meta.db_table), quote(CaseEvent._meta.db_table)
    key_table, sequence_table = quote(IdempotencyKey._meta.db_table), quote(CaseSequence._meta.db_table)
    marks = ", ".join(["%s"] * len(case_columns))
    event_marks = ", ".join(["%s"] * len(event_columns))
    # The number: the prefix and the day's counter, at least four digits (what _next_code formats).
    number = "s.prefix || CASE WHEN s.value < 10000 THEN lpad(s.value::text, 4, '0') ELSE s.value::text END"
    parts = []
    if keyed:
        parts.append(
            f"k AS (INSERT INTO {key_table} ({quote('user_id')}, {quote('key')}, {quote('body_hash')}, "  # noqa: S608
            f"{quote('case_id')}, {quote('created_at')}) VALUES (%s, %s, %s, "
            f"nextval('{_case_id_sequence()}'::regclass), now()) "
            f"ON CONFLICT ({quote('user_id')}, {quote('key')}) DO NOTHING RETURNING {quote('case_id')})"
        )
    parts.append(
        f"s AS (INSERT INTO {sequence_table} (prefix, value) SELECT %s, 1 {'FROM k' if keyed else ''} "
        f"ON CONFLICT (prefix) DO UPDATE SET value = {sequence_table}.value + 1 RETURNING prefix, value)"
    )
    ids = (f"{quote('id')}, ", f"k.{quote('case_id')}, ") if keyed else ("", "")
    parts.append(
        f"c AS (INSERT INTO {case_table} ({ids[0]}{quote('code')}, {', '.join(case_columns)}) "  # noqa: S608
        f"SELECT {ids[1]}{number}, {marks} FROM s{', k' if keyed else ''} "
        f"RETURNING {quote('id')}, {quote('code')}, {quote('state')}, {quote('level')})"
    )
    parts.append(
        f"e AS (INSERT INTO {event_table} ({quote('case_id')}, {quote('to_state')}, {quote('to_level')}, "  # noqa: S608
        f"{', '.join(event_columns)}) "
        f"SELECT c.{quote('id')}, c.{quote('state')}, c.{quote('level')}, {event_marks} FROM c RETURNING {quote('id')})"
    )
    return f"WITH {', '.join(parts)} SELECT c.{quote('id')}, c.{quote('code')}, e.{quote('id')} FROM c, e"  # noqa: S608


def _claim_key(key: _Key, case: Case) -> bool:
    """Store the idempotency key for the new case; False when an earlier request holds it.

    One INSERT … ON CONFLICT DO NOTHING (SQLite ≥ 3.35) instead of a SELECT before the intake and an INSERT
    after it.
    """
    quote = connection.ops.quote_name
    table = quote(IdempotencyKey._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({quote('user_id')}, {quote('key')}, {quote('body_hash')}, {quote('case_id')}, "  # noqa: S608 (our table)
        f"{quote('created_at')}) VALUES (%s, %s, %s, %s, %s) "
        f"ON CONFLICT ({quote('user_id')}, {quote('key')}) DO NOTHING RETURNING {quote('id')}"
    )
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with connection.cursor() as cursor:
        cursor.execute(sql, [key.user.pk, key.key, key.body_hash, case.pk, now])
        return cursor.fetchone() is not None


def _replayed(actor: User, key: str, key_hash: str) -> Case | None:
    row = IdempotencyKey.objects.filter(user=actor, key=key).select_related("case").first()
    if row is None:
        return None
    if row.body_hash != key_hash:
        raise Conflict(
            "idempotency_key_reused",
            _("This Idempotency-Key was used for a different case."),
            fields={"idempotency_key": [_("Use a new key for a new case.")]},
        )
    row.case.replayed = True
    return row.case


def _create_case(
    *,
    actor: User | None,
    intake: Intake,
    files: Sequence[Any],
    rectify_by: datetime | None = None,
    key: _Key | None = None,
) -> Case:
    now = timezone.now()
    area_code = intake.grid.code if intake.grid is not None else intake.handling_area.code
    factor = deadline_factor(area_code)
    case = Case(
        title=intake.title,
        description=intake.description,
        category=intake.category,
        business_line=intake.category.business_line,
        kind=intake.kind,
        source=intake.source,
        priority=intake.priority,
        extra=intake.extra,
        lat=intake.lat,
        lng=intake.lng,
        address=intake.address,
        media_url=intake.media_url,
        grid=intake.grid,
        area_code=area_code,
        outside_grids=intake.outside_grids,
        level=intake.level,
        handling_area=intake.handling_area,
        state=State.REPORTED,
        reporter=actor if actor is not None and actor.is_authenticated else None,
        reporter_name=intake.reporter_name or (actor.name if actor is not None else ""),
        reporter_phone=intake.reporter_phone,
        tracking_code=_tracking_code(),
        rectify_by=rectify_by,
    )
    _start_clock(case, now=now, minutes=accept_minutes(intake.category, intake.priority, factor))
    note = _("Outside every grid: taken by the subdistrict.") if intake.outside_grids else ""
    event = _new_event(case, actor=actor, action=Action.REPORT, from_state="", from_level="", now=now, note=note)
    _insert_report(case, event, f"{area_code}{timezone.localtime(now):%Y%m%d}", key)
    # What was written, for the API's answer: a new case's timeline and files, without reading them back.
    case.report_event, case.report_files = event, _store_files(case, event, files, actor)
    if case.reporter_id is None or not is_level_staff(actor, level=case.level, area_code=case.handling_area.code):
        _after_commit_notify(case, Action.REPORT, users=level_staff_ids(case))
    logger.info("case reported code=%s level=%s source=%s", case.code, case.level, case.source)
    return case


# --- the transition door ----------------------------------------------------------------------


def _new_event(
    case: Case,
    *,
    actor: User | None,
    action: str,
    from_state: str,
    from_level: str,
    now: datetime,
    note: str = "",
    unit: Unit | None = None,
    data: dict[str, Any] | None = None,
) -> CaseEvent:
    """A timeline entry for the case as it is now, not yet written."""
    return CaseEvent(
        case=case,
        time=now,
        actor=actor if actor is not None and actor.is_authenticated else None,
        actor_name=(actor.name or actor.get_username()) if actor is not None and actor.is_authenticated else "",
        action=action,
        from_state=from_state,
        to_state=case.state,
        from_level=from_level,
        to_level=case.level,
        unit=unit,
        note=note,
        data=data or {},
    )


def _event(case: Case, **fields: Any) -> CaseEvent:
    """A timeline entry for the case as it is now, written."""
    event = _new_event(case, **fields)
    event.save(force_insert=True)
    return event


def _locked(case: Case | int) -> Case:
    pk = case.pk if isinstance(case, Case) else case
    try:
        return (
            Case.objects.select_for_update(of=("self",)).select_related("handling_area", "category", "unit").get(pk=pk)
        )
    except (Case.DoesNotExist, ValueError, TypeError):
        raise NotFound("not_found", _("%(name)s not found.") % {"name": Case._meta.verbose_name}) from None


def _refuse_state(case: Case, action: str) -> Conflict:
    return Conflict(
        "illegal_transition",
        _("A case that is %(state)s cannot be given the action “%(action)s”.")
        % {"state": case.get_state_display(), "action": Action(action).label},
        fields={"state": [case.state]},
    )


def case_transition(
    *,
    actor: User | None,
    case: Case | int,
    action: str,
    public: bool = False,
    **params: Any,
) -> Case:
    """Take one action on a case: lock, check the table, apply, write the timeline entry. The one door."""
    rows = table.rows_for(action)
    if not rows:
        raise NotFound("unknown_action", _("Unknown action: %(action)s.") % {"action": action})
    if "files" in params:
        params["files"] = _check_files(params["files"])
    with transaction.atomic():
        case = _locked(case)
        in_state = [row for row in rows if case.state in row.sources]
        if not in_state:
            raise _refuse_state(case, action)
        row = next((r for r in in_state if _row_allows(r, case, actor, public=public)), None)
        if row is None:
            if any(r.guard is not None and not r.guard(case) for r in in_state) or all(
                r.levels is not None and case.level not in r.levels for r in in_state
            ):
                raise _refuse_state(case, action)
            raise PermissionDenied("forbidden", _("You may not take this action on this case."))
        unknown = sorted(set(params) - _accepted_params(action))
        if unknown:
            message = _("Unknown field: %(name)s.") % {"name": ", ".join(unknown)}
            raise ApplicationError("unknown_field", message, fields={name: [message] for name in unknown})
        missing = {need: [_("This field is required.")] for need in row.needs if params.get(need) in (None, "", [], ())}
        if missing:
            raise ApplicationError("invalid", next(iter(missing.values()))[0], fields=missing)
        now = timezone.now()
        from_state, from_level = case.state, case.level
        step = _STEPS[action](case, actor=actor, now=now, row=row, **params)
        case.save()
        event = _event(
            case,
            actor=actor,
            action=action,
            from_state=from_state,
            from_level=from_level,
            now=now,
            note=step.note,
            unit=step.unit,
            data=step.data,
        )
        _store_files(case, event, params.get("files") or (), actor)
        if step.notify:
            _after_commit_notify(case, action, users=step.notify)
    logger.info("case %s action=%s %s→%s by=%s", case.code, action, from_state, case.state, actor or "-")
    return case


@dataclass
class Step:
    """What a step leaves for the timeline entry and the notification."""

    note: str = ""
    unit: Unit | None = None
    data: dict[str, Any] | None = None
    notify: Iterable[int] = ()


def _handling_minutes(case: Case, now: datetime, factor: float) -> float:
    """The handling step's time: until the rectification deadline when the case has one, else the category's."""
    if case.rectify_by is not None:
        return max((case.rectify_by - now).total_seconds() / 60, 1.0)
    return handle_minutes(case.category, case.priority, factor)


def _reason(params: dict[str, Any], name: str = "reason", *, required: bool = True) -> str:
    return _text(params.get(name), name, required=required, limit=MAX_TEXT)


def _factor(case: Case) -> float:
    return deadline_factor(case.area_code)


def _accept(case: Case, now: datetime) -> None:
    """The case is taken in: the handling clock starts."""
    case.state = State.REGISTERED
    case.accepted_at = case.accepted_at or now
    _start_clock(case, now=now, minutes=_handling_minutes(case, now, _factor(case)))


def _step_accept(case: Case, *, actor, now, row, note: Any = "", **params) -> Step:
    _accept(case, now)
    return Step(note=_reason({"note": note}, "note", required=False))


def _step_reject(case: Case, *, actor, now, row, reason: Any, **params) -> Step:
    case.state = State.REJECTED
    _stop_clock(case)
    case.closed_at = now
    return Step(note=_reason({"reason": reason}), notify=_reporter_ids(case))


def _step_handle_on_site(case: Case, *, actor, now, row, result: Any, measures: Any = "", **params) -> Step:
    case.result = _reason({"result": result}, "result")
    case.measures = _reason({"measures": measures}, "measures", required=False)
    case.state = State.RESOLVED
    case.accepted_at = case.accepted_at or now
    case.assignee = actor
    case.resolved_at = now
    _stop_clock(case)
    return Step(note=case.result)


def _unit_of(value: Any) -> Unit:
    if isinstance(value, Unit):
        return value
    query = Unit.objects.select_related("area").filter(active=True)
    unit = None
    if isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit()):
        unit = query.filter(pk=int(value)).first()
    elif isinstance(value, str):
        unit = query.filter(name=value.strip()).first()
    if unit is None:
        raise _invalid("unit", _("Unknown unit: %(unit)s.") % {"unit": value}, "unknown_unit")
    return unit


def _may_dispatch_to(actor: User | None, case: Case, unit: Unit) -> bool:
    """The center dispatches to any unit; a community to the units that serve the case's place."""
    if actor is not None and (actor.is_superuser or any(role in OVERRIDE_ROLES for role, code in area_posts(actor))):
        return True
    code = unit.area.code
    return case.area_code.startswith(code) or code.startswith(case.handling_area.code)


def _step_dispatch(
    case: Case, *, actor, now, row, unit: Any, co_units: Any = (), note: Any = "", measures: Any = "", **params
) -> Step:
    unit = _unit_of(unit)
    if not _may_dispatch_to(actor, case, unit):
        raise _invalid("unit", _("%(unit)s does not serve this case's area.") % {"unit": unit}, "unit_out_of_area")
    co = [_unit_of(u) for u in (co_units or [])]
    co = [u for u in dict.fromkeys(co) if u.pk != unit.pk]
    previous = co_unit_ids(case)
    if case.state == State.REPORTED:
        case.accepted_at = now
    case.state = State.DISPATCHED
    case.unit = unit
    case.assignee = None
    case.dispatched_at = now
    if measures:
        case.measures = _reason({"measures": measures}, "measures", required=False)
    _start_clock(case, now=now, minutes=_handling_minutes(case, now, _factor(case)))
    if {u.pk for u in co} != previous:
        case.co_unit_links.all().delete()
        CaseCoUnit.objects.bulk_create([CaseCoUnit(case=case, unit=u) for u in co])
        case._co_unit_ids = {u.pk for u in co}
    handlers = unit_handler_ids([unit.pk, *[u.pk for u in co]])
    return Step(
        note=_reason({"note": note}, "note", required=False),
        unit=unit,
        data={"co_units": [u.pk for u in co], "co_unit_names": [u.name for u in co]},
        notify=handlers,
    )


def _step_claim(case: Case, *, actor, now, row, note: Any = "", **params) -> Step:
    if case.state == State.REPORTED:
        case.accepted_at = now
    if case.state in (State.REPORTED, State.REGISTERED) and case.unit_id is None:
        _start_clock(case, now=now, minutes=_handling_minutes(case, now, _factor(case)))
    case.state = State.IN_PROGRESS
    case.assignee = actor
    return Step(note=_reason({"note": note}, "note", required=False), unit=case.unit)


def _step_return(case: Case, *, actor, now, row, reason: Any, **params) -> Step:
    unit = case.unit
    case.state = State.REGISTERED
    case.unit = None
    case.assignee = None
    case.extension_requested_hours = None
    case.co_unit_links.all().delete()
    case._co_unit_ids = set()
    _start_clock(case, now=now, minutes=accept_minutes(case.category, case.priority, _factor(case)))
    return Step(note=_reason({"reason": reason}), unit=unit, notify=level_staff_ids(case))


def _escalate(case: Case, *, now: datetime, factor: float, parent: Area | None = None) -> None:
    """Move the case one level up; the new level must accept it in its own time."""
    target = NEXT_LEVEL[case.level]
    case.escalation_count += 1
    case.assignee = None
    if target == CaseLevel.SUPERIOR:
        # Handed to a district department; the center follows it up and records the answer.
        case.level = target
        case.state = State.IN_PROGRESS
        _start_clock(case, now=now, minutes=_handling_minutes(case, now, factor))
        return
    case.level = target
    case.handling_area = parent if parent is not None else case.handling_area.parent
    case.state = State.REPORTED
    _start_clock(case, now=now, minutes=accept_minutes(case.category, case.priority, factor))


def _step_escalate(case: Case, *, actor, now, row, reason: Any, **params) -> Step:
    note = _reason({"reason": reason})
    _escalate(case, now=now, factor=_factor(case))
    return Step(note=note, notify=level_staff_ids(case))


def _step_resolve(case: Case, *, actor, now, row, result: Any, measures: Any = "", **params) -> Step:
    case.result = _reason({"result": result}, "result")
    if measures:
        case.measures = _reason({"measures": measures}, "measures", required=False)
    case.state = State.RESOLVED
    case.resolved_at = now
    case.extension_requested_hours = None
    _stop_clock(case)
    return Step(note=case.result, unit=case.unit, notify=level_staff_ids(case))


def _passed(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise _invalid("passed", _("Yes or no is required."))


def _step_verify(case: Case, *, actor, now, row, passed: Any, note: Any = "", **params) -> Step:
    ok = _passed(passed)
    text = _reason({"note": note}, "note", required=not ok)
    case.verifier = actor
    if ok:
        case.state = State.CLOSED
        case.closed_at = now
        case.closed_level = case.level
        _stop_clock(case)
        return Step(note=text, data={"passed": True}, notify=_reporter_ids(case))
    # Not done: back to whoever handled it, with a new handling clock.
    case.state = State.IN_PROGRESS
    case.resolved_at = None
    _start_clock(case, now=now, minutes=_handling_minutes(case, now, _factor(case)))
    notify = unit_handler_ids([case.unit_id]) if case.unit_id else [case.assignee_id] if case.assignee_id else []
    return Step(note=text, data={"passed": False}, notify=notify)


def _step_reopen(case: Case, *, actor, now, row, reason: Any, **params) -> Step:
    note = _reason({"reason": reason})
    case.state = State.REGISTERED
    case.closed_at = None
    case.closed_level = ""
    case.resolved_at = None
    case.satisfaction = None
    case.satisfaction_note = ""
    case.unit = None
    case.assignee = None
    case.co_unit_links.all().delete()
    case._co_unit_ids = set()
    _start_clock(case, now=now, minutes=_handling_minutes(case, now, _factor(case)))
    return Step(note=note, notify=level_staff_ids(case))


def _step_rate(case: Case, *, actor, now, row, score: Any, note: Any = "", **params) -> Step:
    try:
        value = int(score)
    except (TypeError, ValueError):
        value = 0
    if isinstance(score, bool) or not 1 <= value <= 5 or str(score).strip() not in {str(value), f"{value}.0"}:
        raise _invalid("score", _("A score from 1 to 5 is required."))
    case.satisfaction = value
    case.satisfaction_note = _reason({"note": note}, "note", required=False)[:200]
    return Step(note=case.satisfaction_note, data={"score": value})


def _step_urge(case: Case, *, actor, now, row, note: Any = "", **params) -> Step:
    case.urged = True
    case.urge_count += 1
    people = unit_handler_ids([case.unit_id]) if case.unit_id else level_staff_ids(case)
    if case.assignee_id:
        people = [*people, case.assignee_id]
    return Step(note=_reason({"note": note}, "note", required=False), notify=people)


def _step_extend_request(case: Case, *, actor, now, row, hours: Any, reason: Any, **params) -> Step:
    try:
        value = int(hours)
    except (TypeError, ValueError):
        value = 0
    if isinstance(hours, bool) or not 1 <= value <= 24 * 90:
        raise _invalid("hours", _("A whole number of hours from 1 to 2160 is required."))
    note = _reason({"reason": reason})
    case.extension_requested_hours = value
    return Step(note=note, data={"hours": value}, notify=level_staff_ids(case))


def _step_extend_approve(case: Case, *, actor, now, row, approved: Any, note: Any = "", **params) -> Step:
    ok = _passed(approved)
    hours = case.extension_requested_hours or 0
    case.extension_requested_hours = None
    if ok:
        base = max(case.due_at or now, now)
        started = case.step_started_at or now
        case.due_at = base + timedelta(hours=hours)
        case.warn_at = started + (case.due_at - started) * settings.GRIDGOV_DEADLINE_WARNING_SHARE
        case.warned = case.warn_at <= now
        case.overdue = False
        case.overdue_at = None
    people = unit_handler_ids([case.unit_id]) if case.unit_id else [case.assignee_id] if case.assignee_id else []
    return Step(
        note=_reason({"note": note}, "note", required=False),
        data={"approved": ok, "hours": hours},
        notify=people,
    )


def _case_of(value: Any, actor: User | None) -> Case:
    from gridgov.cases.selectors import case_list

    query = case_list(user=actor) if actor is not None else Case.objects.all()
    target = None
    if isinstance(value, Case):
        target = query.filter(pk=value.pk).first()
    elif isinstance(value, int) or (isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 16):
        target = query.filter(pk=int(value)).first()
    elif isinstance(value, str):
        target = query.filter(code=value.strip()).first()
    if target is None:
        raise _invalid("target", _("Unknown case: %(case)s.") % {"case": value}, "unknown_case")
    return target


def _step_merge(case: Case, *, actor, now, row, target: Any, note: Any = "", **params) -> Step:
    into = _case_of(target, actor)
    if into.pk == case.pk:
        raise _invalid("target", _("A case cannot be merged into itself."))
    if into.state in (State.MERGED, State.REJECTED):
        raise _invalid("target", _("Merge into a case that is still valid."))
    case.state = State.MERGED
    case.merged_into = into
    case.closed_at = now
    _stop_clock(case)
    return Step(note=_reason({"note": note}, "note", required=False), data={"into": into.code})


def _step_comment(case: Case, *, actor, now, row, note: Any, **params) -> Step:
    return Step(note=_reason({"note": note}, "note"))


def _step_attach(case: Case, *, actor, now, row, files: Any, note: Any = "", **params) -> Step:
    return Step(note=_reason({"note": note}, "note", required=False), data={"files": len(files)})


_STEPS = {
    Action.ACCEPT: _step_accept,
    Action.REJECT: _step_reject,
    Action.HANDLE_ON_SITE: _step_handle_on_site,
    Action.DISPATCH: _step_dispatch,
    Action.CLAIM: _step_claim,
    Action.RETURN: _step_return,
    Action.ESCALATE: _step_escalate,
    Action.RESOLVE: _step_resolve,
    Action.VERIFY: _step_verify,
    Action.REOPEN: _step_reopen,
    Action.RATE: _step_rate,
    Action.URGE: _step_urge,
    Action.EXTEND_REQUEST: _step_extend_request,
    Action.EXTEND_APPROVE: _step_extend_approve,
    Action.MERGE: _step_merge,
    Action.COMMENT: _step_comment,
    Action.ATTACH: _step_attach,
}


@cache
def _accepted_params(action: str) -> frozenset[str]:
    """The inputs an action's step takes (its keyword parameters), besides files, which every step may carry."""
    step = inspect.signature(_STEPS[action]).parameters
    own = {name for name, p in step.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    return frozenset(own - {"actor", "now", "row"} | {"files"})


def case_link(*, actor: User | None, case: Case, other: Any) -> Case:
    """Mark two cases as related (both directions), as a timeline note on each."""
    other_case = _case_of(other, actor)
    if other_case.pk == case.pk:
        raise _invalid("target", _("A case cannot be related to itself."))
    case.related.add(other_case)
    return case_transition(
        actor=actor, case=case, action=Action.COMMENT, note=_("Related to %(code)s.") % {"code": other_case.code}
    )


# --- files ------------------------------------------------------------------------------------


def _check_files(files: Sequence[Any]) -> list[Any]:
    from gridgov.cases.attachments import check_upload

    return [check_upload(f) for f in (files or [])]


def _store_files(case: Case, event: CaseEvent, files: Sequence[Any], actor: User | None) -> list[CaseAttachment]:
    if not files:
        return []
    from gridgov.cases.attachments import store_upload

    return [store_upload(case=case, event=event, checked=f, actor=actor) for f in files]


# --- who to tell ------------------------------------------------------------------------------


def level_staff_ids(case: Case) -> list[int]:
    """Users who own the case's level at its handling area."""
    roles = LEVEL_ROLES[case.level]
    return list(
        Post.objects.filter(active=True, role__in=roles, area_id=case.handling_area_id, user__is_active=True)
        .values_list("user_id", flat=True)
        .distinct()
    )


def unit_handler_ids(unit_ids: Iterable[int | None]) -> list[int]:
    ids = [u for u in unit_ids if u]
    if not ids:
        return []
    return list(
        Post.objects.filter(active=True, role=Role.UNIT_HANDLER, unit_id__in=ids, user__is_active=True)
        .values_list("user_id", flat=True)
        .distinct()
    )


def _reporter_ids(case: Case) -> list[int]:
    return [case.reporter_id] if case.reporter_id else []


NOTICE_TITLES = {
    Action.REPORT: _("New case %(code)s: %(title)s"),
    Action.REJECT: _("Case %(code)s was not registered"),
    Action.DISPATCH: _("Case %(code)s was dispatched to you"),
    Action.RETURN: _("Case %(code)s was returned"),
    Action.ESCALATE: _("Case %(code)s was escalated to you"),
    Action.RESOLVE: _("Case %(code)s awaits verification"),
    Action.VERIFY: _("Case %(code)s was verified"),
    Action.REOPEN: _("Case %(code)s was reopened"),
    Action.URGE: _("Case %(code)s is urged"),
    Action.EXTEND_REQUEST: _("Case %(code)s: extension requested"),
    Action.EXTEND_APPROVE: _("Case %(code)s: extension decided"),
}


def _after_commit_notify(case: Case, action: str, *, users: Iterable[int]) -> None:
    """Tell people after the transaction commits; a rolled-back step tells nobody."""
    ids = sorted({u for u in users if u})
    if not ids:
        return
    title_template = NOTICE_TITLES.get(action)
    if title_template is None:
        return
    code, title, pk = case.code, case.title, case.pk

    def send() -> None:
        from gridgov.notifications.services import notify

        notify(
            users=User.objects.filter(pk__in=ids),
            kind=f"case.{action}",
            title=str(title_template) % {"code": code, "title": title},
            body=title,
            url=reverse("cases:detail", args=[pk]),
            obj=Case(pk=pk),
        )

    transaction.on_commit(send)


# --- the deadline sweep -----------------------------------------------------------------------


@dataclass
class SweepResult:
    warned: int = 0
    overdue: int = 0
    escalated: int = 0


SWEEP_BATCH = 5000


def _chunks(ids: list[int], size: int = SWEEP_BATCH) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield ids[start : start + size]


SWEEP_COLUMNS = ("id", "state", "level", "unit_id", "handling_area_id", "assignee_id")


def _mark(*, assignments: str, assignment_params: list, condition: str, condition_params: list) -> list[tuple]:
    """Mark the timed cases that meet `condition` in one UPDATE; SWEEP_COLUMNS of the rows it changed.

    Set-based on purpose: after an outage a sweep marks a hundred thousand cases, and one statement
    does it without sending ids back and forth (measured by `make bench`, cases.deadline_sweep.ms).
    """
    qn = connection.ops.quote_name
    states = sorted(TIMED_STATES)
    sql = (
        f"UPDATE {qn(Case._meta.db_table)} SET {assignments} "  # noqa: S608 (our table, fixed fragments)
        f"WHERE {qn('state')} IN ({', '.join(['%s'] * len(states))}) AND {condition} "
        f"RETURNING {', '.join(qn(c) for c in SWEEP_COLUMNS)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*assignment_params, *states, *condition_params])
        return cursor.fetchall()


def sweep_deadlines(*, now: datetime | None = None) -> SweepResult:
    """Mark overdue steps (and escalate unaccepted ones a level up), then warnings (80 % of a step's time used).

    Idempotent: each mark is a conditional UPDATE (a row already marked is not marked again), and the
    whole sweep holds one lock row, so two workers never sweep at the same time. A case that is past
    due is marked overdue and warned in one statement, and is told about once (overdue), not twice.
    """
    from gridgov.core.models import Generation

    now = now or timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    result = SweepResult()
    with transaction.atomic():
        Generation.objects.get_or_create(name="cases.sweep")
        lock = Generation.objects.select_for_update(skip_locked=True).filter(name="cases.sweep").first()
        if lock is None and transaction.get_connection().features.has_select_for_update_skip_locked:
            logger.info("deadline sweep skipped: another worker is sweeping")
            return result
        overdue = _mark(
            assignments="overdue = %s, warned = %s, ever_overdue = %s, overdue_at = %s",
            assignment_params=[True, True, True, at],
            condition="overdue = %s AND due_at <= %s",
            condition_params=[False, at],
        )
        _overdue_events(overdue, now)
        warned = _mark(
            assignments="warned = %s",
            assignment_params=[True],
            condition="warned = %s AND warn_at <= %s",
            condition_params=[False, at],
        )
        result.overdue, result.warned = len(overdue), len(warned)
        # Who missed a deadline comes from the rows as they were marked, before escalation moved them.
        escalated = _escalate_unaccepted(now)
        result.escalated = len(escalated)
        moved = [
            row for chunk in _chunks(escalated) for row in Case.objects.filter(id__in=chunk).values_list(*SWEEP_COLUMNS)
        ]
        people = _sweep_people({"warn": warned, "overdue": overdue, "escalated": moved})
    _notify_sweep(people)
    if result.warned or result.overdue or result.escalated:
        logger.info("deadline sweep warned=%d overdue=%d escalated=%d", result.warned, result.overdue, result.escalated)
    return result


EVENT_COLUMNS = (
    "case_id, time, actor_id, actor_name, action, from_state, to_state, from_level, to_level, unit_id, note, data"
)


def _copy_events(
    ids: list[int],
    now: datetime,
    action: str,
    *,
    note: str = "",
    data: str = "{}",
    from_level: str | None = None,
    to_level: str | None = None,
) -> None:
    """A timeline entry for each case in `ids`, its state and level copied from the row by the database."""
    qn = connection.ops.quote_name
    at = connection.ops.adapt_datetimefield_value(now)
    levels = "%s, %s" if from_level else "level, level"
    level_params = [from_level, to_level] if from_level else []
    for chunk in _chunks(ids):
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {qn(CaseEvent._meta.db_table)} ({EVENT_COLUMNS}) "  # noqa: S608 (our table, fixed fragments)
                f"SELECT id, %s, NULL, '', %s, state, state, {levels}, unit_id, %s, %s "
                f"FROM {qn(Case._meta.db_table)} WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                [at, action, *level_params, note, data, *chunk],
            )


def _overdue_events(rows: list[tuple], now: datetime) -> None:
    _copy_events([row[0] for row in rows], now, Action.OVERDUE)


def _escalate_unaccepted(now: datetime) -> list[int]:
    """Unaccepted cases past their accept deadline move one level up, with a new accept clock.

    One UPDATE per (level, category, priority, deadline factor) — a few dozen statements, however
    many cases — instead of a row-by-row bulk_update.
    """
    rows = Case.objects.filter(
        state=State.REPORTED,
        due_at__lte=now,
        level__in=[CaseLevel.GRID, CaseLevel.COMMUNITY],
        handling_area__parent__isnull=False,
    ).values_list("id", "level", "category_id", "priority", "area_code")
    groups: dict[tuple, list[int]] = defaultdict(list)
    emergency = None
    for pk, level, category_id, priority, area_code in rows:
        if emergency is None:
            emergency = _emergency_codes()
        groups[(level, category_id, priority, deadline_factor(area_code, emergency))].append(pk)
    if not groups:
        return []
    categories = {c.pk: c for c in Category.objects.all()}
    note = _("Not accepted in time: escalated automatically.")
    qn = connection.ops.quote_name
    table, areas = qn(Case._meta.db_table), qn(Area._meta.db_table)
    at = connection.ops.adapt_datetimefield_value(now)
    escalated: list[int] = []
    for (level, category_id, priority, factor), ids in groups.items():
        minutes = accept_minutes(categories[category_id], priority, factor)
        due = connection.ops.adapt_datetimefield_value(now + timedelta(minutes=minutes))
        warn = connection.ops.adapt_datetimefield_value(
            now + timedelta(minutes=minutes * settings.GRIDGOV_DEADLINE_WARNING_SHARE)
        )
        to_level = NEXT_LEVEL[level]
        for chunk in _chunks(ids):
            with connection.cursor() as cursor:
                cursor.execute(
                    f"UPDATE {table} SET level = %s, "  # noqa: S608 (our table, fixed fragments)
                    f"handling_area_id = (SELECT parent_id FROM {areas} WHERE {areas}.id = {table}.handling_area_id), "
                    "escalation_count = escalation_count + 1, assignee_id = NULL, step_started_at = %s, "
                    "due_at = %s, warn_at = %s, warned = %s, overdue = %s, overdue_at = NULL "
                    f"WHERE id IN ({', '.join(['%s'] * len(chunk))}) AND state = %s AND level = %s RETURNING id",
                    [to_level, at, due, warn, False, False, *chunk, State.REPORTED, level],
                )
                moved = [row[0] for row in cursor.fetchall()]
            _copy_events(
                moved, now, Action.ESCALATE, note=note, data='{"automatic": true}', from_level=level, to_level=to_level
            )
            escalated.extend(moved)
    return escalated


def _sweep_people(marked: dict[str, list[tuple]]) -> dict[str, dict[int, int]]:
    """For each kind of notice, how many of the marked cases each person is concerned with (two queries)."""
    counts: dict[str, dict[int, int]] = {kind: defaultdict(int) for kind in marked}
    by_area: dict[str, dict[tuple[int, str], int]] = {kind: defaultdict(int) for kind in marked}
    by_unit: dict[str, dict[int, int]] = {kind: defaultdict(int) for kind in marked}
    for kind, rows in marked.items():
        for _pk, _state, level, unit_id, area_id, assignee_id in rows:
            if unit_id:
                by_unit[kind][unit_id] += 1
            elif assignee_id:
                counts[kind][assignee_id] += 1
            else:
                by_area[kind][(area_id, level)] += 1
    staff: dict[tuple[int, str], list[int]] = defaultdict(list)
    area_ids = sorted({area_id for kind in marked for area_id, _level in by_area[kind]})
    for chunk in _chunks(area_ids):
        for area_id, role, user_id in Post.objects.filter(active=True, area_id__in=chunk).values_list(
            "area_id", "role", "user_id"
        ):
            staff[(area_id, role)].append(user_id)
    handlers: dict[int, list[int]] = defaultdict(list)
    unit_ids = sorted({unit_id for kind in marked for unit_id in by_unit[kind]})
    for chunk in _chunks(unit_ids):
        for unit_id, user_id in Post.objects.filter(active=True, role=Role.UNIT_HANDLER, unit_id__in=chunk).values_list(
            "unit_id", "user_id"
        ):
            handlers[unit_id].append(user_id)
    for kind in marked:
        for (area_id, level), n in by_area[kind].items():
            for role in LEVEL_ROLES[level]:
                for user_id in staff[(area_id, role)]:
                    counts[kind][user_id] += n
        for unit_id, n in by_unit[kind].items():
            for user_id in handlers[unit_id]:
                counts[kind][user_id] += n
    return counts


def _notify_sweep(people: dict[str, dict[int, int]]) -> None:
    from gridgov.notifications.services import notify

    titles = {
        "warn": (_("Cases close to their deadline"), _("%(n)d of your cases have used 80%% of their time.")),
        "overdue": (_("Cases overdue"), _("%(n)d of your cases are past their deadline.")),
        "escalated": (
            _("Cases escalated to you"),
            _("%(n)d cases were not accepted in time below and now wait for you."),
        ),
    }
    for kind, counts in people.items():
        by_count: dict[int, list[int]] = defaultdict(list)
        for user_id, n in counts.items():
            by_count[n].append(user_id)
        for n, user_ids in by_count.items():
            title, body = titles[kind]
            notify(
                users=User.objects.filter(pk__in=user_ids, is_active=True),
                kind=f"case.{kind}",
                title=str(title),
                body=str(body) % {"n": n},
                url=reverse("cases:queue"),
            )


# --- saved views ------------------------------------------------------------------------------


def saved_view_create(*, actor: User, name: Any, query: Any) -> SavedView:
    """Save the case list's current filters under a name (replacing a view of the same name); audited."""
    name = _text(name, "name", required=True, limit=50)
    query = _text(query, "query", required=False, limit=500).lstrip("?")
    with transaction.atomic():
        view, created = SavedView.objects.update_or_create(user=actor, name=name, defaults={"query": query})
        audit.record(actor=actor, event="cases.saved_view.save", obj=view, data={"created": created})
    return view


def saved_view_delete(*, actor: User, pk: Any) -> None:
    """Delete one of the actor's own saved views (another user's is NotFound); audited."""
    with transaction.atomic():
        view = SavedView.objects.filter(user=actor, pk=pk).first() if str(pk).isdigit() else None
        if view is None:
            raise NotFound("not_found", _("%(name)s not found.") % {"name": SavedView._meta.verbose_name})
        audit.record(actor=actor, event="cases.saved_view.delete", obj=view, data={"name": view.name})
        view.delete()
