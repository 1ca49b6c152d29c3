"""The case pipeline's figures (issue 4, "Speed"): intake over HTTP, the case list and page at a million cases,
the deadline sweep and point → grid.

The organisation is the areas figures' lattice (10,000 grids at the full scale) with what a city
has around it: a grid worker posted in every grid, community staff in every community, a property
company per community and a department per subdistrict, each with a handler. All of it is bench
data, written in bulk, not user actions.

Cases are bench data too: a million open cases (and a closed history beside them) written in bulk —
COPY on PostgreSQL, executemany on SQLite — in the shapes the services leave them: a case number
per grid and day, the handling area of the level, the unit or handler of the step, the clock of
the step (started, warn at 80 %, due) and a timeline of the report and the latest step. Of the
open cases a tenth are past their deadline and not yet marked, the work the deadline sweep is
measured on. The case page is read on a case made through the real services (reported, escalated
twice, dispatched, claimed, resolved, with a photo). Tables are analysed after the load.

Intake is measured over HTTP on a real server: `gunicorn gridgov.wsgi` with several worker
processes on a free local port, against the bench database, driven by concurrent keep-alive
clients that POST /api/v1/cases/ as the grid worker of a random grid, at a random point in it.
Its floor is the same server's rate on the harness's empty endpoint, mounted in the server's
workers by a gunicorn hook. When no server process can see the bench data (the test suite holds
it in a transaction or in memory) the same requests go through the in-process test client instead,
and the figure says so.
"""

from __future__ import annotations

import http.client
import io
import itertools
import json
import math
import operator
import os
import random
import secrets
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.color import no_style
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import User
from gridgov.areas.bench import Lattice, lattice
from gridgov.areas.choices import Role, UnitKind
from gridgov.areas.geo import grid_index
from gridgov.areas.models import Area, Post, Unit
from gridgov.cases import services
from gridgov.cases.choices import TIMED_STATES, Action, CaseLevel, Priority, Source, State
from gridgov.cases.models import Case, CaseEvent, Category
from gridgov.cases.selectors import case_list
from gridgov.core import generations
from gridgov.core.bench import (
    EMPTY_ENDPOINT,
    BenchContext,
    BenchError,
    Result,
    benchmark,
    define_size,
    describe,
    in_unit,
    measure,
)
from gridgov.core.scope import POSTS_GENERATION

define_size("cases_open", tiny=1_500, small=200_000, full=1_000_000)
define_size("cases_closed", tiny=500, small=50_000, full=250_000)
define_size("intake_requests", tiny=12, small=1_000, full=6_000)

SEED = 20264
PAGE = 50
CASES_URL = "/api/v1/cases/"
# The community list filter: what a community's staff open first thing (their overdue cases in hand).
LIST_FILTER = "state=in_progress&overdue=true"
OVERDUE_SHARE = 0.10  # of the open cases: past due, not yet marked (the sweep's work)
WARN_SHARE = 0.05  # of the open cases: past 80 % of their time, not yet warned
OUTSIDE_SHARE = 0.003  # points outside every grid, taken by the subdistrict
# (value, weight) of the open cases' states, the levels, sources and priorities.
OPEN_STATE_WEIGHTS = (
    (State.REPORTED, 12),
    (State.REGISTERED, 10),
    (State.DISPATCHED, 14),
    (State.IN_PROGRESS, 50),
    (State.RESOLVED, 14),
)
CLOSED_STATE_WEIGHTS = ((State.CLOSED, 90), (State.REJECTED, 6), (State.MERGED, 4))
LEVEL_WEIGHTS = ((CaseLevel.GRID, 55), (CaseLevel.COMMUNITY, 30), (CaseLevel.SUBDISTRICT, 15))
CLOSED_LEVEL_WEIGHTS = (
    (CaseLevel.GRID, 62),
    (CaseLevel.COMMUNITY, 25),
    (CaseLevel.SUBDISTRICT, 11),
    (CaseLevel.SUPERIOR, 2),
)
SOURCE_WEIGHTS = (
    (Source.GRID_WORKER, 55),
    (Source.RESIDENT, 20),
    (Source.HOTLINE, 15),
    (Source.CAMERA, 5),
    (Source.SUPERIOR, 3),
    (Source.COUNCIL, 1),
    (Source.OPEN311, 1),
)
PRIORITY_WEIGHTS = ((Priority.NORMAL, 85), (Priority.URGENT, 12), (Priority.CRITICAL, 3))
# Categories seen more often than others (weight 1 for the rest of the default set).
CATEGORY_WEIGHTS = {
    "01001": 14,
    "01002": 8,
    "01003": 5,
    "08002": 6,
    "08001": 4,
    "05001": 5,
    "05003": 4,
    "09003": 5,
    "04002": 4,
    "04001": 3,
    "02001": 2,
    "02003": 3,
}
# Intake posts categories whose form has no required extra fields, as most reports are.
INTAKE_CATEGORIES = ("01001", "01002", "01004", "04002", "05001", "08001", "08002", "09001")
LEVEL_CODE = {CaseLevel.GRID: 15, CaseLevel.COMMUNITY: 12, CaseLevel.SUBDISTRICT: 9, CaseLevel.SUPERIOR: 9}
CASE_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "code",
    "title",
    "description",
    "category_id",
    "business_line_id",
    "kind",
    "source",
    "priority",
    "extra",
    "lat",
    "lng",
    "address",
    "media_url",
    "grid_id",
    "area_code",
    "outside_grids",
    "level",
    "handling_area_id",
    "state",
    "unit_id",
    "assignee_id",
    "reporter_id",
    "reporter_name",
    "reporter_phone",
    "tracking_code",
    "rectify_by",
    "step_started_at",
    "warn_at",
    "due_at",
    "warned",
    "overdue",
    "overdue_at",
    "ever_overdue",
    "urged",
    "urge_count",
    "escalation_count",
    "extension_requested_hours",
    "measures",
    "result",
    "verifier_id",
    "accepted_at",
    "dispatched_at",
    "resolved_at",
    "closed_at",
    "closed_level",
    "merged_into_id",
    "satisfaction",
    "satisfaction_note",
)
EVENT_COLUMNS = (
    "id",
    "case_id",
    "time",
    "actor_id",
    "actor_name",
    "action",
    "from_state",
    "to_state",
    "from_level",
    "to_level",
    "unit_id",
    "note",
    "data",
)
# The action whose timeline entry leaves a case in each state (after the report).
LAST_STEP = {
    State.REGISTERED: Action.ACCEPT,
    State.DISPATCHED: Action.DISPATCH,
    State.IN_PROGRESS: Action.CLAIM,
    State.RESOLVED: Action.RESOLVE,
    State.CLOSED: Action.VERIFY,
    State.REJECTED: Action.REJECT,
    State.MERGED: Action.MERGE,
}
# The HTTP figure's server: worker processes × threads, and the clients driving it.
SERVER_WORKERS = 4
SERVER_THREADS = 2
HTTP_CLIENTS = 16
# The empty endpoint's requests per intake request: it answers faster, so it needs more to time as long.
EMPTY_PER_INTAKE = 3
# Written into the bench's var directory and given to gunicorn: the empty endpoint beside the real
# URLs (the harness's urlconf, as in-process), and the grid index warm, as in a worker that has served.
GUNICORN_HOOKS = '''"""gunicorn hooks of `gridgov bench` (written by gridgov/cases/bench.py)."""

import os
from pathlib import Path


def post_worker_init(worker):
    from django.conf import settings
    from django.db import connections

    from gridgov.areas.geo import grid_index
    from gridgov.core.bench import bench_urlconf

    settings.ROOT_URLCONF = bench_urlconf()
    grid_index.snapshot()
    connections.close_all()
    (Path(os.environ["GRIDGOV_BENCH_READY_DIR"]) / str(os.getpid())).touch()
'''


