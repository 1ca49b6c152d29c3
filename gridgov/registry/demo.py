"""The registry part of `gridgov demo`: 毕家岗街道's people and things (人·物).

About 3,400 households and 10,000 residents (the article's 常住人口10000余人) in the household
groups of the 25 grids, each household in a building; the shops of the shop groups (4–8 each);
the parks, roads, fire lanes, cameras (雪亮工程) and key sites, with the park of 新建社区 A区 and
the road beside it where the article's 道路下沉 happened.

Everything comes from the part's own seeded generator, so the same seed builds the same people
(birth dates count back from the day of the build). Residents are too many for the per-row
services: each one is checked with the same `validate_resident` the services and the import use,
then the rows are bulk-inserted (`EncryptedField.pre_save` seals ID and phone numbers and sets
their blind indexes in `bulk_create` too) and the part writes one audit event with the counts.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import shapely
from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from shapely.geometry import LineString, Polygon, box, mapping, shape

from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.validators import id_check_digit, validate_phone
from gridgov.registry.choices import BuildingUse, Gender, LivingStatus, PlaceKind, Relation, Structure
from gridgov.registry.defaults import ensure_default_tags
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag
from gridgov.registry.services import (
    duplicate_id_number,
    household_create,
    household_set_head,
    resident_create,
    validate_resident,
)

if TYPE_CHECKING:
    from gridgov.demo.builder import DemoSummary

# GB/T 2260 codes of 淮南市's districts: 大通区, 田家庵区, 谢家集区 (ours), 八公山区, 潘集区.
REGIONS = ("340402", "340403", "340404", "340405", "340406")
REGION_WEIGHTS = (5, 10, 70, 9, 6)
MOBILE_PREFIXES = (
    *(f"13{d}" for d in "0123456789"),
    *(f"15{d}" for d in "012356789"),
    *(f"18{d}" for d in "0123456789"),
    *("147", "166", "173", "175", "176", "177", "178", "191", "198", "199"),
)
LANES = ("东巷", "西巷", "后巷", "南巷", "北巷", "老街", "新村路", "矿工路")
BATCH = 500
MAX_MEMBERS = 6

# Household compositions of an old mining town (many elderly, children often grown and gone),
# with their weights in percent of households.
HOUSEHOLD_KINDS = (
    ("elderly_single", 8.0),
    ("single", 3.5),
    ("elderly_couple", 11.0),
    ("couple", 7.5),
    ("nuclear_one", 23.0),
    ("nuclear_two", 13.0),
    ("three_generations", 18.5),
    ("skipped_generation", 4.0),
    ("single_parent", 5.0),
    ("elderly_with_child", 5.0),
    ("other", 2.5),
)
# Households in a household group of 7–12: most groups are a whole stairwell.
HOUSEHOLDS_PER_GROUP = ((7, 2), (8, 2), (9, 3), (10, 5), (11, 12), (12, 76))

# (business type, name patterns — {s} a surname —, weight)
BUSINESSES = (
    ("餐饮", ("{s}记牛肉汤", "淮南牛肉汤馆", "{s}家小炒", "{s}记面馆", "{s}氏烧烤", "老{s}饺子馆", "{s}家早点铺"), 24),
    ("便利店", ("{s}家便利店", "邻里便利店", "{s}记烟酒副食"), 14),
    ("超市", ("{s}家平价超市", "惠民超市", "万家福超市"), 6),
    ("理发", ("{s}记理发店", "时尚发艺", "{s}师傅理发"), 8),
    ("五金", ("{s}记五金建材", "{s}家五金店"), 6),
    ("药店", ("百姓大药房", "{s}氏大药房", "康民药店"), 5),
    ("水果店", ("{s}家水果店", "鲜果园水果店"), 6),
    ("维修", ("{s}师傅家电维修", "{s}记修车铺", "{s}记开锁修鞋"), 5),
    ("快递驿站", ("菜鸟驿站", "兔喜快递超市"), 3),
    ("棋牌室", ("{s}记棋牌室", "老年活动棋牌室"), 3),
    ("服装", ("{s}家服饰", "{s}记裁缝铺"), 4),
    ("粮油", ("{s}记粮油店", "{s}家米面粮油"), 4),
    ("诊所", ("{s}氏诊所",), 2),
    ("干洗", ("洁丽干洗店", "{s}记干洗"), 2),
    ("废品回收", ("{s}记废品回收站",), 2),
)
# (kind, name pattern — {p} the grid's 社区X区 —)
KEY_SITES = (
    ("幼儿园", "{p}幼儿园"),
    ("小学", "{p}矿工子弟小学"),
    ("农贸市场", "{p}农贸市场"),
    ("液化气供应站", "{p}液化气供应站"),
    ("网吧", "{p}星空网吧"),
    ("养老服务站", "{p}居家养老服务站"),
    ("采煤沉陷区", "{p}采煤沉陷区"),
    ("废弃井口", "{p}老矿区废弃井口"),
    ("加油站", "{p}加油站"),
)
CAMERA_SPOTS = ("东门", "西门", "南门", "北门", "主干道路口", "停车场", "沿街商铺", "菜市场口")

# Restricted (key-person) tags: a handful in all.
KEY_TAG_COUNTS = {"shequjiaozheng": 2, "xingman": 4, "jingshen": 5, "xinfang": 3, "xidu": 1}
# Individual tags as shares of residents (or adults), and household tags as shares of residents.
SHARES = {
    "canji": 0.03,  # of residents
    "dangyuan": 0.06,  # of adults
    "zhiyuanzhe": 0.04,  # of residents
    "tuiyi": 0.015,  # of residents
    "dabing": 0.008,  # of residents
    "dibao": 0.035,  # of residents, whole households
    "kunnan": 0.02,  # of residents, whole households
    "wubao": 0.003,  # of residents, elderly living alone
}


# --- the plan -------------------------------------------------------------------------------


@dataclass
class Person:
    surname: str
    gender: str
    age: int
    relation: str
    name: str = ""
    birth_date: date | None = None
    id_number: str = ""
    phone: str = ""
    living_status: str = LivingStatus.RESIDENT
    tags: set[str] = field(default_factory=set)


@dataclass
class HouseholdPlan:
    grid: Area
    group: Area
    building: Building
    room: str
    kind: str
    members: list[Person]

    @property
    def address(self) -> str:
        return self.building.address + self.room


@dataclass
class Counts:
    buildings: int = 0
    self_built: int = 0
    households: int = 0
    residents: int = 0
    shops: int = 0
    places: int = 0
    tags: dict[str, int] = field(default_factory=dict)


def build_registry_demo(summary: DemoSummary) -> Counts:
    """Build the registry of the demo's grids; the areas, accounts and tags come first."""
    builder = _Builder(summary, summary.rng("registry"), timezone.localdate())
    with transaction.atomic():
        counts = builder.build()
        add_meng(summary, summary.rng("registry:meng"), builder.today)
        counts.households += 1
        counts.residents += 1
        audit.record(
            actor=None,
            event="demo.registry",
            data={
                "buildings": counts.buildings,
                "households": counts.households,
                "residents": counts.residents,
                "shops": counts.shops,
                "places": counts.places,
                "tags": counts.tags,
            },
        )
    return counts


