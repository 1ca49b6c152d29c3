"""The registry's figures: the resident list and exact ID search over a million residents, and the import.

The data is a synthetic subdistrict (10 communities × 50 grids × 12 household groups at the small
and full scales) in a county code of its own, beside the areas lattice. Residents are bench data,
not user actions: they are written in bulk — COPY on PostgreSQL, executemany on SQLite — but
each row is what the model would write: every ID and phone number sealed on its own by the
EncryptedField (`get_prep_value`: AES-GCM with a fresh nonce) with its blind index beside it, and
tags in realistic shares through the many-to-many table. The tables are analysed afterwards, as
after any bulk load.

The list is called as a community staff user through the API with a token (as the areas figures
do); the search runs through the selector as a center dispatcher; the import reads an .xlsx made
by `excel.make_residents_workbook` through `excel.import_file`, validation and encryption included.
"""

from __future__ import annotations

import itertools
import random
import tempfile
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from django.core.management.color import no_style
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import User
from gridgov.areas import services as areas
from gridgov.areas.choices import Level, Role
from gridgov.areas.geo import AREAS_GENERATION
from gridgov.areas.models import Area
from gridgov.core import crypto, generations
from gridgov.core.bench import BenchContext, BenchError, Result, benchmark, define_size, describe, in_unit
from gridgov.core.validators import id_check_digit
from gridgov.registry.models import Resident, Tag
from gridgov.registry.selectors import resident_list, resident_search_q

define_size("residents", tiny=2_000, small=200_000, full=1_000_000)
define_size("import_rows", tiny=300, small=100_000, full=100_000)
define_size("registry_communities", tiny=2, small=10, full=10)
define_size("registry_grids_per_community", tiny=4, small=50, full=50)
define_size("registry_groups_per_grid", tiny=2, small=12, full=12)

COUNTY = "340403"  # 田家庵区: the areas figures build their lattice in 340404
ORIGIN = (116.8, 32.4)  # south-west corner of the grids' lattice, away from the areas figures' (117.0, 32.6)
CELL = 0.005  # degrees
SEED = 20261
PAGE = 50
IMPORT_TARGET_ROWS = 100_000
# The bench's own residents carry these region codes; the import file's carry another, so the
# import never meets a duplicate ID number it did not plan for.
REGIONS = ("340402", "340403", "340404")
IMPORT_REGION = "340405"
FIRST_BIRTH = date(1930, 1, 1)
BIRTH_DAYS = (date(2020, 12, 31) - FIRST_BIRTH).days + 1
SEQUENCES = 1000
ID_SPACE = len(REGIONS) * BIRTH_DAYS * SEQUENCES
ID_STRIDE = 2_654_435_761  # a prime that does not divide ID_SPACE: i → i·stride mod space is one-to-one
# (tag code, share of residents): the shares of an old town's registry.
TAG_SHARES = (
    ("dibao", 0.035),
    ("wubao", 0.003),
    ("kunnan", 0.02),
    ("dujulaoren", 0.025),
    ("kongchao", 0.07),
    ("canji", 0.03),
    ("dangyuan", 0.05),
    ("zhiyuanzhe", 0.04),
    ("tuiyi", 0.015),
    ("gaoling", 0.035),
)
LIST_TAG = "dibao"
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊芳娜敏静丽艳娟霞秀英兰玲燕萍红梅琳雪婷慧莉琴云洁颖"
MOBILE_PREFIXES = ("130", "131", "133", "135", "136", "137", "138", "139", "150", "151", "152", "155", "158", "159")
MOBILE_PREFIXES += ("166", "173", "177", "180", "181", "182", "186", "187", "188", "189", "191", "198", "199")
RELATIONS = ("head", "spouse", "child", "parent", "grandchild", "other")
SAMPLE_IDS = 30_000  # plain ID numbers kept in memory for the search figure (bench only, never stored)


@dataclass
class Registry:
    residents: int
    community_ids: list[int]
    grid_codes: list[str]
    subdistrict: Area
    list_tag_id: int
    list_matches: int  # residents of the first community with the list tag
    community_token: str
    center: User
    sample: list[tuple[str, int]] = field(default_factory=list)  # (plain ID number, resident id)
    seconds: float = 0.0