def _weighted(pairs: tuple[tuple[str, int], ...]) -> tuple[list[str], list[int]]:
    values = [value for value, _weight in pairs]
    cumulative = list(itertools.accumulate(weight for _value, weight in pairs))
    return values, cumulative


OPEN_STATES = _weighted(OPEN_STATE_WEIGHTS)
CLOSED_STATES = _weighted(CLOSED_STATE_WEIGHTS)
LEVELS = _weighted(LEVEL_WEIGHTS)
CLOSED_LEVELS = _weighted(CLOSED_LEVEL_WEIGHTS)
SOURCES = _weighted(SOURCE_WEIGHTS)
PRIORITIES = _weighted(PRIORITY_WEIGHTS)


def _pick(rng: random.Random, table: tuple[list, list[int]]) -> str:
    values, cumulative = table
    return rng.choices(values, cum_weights=cumulative)[0]


# --- the people around the lattice ------------------------------------------------------------


@dataclass
class People:
    """The lattice's areas as codes and ids, the staff posted in them and the units serving them."""

    lattice: Lattice
    grid_ids: list[int]  # lattice order
    grid_codes: list[str]
    grid_names: list[str]
    grid_community: list[int]  # the community id of each grid
    area_code: dict[int, str]  # every lattice area id → code
    area_parent: dict[int, int]  # community → subdistrict
    worker_ids: list[int]  # the grid worker of each grid
    worker_names: list[str]
    worker_tokens: list[str]
    community_staff: dict[int, int]  # community id → user id
    property_unit: dict[int, int]  # community id → unit id
    department_unit: dict[int, int]  # subdistrict id → unit id
    unit_handler: dict[int, int]  # unit id → user id
    community_id: int  # the community whose staff the list figure reads as
    community_user: User
    community_token: str
    center: User  # the lattice's center dispatcher (its subdistrict)
    center_token: str
    admin_token: str  # a superuser: every case of the city


def _bulk_users(prefix: str, names: list[str], password: str) -> list[User]:
    return User.objects.bulk_create(
        [User(username=f"{prefix}{n:05d}", name=name, password=password) for n, name in enumerate(names)],
        batch_size=2000,
    )


def _bulk_tokens(users: list[User]) -> list[str]:
    tokens = [Token(key=secrets.token_hex(20), user=user) for user in users]
    Token.objects.bulk_create(tokens, batch_size=2000)
    return [token.key for token in tokens]


def build_people(ctx: BenchContext) -> People:
    """Post a grid worker in every lattice grid and staff in every community; a unit with a handler for each."""
    data = lattice(ctx)
    started = time.monotonic()
    county = data.subdistrict.code[:6]
    rows = {
        pk: (code, name, parent)
        for pk, code, name, parent, level in Area.objects.filter(code__startswith=county).values_list(
            "id", "code", "name", "parent_id", "level"
        )
    }
    grid_set = set(data.grid_ids)
    communities = sorted({rows[pk][2] for pk in data.grid_ids})
    subdistricts = sorted({rows[pk][2] for pk in communities})
    ctx.progress(
        f"posting staff in {len(data.grid_ids):,} grids and {len(communities):,} communities, "
        f"units for {len(subdistricts):,} subdistricts"
    )
    if len(grid_set) != data.grid_count:
        raise BenchError(f"the lattice has {len(grid_set)} grids, expected {data.grid_count}")
    password = make_password(None)  # unusable: bench staff sign in with tokens only
    with transaction.atomic():
        workers = _bulk_users("bench-wg", [f"网格员{n + 1}" for n in range(data.grid_count)], password)
        staff = _bulk_users("bench-sq", [f"社区专干{n + 1}" for n in range(len(communities))], password)
        properties = Unit.objects.bulk_create(
            [Unit(name=f"基准物业{n + 1}", kind=UnitKind.PROPERTY, area_id=pk) for n, pk in enumerate(communities)],
            batch_size=2000,
        )
        departments = Unit.objects.bulk_create(
            [Unit(name=f"基准城管{n + 1}", kind=UnitKind.ENFORCEMENT, area_id=pk) for n, pk in enumerate(subdistricts)]
        )
        units = [*properties, *departments]
        handlers = _bulk_users("bench-dw", [f"{unit.name}经办人" for unit in units], password)
        Post.objects.bulk_create(
            [
                Post(user=user, role=Role.GRID_WORKER, area_id=pk)
                for user, pk in zip(workers, data.grid_ids, strict=True)
            ]
            + [Post(user=user, role=Role.COMMUNITY, area_id=pk) for user, pk in zip(staff, communities, strict=True)]
            + [Post(user=user, role=Role.UNIT_HANDLER, unit=unit) for user, unit in zip(handlers, units, strict=True)],
            batch_size=2000,
        )
        generations.bump(POSTS_GENERATION)  # bulk_create sends no signal
        worker_tokens = _bulk_tokens(workers)
        admin = User(username="bench-cases-admin", name="基准管理员", is_superuser=True, is_staff=True)
        admin.set_unusable_password()
        admin.save()
        admin_token = Token.objects.create(user=admin).key
        community_id = data.community_ids[0]
        community_user = staff[communities.index(community_id)]
        community_token = Token.objects.create(user=community_user).key
        center_token = data.token
        center = Token.objects.select_related("user").get(key=center_token).user
    ctx.progress(f"  posted in {time.monotonic() - started:.1f}s")
    return People(
        lattice=data,
        grid_ids=list(data.grid_ids),
        grid_codes=[rows[pk][0] for pk in data.grid_ids],
        grid_names=[rows[pk][1] for pk in data.grid_ids],
        grid_community=[rows[pk][2] for pk in data.grid_ids],
        area_code={pk: row[0] for pk, row in rows.items() if pk not in grid_set},
        area_parent={pk: rows[pk][2] for pk in communities},
        worker_ids=[user.pk for user in workers],
        worker_names=[user.name for user in workers],
        worker_tokens=worker_tokens,
        community_staff={pk: user.pk for pk, user in zip(communities, staff, strict=True)},
        property_unit={pk: unit.pk for pk, unit in zip(communities, properties, strict=True)},
        department_unit={pk: unit.pk for pk, unit in zip(subdistricts, departments, strict=True)},
        unit_handler={unit.pk: user.pk for unit, user in zip(units, handlers, strict=True)},
        community_id=community_id,
        community_user=community_user,
        community_token=community_token,
        center=center,
        center_token=center_token,
        admin_token=admin_token,
    )


