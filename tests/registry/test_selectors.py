"""Reads of the registry: the scope matrix over residents, exact search through the blind index, ages, tags."""

from __future__ import annotations

from datetime import date

import pytest
from django.contrib.auth.models import Permission

from gridgov.areas import services as areas
from gridgov.core.errors import NotFound
from gridgov.registry import selectors, services
from gridgov.registry.models import Tag

ID = "340404199001011294"
ID_X = "34040419900101126X"
ID_OTHER = "340404198506150025"
MOBILE = "13812345678"

# Where the matrix's residents live (attribute of the org fixture, plus s2g: a grid of the neighbouring subdistrict).
PLACES = ["g11", "grp1", "grp2", "g12", "g21", "s2g"]
EXPECTED = {
    "admin": set(PLACES),
    "center": {"g11", "grp1", "grp2", "g12", "g21"},
    "leader": {"g11", "grp1", "grp2", "g12", "g21"},
    "community": {"g11", "grp1", "grp2", "g12"},
    "grid_leader": {"g11", "grp1", "grp2"},
    "grid_worker": {"g11", "grp1", "grp2"},
    "group_leader": {"grp1"},
    # Reference-only roles see the organisation of their area, never its registry.
    "unit_handler": set(),
    "mediator": set(),
    "nobody": set(),
}
MATRIX = [(role, place, place in EXPECTED[role]) for role in EXPECTED for place in PLACES]
MATRIX_IDS = [f"{role}-{place}-{'visible' if visible else 'hidden'}" for role, place, visible in MATRIX]


@pytest.fixture
def placed(org_wide):
    """One resident in each place of PLACES; returns {place: resident}."""
    org = org_wide
    c = areas.area_create(actor=None, code="340404005001", name="邻社区", parent=org.s2)
    org.s2g = areas.area_create(actor=None, code="340404005001001", name="邻网格", parent=c)
    residents = {}
    for place in PLACES:
        area = getattr(org, place)
        location = {"group": area} if area.level == "group" else {"grid": area}
        residents[place] = services.resident_create(actor=None, name=f"居民{place}", gender="male", **location)
    return residents


def fresh(user):
    return type(user).objects.get(pk=user.pk)


def grant_restricted(user):
    user.user_permissions.add(Permission.objects.get(codename="view_restricted_tags"))
    return fresh(user)


def names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


# --- the scope matrix -------------------------------------------------------------------------


@pytest.mark.parametrize(("role", "place", "visible"), MATRIX, ids=MATRIX_IDS)
def test_resident_scope_matrix(org_wide, placed, role, place, visible):
    user = getattr(org_wide.users, role)
    resident = placed[place]
    assert selectors.resident_list(user=user).filter(pk=resident.pk).exists() is visible
    if visible:
        assert selectors.resident_get(user=user, pk=resident.pk) == resident
    else:
        with pytest.raises(NotFound) as excinfo:
            selectors.resident_get(user=user, pk=resident.pk)
        assert (excinfo.value.code, excinfo.value.status) == ("not_found", 404)


@pytest.mark.parametrize("role", sorted(EXPECTED))
def test_resident_list_is_exactly_the_scope(org_wide, placed, role):
    user = getattr(org_wide.users, role)
    assert names(selectors.resident_list(user=user)) == {f"居民{place}" for place in EXPECTED[role]}


@pytest.mark.parametrize("pk", ["abc", None, "999999999", "1 OR 1=1"])
def test_resident_get_turns_bad_keys_into_not_found(org, pk):
    with pytest.raises(NotFound):
        selectors.resident_get(user=org.users.admin, pk=pk)