class _Builder:
    def __init__(self, summary: DemoSummary, rng: random.Random, today: date) -> None:
        self.summary = summary
        self.rng = rng
        self.today = today
        self.ids: set[str] = set()
        self.phones: set[str] = set()
        self.households: list[HouseholdPlan] = []
        self.buildings: list[Building] = []
        self.shops: list[Shop] = []
        self.places: list[Place] = []
        self.inner: dict[int, shapely.Geometry] = {}  # area pk → its polygon, shrunk away from the edges
        self.prefixes: dict[int, str] = {}  # grid pk → 新建社区A区

    # -- the whole part ------------------------------------------------------------------------

    def build(self) -> Counts:
        ensure_default_tags()  # `flush` empties the catalogue the migration wrote
        tags = {tag.code: tag for tag in Tag.objects.all()}
        communities = {c.pk: c for c in self.summary.communities}
        for grid in self.summary.grids:
            # Addresses name the community and a lettered 区 per grid: 新建社区A区 is its first grid.
            community = communities[grid.parent_id]
            siblings = [g for g in self.summary.grids if g.parent_id == community.pk]
            self.prefixes[grid.pk] = f"{community.name}{chr(ord('A') + siblings.index(grid))}区"
            self._grid(grid, self.prefixes[grid.pk])
        people = [p for h in self.households for p in h.members]
        self._assign_tags(people)
        self._places()
        return self._write(tags)

    # -- buildings and households ------------------------------------------------------------

    def _grid(self, grid: Area, prefix: str) -> None:
        rng = self.rng
        groups = self.summary.groups[grid.code]
        homes = [g for g in groups if not g.name.endswith("（门店）")]
        shop_groups = [g for g in groups if g.name.endswith("（门店）")]
        # Older grids keep a cluster of self-built houses (自建房) from the mining days, rented out floor by floor.
        self_built = 1 if rng.random() < 0.55 else 0
        block_groups, self_built_groups = homes[: len(homes) - self_built], homes[len(homes) - self_built :]

        number = 0
        building: Building | None = None
        units_left = stairwell = rooms_per_floor = 0
        for group in block_groups:
            if units_left == 0:
                number += 1
                floors = rng.choice((5, 6, 6, 6, 7))
                year = rng.choice((rng.randint(1978, 1995), rng.randint(1990, 2008), rng.randint(2005, 2018)))
                units_left = rng.choice((1, 1, 2, 2, 3))
                stairwell = 0
                rooms_per_floor = 3 if floors == 5 or number == 1 else 2
                building = self._building(
                    grid,
                    group,
                    name=f"{number}栋",
                    address=f"{prefix}{number}栋",
                    use=BuildingUse.MIXED if number == 1 else BuildingUse.RESIDENTIAL,
                    floors=floors,
                    structure=Structure.BRICK_CONCRETE if year < 2000 else Structure.FRAME,
                    year=year,
                    grade=_weighted(rng, ("A", "B", "C"), (45, 45, 10) if year < 1995 else (75, 23, 2)),
                )
            assert building is not None
            units_left -= 1
            stairwell += 1
            size = _weighted(rng, *zip(*HOUSEHOLDS_PER_GROUP, strict=True))
            floors = building.floors or 6
            # Block households live above the shops of a mixed building.
            lowest = 2 if building.use == BuildingUse.MIXED else 1
            rooms = [(f, r) for f in range(lowest, floors + 1) for r in range(1, rooms_per_floor + 1)]
            for f, r in sorted(rng.sample(rooms, min(size, len(rooms)))):
                self._household(grid, group, building, f"{stairwell}单元{f}{r:02d}")

        for group in self_built_groups:
            size = _weighted(rng, *zip(*HOUSEHOLDS_PER_GROUP, strict=True))
            lane = rng.choice(LANES)
            houses = rng.randint(2, 3)
            shares = [size // houses + (1 if h < size % houses else 0) for h in range(houses)]
            for families in shares:
                number += 1
                floors = max(math.ceil(families / 2), rng.choice((2, 3, 3, 4)))
                year = rng.randint(1968, 2006)
                house = self._building(
                    grid,
                    group,
                    name="",
                    address=f"{prefix}{lane}{number}号",
                    use=BuildingUse.SELF_BUILT,
                    floors=floors,
                    structure=rng.choice((Structure.BRICK_CONCRETE, Structure.BRICK_CONCRETE, Structure.BRICK_WOOD)),
                    year=year,
                    grade=_weighted(rng, ("A", "B", "C", "D"), (10, 40, 35, 15)),
                )
                rooms = [(f, r) for f in range(1, floors + 1) for r in (1, 2)]
                for f, r in sorted(rng.sample(rooms, families)):
                    self._household(grid, group, house, f"{f}{r:02d}室")

        street = 0
        for group in shop_groups:
            count = rng.randint(4, 8)
            first, street = street + 1, street + count
            self._building(
                grid,
                group,
                name=f"沿街商铺{first}-{street}号",
                address=f"{prefix}沿街商铺{first}-{street}号",
                use=BuildingUse.COMMERCIAL,
                floors=rng.choice((1, 2, 2, 3)),
                structure=Structure.FRAME,
                year=rng.randint(1995, 2020),
                grade=_weighted(rng, ("A", "B"), (70, 30)),
            )
            for n in range(first, street + 1):
                self._shop(grid, group, branch=f"{prefix}店", address=f"{prefix}沿街商铺{n}号")

    def _building(
        self,
        grid: Area,
        group: Area,
        *,
        name: str,
        address: str,
        use: str,
        floors: int,
        structure: str,
        year: int,
        grade: str,
    ) -> Building:
        lng, lat = self._point_in(group)
        building = Building(
            grid=grid,
            group=group,
            area_code=group.code,
            name=name,
            address=address,
            use=use,
            floors=floors,
            structure=structure,
            year_built=year,
            safety_grade=grade,
            lng=lng,
            lat=lat,
        )
        self.buildings.append(building)
        return building

    def _household(self, grid: Area, group: Area, building: Building, room: str) -> None:
        kinds, weights = zip(*HOUSEHOLD_KINDS, strict=True)
        kind = _weighted(self.rng, kinds, weights)
        members = self._members(kind)
        household = HouseholdPlan(grid=grid, group=group, building=building, room=room, kind=kind, members=members)
        for person in members:
            self._identify(person)
        self.households.append(household)

    # -- people --------------------------------------------------------------------------------

    def _members(self, kind: str) -> list[Person]:
        """The members of one household, head first: relation, gender and age."""
        rng = self.rng
        surname = _surname(rng)

        def person(relation: str, gender: str, age: float, family: str | None = None) -> Person:
            return Person(surname=family or surname, gender=gender, age=max(0, min(101, round(age))), relation=relation)

        def other_gender(gender: str) -> str:
            return Gender.FEMALE if gender == Gender.MALE else Gender.MALE

        def couple(age: float) -> list[Person]:
            head = person(Relation.HEAD, Gender.MALE if rng.random() < 0.88 else Gender.FEMALE, age)
            gap = rng.choice((-1, 0, 1, 2, 2, 3, 4, 5))
            spouse_age = age - gap if head.gender == Gender.MALE else age + gap
            return [head, person(Relation.SPOUSE, other_gender(head.gender), spouse_age, _surname(rng))]

        def children(mother_age: float, count: int) -> list[Person]:
            kids = []
            age = mother_age - rng.randint(22, 34)
            for _n in range(count):
                if age < 0:
                    age = rng.randint(0, 3)
                kids.append(person(Relation.CHILD, rng.choice((Gender.MALE, Gender.FEMALE)), age))
                age -= rng.randint(2, 8)
            return kids

        def mother_age(family: list[Person]) -> float:
            women = [p.age for p in family if p.gender == Gender.FEMALE]
            return women[0] if women else family[0].age - 2

        if kind == "elderly_single":
            return [person(Relation.HEAD, _weighted(rng, ("female", "male"), (65, 35)), rng.triangular(65, 97, 74))]
        if kind == "single":
            return [person(Relation.HEAD, _weighted(rng, ("male", "female"), (60, 40)), rng.triangular(20, 64, 32))]
        if kind == "elderly_couple":
            return couple(rng.triangular(58, 93, 68))
        if kind == "couple":
            return couple(rng.triangular(24, 36, 28) if rng.random() < 0.45 else rng.triangular(45, 66, 57))
        if kind in ("nuclear_one", "nuclear_two"):
            family = couple(rng.triangular(27, 64, 42))
            return family + children(mother_age(family), 1 if kind == "nuclear_one" else 2)
        if kind == "three_generations":
            family = couple(rng.triangular(30, 58, 42))
            family += children(mother_age(family), rng.choice((1, 1, 2)))
            father_age = family[0].age + rng.randint(22, 32)
            if rng.random() < 0.55 and father_age <= 96:
                family.append(person(Relation.PARENT, Gender.MALE, father_age, family[0].surname))
            mother = person(Relation.PARENT, Gender.FEMALE, min(99, father_age - rng.randint(0, 4)), _surname(rng))
            family.append(mother)
            return family[:MAX_MEMBERS]
        if kind == "skipped_generation":
            family = (
                couple(rng.triangular(55, 78, 64))
                if rng.random() < 0.75
                else [person(Relation.HEAD, Gender.FEMALE, rng.triangular(55, 78, 66))]
            )
            for _n in range(rng.choice((1, 1, 2))):
                family.append(person(Relation.GRANDCHILD, rng.choice((Gender.MALE, Gender.FEMALE)), rng.randint(2, 15)))
            return family
        if kind == "single_parent":
            head = person(Relation.HEAD, _weighted(rng, ("female", "male"), (70, 30)), rng.triangular(28, 56, 40))
            return [head, *children(head.age if head.gender == Gender.FEMALE else head.age - 2, rng.choice((1, 1, 2)))]
        if kind == "elderly_with_child":
            head = person(Relation.HEAD, _weighted(rng, ("female", "male"), (60, 40)), rng.triangular(62, 93, 76))
            child_age = head.age - rng.randint(24, 36)
            return [head, person(Relation.CHILD, rng.choice((Gender.MALE, Gender.FEMALE)), max(25, child_age))]
        # other: brothers and sisters, or a tenant sharing the flat
        head = person(Relation.HEAD, rng.choice((Gender.MALE, Gender.FEMALE)), rng.triangular(25, 62, 40))
        if rng.random() < 0.5:
            return [
                head,
                person(Relation.SIBLING, rng.choice((Gender.MALE, Gender.FEMALE)), head.age + rng.randint(-8, 8)),
            ]
        return [
            head,
            person(Relation.TENANT, rng.choice((Gender.MALE, Gender.FEMALE)), rng.randint(20, 50), _surname(rng)),
        ]

    def _identify(self, person: Person) -> None:
        """Name, birth date, a unique GB 11643 ID number matching them, and a phone for most adults."""
        rng = self.rng
        person.name = person.surname + _given_name(rng, person.gender)
        birthday = self.today - timedelta(days=365 * person.age + person.age // 4 + rng.randint(1, 364))
        person.birth_date = birthday
        person.age = _age(birthday, self.today)
        region = _weighted(rng, REGIONS, REGION_WEIGHTS)
        parity = 1 if person.gender == Gender.MALE else 0
        while True:
            sequence = rng.randrange(0, 1000)
            sequence ^= (sequence % 2) ^ parity  # the 17th digit is odd for men, even for women
            first17 = f"{region}{birthday:%Y%m%d}{sequence:03d}"
            number = first17 + id_check_digit(first17)
            if number not in self.ids:
                self.ids.add(number)
                person.id_number = number
                break
        age = person.age
        mobile_share = 0.0 if age < 16 else 0.6 if age < 18 else 0.95 if age < 60 else 0.85 if age < 70 else 0.6
        if age >= 70 and rng.random() < 0.05:
            mobile_share = 0.0
        if rng.random() < mobile_share:
            person.phone = self._mobile()
        elif age >= 55 and rng.random() < 0.5:
            person.phone = self._landline()

    def _mobile(self) -> str:
        while True:
            number = self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    def _landline(self) -> str:
        while True:
            number = f"0554-{self.rng.choice('235678')}{self.rng.randrange(10**6):06d}"
            if number not in self.phones:
                self.phones.add(number)
                return number

    # -- tags ------------------------------------------------------------------------------------

    def _assign_tags(self, people: list[Person]) -> None:
        rng = self.rng
        total = len(people)
        adults = [p for p in people if p.age >= 18]
        for household in self.households:
            members = household.members
            if len(members) == 1 and members[0].age >= 65:
                members[0].tags.add("dujulaoren")
            if len(members) == 2 and household.kind == "elderly_couple" and min(p.age for p in members) >= 60:
                for p in members:
                    p.tags.add("kongchao")
            if household.kind == "skipped_generation":
                for p in members:
                    if p.relation == Relation.GRANDCHILD and p.age < 16:
                        p.tags.add("liushou")
            # Grown children often live and work elsewhere (人户分离): registered here, moved out.
            for p in members[1:]:
                if p.relation == Relation.CHILD and 18 <= p.age <= 40 and len(members) >= 3 and rng.random() < 0.12:
                    p.living_status = LivingStatus.MOVED_OUT
        for p in people:
            if p.age >= 80:
                p.tags.add("gaoling")
            if p.gender == Gender.FEMALE and 15 <= p.age <= 49:
                p.tags.add("yufu")

        alone = [h.members[0] for h in self.households if "dujulaoren" in h.members[0].tags]
        for p in _sample(rng, alone, round(SHARES["wubao"] * total), lambda p: 1.0):
            p.tags.add("wubao")
        households = [h for h in self.households if not any("wubao" in p.tags for p in h.members)]
        needy_kinds = {
            "elderly_single": 3.0,
            "single_parent": 3.0,
            "elderly_with_child": 2.0,
            "skipped_generation": 2.0,
        }
        for code in ("dibao", "kunnan"):
            target = round(SHARES[code] * total)
            chosen = 0
            for h in _sample(rng, households, len(households), lambda h: needy_kinds.get(h.kind, 1.0)):
                if chosen >= target:
                    break
                if any(p.tags & {"dibao", "kunnan"} for p in h.members):
                    continue
                for p in h.members:
                    p.tags.add(code)
                chosen += len(h.members)

        def by_age(low: int, high: int, factor: float = 1.0) -> Callable[[Person], float]:
            return lambda p: factor if low <= p.age <= high else 1.0

        weights: dict[str, tuple[list[Person], Callable[[Person], float]]] = {
            "canji": (people, lambda p: 3.0 if p.age >= 60 else 1.0 if p.age >= 18 else 0.3),
            "dangyuan": (adults, lambda p: (1.6 if p.gender == Gender.MALE else 1.0) * (2.2 if p.age >= 55 else 1.0)),
            "zhiyuanzhe": ([p for p in adults if p.age <= 75], by_age(50, 70, 2.5)),
            "tuiyi": ([p for p in adults if p.age >= 22], lambda p: 1.0 if p.gender == Gender.MALE else 0.04),
            "dabing": (people, lambda p: 2.5 if p.age >= 50 else 0.5),
        }
        for code, (candidates, weight) in weights.items():
            base = len(adults) if code == "dangyuan" else total
            for p in _sample(rng, candidates, round(SHARES[code] * base), weight):
                p.tags.add(code)
        # Volunteers are often party members too (党员志愿者).
        for p in adults:
            if "dangyuan" in p.tags and "zhiyuanzhe" not in p.tags and p.age <= 75 and rng.random() < 0.15:
                p.tags.add("zhiyuanzhe")
        # One 楼栋长 for each block: a grown-up resident of it, party members first.
        residents_of: dict[int, list[Person]] = {}
        for h in self.households:
            if h.building.use in (BuildingUse.RESIDENTIAL, BuildingUse.MIXED):
                residents_of.setdefault(id(h.building), []).extend(
                    p for p in h.members if 35 <= p.age <= 72 and p.living_status == LivingStatus.RESIDENT
                )
        for candidates in residents_of.values():
            chosen = _sample(rng, candidates, 1, lambda p: 5.0 if "dangyuan" in p.tags else 1.0)
            for p in chosen:
                p.tags.add("louzhang")
        working_age = [p for p in adults if p.age <= 65 and p.living_status == LivingStatus.RESIDENT]
        for code, count in KEY_TAG_COUNTS.items():
            for p in _sample(rng, working_age, count, lambda p: 3.0 if p.gender == Gender.MALE else 1.0):
                p.tags.add(code)

    # -- shops and places ------------------------------------------------------------------------

    def _shop(self, grid: Area, group: Area, *, branch: str, address: str) -> None:
        rng = self.rng
        kinds = [b[0] for b in BUSINESSES]
        kind = _weighted(rng, kinds, [b[2] for b in BUSINESSES])
        patterns = BUSINESSES[kinds.index(kind)][1]
        surname = _surname(rng)
        pattern = rng.choice(patterns)
        # A name without the owner's surname is a chain's or a common one: the branch tells them apart.
        name = pattern.format(s=surname) if "{s}" in pattern else f"{pattern}（{branch}）"
        gender = _weighted(rng, ("male", "female"), (55, 45))
        phone = self._mobile() if rng.random() < 0.85 else self._landline()
        lng, lat = self._point_in(group)
        self.shops.append(
            Shop(
                grid=grid,
                group=group,
                area_code=group.code,
                name=name,
                business_type=kind,
                licence_number=_credit_code(rng, individual=kind not in ("药店", "超市", "诊所")),
                operator=surname + _given_name(rng, gender),
                phone=validate_phone(phone),
                address=address,
                lng=lng,
                lat=lat,
            )
        )

    def _places(self) -> None:
        rng = self.rng
        first_of_community: set[int] = set()
        for index, grid in enumerate(self.summary.grids):
            prefix = self.prefixes[grid.pk]
            inner = self._inner(grid)
            if index == 0:
                self._park_and_road(grid, prefix, inner)
            elif grid.parent_id not in first_of_community:
                centre = _random_point(rng, inner.buffer(-0.0006) if not inner.buffer(-0.0006).is_empty else inner)
                park = _rectangle(centre, 0.0007, 0.0005, inner)
                self._place(grid, PlaceKind.PARK, f"{prefix}健身广场", park, "居民健身、纳凉的开放广场，晚间人流较多。")
            first_of_community.add(grid.parent_id)
            minx, miny, maxx, maxy = inner.bounds
            cx, cy = inner.representative_point().coords[0]
            road = _longest(LineString([(minx, cy), (maxx, cy)]).intersection(inner))
            if road is not None:
                self._place(grid, PlaceKind.ROAD, f"{prefix}中心路", road, "小区主干道，双向两车道。")
            if rng.random() < 0.75:
                x = cx + rng.uniform(-0.3, 0.3) * (maxx - minx)
                lane = _longest(LineString([(x, miny), (x, maxy)]).intersection(inner))
                if lane is not None:
                    numbered = [b for b in self.buildings if b.grid is grid and b.use != BuildingUse.SELF_BUILT]
                    near = f"{numbered[0].name}" if numbered else ""
                    self._place(
                        grid,
                        PlaceKind.FIRE_LANE,
                        f"{prefix}{near}消防通道",
                        lane,
                        "消防车通道，禁止占用、堵塞、封闭。",
                    )
            for spot in rng.sample(CAMERA_SPOTS, rng.randint(2, 4)):
                self._place(
                    grid,
                    PlaceKind.CAMERA,
                    f"雪亮工程·{prefix}{spot}",
                    shapely.Point(_random_point(rng, inner)),
                    "雪亮工程视频监控点位，接入街道综治中心。",
                )
            if rng.random() < 0.55:
                kind, pattern = rng.choice(KEY_SITES)
                point = _random_point(rng, inner)
                geometry = _rectangle(point, 0.0006, 0.0004, inner) if kind == "采煤沉陷区" else shapely.Point(point)
                self._place(grid, PlaceKind.KEY_SITE, pattern.format(p=prefix), geometry, f"重点场所：{kind}。")

    def _park_and_road(self, grid: Area, prefix: str, inner: shapely.Geometry) -> None:
        """新建社区A区游园 and the road along its south side (the article's 道路下沉, June 2022)."""
        centre = inner.buffer(-0.0008).representative_point()
        park = _rectangle((centre.x, centre.y), 0.0010, 0.0006, inner)
        minx, miny, maxx, _maxy = park.bounds
        road = LineString([(minx - 0.0002, miny - 0.00012), (maxx + 0.0002, miny - 0.00012)])
        if not inner.contains(road):
            road = LineString([(minx, miny - 0.00008), (maxx, miny - 0.00008)])
        self.summary.places["park"] = self._place(
            grid, PlaceKind.PARK, f"{prefix}游园", park, "小区游园，老年人晨练、儿童游玩的主要场所。"
        )
        self.summary.places["park_road"] = self._place(
            grid, PlaceKind.ROAD, "游园旁道路", road, f"{prefix}游园南侧道路，由物业公司负责养护。"
        )

    def _place(self, grid: Area, kind: str, name: str, geometry: shapely.Geometry, description: str) -> Place:
        if not geometry.is_valid or geometry.is_empty:
            raise RuntimeError(f"the demo made an invalid geometry for {name}")
        data = mapping(geometry)
        place = Place(
            grid=grid,
            group=None,
            area_code=grid.code,
            kind=kind,
            name=name,
            geometry={"type": data["type"], "coordinates": _rounded(data["coordinates"])},
            description=description,
        )
        self.places.append(place)
        return place

    # -- geometry --------------------------------------------------------------------------------

    def _inner(self, area: Area) -> shapely.Geometry:
        if area.pk not in self.inner:
            polygon = shape(area.boundary)
            shrunk = polygon.buffer(-0.00015)
            self.inner[area.pk] = shrunk if not shrunk.is_empty else polygon
            shapely.prepare(self.inner[area.pk])
        return self.inner[area.pk]

    def _point_in(self, area: Area) -> tuple[float, float]:
        return _random_point(self.rng, self._inner(area))

    # -- writing ---------------------------------------------------------------------------------

    def _write(self, tags: dict[str, Tag]) -> Counts:
        counts = Counts()
        for obj in (*self.buildings, *self.shops, *self.places):
            obj.full_clean(exclude=["grid", "group"])
        Building.objects.bulk_create(self.buildings, batch_size=BATCH)
        households = []
        for plan in self.households:
            household = Household(
                grid=plan.grid,
                group=plan.group,
                area_code=plan.group.code,
                address=plan.building.address,
                building=plan.building,
                room=plan.room,
            )
            household.full_clean(exclude=["grid", "group", "building", "head"])
            households.append(household)
        Household.objects.bulk_create(households, batch_size=BATCH)

        residents: list[Resident] = []
        for plan, household in zip(self.households, households, strict=True):
            for person in plan.members:
                data = validate_resident(
                    name=person.name,
                    gender=person.gender,
                    birth_date=person.birth_date,
                    id_number=person.id_number,
                    phone=person.phone,
                    relation=person.relation,
                    address=plan.address,
                    living_status=person.living_status,
                )
                residents.append(
                    Resident(
                        grid=plan.grid,
                        group=plan.group,
                        area_code=plan.group.code,
                        household=household,
                        **data.__dict__,
                    )
                )
        Resident.objects.bulk_create(residents, batch_size=BATCH)

        people = [p for plan in self.households for p in plan.members]
        heads = iter(residents)
        for plan, household in zip(self.households, households, strict=True):
            household.head = next(heads)
            for _rest in plan.members[1:]:
                next(heads)
        Household.objects.bulk_update(households, ["head"], batch_size=BATCH)

        through = Resident.tags.through
        links = [
            through(resident_id=resident.pk, tag_id=tags[code].pk)
            for person, resident in zip(people, residents, strict=True)
            for code in sorted(person.tags)
        ]
        through.objects.bulk_create(links, batch_size=BATCH)
        Shop.objects.bulk_create(self.shops, batch_size=BATCH)
        Place.objects.bulk_create(self.places, batch_size=BATCH)

        counts.buildings = len(self.buildings)
        counts.self_built = sum(b.use == BuildingUse.SELF_BUILT for b in self.buildings)
        counts.households = len(households)
        counts.residents = len(residents)
        counts.shops = len(self.shops)
        counts.places = len(self.places)
        for person in people:
            for code in person.tags:
                counts.tags[code] = counts.tags.get(code, 0) + 1
        counts.tags = dict(sorted(counts.tags.items()))
        return counts


# --- helpers --------------------------------------------------------------------------------


def _weighted(rng: random.Random, values: Sequence[Any], weights: Sequence[float]) -> Any:
    return rng.choices(values, weights=weights)[0]


def _surname(rng: random.Random) -> str:
    from gridgov.demo.builder import SURNAMES

    return rng.choice(SURNAMES)


def _given_name(rng: random.Random, gender: str) -> str:
    from gridgov.demo.builder import given_name

    return given_name(rng, gender)


def _age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _sample(rng: random.Random, items: Sequence[Any], count: int, weight: Callable[[Any], float]) -> list[Any]:
    """`count` items drawn without replacement, each with probability proportional to its weight
    (Efraimidis–Spirakis: the largest keys u^(1/w))."""
    if count <= 0 or not items:
        return []
    keyed = sorted(((math.log(rng.random() or 1e-300) / weight(item), n) for n, item in enumerate(items)), reverse=True)
    return [items[n] for _key, n in keyed[:count]]


def _random_point(rng: random.Random, polygon: shapely.Geometry) -> tuple[float, float]:
    minx, miny, maxx, maxy = polygon.bounds
    for _attempt in range(1000):
        x, y = round(rng.uniform(minx, maxx), 7), round(rng.uniform(miny, maxy), 7)
        if shapely.contains_xy(polygon, x, y):
            return (x, y)
    point = polygon.representative_point()
    return (round(point.x, 7), round(point.y, 7))


def _rectangle(centre: tuple[float, float], width: float, height: float, within: shapely.Geometry) -> Polygon:
    """A rectangle around `centre`, shrunk until it lies inside `within`."""
    x, y = centre
    for _attempt in range(20):
        rect = box(round(x - width / 2, 7), round(y - height / 2, 7), round(x + width / 2, 7), round(y + height / 2, 7))
        if within.contains(rect):
            return rect
        width, height = width * 0.8, height * 0.8
    raise RuntimeError("no room for a rectangle in the grid")


def _longest(geometry: shapely.Geometry) -> LineString | None:
    lines = [g for g in getattr(geometry, "geoms", [geometry]) if g.geom_type == "LineString" and not g.is_empty]
    if not lines:
        return None
    line = max(lines, key=lambda g: g.length)
    return LineString([(round(x, 7), round(y, 7)) for x, y in line.coords])


def _rounded(coordinates: Any) -> Any:
    if isinstance(coordinates, tuple | list) and coordinates and isinstance(coordinates[0], int | float):
        return [round(float(c), 7) for c in coordinates]
    return [_rounded(c) for c in coordinates]


# Unified social credit codes (统一社会信用代码, GB 32100): 18 characters from this alphabet.
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)  # GB 11714 organisation code check


def _credit_code(rng: random.Random, *, individual: bool) -> str:
    """A well-formed code: registering authority and kind (92 个体工商户, 91 company), the region,
    an organisation code with its GB 11714 check character, and the GB 32100 check character."""
    body = "MA" + "".join(rng.choice(CREDIT_ALPHABET) for _n in range(6))
    org_sum = sum((int(c) if c.isdigit() else ord(c) - 55) * w for c, w in zip(body, ORG_WEIGHTS, strict=True))
    org_check = 11 - org_sum % 11
    body += "X" if org_check == 10 else "0" if org_check == 11 else str(org_check)
    first17 = ("92" if individual else "91") + "340404" + body
    total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(first17, CREDIT_WEIGHTS, strict=True))
    return first17 + CREDIT_ALPHABET[(31 - total % 31) % 31]