def people(ctx: BenchContext) -> People:
    """The lattice's staff and units, built the first time a figure asks."""
    return ctx.once("cases.people", build_people)


# --- a million cases --------------------------------------------------------------------------


@dataclass
class Cases:
    """What was written, and what the sweep must find in it at `now`."""

    people: People
    now: datetime  # the moment the deadlines were laid out against
    open: int
    closed: int
    timed: int  # open cases whose step has a clock
    overdue: int  # past due, not yet marked
    warn: int  # past 80 % of their time (the overdue ones included), not yet warned
    escalate: int  # unaccepted at grid or community level and past due: the sweep moves them up
    events: int
    detail_pk: int = 0
    seconds: float = 0.0


@dataclass
class _Category:
    pk: int
    code: str
    name: str
    business_line_id: int
    kind: str
    accept: dict[str, int]  # minutes per priority
    handle: dict[str, int]


def _categories() -> tuple[list[_Category], list[int]]:
    rows = [
        _Category(
            pk=c.pk,
            code=c.code,
            name=c.name,
            business_line_id=c.business_line_id,
            kind=c.kind,
            accept={p: c.accept_minutes(p) for p in Priority.values},
            handle={p: c.handle_hours(p) * 60 for p in Priority.values},
        )
        for c in Category.objects.filter(active=True, parent__isnull=False).order_by("code")
    ]
    if not rows:
        raise BenchError("no case categories: the default set (migration cases 0002) is missing")
    return rows, list(itertools.accumulate(CATEGORY_WEIGHTS.get(c.code, 1) for c in rows))


