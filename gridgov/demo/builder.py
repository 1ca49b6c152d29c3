"""The demo data builder: 毕家岗街道 as the article describes it, rebuilt from scratch.

`rebuild` checks that the database is disposable, flushes it, calls `build` and writes the
`DemoMarker` last, all in one transaction. `build` runs one function per part (`PARTS`); later
apps append their own part (registry, cases, …) and read what earlier parts left in `DemoSummary`.
Every row is written through the apps' services (actor None), so validation and audit run — except
the registry's ten thousand residents, which its part checks with the services' own validation
function and bulk-inserts, writing one audit event for the part (see `gridgov.registry.demo`).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, TextIO

import shapely
from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils.translation import gettext as _
from shapely.geometry import mapping, shape
from shapely.geometry.polygon import orient

from gridgov.accounts.models import User
from gridgov.accounts.services import user_create
from gridgov.areas import services as areas
from gridgov.areas.choices import Role, UnitKind
from gridgov.areas.models import Area, PartyBranch, Unit
from gridgov.cases.demo import build_cases
from gridgov.demo.models import DemoMarker
from gridgov.fieldwork.demo import build_fieldwork

DEFAULT_SEED = 2022

COUNTY_CODE = "340404"  # GB/T 2260: 淮南市谢家集区
SUBDISTRICT_CODE = COUNTY_CODE + "004"
SUBDISTRICT_NAME = "毕家岗街道"
# (name, grids); the first holds the 新建社区 A区 of the article. Blocks of the serpentine cell order.
COMMUNITIES = [("新建社区", 7), ("毕家岗社区", 6), ("东山社区", 6), ("南苑社区", 6)]

# A 5 × 5 lattice of grid cells over roughly lng 116.975–117.025, lat 32.58–32.62.
LATTICE_COLUMNS, LATTICE_ROWS = 5, 5
WEST, SOUTH = 116.975, 32.58
CELL_WIDTH, CELL_HEIGHT = 0.01, 0.008
JITTER = 0.22  # of a cell side; small enough that every cell stays a simple quadrilateral
DECIMALS = 7  # about 1 cm
GROUPS_PER_GRID = (12, 16)
SHOP_GROUPS_PER_GRID = (1, 3)  # the last groups of a grid are 4–8 shops (门店) rather than 7–12 households

NUMERALS = "零一二三四五六七八九十"

Point = tuple[float, float]


class DemoRefused(Exception):
    """The database is not one the demo may rebuild."""


@dataclass
class DemoAccount:
    """One demo login, for the table the command prints."""

    username: str
    name: str
    role: str  # a Role value, or "superuser"
    where: str


@dataclass
class DemoSummary:
    """What the demo built, in build order; later parts read what earlier parts left here."""

    seed: int
    password: str
    subdistrict: Area | None = None
    communities: list[Area] = field(default_factory=list)
    grids: list[Area] = field(default_factory=list)  # in code order: grid n is grids[n - 1]
    groups: dict[str, list[Area]] = field(default_factory=dict)  # grid code → its groups in code order
    units: dict[str, Unit] = field(default_factory=dict)  # a short key ("police", "property_xinjian") → unit
    party_branches: list[PartyBranch] = field(default_factory=list)
    accounts: list[DemoAccount] = field(default_factory=list)
    used_names: set[str] = field(default_factory=set)
    registry: dict[str, Any] = field(default_factory=dict)  # what the registry part counted
    places: dict[str, Any] = field(default_factory=dict)  # "park", "park_road" (新建社区A区) → registry.Place

    def rng(self, part: str) -> random.Random:
        """A generator of its own per part, so adding a part never changes what the others build."""
        return random.Random(f"{self.seed}:{part}")

    def person_name(self, rng: random.Random) -> str:
        """A realistic Chinese full name not yet used in this demo."""
        while True:
            name = _random_name(rng)
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    @property
    def group_count(self) -> int:
        return sum(len(groups) for groups in self.groups.values())


# --- safety and the whole run ---------------------------------------------------------------


def check_disposable() -> None:
    """Refuse a database holding users or areas unless the demo built it (its marker is there)."""
    if DemoMarker.objects.exists():
        return
    if User.objects.exists() or Area.objects.exists():
        raise DemoRefused(_("This database holds data that gridgov demo did not create; refusing to touch it."))


def rebuild(*, seed: int = DEFAULT_SEED, stdout: TextIO | None = None) -> DemoSummary:
    """Flush a disposable database and build the demo in it, in one transaction; the marker comes last."""
    with transaction.atomic():
        check_disposable()
        call_command("flush", interactive=False, verbosity=0)
        summary = build(seed=seed, stdout=stdout)
        DemoMarker.objects.create(seed=seed)
    return summary


def build(*, seed: int = DEFAULT_SEED, stdout: TextIO | None = None) -> DemoSummary:
    """Build every part of the demo into an empty database and say what was built."""
    summary = DemoSummary(seed=seed, password=settings.GRIDGOV_DEMO_PASSWORD)
    for part in PARTS:
        message = part(summary)
        if stdout is not None:
            stdout.write(message + "\n")
    return summary


# --- areas ----------------------------------------------------------------------------------


def build_areas(summary: DemoSummary) -> str:
    """The subdistrict, 4 communities, 25 grids tiling it and 12–16 household groups tiling each grid."""
    rng = summary.rng("areas")
    layout = _Layout(rng)
    cells = layout.serpentine()
    blocks: list[list[tuple[int, int]]] = []
    start = 0
    for _name, count in COMMUNITIES:
        blocks.append(cells[start : start + count])
        start += count
    grid_rings = {cell: layout.grid_ring(cell) for cell in cells}

    subdistrict = areas.area_create(
        actor=None,
        code=SUBDISTRICT_CODE,
        name=SUBDISTRICT_NAME,
        boundary=_union([grid_rings[cell] for cell in cells]),
    )
    summary.subdistrict = subdistrict
    for c, ((community_name, _count), block) in enumerate(zip(COMMUNITIES, blocks, strict=True), start=1):
        community = areas.area_create(
            actor=None,
            code=f"{SUBDISTRICT_CODE}{c:03d}",
            name=community_name,
            parent=subdistrict,
            boundary=_union([grid_rings[cell] for cell in block]),
        )
        summary.communities.append(community)
        for g, cell in enumerate(block, start=1):
            grid_name = f"{community_name}第{chinese_number(g)}网格"
            grid = areas.area_create(
                actor=None,
                code=f"{community.code}{g:03d}",
                name=grid_name,
                parent=community,
                boundary=_polygon(grid_rings[cell]),
            )
            summary.grids.append(grid)
            pieces = layout.group_rings(cell)
            shops = rng.randint(*SHOP_GROUPS_PER_GRID)
            groups = []
            for n, ring in enumerate(pieces, start=1):
                suffix = "（门店）" if n > len(pieces) - shops else ""
                groups.append(
                    areas.area_create(
                        actor=None,
                        code=f"{grid.code}{n:02d}",
                        name=f"{grid_name}第{n}联户组{suffix}",
                        parent=grid,
                        boundary=_polygon(ring),
                    )
                )
            summary.groups[grid.code] = groups
    return _("areas… 1 subdistrict, %(communities)d communities, %(grids)d grids, %(groups)d groups") % {
        "communities": len(summary.communities),
        "grids": len(summary.grids),
        "groups": summary.group_count,
    }


class _Segment:
    """A straight edge shared by neighbouring polygons. Every point placed on it is computed once, so
    each polygon that runs along the edge lists exactly the same vertices and the pieces tile exactly."""

    def __init__(self, a: Point, b: Point) -> None:
        self.points: dict[Fraction, Point] = {Fraction(0): a, Fraction(1): b}

    def at(self, t: Fraction) -> Point:
        if t not in self.points:
            (ax, ay), (bx, by) = self.points[Fraction(0)], self.points[Fraction(1)]
            self.points[t] = (round(ax + float(t) * (bx - ax), DECIMALS), round(ay + float(t) * (by - ay), DECIMALS))
        return self.points[t]

    def path(self, start: Fraction, end: Fraction) -> list[Point]:
        """The points from `start` to `end` (either direction), both ends included."""
        low, high = min(start, end), max(start, end)
        ts = sorted((t for t in self.points if low <= t <= high), reverse=start > end)
        return [self.points[t] for t in ts]


@dataclass
class _CellPlan:
    rows: list[Fraction]  # v of each row line, 0 … 1 (south → north)
    columns: list[list[Fraction]]  # per row, u of each column line, 0 … 1 (west → east)
    lines: list[_Segment]  # the row lines; the first and last are the cell's south and north edges


class _Layout:
    """A slightly irregular lattice of quadrilateral cells (grids), each cut into blocks (groups)
    by bilinear interpolation. Vertices are shared by neighbours, so everything tiles exactly."""

    def __init__(self, rng: random.Random) -> None:
        self.vertices = [
            [
                (
                    round(WEST + (i + rng.uniform(-JITTER, JITTER)) * CELL_WIDTH, DECIMALS),
                    round(SOUTH + (j + rng.uniform(-JITTER, JITTER)) * CELL_HEIGHT, DECIMALS),
                )
                for j in range(LATTICE_ROWS + 1)
            ]
            for i in range(LATTICE_COLUMNS + 1)
        ]
        v = self.vertices
        # Edges running east (south edge of cell (i, j)) and north (west edge of cell (i, j)).
        self.east = {
            (i, j): _Segment(v[i][j], v[i + 1][j]) for i in range(LATTICE_COLUMNS) for j in range(LATTICE_ROWS + 1)
        }
        self.north = {
            (i, j): _Segment(v[i][j], v[i][j + 1]) for i in range(LATTICE_COLUMNS + 1) for j in range(LATTICE_ROWS)
        }
        # Place every group's corners before any polygon is read, so shared edges carry all their points.
        self.plans = {(i, j): self._plan((i, j), rng) for j in range(LATTICE_ROWS) for i in range(LATTICE_COLUMNS)}

    def serpentine(self) -> list[tuple[int, int]]:
        """Cells from the north-west corner, row by row, alternating direction: consecutive cells touch."""
        order = []
        for r, j in enumerate(reversed(range(LATTICE_ROWS))):
            columns = range(LATTICE_COLUMNS) if r % 2 == 0 else reversed(range(LATTICE_COLUMNS))
            order.extend((i, j) for i in columns)
        return order

    def _plan(self, cell: tuple[int, int], rng: random.Random) -> _CellPlan:
        i, j = cell
        count = rng.randint(*GROUPS_PER_GRID)
        row_count = 4
        per_row = [count // row_count + (1 if r < count % row_count else 0) for r in range(row_count)]
        rng.shuffle(per_row)
        rows = _fractions(row_count, rng)
        west, east = self.north[(i, j)], self.north[(i + 1, j)]
        lines = [self.east[(i, j)]]
        for v in rows[1:-1]:
            lines.append(_Segment(west.at(v), east.at(v)))
        lines.append(self.east[(i, j + 1)])
        columns = []
        for r in range(row_count):
            us = _fractions(per_row[r], rng)
            for u in us:
                lines[r].at(u)
                lines[r + 1].at(u)
            columns.append(us)
        return _CellPlan(rows=rows, columns=columns, lines=lines)

    def grid_ring(self, cell: tuple[int, int]) -> list[Point]:
        """The cell's outline, counter-clockwise, with every point its neighbours placed on its edges."""
        i, j = cell
        one, zero = Fraction(1), Fraction(0)
        return _ring(
            self.east[(i, j)].path(zero, one),
            self.north[(i + 1, j)].path(zero, one),
            self.east[(i, j + 1)].path(one, zero),
            self.north[(i, j)].path(one, zero),
        )

    def group_rings(self, cell: tuple[int, int]) -> list[list[Point]]:
        """The cell's blocks in reading order (north row first, west to east), counter-clockwise."""
        i, j = cell
        plan = self.plans[cell]
        west, east = self.north[(i, j)], self.north[(i + 1, j)]
        rings = []
        for r in reversed(range(len(plan.rows) - 1)):
            low, high = plan.rows[r], plan.rows[r + 1]
            us = plan.columns[r]
            for u0, u1 in zip(us, us[1:], strict=False):
                rings.append(
                    _ring(
                        plan.lines[r].path(u0, u1),
                        east.path(low, high) if u1 == 1 else [],
                        plan.lines[r + 1].path(u1, u0),
                        west.path(high, low) if u0 == 0 else [],
                    )
                )
        return rings