def test_the_other_registry_lists_follow_the_same_scope(org):
    point = {"type": "Point", "coordinates": [117.005, 32.605]}
    for grid in (org.g11, org.g21):
        household = services.household_create(actor=None, grid=grid, address=f"{grid.name}路")
        building = services.building_create(actor=None, grid=grid, address=f"{grid.name}路", use="residential")
        shop = services.shop_create(actor=None, grid=grid, name=f"{grid.name}店", business_type="餐饮")
        place = services.place_create(actor=None, grid=grid, kind="park", name=f"{grid.name}园", geometry=point)
        if grid == org.g21:
            outside = {"household": household, "building": building, "shop": shop, "place": place}
    user = org.users.grid_worker
    for kind, obj in outside.items():
        rows = list(getattr(selectors, f"{kind}_list")(user=user))
        assert len(rows) == 1 and rows[0].grid == org.g11
        with pytest.raises(NotFound):
            getattr(selectors, f"{kind}_get")(user=user, pk=obj.pk)
        assert getattr(selectors, f"{kind}_get")(user=org.users.center, pk=obj.pk) == obj
    for kind in outside:
        assert not getattr(selectors, f"{kind}_list")(user=org.users.mediator).exists()


def test_household_members_are_scoped(org):
    household = services.household_create(actor=None, grid=org.g11, address="幸福路 1 号")
    a = services.resident_create(actor=None, household=household, name="甲", id_number=ID)
    b = services.resident_create(actor=None, household=household, name="乙", id_number=ID_OTHER)
    assert list(selectors.household_members(user=org.users.grid_worker, household=household)) == [a, b]
    assert not selectors.household_members(user=org.users.mediator, household=household).exists()


# --- search -----------------------------------------------------------------------------------


@pytest.fixture
def people(org):
    return {
        "zhang": services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE),
        "zhang2": services.resident_create(actor=None, grid=org.g11, name="张三丰", id_number=ID_X),
        "li": services.resident_create(
            actor=None, grid=org.g11, name="李张", id_number=ID_OTHER, phone="(0554)2669359"
        ),
    }


def search(user, text: str) -> set[str]:
    return names(selectors.resident_list(user=user).filter(selectors.resident_search_q(text)))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (ID, {"张三"}),
        (f" {ID[:6]} {ID[6:14]} {ID[14:]} ", {"张三"}),
        (ID_X.lower(), {"张三丰"}),
        ("３４０４０４１９９００１０１１２６Ｘ", {"张三丰"}),
        (MOBILE, {"张三"}),
        ("138 1234 5678", {"张三"}),
        ("+86 138 1234 5678", {"张三"}),
        ("+8613812345678", {"张三"}),
        ("138-1234-5678", {"张三"}),
        ("0554-2669359", {"李张"}),
        ("0554 2669359", {"李张"}),
        ("05542669359", {"李张"}),
        ("张", {"张三", "张三丰"}),
        ("张三", {"张三", "张三丰"}),
        ("张三丰", {"张三丰"}),
        ("李", {"李张"}),
        ("", {"张三", "张三丰", "李张"}),
        ("   ", {"张三", "张三丰", "李张"}),
    ],
)
def test_search(org, people, text, expected):
    assert search(org.users.grid_worker, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        ID[:17],  # part of an ID number: no prefix search on sealed values
        ID[:6],
        ID[-4:],
        MOBILE[:7],
        "5678",
        "1234",
        "三",  # names match by prefix only
        "340404199001011295",  # a wrong check digit finds nobody
    ],
)
def test_partial_numbers_find_nobody(org, people, text):
    assert search(org.users.grid_worker, text) == set()


def test_search_stays_inside_the_scope(org, people):
    services.resident_create(actor=None, grid=org.g21, name="王五", id_number="11010519491231002X")
    assert search(org.users.grid_worker, "11010519491231002X") == set()
    assert search(org.users.center, "11010519491231002X") == {"王五"}
    assert search(org.users.group_leader, ID) == set()


def test_find_by_id_number(org, people):
    found = selectors.resident_find_by_id_number(user=org.users.grid_worker, id_number=ID.lower())
    assert found == people["zhang"]
    assert selectors.resident_find_by_id_number(user=org.users.mediator, id_number=ID) is None
    assert selectors.resident_find_by_id_number(user=org.users.grid_worker, id_number=ID_OTHER[:17] + "9") is None