class _Writer:
    """Turns the case generator's values into database rows for this vendor (SQLite keeps datetimes as text)."""

    def __init__(self, columns: tuple[str, ...], datetime_columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.pick = operator.itemgetter(*columns)
        self.datetimes = [columns.index(c) for c in datetime_columns] if connection.vendor == "sqlite" else []

    def row(self, values: dict) -> tuple:
        row = self.pick(values)
        if not self.datetimes:
            return row
        row = list(row)
        adapt = connection.ops.adapt_datetimefield_value
        for i in self.datetimes:
            if row[i] is not None:
                row[i] = adapt(row[i])
        return tuple(row)


def _copy(table: str, columns: tuple[str, ...], rows: Iterator[tuple]) -> None:
    """Write rows in bulk: COPY on PostgreSQL, executemany in batches elsewhere."""
    quote_name = connection.ops.quote_name
    names = ", ".join(quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {quote_name(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {quote_name(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        while batch := list(itertools.islice(rows, 20_000)):
            cursor.executemany(sql, batch)


def _check_columns(model, columns: tuple[str, ...]) -> None:
    # A field added to the model must be added here too, or the bulk rows would miss it.
    expected = {f.column for f in model._meta.concrete_fields}
    if expected != set(columns):
        raise BenchError(
            f"{model.__name__} columns changed: missing {sorted(expected - set(columns))}, "
            f"unknown {sorted(set(columns) - expected)}"
        )


def build_cases(ctx: BenchContext) -> Cases:
    """Write the open cases and the closed history in bulk, analyse the tables, make the page's case."""
    org = people(ctx)
    n_open, n_closed = ctx.size("cases_open"), ctx.size("cases_closed")
    _check_columns(Case, CASE_COLUMNS)
    _check_columns(CaseEvent, EVENT_COLUMNS)
    ctx.progress(f"writing {n_open:,} open and {n_closed:,} closed cases with their timelines")
    started = time.monotonic()
    now = timezone.now().replace(microsecond=0)
    data = Cases(people=org, now=now, open=n_open, closed=n_closed, timed=0, overdue=0, warn=0, escalate=0, events=0)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Case._meta.db_table}")  # noqa: S608
        case_base = cursor.fetchone()[0]
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {CaseEvent._meta.db_table}")  # noqa: S608
        event_base = cursor.fetchone()[0]
    events: list[tuple] = []
    # Read before COPY starts: the connection answers nothing else until COPY ends.
    categories = _categories()
    with transaction.atomic():
        rows = _case_rows(ctx, data, categories, case_base, event_base, events)
        _copy(Case._meta.db_table, CASE_COLUMNS, rows)
        ctx.progress(f"  {n_open + n_closed:,} cases written; writing {len(events):,} timeline entries")
        _copy(CaseEvent._meta.db_table, EVENT_COLUMNS, iter(events))
        data.events = len(events)
        with connection.cursor() as cursor:
            for sql in connection.ops.sequence_reset_sql(no_style(), [Case, CaseEvent]):
                cursor.execute(sql)
    del events
    _analyse()
    data.detail_pk = _detail_case(org).pk
    data.seconds = time.monotonic() - started
    ctx.progress(
        f"  written in {data.seconds:.1f}s: {data.timed:,} open cases on the clock, {data.overdue:,} past due, "
        f"{data.warn:,} to warn, {data.escalate:,} to escalate"
    )
    return data


def _case_rows(
    ctx: BenchContext,
    data: Cases,
    categories: tuple[list[_Category], list[int]],
    case_base: int,
    event_base: int,
    events: list[tuple],
) -> Iterator[tuple]:
    """The cases as rows, in id order; their timeline entries are appended to `events`."""
    org = data.people
    rng = random.Random(SEED)
    categories, category_weights = categories
    # Some grids see many more cases than others (a market street against a quiet estate).
    grid_weights = list(itertools.accumulate(rng.lognormvariate(0, 0.7) for _ in org.grid_ids))
    tz = timezone.get_current_timezone()
    now = data.now
    # Bench case numbers use days before today: today's belong to the intake figure's cases.
    last_day_end = timezone.make_aware(
        datetime.combine(timezone.localdate(now, tz), datetime.min.time()), tz
    ) - timedelta(seconds=1)
    timed_share = 1 - dict(OPEN_STATE_WEIGHTS)[State.RESOLVED] / sum(w for _s, w in OPEN_STATE_WEIGHTS)
    overdue_given_timed = OVERDUE_SHARE / timed_share
    warn_given_timed = WARN_SHARE / timed_share
    sequences: dict[tuple[str, int], int] = {}
    case_writer = _Writer(
        CASE_COLUMNS,
        (
            "created_at",
            "updated_at",
            "step_started_at",
            "warn_at",
            "due_at",
            "overdue_at",
            "accepted_at",
            "dispatched_at",
            "resolved_at",
            "closed_at",
        ),
    )
    event_writer = _Writer(EVENT_COLUMNS, ("time",))
    event_id = event_base
    total = data.open + data.closed
    report_every = max(1, total // 5)
    for i in range(total):
        pk = case_base + i + 1
        is_open = i < data.open
        cell = rng.choices(range(len(org.grid_ids)), cum_weights=grid_weights)[0]
        community = org.grid_community[cell]
        subdistrict = org.area_parent[community]
        category = rng.choices(categories, cum_weights=category_weights)[0]
        priority = _pick(rng, PRIORITIES)
        source = _pick(rng, SOURCES)
        outside = rng.random() < OUTSIDE_SHARE
        level = CaseLevel.SUBDISTRICT if outside else _pick(rng, LEVELS)
        handling = {CaseLevel.GRID: org.grid_ids[cell], CaseLevel.COMMUNITY: community}.get(level, subdistrict)
        lng, lat = org.lattice.point_in(cell, rng)
        if outside:
            lng, lat = lng + 5.0, lat + 5.0
        reporter = org.worker_ids[cell] if source == Source.GRID_WORKER else None
        values = {
            "id": pk,
            "title": category.name,
            "description": f"{org.grid_names[cell]}：{category.name}，请尽快处置。",
            "category_id": category.pk,
            "business_line_id": category.business_line_id,
            "kind": category.kind,
            "source": source,
            "priority": priority,
            "extra": "{}",
            "lat": round(lat, 7),
            "lng": round(lng, 7),
            "address": f"{org.grid_names[cell]}{rng.randrange(1, 40)}号附近",
            "media_url": "",
            "grid_id": None if outside else org.grid_ids[cell],
            "area_code": org.area_code[subdistrict] if outside else org.grid_codes[cell],
            "outside_grids": outside,
            "level": level,
            "handling_area_id": handling,
            "unit_id": None,
            "assignee_id": None,
            "reporter_id": reporter,
            "reporter_name": org.worker_names[cell] if reporter else "",
            "reporter_phone": "",
            "tracking_code": None,
            "rectify_by": None,
            "step_started_at": None,
            "warn_at": None,
            "due_at": None,
            "warned": False,
            "overdue": False,
            "overdue_at": None,
            "ever_overdue": False,
            "urged": False,
            "urge_count": 0,
            "escalation_count": 1 if level == CaseLevel.COMMUNITY and rng.random() < 0.4 else 0,
            "extension_requested_hours": None,
            "measures": "",
            "result": "",
            "verifier_id": None,
            "accepted_at": None,
            "dispatched_at": None,
            "resolved_at": None,
            "closed_at": None,
            "closed_level": "",
            "merged_into_id": None,
            "satisfaction": None,
            "satisfaction_note": "",
        }
        if is_open:
            state = _pick(rng, OPEN_STATES)
            age = timedelta(hours=min(rng.expovariate(1 / 150), 24 * 120) + 2)
            created = min(now - age, last_day_end)
            step_at = created + (now - created) * rng.uniform(0.0, 0.8)
            _fill_open(rng, org, values, state, community, subdistrict, cell, step_at, created)
            if state in TIMED_STATES:
                data.timed += 1
                roll = rng.random()
                if roll < overdue_given_timed:
                    kind = "overdue"
                elif roll < overdue_given_timed + warn_given_timed:
                    kind = "warn"
                else:
                    kind = "ahead"
                _deadline(rng, data, values, kind, state, category, priority, now)
                step_at = values["step_started_at"]
                created = min(created, step_at)
        else:
            state = _pick(rng, CLOSED_STATES)
            created = last_day_end - timedelta(days=rng.uniform(1, 365))
            step_at = created + timedelta(hours=rng.uniform(0.5, 96))
            _fill_closed(rng, org, values, state, community, subdistrict, cell, step_at, case_base, pk)
        created = min(created, last_day_end)
        values["state"] = state
        values["created_at"] = created
        values["updated_at"] = max(created, step_at)
        values["tracking_code"] = _tracking(rng) if source == Source.RESIDENT else None
        day = timezone.localdate(created, tz)
        prefix = values["area_code"]
        key = (prefix, day.toordinal())
        sequences[key] = sequence = sequences.get(key, 0) + 1
        values["code"] = f"{prefix}{day:%Y%m%d}{sequence:04d}"
        start_level = CaseLevel.GRID if level == CaseLevel.COMMUNITY and values["escalation_count"] else level
        event_id += 1
        events.append(
            event_writer.row(
                {
                    "id": event_id,
                    "case_id": pk,
                    "time": created,
                    "actor_id": reporter,
                    "actor_name": values["reporter_name"],
                    "action": Action.REPORT,
                    "from_state": "",
                    "to_state": State.REPORTED,
                    "from_level": "",
                    "to_level": start_level,
                    "unit_id": None,
                    "note": "",
                    "data": "{}",
                }
            )
        )
        if state in LAST_STEP:
            event_id += 1
            events.append(
                event_writer.row(
                    {
                        "id": event_id,
                        "case_id": pk,
                        "time": max(created, step_at),
                        "actor_id": values["assignee_id"],
                        "actor_name": "",
                        "action": LAST_STEP[state],
                        "from_state": State.REPORTED,
                        "to_state": state,
                        "from_level": level,
                        "to_level": level,
                        "unit_id": values["unit_id"],
                        "note": values["result"],
                        "data": "{}",
                    }
                )
            )
        if (i + 1) % report_every == 0:
            ctx.progress(f"  {i + 1:,} cases")
        yield case_writer.row(values)


def _tracking(rng: random.Random) -> str:
    return "".join(rng.choice(services.TRACKING_ALPHABET) for _ in range(10))


def _fill_open(
    rng: random.Random,
    org: People,
    values: dict,
    state: str,
    community: int,
    subdistrict: int,
    cell: int,
    step_at: datetime,
    created: datetime,
) -> None:
    """The fields an open case has in its state: accepted, dispatched to a unit or claimed, resolved."""
    if state != State.REPORTED:
        values["accepted_at"] = created + (step_at - created) * 0.3
    if state in (State.DISPATCHED, State.IN_PROGRESS, State.RESOLVED):
        by_unit = state == State.DISPATCHED or rng.random() < 0.8
        if by_unit:
            values["unit_id"] = org.property_unit[community] if rng.random() < 0.7 else org.department_unit[subdistrict]
            values["dispatched_at"] = values["accepted_at"]
            if state != State.DISPATCHED:
                values["assignee_id"] = org.unit_handler[values["unit_id"]]
        else:
            values["assignee_id"] = org.worker_ids[cell]
    if state == State.RESOLVED:
        values["resolved_at"] = step_at
        values["result"] = "已处置完毕，请核查。"


def _step_minutes(state: str, category: _Category, priority: str) -> int:
    return category.accept[priority] if state == State.REPORTED else category.handle[priority]


def _deadline(
    rng: random.Random,
    data: Cases,
    values: dict,
    kind: str,
    state: str,
    category: _Category,
    priority: str,
    now: datetime,
) -> None:
    """Lay out the step's clock so the case is past due, past its warning, or ahead of both at `now`."""
    minutes = _step_minutes(state, category, priority)
    span = timedelta(minutes=minutes)
    if kind == "overdue":
        due = now - timedelta(minutes=rng.uniform(1, 3 * 24 * 60))
        data.overdue += 1
        data.warn += 1
        if state == State.REPORTED and values["level"] in (CaseLevel.GRID, CaseLevel.COMMUNITY):
            data.escalate += 1
    elif kind == "warn":
        # Between 80 % and 100 % of the time used.
        due = now + span * rng.uniform(0.01, 0.19)
        data.warn += 1
    else:
        due = now + span * rng.uniform(0.21, 1.0)
    started = due - span
    values["step_started_at"] = started
    values["due_at"] = due
    values["warn_at"] = started + span * settings.GRIDGOV_DEADLINE_WARNING_SHARE
    if values["accepted_at"] is not None:
        values["accepted_at"] = min(values["accepted_at"], started)
        if values["dispatched_at"] is not None:
            values["dispatched_at"] = values["accepted_at"]
    if rng.random() < 0.05:
        values["urged"], values["urge_count"] = True, rng.randrange(1, 3)


def _fill_closed(
    rng: random.Random,
    org: People,
    values: dict,
    state: str,
    community: int,
    subdistrict: int,
    cell: int,
    step_at: datetime,
    case_base: int,
    pk: int,
) -> None:
    """A case of the history: closed at a level (mostly the grid), rejected or merged into an earlier one."""
    values["closed_at"] = step_at
    if state == State.CLOSED:
        closed_level = _pick(rng, CLOSED_LEVELS)
        values["level"] = closed_level
        values["handling_area_id"] = (
            org.grid_ids[cell]
            if closed_level == CaseLevel.GRID and values["grid_id"]
            else community
            if closed_level == CaseLevel.COMMUNITY and values["grid_id"]
            else subdistrict
        )
        values["closed_level"] = closed_level
        values["accepted_at"] = values["resolved_at"] = step_at - timedelta(hours=rng.uniform(0.1, 2))
        values["result"] = "已处置完毕。"
        values["verifier_id"] = org.worker_ids[cell]
        values["ever_overdue"] = rng.random() < 0.08
        if closed_level != CaseLevel.GRID:
            values["unit_id"] = org.property_unit[community] if rng.random() < 0.7 else org.department_unit[subdistrict]
            values["dispatched_at"] = values["accepted_at"]
        if rng.random() < 0.6:
            values["satisfaction"] = rng.choice((3, 4, 4, 5, 5, 5))
    elif state == State.MERGED and pk > case_base + 1:
        values["merged_into_id"] = rng.randrange(case_base + 1, pk)


def _analyse() -> None:
    """Statistics and the visibility map after the load, as autovacuum leaves them some time after."""
    tables = "cases_case, cases_caseevent, accounts_user, areas_post, areas_unit, authtoken_token"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("ANALYZE")
        elif connection.in_atomic_block:  # the test suite: VACUUM cannot run in a transaction
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM ANALYZE {tables}")


def _photo() -> SimpleUploadedFile:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (800, 600), (120, 130, 140)).save(out, "JPEG", quality=70)
    return SimpleUploadedFile("现场照片.jpg", out.getvalue(), content_type="image/jpeg")


def _detail_case(org: People) -> Case:
    """The case the page figures read: the issue's road subsidence, taken through the real services."""
    cell = org.lattice.first_cell
    worker = User.objects.get(pk=org.worker_ids[cell])
    handler = User.objects.get(pk=org.unit_handler[org.property_unit[org.grid_community[cell]]])
    lng, lat = org.lattice.point_in(cell, random.Random(SEED))
    case = services.case_report(
        actor=worker,
        category="02001",
        title="公园旁道路塌陷",
        description="公园东侧人行道塌陷约两平方米，已设警示。",
        lat=lat,
        lng=lng,
        address="公园东侧人行道",
        files=[_photo()],
    )
    steps = [
        (worker, Action.ESCALATE, {"reason": "塌陷面积大，网格无法处置"}),
        (org.community_user, Action.ESCALATE, {"reason": "需街道协调"}),
        (org.center, Action.DISPATCH, {"unit": org.property_unit[org.grid_community[cell]]}),
        (handler, Action.CLAIM, {}),
        (handler, Action.RESOLVE, {"result": "已回填修复", "files": [_photo()]}),
    ]
    for actor, action, params in steps:
        case = services.case_transition(actor=actor, case=case, action=action, **params)
    return case


def cases(ctx: BenchContext) -> Cases:
    """The bench's cases, written the first time a figure asks."""
    return ctx.once("cases.cases", build_cases)


def _pg_note(notes: str) -> str:
    if connection.vendor != "postgresql":
        return notes + "; the target is stated for PostgreSQL"
    return notes


# --- intake over HTTP -------------------------------------------------------------------------


@dataclass
class Request:
    method: str
    path: str
    token: str
    body: bytes = b""
    key: str = ""  # the Idempotency-Key


@dataclass
class Drive:
    """One timed stretch of requests: how many, how long, the latencies."""

    requests: int
    seconds: float
    latencies_ns: list[int]
    reconnects: int = 0
    client_cpu: float = 0.0  # CPU seconds the clients (this process) used

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass
class IntakeRun:
    rate: float  # cases per second (the best round)
    empty_rate: float  # the empty endpoint's requests per second (the best round)
    notes: str
    created: int = 0
    rounds: list[tuple[float, float]] = field(default_factory=list)


def _intake_requests(org: People, count: int, rng: random.Random) -> tuple[list[Request], list[int]]:
    """POSTs of new cases as the grid worker of a random grid, at a random point in it; the expected grids."""
    requests, expected = [], []
    for n in range(count):
        cell = rng.randrange(len(org.grid_ids))
        lng, lat = org.lattice.point_in(cell, rng)
        code = INTAKE_CATEGORIES[n % len(INTAKE_CATEGORIES)]
        body = {
            "category": code,
            "title": "楼道堆物" if code == "01002" else "网格巡查发现问题",
            "description": f"巡查发现：{org.grid_names[cell]}{rng.randrange(1, 40)}号楼下，请处置。",
            "lat": round(lat, 7),
            "lng": round(lng, 7),
            "address": f"{org.grid_names[cell]}{rng.randrange(1, 40)}号",
            "priority": Priority.NORMAL if rng.random() < 0.9 else Priority.URGENT,
            "source": Source.GRID_WORKER,
        }
        requests.append(
            Request(
                "POST",
                CASES_URL,
                org.worker_tokens[cell],
                json.dumps(body, ensure_ascii=False).encode(),
                key=uuid.UUID(int=rng.getrandbits(128)).hex,
            )
        )
        expected.append(org.grid_ids[cell])
    return requests, expected


def _empty_requests(org: People, count: int, rng: random.Random) -> list[Request]:
    return [Request("GET", EMPTY_ENDPOINT, org.worker_tokens[rng.randrange(len(org.grid_ids))]) for _ in range(count)]


def _server_database_url() -> str:
    """The bench database as a DATABASE_URL for server processes; BenchError when they could not see its data."""
    conf = connection.settings_dict
    if connection.in_atomic_block:
        raise BenchError("the bench data is inside a transaction (the test suite)")
    name = str(conf["NAME"])
    if connection.vendor == "sqlite":
        if name == ":memory:" or "mode=memory" in name:
            raise BenchError("the database is in memory")
        return f"sqlite:///{Path(name).resolve()}"
    if connection.vendor != "postgresql":
        raise BenchError(f"no server for {connection.vendor}")
    auth = quote(conf.get("USER") or "", safe="")
    if conf.get("PASSWORD"):
        auth += ":" + quote(conf["PASSWORD"], safe="")
    host = quote(conf.get("HOST") or "localhost", safe="")
    port = conf.get("PORT") or 5432
    return f"postgres://{auth}@{host}:{port}/{quote(name, safe='')}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _log_tail(path: Path) -> str:
    try:
        return path.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


@contextmanager
def http_server(ctx: BenchContext, database_url: str) -> Iterator[tuple[int, subprocess.Popen]]:
    """`gunicorn gridgov.wsgi` on a free local port against the bench database, stopped afterwards."""
    directory = Path(settings.VAR_DIR) / "bench"
    directory.mkdir(parents=True, exist_ok=True)
    hooks = directory / "gunicorn_hooks.py"
    hooks.write_text(GUNICORN_HOOKS, encoding="utf-8")
    log = directory / "gunicorn.log"
    ready = directory / "gunicorn-ready"
    ready.mkdir(exist_ok=True)
    for marker in ready.iterdir():
        marker.unlink()
    port = _free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gridgov.settings",
        "DATABASE_URL": database_url,
        "GRIDGOV_VAR_DIR": str(settings.VAR_DIR),
        "GRIDGOV_BENCH_READY_DIR": str(ready),
    }
    env.pop("GRIDGOV_DEBUG", None)  # production settings, as deployed
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "gridgov.wsgi:application",
        "--config",
        str(hooks),
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(SERVER_WORKERS),
        "--worker-class",
        "gthread",
        "--threads",
        str(SERVER_THREADS),
        "--keep-alive",
        "120",
        "--timeout",
        "120",
    ]
    ctx.progress(f"starting gunicorn: {SERVER_WORKERS} workers × {SERVER_THREADS} threads on port {port}")
    with log.open("wb") as out:
        server = subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)  # noqa: S603
    try:
        deadline = time.monotonic() + 90
        while True:
            if server.poll() is not None:
                raise BenchError(f"gunicorn stopped (exit {server.returncode}): {_log_tail(log)}")
            # Every worker has loaded the application and the grid index (the hook marks it).
            if len(list(ready.iterdir())) >= SERVER_WORKERS:
                break
            if time.monotonic() > deadline:
                raise BenchError(f"gunicorn did not answer within 90 s: {_log_tail(log)}")
            time.sleep(0.25)
        yield port, server
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(part) for part in text.split()]


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drive(port: int, requests: list[Request], *, clients: int, warmup: int, expect: int) -> Drive:
    """Send `requests` over `clients` keep-alive connections at once (after `warmup` each, untimed)."""
    errors: list[str] = []
    latencies: list[int] = []
    reconnects = [0]
    timed = requests[clients * warmup :]
    warm = requests[: clients * warmup]
    counter = itertools.count()
    barrier = threading.Barrier(clients + 1)
    lock = threading.Lock()

    def send(conn: http.client.HTTPConnection, request: Request) -> http.client.HTTPConnection:
        headers = {"Authorization": f"Token {request.token}", "Accept": "application/json"}
        if request.body:
            headers["Content-Type"] = "application/json"
        if request.key:
            headers["Idempotency-Key"] = request.key
        for attempt in range(2):
            try:
                conn.request(request.method, request.path, body=request.body or None, headers=headers)
                response = conn.getresponse()
                content = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionError, http.client.CannotSendRequest):
                # The server closed an idle connection: open a new one, as a client library does.
                if attempt:
                    raise
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                with lock:
                    reconnects[0] += 1
        if response.status != expect:
            raise BenchError(f"{request.method} {request.path} answered {response.status}: {content[:300]!r}")
        return conn

    def client(n: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        mine: list[int] = []
        try:
            for request in warm[n::clients]:
                conn = send(conn, request)
        except Exception as exc:
            errors.append(str(exc))
        barrier.wait()
        try:
            while not errors:
                i = next(counter)
                if i >= len(timed):
                    break
                start = time.perf_counter_ns()
                conn = send(conn, timed[i])
                mine.append(time.perf_counter_ns() - start)
        except Exception as exc:
            errors.append(str(exc))
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started, cpu = time.perf_counter(), time.process_time()
    for thread in threads:
        thread.join()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if errors:
        raise BenchError(errors[0])
    return Drive(
        requests=len(latencies),
        seconds=seconds,
        latencies_ns=sorted(latencies),
        reconnects=reconnects[0],
        client_cpu=cpu,
    )


def _drive_in_process(requests: list[Request], *, warmup: int, expect: int) -> Drive:
    """The same requests one after another through the in-process test client (the first `warmup` untimed)."""
    client = Client()
    latencies = []
    started = time.perf_counter()
    for n, request in enumerate(requests):
        if n == warmup:
            latencies.clear()
            started = time.perf_counter()
        extra = {"HTTP_AUTHORIZATION": f"Token {request.token}"}
        if request.key:
            extra["HTTP_IDEMPOTENCY_KEY"] = request.key
        start = time.perf_counter_ns()
        if request.method == "POST":
            response = client.post(request.path, data=request.body, content_type="application/json", **extra)
        else:
            response = client.get(request.path, **extra)
        latencies.append(time.perf_counter_ns() - start)
        if response.status_code != expect:
            raise BenchError(
                f"{request.method} {request.path} answered {response.status_code}: {response.content[:300]!r}"
            )
    return Drive(requests=len(latencies), seconds=time.perf_counter() - started, latencies_ns=sorted(latencies))


def _p(drive_: Drive, q: float) -> float:
    ordered = drive_.latencies_ns
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)] / 1e6


