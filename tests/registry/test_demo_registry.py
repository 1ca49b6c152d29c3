"""`gridgov demo`'s registry: 毕家岗街道's households, residents, buildings, shops and places.

The demo is built once for the module (inside a transaction rolled back at the end); one test
builds it again in a subprocess into a file-backed SQLite database and reads the file's bytes.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import subprocess
import sys
from collections import Counter
from contextlib import contextmanager
from datetime import date

import pytest
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import override_settings
from django.utils import timezone
from shapely.geometry import Point, shape

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.core import crypto
from gridgov.core.models import AuditEvent
from gridgov.core.validators import parse_id_number, phone_kind
from gridgov.registry.choices import BuildingUse, LivingStatus, PlaceKind, Relation
from gridgov.registry.demo import CREDIT_ALPHABET, CREDIT_WEIGHTS, REGIONS
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag

pytestmark = pytest.mark.django_db

ID_PATTERN = re.compile(rb"(?<![0-9A-Za-z])\d{17}[\dX](?![0-9A-Za-z])")
MOBILE_PATTERN = re.compile(rb"(?<![0-9A-Za-z])1[3-9]\d{9}(?![0-9A-Za-z])")
DIGIT_RUNS = re.compile(rb"[0-9X]{11,}")
LANDLINE_PATTERN = re.compile(rb"0554-\d{7}")


@contextmanager
def built_demo():
    """The demo built into the test database; everything is rolled back afterwards."""
    out = io.StringIO()
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
            call_command("demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), built_demo() as output:
        yield output


def age(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@pytest.fixture(scope="module")
def people(demo, django_db_blocker):
    """Every resident with their tag codes and age, read once."""
    today = timezone.localdate()
    with django_db_blocker.unblock():
        residents = list(Resident.objects.prefetch_related("tags").order_by("id"))
        for resident in residents:
            resident.codes = {t.code for t in resident.tags.all()}
            resident.age = age(resident.birth_date, today)
    return residents


def share(people, code: str, among=None) -> float:
    among = people if among is None else among
    return sum(code in p.codes for p in among) / len(among)


def test_counts_match_the_article(demo, people):
    households = Household.objects.count()
    assert 3_200 <= households <= 3_800, "about 3,500 households"
    assert 10_000 <= len(people) <= 11_000, "摸排辖区居住常住人口10000余人"
    assert 200 <= Building.objects.count() <= 400
    assert 250 <= Shop.objects.count() <= 400
    assert Place.objects.count() >= 100
    # The progress line gives the counts (in whichever language the catalogue has it).
    assert any(f"{households}" in line and f"{len(people)}" in line for line in demo.splitlines())


def test_id_numbers_are_valid_unique_and_match_the_resident(people):
    numbers = set()
    for resident in people:
        number = resident.id_number.reveal()
        info = parse_id_number(number)
        assert info.region in REGIONS
        assert info.gender == resident.gender, resident.pk
        assert info.birth_date == resident.birth_date, resident.pk
        assert resident.id_number_hash == crypto.blind_index(number)
        numbers.add(number)
    assert len(numbers) == len(people)
    assert sum(p.id_number.reveal()[:6] == "340404" for p in people) > 0.6 * len(people), "mostly 谢家集区"
    hashes = Resident.objects.values_list("id_number_hash", flat=True)
    assert None not in hashes and len(set(hashes)) == len(people)


def test_most_adults_have_a_mobile_and_numbers_are_sealed(people):
    mobiles = [p.phone.reveal() for p in people if p.phone and phone_kind(p.phone.reveal()) == "mobile"]
    landlines = [p.phone.reveal() for p in people if p.phone and phone_kind(p.phone.reveal()) == "landline"]
    assert len(mobiles) == len(set(mobiles)), "mobile numbers are not shared"
    assert landlines and all(n.startswith("0554-") for n in landlines)
    working = [p for p in people if 18 <= p.age < 60]
    assert sum(bool(p.phone) for p in working) > 0.85 * len(working)
    assert not any(p.phone for p in people if p.age < 16)
    for p in people:
        assert (p.phone_hash is None) == (not p.phone)
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM registry_resident WHERE phone != ''")
        rows = cursor.fetchall()
    assert len(rows) == sum(bool(p.phone) for p in people)
    assert all(v.startswith("g1$") for row in rows for v in row)


def test_ages_form_an_old_mining_towns_pyramid(people):
    n = len(people)
    assert 0.16 <= sum(p.age >= 65 for p in people) / n <= 0.26, "more elderly than the national 14 %"
    assert 0.02 <= sum(p.age >= 80 for p in people) / n <= 0.06
    assert 0.10 <= sum(p.age < 15 for p in people) / n <= 0.20
    assert max(p.age for p in people) <= 101


def test_tag_shares_are_realistic(people):
    adults = [p for p in people if p.age >= 18]
    assert 0.03 <= share(people, "dibao") <= 0.04
    assert 0.002 <= share(people, "wubao") <= 0.005
    assert 0.015 <= share(people, "kunnan") <= 0.025
    assert 0.02 <= share(people, "dujulaoren") <= 0.03
    assert 0.025 <= share(people, "canji") <= 0.035
    assert 0.05 <= share(adults, "dangyuan") <= 0.07
    assert not any("dangyuan" in p.codes for p in people if p.age < 18)
    assert 0.035 <= share(people, "zhiyuanzhe") <= 0.06
    assert 0.005 <= share(people, "tuiyi") <= 0.03
    assert share(people, "kongchao") > 0.02
    assert all(p.age >= 60 for p in people if "kongchao" in p.codes)
    # 高龄老人 are exactly the residents aged 80 and over.
    assert {p.pk for p in people if "gaoling" in p.codes} == {p.pk for p in people if p.age >= 80}
    restricted = [p for p in people if p.codes & {"shequjiaozheng", "xingman", "jingshen", "xinfang", "xidu"}]
    assert 5 <= len(restricted) <= 30, "a handful of key persons"
    assert all(p.age >= 18 for p in restricted)


def test_elderly_living_alone_live_alone(people):
    members = Counter(p.household_id for p in people)
    alone = {p.pk for p in people if members[p.household_id] == 1 and p.age >= 65}
    assert {p.pk for p in people if "dujulaoren" in p.codes} == alone
    wubao = [p for p in people if "wubao" in p.codes]
    assert wubao and all(p.pk in alone for p in wubao)


def test_household_tags_cover_whole_households(people):
    by_household: dict[int, list] = {}
    for p in people:
        by_household.setdefault(p.household_id, []).append(p)
    for code in ("dibao", "kunnan"):
        for members in by_household.values():
            tagged = {code in p.codes for p in members}
            assert len(tagged) == 1, f"{code} is given to a whole household"


def test_every_household_has_a_head_who_is_a_member(people):
    members: dict[int, list] = {}
    for p in people:
        members.setdefault(p.household_id, []).append(p)
    households = list(Household.objects.select_related("building"))
    assert len(members) == len(households), "every household has members and every resident a household"
    for household in households:
        mine = members[household.pk]
        assert 1 <= len(mine) <= 6
        assert household.head_id in {p.pk for p in mine}
        assert [p.pk for p in mine if p.relation == Relation.HEAD] == [household.head_id]
        head = next(p for p in mine if p.pk == household.head_id)
        assert head.living_status == LivingStatus.RESIDENT and head.age >= 18
        assert household.building is not None
        assert household.address == household.building.address
        assert household.building.grid_id == household.grid_id
        for p in mine:
            assert p.address == household.address + household.room
            assert (p.grid_id, p.group_id, p.area_code) == (household.grid_id, household.group_id, household.area_code)
    assert Counter(p.relation for p in people).keys() >= {"head", "spouse", "child", "parent", "grandchild"}


def test_addresses_name_the_block_stairwell_and_room(people):
    assert any(re.fullmatch(r"新建社区A区\d+栋\d单元\d{3}", p.address) for p in people)
    block = re.compile(r"(新建|毕家岗|东山|南苑)社区[A-G]区\d+栋\d单元\d{3}")
    self_built = re.compile(r"(新建|毕家岗|东山|南苑)社区[A-G]区\S+?\d+号(\d{3}室)?")
    for p in people:
        assert block.fullmatch(p.address) or self_built.fullmatch(p.address), p.address


def test_household_groups_hold_7_to_12_households_or_4_to_8_shops(demo):
    groups = list(Area.objects.filter(level=Level.GROUP))
    households = Counter(Household.objects.values_list("group_id", flat=True))
    shops = Counter(Shop.objects.values_list("group_id", flat=True))
    shop_groups = [g for g in groups if g.name.endswith("（门店）")]
    assert shop_groups
    for group in groups:
        if group in shop_groups:
            assert 4 <= shops[group.pk] <= 8, group.name
            assert households[group.pk] == 0
        else:
            assert 7 <= households[group.pk] <= 12, group.name
            assert shops[group.pk] == 0


def test_everything_lies_in_its_own_area(demo):
    polygons = {a.pk: shape(a.boundary) for a in Area.objects.filter(level__in=[Level.GRID, Level.GROUP])}
    for model in (Building, Shop):
        for obj in model.objects.all():
            assert obj.area_code == obj.group.code
            assert obj.group.parent_id == obj.grid_id
            assert polygons[obj.group_id].contains(Point(obj.lng, obj.lat)), obj
    for place in Place.objects.all():
        assert place.area_code == Area.objects.get(pk=place.grid_id).code
        geometry = shape(place.geometry)
        assert geometry.is_valid and polygons[place.grid_id].contains(geometry), place.name


def test_buildings_include_self_built_houses(demo):
    per_grid: dict[int, Counter] = {}
    for building in Building.objects.all():
        per_grid.setdefault(building.grid_id, Counter())[building.use] += 1
    shares = [c[BuildingUse.SELF_BUILT] / sum(c.values()) for c in per_grid.values()]
    assert sum(0.15 <= s <= 0.35 for s in shares) >= 5, "several grids keep a cluster of 自建房"
    houses = Building.objects.filter(use=BuildingUse.SELF_BUILT)
    assert all(2 <= h.floors <= 4 and h.year_built < 2010 for h in houses)
    assert houses.filter(safety_grade__in=["C", "D"]).exists()
    assert Building.objects.filter(use=BuildingUse.COMMERCIAL).exists()
    assert Building.objects.filter(use=BuildingUse.MIXED).count() == 25


def test_shops_have_business_types_credit_codes_and_phones(demo):
    shops = list(Shop.objects.all())
    assert len({s.business_type for s in shops}) >= 10
    assert {"餐饮", "便利店", "理发", "五金", "药店"} <= {s.business_type for s in shops}
    for shop in shops:
        code = shop.licence_number
        assert len(code) == 18 and set(code) <= set(CREDIT_ALPHABET), code
        total = sum(CREDIT_ALPHABET.index(c) * w for c, w in zip(code[:17], CREDIT_WEIGHTS, strict=True))
        assert CREDIT_ALPHABET[(31 - total % 31) % 31] == code[17]
        assert shop.operator and shop.phone and shop.phone_hash
        phone_kind(shop.phone.reveal())
    assert len({s.licence_number for s in shops}) == len(shops)


def test_the_road_beside_the_park_in_xinjian_a(demo):
    park = Place.objects.get(name="新建社区A区游园")
    road = Place.objects.get(name="游园旁道路")
    assert (park.kind, road.kind) == (PlaceKind.PARK, PlaceKind.ROAD)
    assert park.grid.name == "新建社区第一网格" and road.grid_id == park.grid_id
    assert park.geometry["type"] == "Polygon" and road.geometry["type"] == "LineString"
    park_shape, road_shape = shape(park.geometry), shape(road.geometry)
    assert not road_shape.intersects(park_shape)
    assert road_shape.distance(park_shape) < 0.0003, "beside the park: within about 30 m"
    assert Place.objects.filter(kind=PlaceKind.CAMERA, name__startswith="雪亮工程").count() >= 25
    assert Place.objects.filter(kind=PlaceKind.FIRE_LANE).exists()
    assert Place.objects.filter(kind=PlaceKind.KEY_SITE).exists()


def test_one_audit_event_for_the_part(demo, people):
    event = AuditEvent.objects.get(event_type="demo.registry")
    assert event.data["residents"] == len(people)
    assert event.data["households"] == Household.objects.count()
    assert event.data["tags"]["dibao"] == sum("dibao" in p.codes for p in people)
    # Only the article's 孟庆梅 is added through the services (audited one by one), after the bulk rows.
    assert list(AuditEvent.objects.filter(event_type="resident.create").values_list("object_repr", flat=True)) == [
        "孟庆梅"
    ]
    assert Tag.objects.filter(code="dibao").exists(), "the flushed tag catalogue is restored"


# --- no full number in the database file, the audit log or the output -------------------------


def _valid_id(candidate: bytes) -> bool:
    try:
        parse_id_number(candidate.decode())
    except Exception:
        return False
    return True


def test_no_full_id_or_mobile_number_in_the_database_file(tmp_path):
    database = tmp_path / "demo.sqlite3"
    env = {
        **os.environ,
        "GRIDGOV_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{database}",  # SQLite even when the suite runs on PostgreSQL
        "GRIDGOV_DEBUG": "1",
        "GRIDGOV_LOG_LEVEL": "INFO",
        # The test's own keys, so that it can open what the subprocess sealed.
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "FIELD_HASH_KEY": django_settings.FIELD_HASH_KEY,
    }
    command = [sys.executable, "-m", "gridgov"]
    output = b""
    for args in (["migrate", "--no-input", "-v0"], ["demo", "-v2"]):
        done = subprocess.run([*command, *args], env=env, capture_output=True, timeout=600, check=False)
        assert done.returncode == 0, done.stderr.decode()[-2000:]
        output += done.stdout + done.stderr
    assert b"event=demo.registry" in output, "the audit lines are in the output too"

    with sqlite3.connect(database) as db:
        context = Resident._meta.get_field("id_number").context
        phone_contexts = {
            "resident": Resident._meta.get_field("phone").context,
            "shop": Shop._meta.get_field("phone").context,
        }
        ids = {crypto.decrypt(v, context=context) for (v,) in db.execute("SELECT id_number FROM registry_resident")}
        phones = {
            crypto.decrypt(v, context=phone_contexts[table])
            for table in ("resident", "shop")
            for (v,) in db.execute(f"SELECT phone FROM registry_{table} WHERE phone != ''")
        }
        audit = "\n".join(str(row) for row in db.execute("SELECT object_repr, data FROM core_auditevent"))
    assert len(ids) > 10_000 and len(phones) > 7_000
    mobiles = {p for p in phones if "-" not in p}
    landlines = {p.encode() for p in phones if "-" in p}
    known = {v.encode() for v in ids | mobiles}

    files = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("field_")]
    assert database in files
    for path in files:
        data = path.read_bytes()
        _assert_no_full_numbers(data, known, landlines, where=path.name)
    _assert_no_full_numbers(output, known, landlines, where="the output of gridgov demo")
    _assert_no_full_numbers(audit.encode(), known, landlines, where="the audit log")


def _assert_no_full_numbers(data: bytes, known: set[bytes], landlines: set[bytes], *, where: str) -> None:
    # Numbers of the right shape that are real ID numbers (17-digit area codes followed by a stray
    # digit byte are not: their "birth dates" are impossible).
    leaked_ids = [m for m in ID_PATTERN.findall(data) if _valid_id(m)]
    assert not leaked_ids, f"ID numbers in plain text in {where}"
    assert not MOBILE_PATTERN.findall(data), f"mobile numbers in plain text in {where}"
    # And none of the numbers the demo sealed, wherever they might hide inside a longer run of digits.
    for run in DIGIT_RUNS.findall(data):
        for width in (18, 11):
            for start in range(len(run) - width + 1):
                assert run[start : start + width] not in known, f"a sealed number in plain text in {where}"
    assert not set(LANDLINE_PATTERN.findall(data)) & landlines, f"a resident's landline in plain text in {where}"