def test_search_by_id_number_uses_the_blind_index_only(org, people, django_assert_max_num_queries):
    user = fresh(org.users.grid_worker)
    selectors.resident_list(user=user)  # the scope, once
    q = selectors.resident_search_q(ID)
    assert "id_number_hash" in str(q)
    with django_assert_max_num_queries(4):
        assert [r.name for r in selectors.resident_list(user=user).filter(q)] == ["张三"]


# --- ages -------------------------------------------------------------------------------------

BIRTHDAYS = [
    date(2000, 2, 28),
    date(2000, 2, 29),
    date(2000, 3, 1),
    date(2001, 2, 28),
    date(2001, 3, 1),
    date(1960, 2, 29),
    date(1964, 2, 29),
    date(1964, 3, 1),
    date(2023, 2, 28),
    date(2023, 3, 1),
    date(2024, 2, 29),
]


def age_on(birth: date, today: date) -> int:
    """Age in whole years; someone born on 29 February has their birthday on 1 March in common years."""
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


@pytest.fixture
def ages(org):
    for birth in BIRTHDAYS:
        services.resident_create(actor=None, grid=org.g11, name=birth.isoformat(), gender="male", birth_date=birth)


@pytest.mark.parametrize(
    "today", [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2025, 2, 28), date(2025, 3, 1)]
)
@pytest.mark.parametrize(
    ("age_min", "age_max"), [(24, None), (None, 23), (24, 24), (25, 25), (0, 0), (1, None), (60, None), (None, None)]
)
def test_age_range_boundaries(org, ages, today, age_min, age_max):
    q = selectors.age_range_q(age_min=age_min, age_max=age_max, today=today)
    found = names(selectors.resident_list(user=org.users.grid_worker).filter(q))
    expected = {
        b.isoformat()
        for b in BIRTHDAYS
        if b <= today
        and (age_min is None or age_on(b, today) >= age_min)
        and (age_max is None or age_on(b, today) <= age_max)
    }
    if age_min is None:  # nothing excludes a birth date after `today`: the services refuse those
        expected |= {b.isoformat() for b in BIRTHDAYS if b > today}
    assert found == expected


def test_age_range_on_a_birthday(org):
    services.resident_create(actor=None, grid=org.g11, name="寿星", gender="male", birth_date=date(1964, 6, 1))
    user = org.users.grid_worker
    on = selectors.age_range_q(age_min=60, age_max=60, today=date(2024, 6, 1))
    before = selectors.age_range_q(age_min=60, today=date(2024, 5, 31))
    assert names(selectors.resident_list(user=user).filter(on)) == {"寿星"}
    assert not selectors.resident_list(user=user).filter(before).exists()


def test_residents_without_a_birth_date_have_no_age(org):
    services.resident_create(actor=None, grid=org.g11, name="无生日", gender="female")
    q = selectors.age_range_q(age_min=0, age_max=200)
    assert not selectors.resident_list(user=org.users.grid_worker).filter(q).exists()
    assert selectors.resident_list(user=org.users.grid_worker).filter(selectors.age_range_q()).exists()


# --- narrowing to an area ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "area", "expected"),
    [
        ("community", "c1", {"g11", "grp1", "grp2", "g12"}),
        ("community", "g11", {"g11", "grp1", "grp2"}),
        ("community", "grp1", {"grp1"}),
        ("community", "g12", {"g12"}),
        ("community", "c2", set()),  # outside the scope: narrowing never widens
        ("community", "g21", set()),
        ("grid_worker", "c1", {"g11", "grp1", "grp2"}),
        ("grid_worker", "grp2", {"grp2"}),
        ("center", "c2", {"g21"}),
        ("center", "s", {"g11", "grp1", "grp2", "g12", "g21"}),
        ("admin", "s2", {"s2g"}),
    ],
)
def test_in_area_narrows_the_scoped_list(org_wide, placed, role, area, expected):
    user = getattr(org_wide.users, role)
    queryset = selectors.in_area(selectors.resident_list(user=user), getattr(org_wide, area).code)
    assert names(queryset) == {f"居民{place}" for place in expected}