def run_intake(ctx: BenchContext) -> IntakeRun:
    """Rounds of the empty endpoint and of intake on one server; the best round of each, and checks."""
    data = cases(ctx)
    org = data.people
    rng = random.Random(SEED + 1)
    per_round = ctx.size("intake_requests")
    rounds = min(2, ctx.scale.rounds)
    try:
        database_url = _server_database_url()
        reason = ""
    except BenchError as exc:
        database_url, reason = "", str(exc)
    clients = HTTP_CLIENTS if database_url else 1
    warmup = min(ctx.scale.warmup, 10)
    intake_sets, expected = [], []
    for _ in range(rounds):
        made, grids = _intake_requests(org, clients * warmup + per_round, rng)
        intake_sets.append(made)
        expected.extend(grids)
    empty_sets = [_empty_requests(org, clients * warmup + per_round * EMPTY_PER_INTAKE, rng) for _ in range(rounds)]
    before = Case.objects.count()
    events_before = CaseEvent.objects.count()
    results: list[tuple[Drive, Drive]] = []
    cpu = ""
    if database_url:
        with http_server(ctx, database_url) as (port, server):
            workers = _children(server.pid)
            cpu_before = [_cpu_seconds(pid) for pid in workers]
            for n in range(rounds):
                ctx.progress(f"round {n + 1}: {len(empty_sets[n]):,} GET {EMPTY_ENDPOINT}, {HTTP_CLIENTS} clients")
                empty = drive(port, empty_sets[n], clients=clients, warmup=warmup, expect=200)
                ctx.progress(f"  {empty.rate:,.0f}/s; {len(intake_sets[n]):,} POST {CASES_URL}")
                intake = drive(port, intake_sets[n], clients=clients, warmup=warmup, expect=201)
                ctx.progress(f"  {intake.rate:,.0f} cases/s")
                results.append((empty, intake))
            used = [_cpu_seconds(pid) - b for pid, b in zip(workers, cpu_before, strict=True)]
            if sum(used) > 0:
                shares = "/".join(f"{100 * u / sum(used):.0f}" for u in sorted(used, reverse=True))
                cpu = f"; worker CPU shares {shares} %"
    else:
        for n in range(rounds):
            ctx.progress(f"round {n + 1} in process ({reason})")
            empty = _drive_in_process(empty_sets[n], warmup=warmup, expect=200)
            intake = _drive_in_process(intake_sets[n], warmup=warmup, expect=201)
            results.append((empty, intake))
    created = Case.objects.count() - before
    sent = sum(len(s) for s in intake_sets)
    if created != sent:
        raise BenchError(f"{sent} intake requests answered 201 but {created} cases were written")
    if CaseEvent.objects.count() - events_before != created:
        raise BenchError("the intake's cases do not each have their first timeline entry")
    _check_grids(intake_sets, expected)
    best_empty = max(results, key=lambda r: r[0].rate)[0]
    best_intake = max(results, key=lambda r: r[1].rate)[1]
    where = (
        f"gunicorn {SERVER_WORKERS} workers × {SERVER_THREADS} threads, {clients} keep-alive clients"
        if database_url
        else f"in-process test client, 1 client — no server process can see the bench data: {reason}"
    )
    notes = (
        f"{where}; best of {rounds} rounds of {per_round:,} cases: p50 {_p(best_intake, 50):.1f} ms, "
        f"p95 {_p(best_intake, 95):.1f} ms; empty endpoint {best_empty.rate:,.0f}/s, "
        f"p50 {_p(best_empty, 50):.1f} ms; rounds (empty, intake) "
        + ", ".join(f"({e.rate:,.0f}, {i.rate:,.0f})" for e, i in results)
        + cpu
        + (
            f"; the clients used {100 * best_empty.client_cpu / best_empty.seconds:.0f} % of a core "
            f"(empty) and {100 * best_intake.client_cpu / best_intake.seconds:.0f} % (intake)"
            if database_url
            else ""
        )
    )
    return IntakeRun(
        rate=best_intake.rate,
        empty_rate=best_empty.rate,
        notes=_pg_note(notes),
        created=created,
        rounds=[(e.rate, i.rate) for e, i in results],
    )