def _id_number(i: int) -> str:
    """The i-th bench ID number: one-to-one in i, spread over regions, birth dates and sequence numbers."""
    j = (i * ID_STRIDE) % ID_SPACE
    j, region = divmod(j, len(REGIONS))
    sequence, day = divmod(j, BIRTH_DAYS)
    birth = FIRST_BIRTH + timedelta(days=day)
    first17 = f"{REGIONS[region]}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_digit(first17)


def build_registry(ctx: BenchContext) -> Registry:
    total = ctx.size("residents")
    communities = ctx.size("registry_communities")
    per_community = ctx.size("registry_grids_per_community")
    per_grid = ctx.size("registry_groups_per_grid")
    if total > ID_SPACE:
        raise BenchError("more residents than distinct bench ID numbers")
    ctx.progress(
        f"building {communities} communities, {communities * per_community:,} grids, "
        f"{communities * per_community * per_grid:,} groups and {total:,} residents"
    )
    started = time.monotonic()
    with transaction.atomic():
        subdistrict = Area.objects.create(code=f"{COUNTY}001", name="基准登记街道", level=Level.SUBDISTRICT)
        comms = Area.objects.bulk_create(
            Area(
                code=f"{subdistrict.code}{c + 1:03d}",
                name=f"基准登记社区{c + 1}",
                level=Level.COMMUNITY,
                parent=subdistrict,
            )
            for c in range(communities)
        )
        # Grids and groups carry boundaries like real ones (a list reads its rows' grid and group).
        grids = Area.objects.bulk_create(
            (
                Area(
                    code=f"{comm.code}{g + 1:03d}",
                    name=f"{comm.name}网格{g + 1}",
                    level=Level.GRID,
                    parent=comm,
                    boundary=_rectangle(c * per_community + g, 0, 1),
                )
                for c, comm in enumerate(comms)
                for g in range(per_community)
            ),
            batch_size=1000,
        )
        groups = Area.objects.bulk_create(
            (
                Area(
                    code=f"{grid.code}{n + 1:02d}",
                    name=f"{grid.name}联户组{n + 1}",
                    level=Level.GROUP,
                    parent=grid,
                    boundary=_rectangle(i, n, per_grid),
                )
                for i, grid in enumerate(grids)
                for n in range(per_grid)
            ),
            batch_size=1000,
        )
        generations.bump(AREAS_GENERATION)
        tags = dict(Tag.objects.values_list("code", "id"))
        missing = [code for code, _share in TAG_SHARES if code not in tags]
        if missing:
            raise BenchError(f"the default tags are missing: {', '.join(missing)}")
        community_user = _user("bench-registry-community", "基准社区专干")
        areas.post_create(actor=None, user=community_user, role=Role.COMMUNITY, area=comms[0])
        center = _user("bench-registry-center", "基准登记调度员")
        areas.post_create(actor=None, user=center, role=Role.CENTER, area=subdistrict)
        token = Token.objects.create(user=community_user).key
        data = Registry(
            residents=total,
            community_ids=[c.pk for c in comms],
            grid_codes=[g.code for g in grids],
            subdistrict=subdistrict,
            list_tag_id=tags[LIST_TAG],
            list_matches=0,
            community_token=token,
            center=center,
        )
        _insert_residents(ctx, data, groups, tags)
    _analyse()
    data.seconds = time.monotonic() - started
    ctx.progress(f"built in {data.seconds:.1f}s")
    return data


def _rectangle(cell: int, strip: int, strips: int) -> dict:
    """GeoJSON of strip `strip` of `strips` across lattice cell `cell` (cells of CELL degrees, 100 to a row),
    with a vertex every tenth of a side, as surveyed boundaries have."""
    west, south = ORIGIN[0] + (cell % 100) * CELL, ORIGIN[1] + (cell // 100) * CELL
    low, high = south + CELL * strip / strips, south + CELL * (strip + 1) / strips
    east = west + CELL
    steps = [k / 10 for k in range(10)]
    ring = [(west + CELL * t, low) for t in steps] + [(east, low + (high - low) * t) for t in steps]
    ring += [(east - CELL * t, high) for t in steps] + [(west, high - (high - low) * t) for t in steps]
    ring.append(ring[0])
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in ring]]}