def test_in_area_of_the_last_code_of_a_level(org):
    """The subtree of ...009 ends before ...010, and ...999 has no sibling after it."""
    g19 = areas.area_create(actor=None, code="340404004001009", name="九网格", parent=org.c1)
    g110 = areas.area_create(actor=None, code="340404004001010", name="十网格", parent=org.c1)
    g999 = areas.area_create(actor=None, code="340404004001999", name="末网格", parent=org.c1)
    for grid in (g19, g110, g999):
        services.resident_create(actor=None, grid=grid, name=grid.name, gender="male")
    listed = selectors.resident_list(user=org.users.community)
    assert names(selectors.in_area(listed, g19.code)) == {"九网格"}
    assert names(selectors.in_area(listed, g110.code)) == {"十网格"}
    assert names(selectors.in_area(listed, g999.code)) == {"末网格"}


# --- tags -------------------------------------------------------------------------------------


def restricted_codes() -> set[str]:
    return set(Tag.objects.filter(kind="key").values_list("code", flat=True))


@pytest.mark.parametrize("role", ["center", "leader", "community", "grid_worker", "group_leader", "unit_handler"])
def test_tag_list_hides_restricted_tags(org, role):
    user = getattr(org.users, role)
    codes = set(selectors.tag_list(user=user).values_list("code", flat=True))
    assert codes == set(Tag.objects.exclude(kind="key").values_list("code", flat=True))
    assert restricted_codes() and not codes & restricted_codes()
    with_permission = set(selectors.tag_list(user=grant_restricted(user)).values_list("code", flat=True))
    assert with_permission == set(Tag.objects.values_list("code", flat=True))


def test_tag_list_for_admin_and_nobody(org):
    assert selectors.tag_list(user=org.users.admin).count() == Tag.objects.count()
    assert not selectors.tag_list(user=org.users.nobody).exists()
    # A permission without a post still shows nothing: the catalogue is for people who hold a post.
    assert not selectors.tag_list(user=grant_restricted(org.users.nobody)).exists()


def test_tag_list_keeps_the_catalogue_order(org):
    orders = list(selectors.tag_list(user=org.users.grid_worker).values_list("order", flat=True))
    assert orders == sorted(orders)


def test_visible_tags_hide_restricted_tags_on_residents(org):
    tags = list(Tag.objects.filter(code__in=["dibao", "dangyuan", "xidu"]))
    resident = services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, tags=tags)
    worker = fresh(org.users.grid_worker)
    [row] = selectors.resident_list(user=worker)
    assert {t.code for t in row.tags.all()} == {"dibao", "dangyuan"}
    [row] = selectors.resident_list(user=grant_restricted(worker))
    assert {t.code for t in row.tags.all()} == {"dibao", "dangyuan", "xidu"}
    # The detail read uses the same prefetch.
    detail = selectors.resident_get(user=worker, pk=resident.pk)
    assert "xidu" not in {t.code for t in detail.tags.all()}


def test_resident_list_queries_do_not_grow_with_the_rows(org, django_assert_max_num_queries):
    tags = list(Tag.objects.filter(code__in=["dibao", "dangyuan"]))
    household = services.household_create(actor=None, group=org.grp1, address="幸福路 1 号")

    def read() -> list:
        user = fresh(org.users.grid_worker)
        with django_assert_max_num_queries(6) as captured:
            rows = [
                (
                    r.grid.name,
                    r.group and r.group.name,
                    r.household and r.household.address,
                    [t.code for t in r.tags.all()],
                )
                for r in selectors.resident_list(user=user)
            ]
        return rows, len(captured.captured_queries)

    services.resident_create(actor=None, household=household, name="甲", gender="male", tags=tags)
    read()  # the worker's scope is read once per process, then kept
    few, few_queries = read()
    for i in range(15):
        services.resident_create(actor=None, household=household, name=f"乙{i}", gender="male", tags=tags)
    many, many_queries = read()
    assert len(few) == 1 and len(many) == 16
    assert many_queries == few_queries


def test_resident_values_are_masked_in_lists(org):
    services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    [row] = selectors.resident_list(user=org.users.grid_worker)
    assert str(row.id_number) == "340404********1294"
    assert f"{row.phone}" == "138****5678"