MENG = "孟庆梅"


def add_meng(summary: DemoSummary, rng: random.Random, today: date) -> Resident:
    """孟庆梅, the article's elder living alone, bedridden after a fall, in 新建社区A区 (the first grid); through
    the registry services, so the care plans of the fieldwork part have her to look after."""
    grid = summary.grids[0]
    # The household group of the grid with the fewest households (groups hold 7 to 12; shop groups none).
    sizes = Household.objects.filter(grid=grid).values("group_id").annotate(n=Count("id")).order_by("n", "group_id")
    group_id = sizes.first()["group_id"]
    blocks = Building.objects.filter(grid=grid, use=BuildingUse.RESIDENTIAL).order_by("id")
    building = blocks.filter(group_id=group_id).first() or blocks.first()
    assert building is not None, "the registry part gives every grid its blocks"
    rooms = set(Household.objects.filter(building=building).values_list("room", flat=True))
    room = next(f"1单元{f}{r:02d}" for f in range(1, 8) for r in range(1, 4) if f"1单元{f}{r:02d}" not in rooms)
    group = Area.objects.get(pk=group_id)
    household = household_create(
        actor=None, grid=grid, group=group, address=building.address, building=building, room=room
    )
    birth = today.replace(year=today.year - 79) - timedelta(days=rng.randint(10, 300))
    sequence = 2 * rng.randint(100, 400)  # even: a woman
    while True:
        first17 = f"340404{birth:%Y%m%d}{sequence % 1000:03d}"
        number = first17 + id_check_digit(first17)
        if duplicate_id_number(number) is None:
            break
        sequence += 2
    tags = list(Tag.objects.filter(code__in=["dujulaoren", "canji"]))
    resident = resident_create(
        actor=None,
        household=household,
        name=MENG,
        gender=Gender.FEMALE,
        birth_date=birth,
        id_number=number,
        phone=f"0554-266{rng.randint(1000, 9999)}",
        relation=Relation.HEAD,
        address=f"{household.address}{room}",
        notes="不慎摔伤致腰椎骨折，瘫痪在床，独居；子女在外地工作。",
        tags=tags,
    )
    household_set_head(actor=None, household=household, head=resident)
    return resident