def _check_grids(request_sets: list[list[Request]], expected: list[int]) -> None:
    """The cases landed in the grids their points lie in (a sample, through the idempotency keys)."""
    from gridgov.cases.models import IdempotencyKey

    flat = [r for requests in request_sets for r in requests]
    sample = dict(itertools.islice(((r.key, grid) for r, grid in zip(flat, expected, strict=True)), 0, None, 97))
    found = dict(IdempotencyKey.objects.filter(key__in=list(sample)).values_list("key", "case__grid_id"))
    wrong = {key: (found.get(key), grid) for key, grid in sample.items() if found.get(key) != grid}
    if wrong:
        raise BenchError(f"{len(wrong)} of {len(sample)} sampled cases are not in their point's grid: {wrong}")


def intake_run(ctx: BenchContext) -> IntakeRun:
    """The intake measurement both intake figures report, made once."""
    return ctx.once("cases.intake", run_intake)


@benchmark(name="cases.intake_http.rate", unit="/s", target=300, higher_is_better=True)
def intake_http_rate(ctx: BenchContext) -> Result:
    """POST /api/v1/cases/ over HTTP by concurrent keep-alive clients; floor the same server's empty endpoint."""
    run = intake_run(ctx)
    return Result(value=run.rate, floor=run.empty_rate, notes=run.notes)