def _user(username: str, name: str) -> User:
    user = User(username=username, name=name)
    user.set_unusable_password()
    user.save()
    return user


def _insert_residents(ctx: BenchContext, data: Registry, groups: list[Area], tags: dict[str, int]) -> None:
    rng = random.Random(SEED)
    id_field = Resident._meta.get_field("id_number")
    phone_field = Resident._meta.get_field("phone")
    created = Resident._meta.get_field("created_at").get_db_prep_save(timezone.now(), connection)
    birth_field = Resident._meta.get_field("birth_date")
    first_community = groups[0].code[:12]
    list_tag = data.list_tag_id
    tag_shares = [(tags[code], share) for code, share in TAG_SHARES]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) FROM {Resident._meta.db_table}")  # noqa: S608
        base = cursor.fetchone()[0]
    links: list[tuple[int, int]] = []
    sample_every = max(1, data.residents // SAMPLE_IDS)

    def rows() -> Iterator[tuple]:
        for i in range(data.residents):
            pk = base + i + 1
            group = groups[rng.randrange(len(groups))]
            number = _id_number(i)
            male = int(number[16]) % 2 == 1
            birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(100_000_000):08d}" if rng.random() < 0.8 else ""
            for tag_id, share in tag_shares:
                if rng.random() < share:
                    links.append((pk, tag_id))
                    if tag_id == list_tag and group.code.startswith(first_community):
                        data.list_matches += 1
            if i % sample_every == 0 and len(data.sample) < SAMPLE_IDS:
                data.sample.append((number, pk))
            if (i + 1) % 200_000 == 0:
                ctx.progress(f"  {i + 1:,} residents")
            yield (
                pk,
                created,
                created,
                group.code,
                rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.choice((1, 2)))),
                "male" if male else "female",
                birth_field.get_db_prep_save(birth, connection),
                id_field.get_prep_value(number),  # sealed, each value with its own nonce
                crypto.blind_index(number),
                phone_field.get_prep_value(phone),
                crypto.blind_index(phone) if phone else None,
                rng.choice(RELATIONS),
                f"{group.name}{rng.randrange(1, 40)}栋{rng.randrange(1, 7)}0{rng.randrange(1, 4)}室",
                "",
                "resident",
                group.parent_id,
                group.pk,
                None,
            )

    columns = [
        "id",
        "created_at",
        "updated_at",
        "area_code",
        "name",
        "gender",
        "birth_date",
        "id_number",
        "id_number_hash",
        "phone",
        "phone_hash",
        "relation",
        "address",
        "notes",
        "living_status",
        "grid_id",
        "group_id",
        "household_id",
    ]
    _bulk_insert(Resident._meta.db_table, columns, rows())
    through = Resident.tags.through
    _bulk_insert(through._meta.db_table, ["resident_id", "tag_id"], iter(links))
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Resident]):
            cursor.execute(sql)


