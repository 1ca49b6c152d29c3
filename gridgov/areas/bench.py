"""The organisation tree's figures: point → grid, the grid list and the locate endpoint.

The data is a synthetic lattice of square grids (bulk-created: bench data, not user actions),
50 grids to a community and 10 communities to a subdistrict, so one community fills a page.
The API is called as a center dispatcher of one subdistrict, so the scope filter is real.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass

from django.db import transaction
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import User
from gridgov.areas import services
from gridgov.areas.choices import Level, Role
from gridgov.areas.geo import AREAS_GENERATION, GridIndex, grid_index
from gridgov.areas.models import Area
from gridgov.core import generations
from gridgov.core.bench import BenchContext, BenchError, Result, benchmark, define_size, describe, in_unit

define_size("grids", tiny=40, small=2_500, full=10_000)
define_size("grids_per_community", tiny=10, small=50, full=50)
define_size("communities_per_subdistrict", tiny=2, small=10, full=10)

COUNTY = "340404"
ORIGIN = (117.0, 32.6)  # south-west corner of the lattice (lng, lat)
CELL = 0.005  # degrees: about 500 m, the size of an urban grid
SEED = 20260
PAGE = 50


def _square(lng: float, lat: float) -> dict:
    corners = [(lng, lat), (lng + CELL, lat), (lng + CELL, lat + CELL), (lng, lat + CELL), (lng, lat)]
    return {"type": "Polygon", "coordinates": [[[round(x, 7), round(y, 7)] for x, y in corners]]}


@dataclass
class Lattice:
    grid_count: int
    columns: int
    grid_ids: list[int]  # in lattice order: cell i is at column i % columns, row i // columns
    subdistrict: Area  # where the bench user works
    community_ids: list[int]  # the subdistrict's communities
    first_cell: int  # the subdistrict's grids are cells first_cell … last_cell - 1
    last_cell: int
    token: str
    grids_per_community: int

    def corner(self, cell: int) -> tuple[float, float]:
        return (ORIGIN[0] + (cell % self.columns) * CELL, ORIGIN[1] + (cell // self.columns) * CELL)

    def point_in(self, cell: int, rng: random.Random) -> tuple[float, float]:
        """A point well inside the cell, away from shared edges."""
        lng, lat = self.corner(cell)
        return (lng + CELL * rng.uniform(0.05, 0.95), lat + CELL * rng.uniform(0.05, 0.95))


def build_lattice(ctx: BenchContext) -> Lattice:
    grids = ctx.size("grids")
    per_community = ctx.size("grids_per_community")
    per_subdistrict = ctx.size("communities_per_subdistrict")
    communities = math.ceil(grids / per_community)
    subdistricts = math.ceil(communities / per_subdistrict)
    if max(per_community, per_subdistrict, subdistricts) > 999:
        raise BenchError("a code segment has 3 digits: at most 999 children per area")
    columns = math.ceil(math.sqrt(grids))
    ctx.progress(f"building {subdistricts:,} subdistricts, {communities:,} communities, {grids:,} grids")
    started = time.monotonic()
    with transaction.atomic():
        subs = Area.objects.bulk_create(
            Area(code=f"{COUNTY}{s + 1:03d}", name=f"基准街道{s + 1}", level=Level.SUBDISTRICT)
            for s in range(subdistricts)
        )
        comms = Area.objects.bulk_create(
            (
                Area(
                    code=f"{subs[c // per_subdistrict].code}{c % per_subdistrict + 1:03d}",
                    name=f"基准社区{c + 1}",
                    level=Level.COMMUNITY,
                    parent=subs[c // per_subdistrict],
                )
                for c in range(communities)
            ),
            batch_size=1000,
        )
        cells = []
        for i in range(grids):
            community = comms[i // per_community]
            lng, lat = ORIGIN[0] + (i % columns) * CELL, ORIGIN[1] + (i // columns) * CELL
            cells.append(
                Area(
                    code=f"{community.code}{i % per_community + 1:03d}",
                    name=f"基准网格{i + 1}",
                    level=Level.GRID,
                    parent=community,
                    boundary=_square(lng, lat),
                    centre_lng=round(lng + CELL / 2, 7),
                    centre_lat=round(lat + CELL / 2, 7),
                )
            )
        grid_rows = Area.objects.bulk_create(cells, batch_size=1000)
        generations.bump(AREAS_GENERATION)

        middle = subdistricts // 2
        subdistrict = subs[middle]
        first_community = middle * per_subdistrict
        last_community = min(communities, first_community + per_subdistrict)
        user = User(username="bench-center", name="基准调度员")
        user.set_unusable_password()
        user.save()
        services.post_create(actor=None, user=user, role=Role.CENTER, area=subdistrict)
        token = Token.objects.create(user=user).key
    ctx.progress(f"built in {time.monotonic() - started:.1f}s")
    return Lattice(
        grid_count=grids,
        columns=columns,
        grid_ids=[row.pk for row in grid_rows],
        subdistrict=subdistrict,
        community_ids=[c.pk for c in comms[first_community:last_community]],
        first_cell=first_community * per_community,
        last_cell=min(grids, last_community * per_community),
        token=token,
        grids_per_community=per_community,
    )


def lattice(ctx: BenchContext) -> Lattice:
    return ctx.once("areas.lattice", build_lattice)


@benchmark(name="areas.grid_lookup.p95", unit="µs", target=1000)
def grid_lookup(ctx: BenchContext) -> Result:
    """GridIndex.locate of a random point in the lattice, with its per-call generation check; floor SELECT 1."""
    data = lattice(ctx)
    started = time.perf_counter()
    fresh = GridIndex().snapshot()  # a cold build, as a process does after any area changes
    build_seconds = time.perf_counter() - started
    if len(fresh.ids) != data.grid_count:
        raise BenchError(f"the index holds {len(fresh.ids)} grids, expected {data.grid_count}")
    rng = random.Random(SEED)
    cells = [rng.randrange(data.grid_count) for _ in range(ctx.scale.calls + ctx.scale.warmup)]
    points = [data.point_in(cell, rng) for cell in cells]
    for cell, (lng, lat) in zip(cells[:20], points[:20], strict=True):
        found = grid_index.locate(lng, lat)
        if found != data.grid_ids[cell]:
            raise BenchError(f"({lng}, {lat}) located grid {found}, expected {data.grid_ids[cell]}")
    queue = iter(points)
    timing = ctx.measure(lambda: grid_index.locate(*next(queue)), repeat=ctx.scale.calls)
    return Result(
        value=in_unit(timing["p95"], "µs"),
        floor=ctx.sql_floor("µs"),
        notes=f"{data.grid_count:,} grids, {describe(timing, 'µs')}, cold index build {build_seconds * 1000:.0f} ms",
    )


def _list_urls(data: Lattice) -> list[str]:
    return [f"/api/v1/areas/?level=grid&parent={pk}" for pk in data.community_ids]


@benchmark(name="areas.grid_list_api.p95", unit="ms", target=100)
def grid_list_api(ctx: BenchContext) -> Result:
    """GET /api/v1/areas/?level=grid&parent=<community>, one page, as a center dispatcher; floor the empty endpoint."""
    data = lattice(ctx)
    urls = _list_urls(data)
    body = ctx.get(urls[0], token=data.token).json()
    expected = min(PAGE, data.grids_per_community)
    if body.get("count") != data.grids_per_community or len(body.get("results", [])) != expected:
        raise BenchError(f"{urls[0]} returned count {body.get('count')} and {len(body.get('results', []))} rows")
    queue = itertools.cycle(urls)
    timing = ctx.measure(lambda: ctx.get(next(queue), token=data.token), repeat=ctx.scale.requests)
    return Result(
        value=in_unit(timing["p95"], "ms"),
        floor=ctx.endpoint_floor(data.token, "ms"),
        notes=f"{expected} of {data.grid_count:,} grids per page, {describe(timing, 'ms')}",
    )


@benchmark(name="areas.grid_list_api.queries", unit="queries", target=6)
def grid_list_api_queries(ctx: BenchContext) -> Result:
    """Queries one page of the grid list makes; floor the empty endpoint's (the token lookup)."""
    data = lattice(ctx)
    url = _list_urls(data)[0]
    ctx.get(url, token=data.token)  # caches warmed, as in steady state
    return Result(
        value=ctx.count_queries(lambda: ctx.get(url, token=data.token)),
        floor=ctx.endpoint_floor_queries(data.token),
    )


@benchmark(name="areas.locate_api.p95", unit="ms", target=50)
def locate_api(ctx: BenchContext) -> Result:
    """GET /api/v1/areas/locate/?lat=&lng= for a random point in the user's subdistrict; floor the empty endpoint."""
    data = lattice(ctx)
    rng = random.Random(SEED + 1)
    cells = [rng.randrange(data.first_cell, data.last_cell) for _ in range(ctx.scale.requests + ctx.scale.warmup)]
    urls = []
    for cell in cells:
        lng, lat = data.point_in(cell, rng)
        urls.append(f"/api/v1/areas/locate/?lat={lat:.7f}&lng={lng:.7f}")
    found = ctx.get(urls[0], token=data.token).json().get("id")
    if found != data.grid_ids[cells[0]]:
        raise BenchError(f"{urls[0]} located grid {found}, expected {data.grid_ids[cells[0]]}")
    queue = iter(urls)
    timing = ctx.measure(lambda: ctx.get(next(queue), token=data.token), repeat=ctx.scale.requests)
    return Result(
        value=in_unit(timing["p95"], "ms"),
        floor=ctx.endpoint_floor(data.token, "ms"),
        notes=f"{data.grid_count:,} grids, {describe(timing, 'ms')}",
    )