@benchmark(name="cases.intake_http.ratio", unit="%", target=40, higher_is_better=True)
def intake_http_ratio(ctx: BenchContext) -> Result:
    """Intake's rate as a share of the rate the same server gives the empty endpoint; floor 100 % (doing nothing)."""
    run = intake_run(ctx)
    return Result(
        value=100 * run.rate / run.empty_rate,
        floor=100.0,
        notes=f"{run.rate:,.0f} cases/s against {run.empty_rate:,.0f} empty requests/s",
    )


# --- the deadline sweep -----------------------------------------------------------------------


@dataclass
class SweepRun:
    seconds: float
    again_seconds: float  # a second sweep at the same moment: nothing left to do
    warned: int
    overdue: int
    escalated: int


def run_sweep(ctx: BenchContext) -> SweepRun:
    """Sweep at the moment the deadlines were laid out against; check what it did; sweep again (idempotence)."""
    data = cases(ctx)
    ctx.progress(
        f"sweeping {data.timed:,} open cases on the clock: {data.overdue:,} past due, {data.warn:,} to warn, "
        f"{data.escalate:,} to escalate"
    )
    started = time.perf_counter()
    result = services.sweep_deadlines(now=data.now)
    seconds = time.perf_counter() - started
    found = (result.warned, result.overdue, result.escalated)
    # A case past due is warned too; a sweep may count it among the warned or only among the overdue.
    if found not in ((data.warn, data.overdue, data.escalate), (data.warn - data.overdue, data.overdue, data.escalate)):
        raise BenchError(
            f"the sweep warned, marked overdue and escalated {found}, expected "
            f"{(data.warn, data.overdue, data.escalate)}"
        )
    started = time.perf_counter()
    again = services.sweep_deadlines(now=data.now)
    again_seconds = time.perf_counter() - started
    if (again.warned, again.overdue, again.escalated) != (0, 0, 0):
        raise BenchError(f"a second sweep at the same moment did more work: {again}")
    _analyse()  # the sweep rewrote a tenth of the table; the lists are read as autovacuum leaves it
    ctx.progress(f"  swept in {seconds:.1f}s")
    return SweepRun(seconds, again_seconds, result.warned, result.overdue, result.escalated)


def swept(ctx: BenchContext) -> SweepRun:
    """The sweep, run once: the list figures read the cases as a sweep leaves them (overdue ones marked)."""
    return ctx.once("cases.sweep", run_sweep)


def _count_cases() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Case._meta.db_table}")  # noqa: S608
        cursor.fetchone()


# In milliseconds, not seconds: the floor (a count over the table) rounds to nothing in seconds at small sizes.
@benchmark(name="cases.deadline_sweep.ms", unit="ms", target=10_000)
def deadline_sweep(ctx: BenchContext) -> Result:
    """services.sweep_deadlines() over a million open cases, a tenth past due; floor SELECT count(*) of the cases."""
    data = cases(ctx)
    run = swept(ctx)
    floor = measure(_count_cases, repeat=3, warmup=1)
    return Result(
        value=run.seconds * 1000,
        floor=in_unit(floor["p95"], "ms"),
        notes=_pg_note(
            f"{data.timed:,} open cases on the clock of {data.open:,} open and {data.open + data.closed:,} in all: "
            f"warned {run.warned:,}, marked {run.overdue:,} overdue, escalated {run.escalated:,}; "
            f"a second sweep {run.again_seconds:.2f} s with nothing to do"
        ),
    )


# --- the case list and the case page ----------------------------------------------------------