def _fractions(parts: int, rng: random.Random) -> list[Fraction]:
    """0, …, 1 cutting [0, 1] into `parts` nearly equal pieces."""
    inner = [Fraction(k, parts) + Fraction(rng.randint(-1, 1), 8 * parts) for k in range(1, parts)]
    return [Fraction(0), *inner, Fraction(1)]


def _ring(*paths: Iterable[Point]) -> list[Point]:
    ring: list[Point] = []
    for path in paths:
        for point in path:
            if not ring or ring[-1] != point:
                ring.append(point)
    if ring[0] != ring[-1]:
        ring.append(ring[0])
    return ring


def _polygon(ring: list[Point]) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [[list(point) for point in ring]]}


def _union(rings: list[list[Point]]) -> dict[str, Any]:
    """The union of adjoining cells as one GeoJSON Polygon, in lists and rounded like its parts."""
    merged = shapely.unary_union([shape(_polygon(ring)) for ring in rings])
    if merged.geom_type != "Polygon" or not merged.is_valid or list(merged.interiors):
        raise RuntimeError(f"the demo's cells do not merge into one simple polygon: {merged.geom_type}")
    merged = orient(merged, sign=1.0)
    data = mapping(merged)
    return {
        "type": "Polygon",
        "coordinates": [[[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring] for ring in data["coordinates"]],
    }


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 25 → 二十五 (enough for grid numbers)."""
    if n <= 10:
        return NUMERALS[n]
    tens, ones = divmod(n, 10)
    return (NUMERALS[tens] if tens > 1 else "") + "十" + (NUMERALS[ones] if ones else "")


# --- units ----------------------------------------------------------------------------------


def build_units(summary: DemoSummary) -> str:
    """The responsible units: two property companies, the subdistrict's offices and one committee per community."""
    rng = summary.rng("units")
    subdistrict = summary.subdistrict
    assert subdistrict is not None, "build_areas runs first"
    xinjian, _bijiagang, dongshan, _nanyuan = summary.communities
    specs = [
        ("property_xinjian", "安淮物业服务有限公司新建社区项目部", UnitKind.PROPERTY, xinjian, "新建社区A区8栋底商"),
        ("property_dongshan", "淮南和润物业管理有限公司东山项目部", UnitKind.PROPERTY, dongshan, "东山小区物业楼"),
        ("police", "毕家岗派出所", UnitKind.POLICE, subdistrict, "毕家岗路66号"),
        ("judicial", "毕家岗司法所", UnitKind.JUDICIAL, subdistrict, "毕家岗街道便民服务中心二楼"),
        ("court", "谢家集区人民法院毕家岗人民法庭", UnitKind.COURT, subdistrict, "毕家岗路120号"),
        ("enforcement", "毕家岗街道综合执法中队", UnitKind.ENFORCEMENT, subdistrict, "毕家岗路88号"),
        ("urban", "毕家岗街道城市管理办公室", UnitKind.DEPARTMENT, subdistrict, "毕家岗街道办事处三楼"),
        ("social", "毕家岗街道社会事务办公室", UnitKind.DEPARTMENT, subdistrict, "毕家岗街道办事处二楼"),
        ("center", "毕家岗街道综治中心", UnitKind.CENTER, subdistrict, "毕家岗街道办事处一楼"),
    ]
    for community in summary.communities:
        specs.append(
            (f"committee_{community.code[-3:]}", f"{community.name}居民委员会", UnitKind.COMMUNITY, community, "")
        )
    for key, name, kind, area, address in specs:
        summary.units[key] = areas.unit_create(
            actor=None,
            name=name,
            kind=kind,
            area=area,
            phone=f"0554-{rng.randint(2600000, 2699999)}",
            address=address or f"{area.name}党群服务中心",
        )
    return _("units… %(count)d responsible units") % {"count": len(summary.units)}


# --- party branches -------------------------------------------------------------------------


def build_party_branches(summary: DemoSummary) -> str:
    """17 branches built on the grids: in each community the first four grids pair up, the rest stand alone."""
    rng = summary.rng("party_branches")
    for community in summary.communities:
        grids = [g for g in summary.grids if g.parent_id == community.pk]
        numbered = list(enumerate(grids, start=1))
        for members in [numbered[0:2], numbered[2:4], *([item] for item in numbered[4:])]:
            numbers = "".join(chinese_number(n) for n, _grid in members)
            if len(members) == 1:
                name = f"{community.name}第{numbers}网格党支部"
                member_count = rng.randint(15, 35)
            else:
                name = f"{community.name}第{numbers}网格联合党支部"
                member_count = rng.randint(30, 60)
            summary.party_branches.append(
                areas.party_branch_create(
                    actor=None,
                    name=name,
                    grids=[grid for _n, grid in members],
                    secretary=summary.person_name(rng),
                    member_count=member_count,
                )
            )
    return _("party branches… %(count)d branches on %(grids)d grids") % {
        "count": len(summary.party_branches),
        "grids": len(summary.grids),
    }


# --- accounts -------------------------------------------------------------------------------


def build_accounts(summary: DemoSummary) -> str:
    """The demo logins, all with settings.GRIDGOV_DEMO_PASSWORD, each holding its post."""
    rng = summary.rng("accounts")
    subdistrict = summary.subdistrict
    assert subdistrict is not None, "build_areas runs first"
    password = summary.password
    plan: list[tuple[str, str, Area | None, Unit | None, str]] = [
        ("center", Role.CENTER, subdistrict, None, "综治中心调度员"),
        ("leader", Role.LEADER, subdistrict, None, "街道党工委副书记"),
    ]
    plan += [(f"sq{n:02d}", Role.COMMUNITY, c, None, "社区网格专干") for n, c in enumerate(summary.communities, 1)]
    plan += [(f"wg{n:02d}", Role.GRID_WORKER, g, None, "专职网格员") for n, g in enumerate(summary.grids, 1)]
    plan += [(f"gl{n:02d}", Role.GRID_LEADER, g, None, "网格长") for n, g in enumerate(summary.grids, 1)]
    plan += [
        ("unit01", Role.UNIT_HANDLER, None, summary.units["property_xinjian"], "物业客服主管"),
        ("unit02", Role.UNIT_HANDLER, None, summary.units["police"], "社区民警"),
        ("unit03", Role.UNIT_HANDLER, None, summary.units["judicial"], "司法助理员"),
        ("unit04", Role.UNIT_HANDLER, None, summary.units["property_dongshan"], "物业客服主管"),
        ("unit05", Role.UNIT_HANDLER, None, summary.units["enforcement"], "执法队员"),
        ("unit06", Role.UNIT_HANDLER, None, summary.units["urban"], "城管办科员"),
        ("unit07", Role.UNIT_HANDLER, None, summary.units["social"], "社会事务办科员"),
        ("unit08", Role.UNIT_HANDLER, None, summary.units["court"], "法庭书记员"),
    ]
    # 联保长 of the first household group of every grid.
    plan += [
        (f"lb{n:02d}", Role.GROUP_LEADER, summary.groups[g.code][0], None, "联保长")
        for n, g in enumerate(summary.grids, 1)
    ]

    # The service validates the password and hashes it once (PBKDF2 is slow on purpose); the other
    # accounts are created through the same service with that hash.
    admin = user_create(
        actor=None, username="admin", password=password, name=summary.person_name(rng), is_superuser=True
    )
    summary.accounts.append(DemoAccount("admin", admin.name, "superuser", str(_("everything"))))
    for username, role, area, unit, title in plan:
        user = user_create(actor=None, username=username, password_hash=admin.password, name=summary.person_name(rng))
        areas.post_create(actor=None, user=user, role=role, area=area, unit=unit, title=title)
        where = area.name if area is not None else unit.name  # type: ignore[union-attr]
        summary.accounts.append(DemoAccount(username, user.name, role, where))
    return _("accounts… %(count)d accounts") % {"count": len(summary.accounts)}


# --- registry -------------------------------------------------------------------------------


def build_registry(summary: DemoSummary) -> str:
    """Households, residents, buildings, shops and places of every grid (see `gridgov.registry.demo`)."""
    from gridgov.registry.demo import build_registry_demo

    counts = build_registry_demo(summary)
    summary.registry = {
        "buildings": counts.buildings,
        "self_built": counts.self_built,
        "households": counts.households,
        "residents": counts.residents,
        "shops": counts.shops,
        "places": counts.places,
        "tags": counts.tags,
    }
    return (
        _(
            "registry… %(households)d households, %(residents)d residents, %(buildings)d buildings "
            "(%(self_built)d self-built), %(shops)d shops, %(places)d places"
        )
        % summary.registry
    )


def build_integrations(summary: DemoSummary) -> str:
    """The intake channels and their default mapping rules: `flush` empties what the migration wrote."""
    from gridgov.integrations import defaults

    defaults.install()
    from gridgov.integrations.models import MappingRule

    return _("integrations… %(channels)d intake channels, %(rules)d mapping rules") % {
        "channels": len(defaults.CHANNELS),
        "rules": MappingRule.objects.count(),
    }


PARTS: list[Callable[[DemoSummary], str]] = [
    build_areas,
    build_units,
    build_party_branches,
    build_accounts,
    build_registry,
    build_cases,
    build_fieldwork,
    build_integrations,
]


# --- names ----------------------------------------------------------------------------------

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
    "姚卢姜崔钟谭陆汪范金石廖贾夏付方邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严武戴孔汤"
)
MALE_GIVEN = "伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆峰建国志文林海东兵永庆成德仁义新春"
FEMALE_GIVEN = "芳娜敏静丽艳娟霞秀英兰玲燕萍红梅琳雪婷慧莉琴云洁颖倩晶丹凤桂珍淑芬玉华荣"


def _random_name(rng: random.Random) -> str:
    given = MALE_GIVEN if rng.random() < 0.5 else FEMALE_GIVEN
    length = 1 if rng.random() < 0.3 else 2
    return rng.choice(SURNAMES) + "".join(rng.sample(given, length))


def given_name(rng: random.Random, gender: str) -> str:
    """A given name (one or two characters) for a man ("male") or a woman; the family gives the surname."""
    given = MALE_GIVEN if gender == "male" else FEMALE_GIVEN
    length = 1 if rng.random() < 0.3 else 2
    return "".join(rng.sample(given, length))


# --- output ---------------------------------------------------------------------------------


def display_width(text: str) -> int:
    """Columns a terminal gives `text`: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))