def _bulk_insert(table: str, columns: list[str], rows: Iterator[tuple]) -> None:
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {connection.ops.quote_name(table)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        sql = f"INSERT INTO {connection.ops.quote_name(table)} ({names}) VALUES ({', '.join(['%s'] * len(columns))})"  # noqa: S608
        while batch := list(itertools.islice(rows, 20_000)):
            cursor.executemany(sql, batch)


def _analyse() -> None:
    """Statistics and the visibility map, as autovacuum leaves a table some time after a bulk load: without
    them PostgreSQL reads every heap page of a community to count its residents instead of the index."""
    tables = "registry_resident, registry_resident_tags, areas_area"
    with connection.cursor() as cursor:
        if connection.vendor != "postgresql":
            cursor.execute("ANALYZE")
        elif connection.in_atomic_block:  # the test suite: VACUUM cannot run in a transaction
            cursor.execute(f"ANALYZE {tables}")
        else:
            cursor.execute(f"VACUUM ANALYZE {tables}")


def registry(ctx: BenchContext) -> Registry:
    return ctx.once("registry.residents", build_registry)


def _pg_note(notes: str) -> str:
    if connection.vendor != "postgresql":
        return notes + "; the target is stated for PostgreSQL"
    return notes


def _list_url(data: Registry) -> str:
    return f"/api/v1/residents/?area={data.community_ids[0]}&tags={data.list_tag_id}&page_size={PAGE}"


@benchmark(name="registry.resident_list_api.p95", unit="ms", target=100)
def resident_list_api(ctx: BenchContext) -> Result:
    """GET /api/v1/residents/?area=<community>&tags=<低保>&page_size=50 as community staff; floor the empty endpoint."""
    data = registry(ctx)
    url = _list_url(data)
    body = ctx.get(url, token=data.community_token).json()
    expected = min(PAGE, data.list_matches)
    if body.get("count") != data.list_matches or len(body.get("results", [])) != expected:
        raise BenchError(
            f"{url} returned count {body.get('count')} and {len(body.get('results', []))} rows, "
            f"expected {data.list_matches} and {expected}"
        )
    timing = ctx.measure(lambda: ctx.get(url, token=data.community_token), repeat=ctx.scale.requests)
    return Result(
        value=in_unit(timing["p95"], "ms"),
        floor=ctx.endpoint_floor(data.community_token, "ms"),
        notes=_pg_note(
            f"{expected} of {data.list_matches:,} tagged residents of one community, "
            f"{data.residents:,} residents in all, {describe(timing, 'ms')}"
        ),
    )


@benchmark(name="registry.resident_list_api.queries", unit="queries", target=10)
def resident_list_api_queries(ctx: BenchContext) -> Result:
    """Queries one page of the filtered resident list makes; floor the empty endpoint's (the token lookup)."""
    data = registry(ctx)
    url = _list_url(data)
    ctx.get(url, token=data.community_token)
    return Result(
        value=ctx.count_queries(lambda: ctx.get(url, token=data.community_token)),
        floor=ctx.endpoint_floor_queries(data.community_token),
    )


@benchmark(name="registry.id_search.p95", unit="ms", target=20)
def id_search(ctx: BenchContext) -> Result:
    """resident_list(user=center).filter(resident_search_q(<full ID>)).first(); floor SELECT by the hash column."""
    data = registry(ctx)
    rng = random.Random(SEED + 1)
    picks = [rng.choice(data.sample) for _ in range(ctx.scale.calls + ctx.scale.warmup)]
    user = data.center
    for number, pk in picks[:20]:
        found = resident_list(user=user).filter(resident_search_q(number)).first()
        if found is None or found.pk != pk:
            raise BenchError(f"the search for resident {pk} found {found and found.pk}")
    queue = iter(picks)
    timing = ctx.measure(
        lambda: resident_list(user=user).filter(resident_search_q(next(queue)[0])).first(), repeat=ctx.scale.calls
    )
    hashes = itertools.cycle([crypto.blind_index(number) for number, _pk in picks])
    sql = f"SELECT id FROM {Resident._meta.db_table} WHERE id_number_hash = %s"  # noqa: S608

    def raw() -> None:
        with connection.cursor() as cursor:
            cursor.execute(sql, [next(hashes)])
            cursor.fetchone()

    floor = ctx.measure(raw, repeat=ctx.scale.calls)
    return Result(
        value=in_unit(timing["p95"], "ms"),
        floor=in_unit(floor["p95"], "ms"),
        notes=_pg_note(f"{data.residents:,} residents, {describe(timing, 'ms')}"),
    )


# --- import -----------------------------------------------------------------------------------


@dataclass
class ImportRun:
    rows: int
    import_seconds: float
    read_seconds: float
    write_seconds: float  # making the workbook, for the notes


def run_import(ctx: BenchContext) -> ImportRun:
    from gridgov.registry import excel

    data = registry(ctx)
    rows = ctx.size("import_rows")
    # Into the grids of the last community, away from the one the list figure reads.
    per_community = ctx.size("registry_grids_per_community")
    grid_codes = data.grid_codes[-per_community:]
    with tempfile.TemporaryDirectory(prefix="gridgov-bench-") as directory:
        path = Path(directory) / "residents.xlsx"
        ctx.progress(f"writing {rows:,} residents to {path.name}")
        started = time.perf_counter()
        excel.make_residents_workbook(path, rows, grid_codes=grid_codes, seed=SEED, region=IMPORT_REGION)
        write_seconds = time.perf_counter() - started
        ctx.progress(
            f"  written in {write_seconds:.1f}s ({path.stat().st_size / 1e6:.1f} MB); reading it with openpyxl"
        )
        read_seconds = _read_only(path)

        def progress(done: int, total: int) -> None:
            if done % 25_000 == 0:
                ctx.progress(f"  {done:,} of {total:,} rows checked")

        ctx.progress(f"  read in {read_seconds:.1f}s; importing")
        before = Resident.objects.count()
        started = time.perf_counter()
        result = excel.import_file("residents", path, actor=None, progress=progress)
        import_seconds = time.perf_counter() - started
    if not result.ok:
        first = [error.as_dict() for error in result.errors[:3]]
        raise BenchError(f"the import refused the file: {len(result.errors)} errors, first {first}")
    created = Resident.objects.count() - before
    if result.created != rows or created != rows:
        raise BenchError(f"the import created {result.created} residents ({created} counted), expected {rows}")
    ctx.progress(f"  imported in {import_seconds:.1f}s")
    return ImportRun(rows=rows, import_seconds=import_seconds, read_seconds=read_seconds, write_seconds=write_seconds)


def _read_only(path: Path) -> float:
    """Seconds openpyxl alone needs to read every cell of the file in read-only mode."""
    from openpyxl import load_workbook

    started = time.perf_counter()
    with warnings.catch_warnings():
        # A write-only workbook has no default style; openpyxl says so on every read.
        warnings.filterwarnings("ignore", message="Workbook contains no default style")
        book = load_workbook(path, read_only=True)
        count = 0
        for values in book.worksheets[0].iter_rows(values_only=True):
            count += len(values)
        book.close()
    if not count:
        raise BenchError("openpyxl read nothing")
    return time.perf_counter() - started


def imported(ctx: BenchContext) -> ImportRun:
    return ctx.once("registry.import", run_import)


def _scaled(run: ImportRun) -> tuple[float, float, str]:
    """Seconds for 100,000 rows: measured when the scale imports that many, else scaled linearly."""
    factor = IMPORT_TARGET_ROWS / run.rows
    if run.rows == IMPORT_TARGET_ROWS:
        return run.import_seconds, run.read_seconds, f"{run.rows:,} rows"
    note = f"measured on {run.rows:,} rows and scaled ×{factor:g} to 100,000"
    return run.import_seconds * factor, run.read_seconds * factor, note


@benchmark(name="registry.import_100k.seconds", unit="s", target=30)
def import_100k(ctx: BenchContext) -> Result:
    """gridgov import residents of 100,000 rows (.xlsx), validation and encryption included; floor openpyxl's read."""
    run = imported(ctx)
    seconds, read, note = _scaled(run)
    return Result(
        value=seconds,
        floor=read,
        notes=f"{note}; the file took {run.write_seconds:.1f}s to write",
    )


@benchmark(name="registry.import_vs_read.ratio", unit="×", target=3.0)
def import_vs_read(ctx: BenchContext) -> Result:
    """The import's time over the time openpyxl alone needs to read the same file; floor 1 (reading is all)."""
    run = imported(ctx)
    return Result(
        value=run.import_seconds / run.read_seconds,
        floor=1.0,
        notes=f"{run.rows:,} rows: import {run.import_seconds:.1f}s, openpyxl read-only {run.read_seconds:.1f}s",
    )