def _list_check(ctx: BenchContext, url: str, token: str, user: User, **filters) -> int:
    """One page of `url` answers with the rows the selector counts; the number of matching cases."""
    body = ctx.get(url, token=token).json()
    expected = case_list(user=user).filter(**filters).count()
    rows, count = body.get("results", []), body.get("count")
    # A pagination that stops counting (cases.api.pagination) says so and gives less than the whole.
    count_ok = count == expected or (body.get("count_capped") is True and isinstance(count, int) and count < expected)
    if len(rows) != min(PAGE, expected) or not count_ok:
        raise BenchError(f"{url} returned {len(rows)} rows and count {count}; the selector counts {expected}")
    return expected


def _list_figure(ctx: BenchContext, url: str, token: str, user: User, who: str, **filters) -> Result:
    cases(ctx)
    swept(ctx)
    matches = _list_check(ctx, url, token, user, **filters)
    total = Case.objects.count()
    timing = ctx.measure(lambda: ctx.get(url, token=token), repeat=ctx.scale.requests)
    return Result(
        value=in_unit(timing["p95"], "ms"),
        floor=ctx.endpoint_floor(token, "ms"),
        notes=_pg_note(f"{who}: one page of {matches:,} matching cases, {total:,} in all, {describe(timing, 'ms')}"),
    )


def _community_url() -> str:
    return f"{CASES_URL}?{LIST_FILTER}&page_size={PAGE}"


@benchmark(name="cases.case_list_api.p95", unit="ms", target=100)
def case_list_api(ctx: BenchContext) -> Result:
    """GET /api/v1/cases/?state=in_progress&overdue=true as community staff; floor the empty endpoint."""
    org = people(ctx)
    return _list_figure(
        ctx,
        _community_url(),
        org.community_token,
        org.community_user,
        "community staff, their overdue cases in hand",
        state=State.IN_PROGRESS,
        overdue=True,
    )


@benchmark(name="cases.case_list_api.queries", unit="queries", target=10)
def case_list_api_queries(ctx: BenchContext) -> Result:
    """Queries one page of the community's filtered case list makes; floor the empty endpoint's (the token lookup)."""
    org = people(ctx)
    cases(ctx)
    url = _community_url()
    ctx.get(url, token=org.community_token)
    return Result(
        value=ctx.count_queries(lambda: ctx.get(url, token=org.community_token)),
        floor=ctx.endpoint_floor_queries(org.community_token),
    )


@benchmark(name="cases.case_list_center_api.p95", unit="ms", target=100)
def case_list_center_api(ctx: BenchContext) -> Result:
    """GET /api/v1/cases/ (first page, no filter) as the subdistrict's center dispatcher; floor the empty endpoint."""
    org = people(ctx)
    return _list_figure(
        ctx, f"{CASES_URL}?page_size={PAGE}", org.center_token, org.center, "the center, its subdistrict"
    )


@benchmark(name="cases.case_list_all_api.p95", unit="ms", target=100)
def case_list_all_api(ctx: BenchContext) -> Result:
    """GET /api/v1/cases/ (first page, no filter) as a superuser, who sees every case; floor the empty endpoint."""
    org = people(ctx)
    admin = Token.objects.select_related("user").get(key=org.admin_token).user
    return _list_figure(ctx, f"{CASES_URL}?page_size={PAGE}", org.admin_token, admin, "a superuser, the whole city")


@benchmark(name="cases.case_detail_api.queries", unit="queries", target=15)
def case_detail_api_queries(ctx: BenchContext) -> Result:
    """Queries GET /api/v1/cases/<id>/ (timeline, allowed actions) makes for the center; floor the empty endpoint's."""
    data = cases(ctx)
    org = data.people
    url = f"{CASES_URL}{data.detail_pk}/"
    body = ctx.get(url, token=org.center_token).json()
    if len(body.get("timeline", [])) < 6 or "allowed_actions" not in body:
        raise BenchError(f"{url} has no full timeline or allowed_actions: {sorted(body)}")
    return Result(
        value=ctx.count_queries(lambda: ctx.get(url, token=org.center_token)),
        floor=ctx.endpoint_floor_queries(org.center_token),
        notes=f"{len(body['timeline'])} timeline entries, actions {body['allowed_actions']}",
    )


@benchmark(name="cases.case_page.queries", unit="queries", target=15)
def case_page_queries(ctx: BenchContext) -> Result:
    """Queries the case page (/cases/<id>/: map, timeline, photos, actions) makes for the center; floor the
    empty endpoint's."""
    data = cases(ctx)
    org = data.people
    client = Client()
    client.force_login(org.center)
    url = f"/cases/{data.detail_pk}/"

    def page() -> None:
        response = client.get(url)
        if response.status_code != 200:
            raise BenchError(f"GET {url} answered {response.status_code}")

    page()
    case = Case.objects.get(pk=data.detail_pk)
    content = client.get(url).content.decode()
    if case.code not in content:
        raise BenchError(f"the case page {url} does not show the case number {case.code}")
    return Result(value=ctx.count_queries(page), floor=ctx.endpoint_floor_queries(org.center_token))


# --- point → grid -----------------------------------------------------------------------------

LOCATE_BATCH = 100


@benchmark(name="cases.point_to_grid.p95", unit="µs", target=20)
def point_to_grid(ctx: BenchContext) -> Result:
    """Point → grid among the lattice's grids, per point, as bulk intake locates them; floor SELECT 1."""
    org = people(ctx)
    rng = random.Random(SEED + 2)
    batches = max(ctx.scale.rounds, ctx.scale.calls // LOCATE_BATCH)
    cells = [rng.randrange(len(org.grid_ids)) for _ in range((batches + ctx.scale.warmup) * LOCATE_BATCH)]
    points = [org.lattice.point_in(cell, rng) for cell in cells]
    snapshot = grid_index.snapshot()
    locate_many: Callable | None = getattr(grid_index, "locate_many", None)
    check = locate_many(points[:LOCATE_BATCH]) if locate_many else [grid_index.locate(*p) for p in points[:20]]
    for found, cell in zip(check, cells, strict=False):
        if found != org.grid_ids[cell]:
            raise BenchError(f"a point of grid {org.grid_ids[cell]} was located in {found}")
    queue = iter(points)
    single = ctx.measure(lambda: grid_index.locate(*next(queue)), repeat=ctx.scale.calls)
    if locate_many is None:
        timing = single
        how = "grid_index.locate, one point a call (each call checks the index's generation: one query)"
    else:
        starts = iter(range(0, len(points), LOCATE_BATCH))

        def batch() -> None:
            start = next(starts)
            locate_many(points[start : start + LOCATE_BATCH])

        timing = ctx.measure(batch, repeat=batches)
        timing = {**timing, **{k: timing[k] / LOCATE_BATCH for k in ("p50", "p95", "worst_p95")}}
        how = (
            f"grid_index.locate_many in batches of {LOCATE_BATCH} (one generation check a batch); "
            f"one point a call with grid_index.locate: p95 {in_unit(single['p95'], 'µs'):.1f} µs"
        )
    return Result(
        value=in_unit(timing["p95"], "µs"),
        floor=ctx.sql_floor("µs"),
        notes=_pg_note(f"{len(snapshot.ids):,} grids in the index, {how}, {describe(timing, 'µs')}"),
    )
