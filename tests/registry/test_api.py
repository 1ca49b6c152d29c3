"""/api/v1/residents/, /households/, /buildings/, /shops/, /places/, /tags/ over HTTP: masked output,
scope per role, filters and search, writes through the services, error bodies, reveal and its audit,
query counts and the OpenAPI document."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from django.db import connection

from gridgov.core.models import AuditEvent
from gridgov.core.validators import id_check_digit
from gridgov.registry import services
from gridgov.registry.models import Building, Household, Place, Resident, Shop, Tag
from tests.conftest import api_headers, square

FULL_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")
FULL_MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def id_number(birth: str = "19800101", seq: str = "123") -> str:
    """A valid GB 11643 number of region 340404 (the 17th digit odd: male, even: female)."""
    first17 = "340404" + birth + seq
    return first17 + id_check_digit(first17)


def wrong_checksum(number: str) -> str:
    last = "0" if number[-1] != "0" else "1"
    return number[:-1] + last


def tag(code: str) -> Tag:
    return Tag.objects.get(code=code)


def post(client, url: str, data: dict, headers: dict):
    return client.post(url, data, content_type="application/json", **headers)


def patch(client, url: str, data: dict, headers: dict):
    return client.patch(url, data, content_type="application/json", **headers)


def put(client, url: str, data: dict, headers: dict):
    return client.put(url, data, content_type="application/json", **headers)


def assert_error(response, status: int, code: str, *fields: str) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "fields"}, body
    assert body["code"] == code, body
    for name in fields:
        assert name in body["fields"], body
    return body


def assert_no_clear_personal_data(text: str) -> None:
    assert not FULL_ID.search(text), FULL_ID.search(text)
    assert not FULL_MOBILE.search(text), FULL_MOBILE.search(text)


def counts() -> tuple[int, ...]:
    return (
        Resident.objects.count(),
        Household.objects.count(),
        Building.objects.count(),
        Shop.objects.count(),
        Place.objects.count(),
        AuditEvent.objects.exclude(event_type__startswith="auth.").count(),
    )


@pytest.fixture
def reg(org):
    """Residents in G11 (one in group G11-01), G12 and G21, made through the services."""
    ids = {
        "zhang": id_number("19500315", "011"),
        "li": id_number("19900607", "022"),
        "wang": id_number("19800101", "033"),
        "zhao": id_number("20100909", "044"),
    }
    org.ids = ids
    org.phones = {"zhang": "13800001111", "li": "13900002222", "wang": "0554-2669359", "zhao": "15000004444"}
    org.zhang = services.resident_create(
        actor=None,
        grid=org.g11,
        group=org.grp1,
        name="张三",
        id_number=ids["zhang"],
        phone=org.phones["zhang"],
        address="一网格1号",
        tags=[tag("dibao"), tag("dujulaoren"), tag("xidu")],
    )
    org.li = services.resident_create(
        actor=None, grid=org.g11, name="李四", id_number=ids["li"], phone=org.phones["li"], tags=[tag("dangyuan")]
    )
    org.wang = services.resident_create(
        actor=None,
        grid=org.g12,
        name="王五",
        id_number=ids["wang"],
        phone=org.phones["wang"],
        living_status="moved_out",
    )
    org.zhao = services.resident_create(
        actor=None, grid=org.g21, name="赵六", id_number=ids["zhao"], phone="15000004444"
    )
    return org


def names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {r["name"] for r in response.json()["results"]}


# Lists and details: masked, scoped


def test_resident_list_items_are_masked(reg, client):
    response = client.get("/api/v1/residents/", **api_headers(client, "center"))
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 4
    assert_no_clear_personal_data(response.content.decode())
    item = next(r for r in body["results"] if r["name"] == "张三")
    assert item["id"] == reg.zhang.pk
    assert item["id_number"] == reg.ids["zhang"][:6] + "********" + reg.ids["zhang"][-4:]
    assert item["phone"] == "138****1111"
    assert item["gender"] == "male"
    assert item["birth_date"] == "1950-03-15"
    today = date.today()
    assert item["age"] == today.year - 1950 - ((today.month, today.day) < (3, 15))
    assert item["grid"] == {"id": reg.g11.pk, "code": reg.g11.code, "name": "一网格"}
    assert item["group"] == {"id": reg.grp1.pk, "code": reg.grp1.code, "name": "一组"}
    assert item["household"] is None
    assert item["relation"] == ""
    assert item["address"] == "一网格1号"
    assert item["living_status"] == "resident"
    assert item["notes"] == ""
    # The center holds no key-person permission: the restricted tag is not shown.
    assert item["tags"] == [
        {"code": "dibao", "name": "低保", "kind": "care"},
        {"code": "dujulaoren", "name": "独居老人", "kind": "care"},
    ]
    li = next(r for r in body["results"] if r["name"] == "李四")
    assert li["group"] is None
    assert li["gender"] == "female"
    wang = next(r for r in body["results"] if r["name"] == "王五")
    assert wang["phone"] == "0554-***9359"


def test_resident_detail_is_masked(reg, client):
    response = client.get(f"/api/v1/residents/{reg.li.pk}/", **api_headers(client, "wg01"))
    assert response.status_code == 200
    body = response.json()
    assert body["name"] == "李四"
    assert body["phone"] == "139****2222"
    assert body["tags"] == [{"code": "dangyuan", "name": "党员", "kind": "party"}]
    assert_no_clear_personal_data(response.content.decode())


def test_restricted_tags_show_with_the_permission(reg, client):
    from django.contrib.auth.models import Permission

    reg.users.center.user_permissions.add(Permission.objects.get(codename="view_restricted_tags"))
    body = client.get(f"/api/v1/residents/{reg.zhang.pk}/", **api_headers(client, "center")).json()
    assert [t["code"] for t in body["tags"]] == ["dibao", "dujulaoren", "xidu"]


@pytest.mark.parametrize(
    ("username", "expected"),
    [
        ("admin", {"张三", "李四", "王五", "赵六"}),
        ("center", {"张三", "李四", "王五", "赵六"}),
        ("leader", {"张三", "李四", "王五", "赵六"}),
        ("sq01", {"张三", "李四", "王五"}),
        ("gl01", {"张三", "李四"}),
        ("wg01", {"张三", "李四"}),
        ("lb01", {"张三"}),
        ("unit01", set()),
        ("tj01", set()),
        ("nobody", set()),
    ],
)
def test_resident_list_is_scoped(reg, client, username, expected):
    assert names(client.get("/api/v1/residents/", **api_headers(client, username))) == expected


def test_resident_detail_outside_the_scope_is_not_found(reg, client):
    worker = api_headers(client, "wg01")
    assert client.get(f"/api/v1/residents/{reg.li.pk}/", **worker).status_code == 200
    for resident in (reg.wang, reg.zhao):
        assert_error(client.get(f"/api/v1/residents/{resident.pk}/", **worker), 404, "not_found")
    assert_error(client.get("/api/v1/residents/999999/", **worker), 404, "not_found")
    unit = api_headers(client, "unit01")
    assert_error(client.get(f"/api/v1/residents/{reg.zhang.pk}/", **unit), 404, "not_found")


def test_anonymous_callers_are_refused(reg, client):
    assert_error(client.get("/api/v1/residents/"), 401, "not_authenticated")
    assert_error(client.post(f"/api/v1/residents/{reg.zhang.pk}/reveal/"), 401, "not_authenticated")


# Filters and search


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"living_status": "moved_out"}, {"王五"}),
        ({"living_status": "resident"}, {"张三", "李四", "赵六"}),
        ({"gender": "female"}, {"李四", "赵六"}),
        ({"gender": "male"}, {"张三", "王五"}),
        ({"age_min": 60}, {"张三"}),
        ({"age_max": 20}, {"赵六"}),
        ({"age_min": 30, "age_max": 50}, {"李四", "王五"}),
        ({"q": "张"}, {"张三"}),
        ({"q": "李四"}, {"李四"}),
        ({"q": "三"}, set()),
    ],
)
def test_resident_filters(reg, client, params, expected):
    assert names(client.get("/api/v1/residents/", params, **api_headers(client, "center"))) == expected


def test_resident_filter_by_area_subtree_grid_and_group(reg, client):
    headers = api_headers(client, "center")
    assert names(client.get("/api/v1/residents/", {"area": reg.c1.pk}, **headers)) == {"张三", "李四", "王五"}
    assert names(client.get("/api/v1/residents/", {"area": reg.g11.pk}, **headers)) == {"张三", "李四"}
    assert names(client.get("/api/v1/residents/", {"area": reg.grp1.pk}, **headers)) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"grid": reg.g12.pk}, **headers)) == {"王五"}
    assert names(client.get("/api/v1/residents/", {"group": reg.grp1.pk}, **headers)) == {"张三"}


def test_area_filter_never_widens_the_scope(reg, client):
    worker = api_headers(client, "wg01")
    response = client.get("/api/v1/residents/", {"area": reg.c2.pk}, **worker)
    assert_error(response, 400, "invalid", "area")
    assert names(client.get("/api/v1/residents/", {"area": reg.g11.pk}, **worker)) == {"张三", "李四"}


def test_resident_filter_by_tags(reg, client):
    headers = api_headers(client, "center")
    dibao, dujulaoren, dangyuan = tag("dibao"), tag("dujulaoren"), tag("dangyuan")
    assert names(client.get("/api/v1/residents/", {"tags": dibao.pk}, **headers)) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"tags": dangyuan.pk}, **headers)) == {"李四"}
    both = client.get("/api/v1/residents/", {"tags": [dibao.pk, dujulaoren.pk]}, **headers)
    assert names(both) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"tags": [dibao.pk, dangyuan.pk]}, **headers)) == set()


def test_restricted_tag_filter_is_refused_without_the_permission(reg, client):
    response = client.get("/api/v1/residents/", {"tags": tag("xidu").pk}, **api_headers(client, "center"))
    assert_error(response, 400, "invalid", "tags")


def test_search_by_full_id_number(reg, client):
    headers = api_headers(client, "center")
    assert names(client.get("/api/v1/residents/", {"q": reg.ids["li"]}, **headers)) == {"李四"}
    spaced = f"{reg.ids['li'][:6]} {reg.ids['li'][6:14]} {reg.ids['li'][14:]}"
    assert names(client.get("/api/v1/residents/", {"q": spaced}, **headers)) == {"李四"}
    assert names(client.get("/api/v1/residents/", {"q": wrong_checksum(reg.ids["li"])}, **headers)) == set()
    # Part of a number finds nothing: exact search only, through the blind index.
    assert names(client.get("/api/v1/residents/", {"q": reg.ids["li"][:10]}, **headers)) == set()


def test_search_by_full_phone_number(reg, client):
    headers = api_headers(client, "center")
    assert names(client.get("/api/v1/residents/", {"q": "13800001111"}, **headers)) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"q": "+86 138 0000 1111"}, **headers)) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"q": "0554-2669359"}, **headers)) == {"王五"}
    assert names(client.get("/api/v1/residents/", {"q": "1380000"}, **headers)) == set()


def test_search_stays_in_the_scope(reg, client):
    worker = api_headers(client, "wg01")
    assert names(client.get("/api/v1/residents/", {"q": reg.ids["zhao"]}, **worker)) == set()
    assert names(client.get("/api/v1/residents/", {"q": "15000004444"}, **worker)) == set()
    assert names(client.get("/api/v1/residents/", {"q": reg.ids["zhang"]}, **worker)) == {"张三"}


def test_resident_pagination(reg, client):
    headers = api_headers(client, "center")
    first = client.get("/api/v1/residents/", {"page_size": 3}, **headers).json()
    assert first["count"] == 4 and len(first["results"]) == 3 and "page=2" in first["next"]
    second = client.get("/api/v1/residents/", {"page_size": 3, "page": 2}, **headers).json()
    assert len(second["results"]) == 1
    assert {r["id"] for r in first["results"] + second["results"]} == {
        reg.zhang.pk,
        reg.li.pk,
        reg.wang.pk,
        reg.zhao.pk,
    }


# Creating residents


def test_create_resident(org, client):
    number = id_number("19851224", "057")
    response = post(
        client,
        "/api/v1/residents/",
        {
            "name": "孙七",
            "grid": org.g11.pk,
            "group": org.grp2.pk,
            "id_number": number,
            "phone": "13612345678",
            "gender": "male",
            "birth_date": "1985-12-24",
            "relation": "head",
            "address": "一网格2号",
            "notes": "新搬入",
            "tags": ["dangyuan", "zhiyuanzhe"],
        },
        api_headers(client, "wg01"),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert_no_clear_personal_data(response.content.decode())
    assert body["name"] == "孙七"
    assert body["id_number"] == "340404********" + number[-4:]
    assert body["phone"] == "136****5678"
    assert body["grid"]["code"] == org.g11.code
    assert body["group"]["code"] == org.grp2.code
    assert [t["code"] for t in body["tags"]] == ["dangyuan", "zhiyuanzhe"]
    resident = Resident.objects.get(pk=body["id"])
    assert resident.area_code == org.grp2.code
    assert resident.id_number.reveal() == number
    assert resident.phone.reveal() == "13612345678"
    # Sealed at rest: the raw columns hold ciphertext, never the numbers.
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone FROM registry_resident WHERE id = %s", [resident.pk])
        raw_id, raw_phone = cursor.fetchone()
    for raw in (raw_id, raw_phone):
        assert raw.startswith("g1$")
    assert number not in raw_id and number[:14] not in raw_id and number[6:14] not in raw_id
    assert "13612345678" not in raw_phone and "12345678" not in raw_phone
    event = AuditEvent.objects.get(event_type="resident.create", object_id=str(resident.pk))
    assert event.actor == org.users.grid_worker
    assert_no_clear_personal_data(json.dumps(event.data) + event.object_repr)


def test_create_resident_derives_gender_and_birth_date_from_the_id_number(org, client):
    response = post(
        client,
        "/api/v1/residents/",
        {"name": "周八", "grid": org.g11.pk, "id_number": id_number("20000229", "068").lower()},
        api_headers(client, "wg01"),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["gender"] == "female"
    assert body["birth_date"] == "2000-02-29"
    assert body["group"] is None


def test_create_resident_in_a_household_takes_its_grid(org, client):
    household = services.household_create(actor=None, grid=org.g11, group=org.grp1, address="一网格3号")
    response = post(
        client,
        "/api/v1/residents/",
        {"name": "吴九", "gender": "male", "household": household.pk, "relation": "head"},
        api_headers(client, "wg01"),
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["household"] == household.pk
    assert body["grid"]["id"] == org.g11.pk
    assert body["group"]["id"] == org.grp1.pk


VALID = {"name": "郑十", "id_number": id_number("19700707", "079"), "phone": "13712345678", "gender": "male"}


@pytest.mark.parametrize(
    ("changes", "field", "code"),
    [
        ({"id_number": wrong_checksum(VALID["id_number"])}, "id_number", "invalid"),
        ({"id_number": "34040419700707"}, "id_number", "invalid"),
        ({"gender": "female"}, "gender", "invalid"),
        ({"gender": "unknown"}, "gender", "invalid"),
        ({"birth_date": "1971-07-07"}, "birth_date", "invalid"),
        ({"birth_date": "7/7/1970"}, "birth_date", "invalid"),
        ({"phone": "12345"}, "phone", "invalid"),
        ({"phone": "1381234567"}, "phone", "invalid"),
        ({"name": ""}, "name", "invalid"),
        ({"name": None}, "name", "invalid"),
        ({"name": "名" * 51}, "name", "invalid"),
        ({"tags": ["no_such_tag"]}, "tags", "invalid"),
        ({"tags": "dibao"}, "tags", "invalid"),
        ({"tags": ["xidu"]}, "tags", "invalid"),  # restricted: does not exist for a grid worker
        ({"living_status": "gone"}, "living_status", "invalid"),
        ({"relation": "boss"}, "relation", "invalid"),
    ],
)
def test_create_resident_refused(org, client, changes, field, code):
    headers = api_headers(client, "wg01")
    before = counts()
    data = {**VALID, "grid": org.g11.pk, **changes}
    response = post(client, "/api/v1/residents/", data, headers)
    body = assert_error(response, 400, code, field)
    assert counts() == before
    # Messages never repeat the numbers they refuse.
    assert_no_clear_personal_data(response.content.decode())
    assert VALID["id_number"][:14] not in json.dumps(body)


def test_create_resident_without_a_name_field(org, client):
    data = {k: v for k, v in VALID.items() if k != "name"}
    before = counts()
    response = post(client, "/api/v1/residents/", {**data, "grid": org.g11.pk}, api_headers(client, "wg01"))
    assert_error(response, 400, "invalid", "name")
    assert counts() == before


def test_create_resident_reports_every_problem_at_once(org, client):
    data = {"name": "郑十", "grid": org.g11.pk, "id_number": VALID["id_number"], "gender": "female", "phone": "123"}
    body = assert_error(post(client, "/api/v1/residents/", data, api_headers(client, "wg01")), 400, "invalid")
    assert {"gender", "phone"} <= set(body["fields"])


@pytest.mark.parametrize(
    ("grid", "group", "field"),
    [
        ("g21", None, "grid"),  # another community
        ("g12", None, "grid"),  # the neighbouring grid
        ("c1", None, "grid"),  # not a grid
        (None, None, "grid"),  # no grid at all
        ("g11", "no-such", "group"),
    ],
)
def test_create_resident_outside_the_scope_is_a_field_error(org, client, grid, group, field):
    headers = api_headers(client, "wg01")
    before = counts()
    data = {**VALID}
    if grid:
        data["grid"] = getattr(org, grid).pk
    if group:
        data["group"] = 999999
    body = assert_error(post(client, "/api/v1/residents/", data, headers), 400, body_code(grid), field)
    assert counts() == before
    assert "三网格" not in json.dumps(body, ensure_ascii=False)


def body_code(grid: str | None) -> str:
    # A grid the caller cannot name is the serializer's error; no grid at all is the service's.
    return "invalid" if grid else "invalid_area"


def test_create_resident_with_a_group_of_another_grid(org, client):
    headers = api_headers(client, "sq01")
    before = counts()
    response = post(client, "/api/v1/residents/", {**VALID, "grid": org.g12.pk, "group": org.grp1.pk}, headers)
    assert_error(response, 400, "invalid_area", "group")
    assert counts() == before


def test_create_resident_with_a_household_of_another_grid(org, client):
    household = services.household_create(actor=None, grid=org.g12, address="二网格1号")
    before = counts()
    response = post(
        client,
        "/api/v1/residents/",
        {**VALID, "grid": org.g11.pk, "household": household.pk},
        api_headers(client, "sq01"),
    )
    assert_error(response, 400, "invalid_area", "household")
    assert counts() == before


def test_create_resident_with_a_household_outside_the_scope(org, client):
    household = services.household_create(actor=None, grid=org.g21, address="三网格1号")
    response = post(client, "/api/v1/residents/", {**VALID, "household": household.pk}, api_headers(client, "wg01"))
    assert_error(response, 400, "invalid", "household")


def test_create_resident_needs_a_writing_role(org, client):
    before = counts()
    response = post(client, "/api/v1/residents/", {**VALID, "grid": org.g11.pk}, api_headers(client, "leader"))
    assert_error(response, 403, "forbidden")
    # A group leader sees the group, not the grid: the grid is not a name they can use.
    group_leader = api_headers(client, "lb01")
    assert_error(
        post(client, "/api/v1/residents/", {**VALID, "grid": org.g11.pk}, group_leader), 400, "invalid", "grid"
    )
    response = post(client, "/api/v1/residents/", {**VALID, "group": org.grp1.pk}, group_leader)
    assert response.status_code in (403, 404), response.content
    assert set(response.json()) == {"code", "message", "fields"}
    assert counts() == before


@pytest.mark.parametrize("username", ["unit01", "tj01"])
def test_reference_roles_cannot_create_residents(org, client, username):
    before = counts()
    response = post(client, "/api/v1/residents/", {**VALID, "grid": org.g11.pk}, api_headers(client, username))
    assert response.status_code in (403, 404), response.content
    assert set(response.json()) == {"code", "message", "fields"}
    assert counts() == before


def test_create_resident_with_a_restricted_tag_needs_the_permission(org, client):
    from django.contrib.auth.models import Permission

    org.users.community.user_permissions.add(Permission.objects.get(codename="view_restricted_tags"))
    response = post(
        client, "/api/v1/residents/", {**VALID, "grid": org.g11.pk, "tags": ["xidu"]}, api_headers(client, "sq01")
    )
    assert response.status_code == 201, response.content
    assert [t["code"] for t in response.json()["tags"]] == ["xidu"]


def test_duplicate_id_number_is_a_conflict(reg, client):
    before = counts()
    response = post(
        client,
        "/api/v1/residents/",
        {"name": "张三二", "grid": reg.g11.pk, "id_number": reg.ids["zhang"]},
        api_headers(client, "wg01"),
    )
    body = assert_error(response, 409, "duplicate_id_number", "id_number", "existing_resident")
    assert body["fields"]["existing_resident"] == [f"/registry/residents/{reg.zhang.pk}/"]
    assert counts() == before
    assert_no_clear_personal_data(response.content.decode())


@pytest.mark.parametrize("url", ["/api/v1/residents/", "/api/v1/households/", "/api/v1/shops/"])
def test_malformed_bodies_are_error_bodies(org, client, url):
    headers = api_headers(client, "wg01")
    before = counts()
    assert_error(client.post(url, "{not json", content_type="application/json", **headers), 400, "malformed_request")
    for body in ("5", "[]", '"head"', "null"):
        response = client.post(url, body, content_type="application/json", **headers)
        assert_error(response, 400, "invalid", "non_field_errors")
    assert counts() == before


# Updating residents


def test_patch_keeps_the_id_number_and_audits_field_names_only(reg, client):
    headers = api_headers(client, "wg01")
    response = patch(client, f"/api/v1/residents/{reg.zhang.pk}/", {"name": "张三丰", "notes": "独居"}, headers)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "张三丰"
    assert body["notes"] == "独居"
    assert body["id_number"] == reg.ids["zhang"][:6] + "********" + reg.ids["zhang"][-4:]
    resident = Resident.objects.get(pk=reg.zhang.pk)
    assert resident.id_number.reveal() == reg.ids["zhang"]
    assert resident.phone.reveal() == "13800001111"
    event = AuditEvent.objects.filter(event_type="resident.update", object_id=str(resident.pk)).get()
    assert event.data == {"fields": ["name", "notes"]}


def test_patch_of_the_numbers_audits_their_names_not_their_values(reg, client):
    headers = api_headers(client, "wg01")
    new_id = id_number("19500315", "031")
    response = patch(
        client, f"/api/v1/residents/{reg.zhang.pk}/", {"id_number": new_id, "phone": "13311112222"}, headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == "133****2222"
    resident = Resident.objects.get(pk=reg.zhang.pk)
    assert resident.id_number.reveal() == new_id
    assert resident.phone.reveal() == "13311112222"
    event = AuditEvent.objects.get(event_type="resident.update", object_id=str(resident.pk))
    assert event.data == {"fields": ["id_number", "phone"]}
    text = json.dumps(event.data) + event.object_repr
    assert new_id not in text and reg.ids["zhang"] not in text and "13311112222" not in text
    assert_no_clear_personal_data(text)
    # Findable by the new number only.
    assert names(client.get("/api/v1/residents/", {"q": new_id}, **headers)) == {"张三"}
    assert names(client.get("/api/v1/residents/", {"q": reg.ids["zhang"]}, **headers)) == set()


def test_patch_with_an_empty_phone_removes_it(reg, client):
    response = patch(client, f"/api/v1/residents/{reg.li.pk}/", {"phone": ""}, api_headers(client, "wg01"))
    assert response.status_code == 200, response.content
    assert response.json()["phone"] == ""
    resident = Resident.objects.get(pk=reg.li.pk)
    assert not resident.phone and resident.phone_hash is None
    assert resident.id_number.reveal() == reg.ids["li"]
    assert AuditEvent.objects.get(event_type="resident.update").data == {"fields": ["phone"]}


def test_patch_tags_by_code_keeps_restricted_tags_the_caller_cannot_see(reg, client):
    response = patch(client, f"/api/v1/residents/{reg.zhang.pk}/", {"tags": ["canji"]}, api_headers(client, "wg01"))
    assert response.status_code == 200, response.content
    assert response.json()["tags"] == [{"code": "canji", "name": "残疾", "kind": "care"}]
    assert set(Resident.objects.get(pk=reg.zhang.pk).tags.values_list("code", flat=True)) == {"canji", "xidu"}


def test_patch_refused_leaves_the_record_as_it_was(reg, client):
    headers = api_headers(client, "wg01")
    before = counts()
    response = patch(client, f"/api/v1/residents/{reg.li.pk}/", {"gender": "male", "name": "改名"}, headers)
    assert_error(response, 400, "invalid", "gender")
    taken = {"id_number": reg.ids["zhang"], "gender": "male", "birth_date": "1950-03-15"}
    response = patch(client, f"/api/v1/residents/{reg.li.pk}/", taken, headers)
    assert_error(response, 409, "duplicate_id_number", "existing_resident")
    assert counts() == before
    assert Resident.objects.get(pk=reg.li.pk).name == "李四"


def test_patch_moves_a_resident_within_the_scope(reg, client):
    headers = api_headers(client, "sq01")
    response = patch(client, f"/api/v1/residents/{reg.li.pk}/", {"grid": reg.g12.pk}, headers)
    assert response.status_code == 200, response.content
    assert response.json()["grid"]["id"] == reg.g12.pk
    assert Resident.objects.get(pk=reg.li.pk).area_code == reg.g12.code
    worker = api_headers(client, "wg01")
    assert_error(patch(client, f"/api/v1/residents/{reg.zhang.pk}/", {"grid": reg.g12.pk}, worker), 400, "invalid")


def test_patch_outside_the_scope_is_not_found(reg, client):
    before = counts()
    headers = api_headers(client, "wg01")
    assert_error(patch(client, f"/api/v1/residents/{reg.zhao.pk}/", {"name": "x"}, headers), 404, "not_found")
    assert_error(
        patch(client, f"/api/v1/residents/{reg.zhang.pk}/", {"name": "x"}, api_headers(client, "leader")),
        403,
        "forbidden",
    )
    assert counts() == before


def test_put_needs_the_required_fields(reg, client):
    headers = api_headers(client, "wg01")
    assert_error(put(client, f"/api/v1/residents/{reg.li.pk}/", {"notes": "x"}, headers), 400, "invalid", "name")
    response = put(client, f"/api/v1/residents/{reg.li.pk}/", {"name": "李四", "notes": "x"}, headers)
    assert response.status_code == 200, response.content
    assert response.json()["notes"] == "x"
    assert Resident.objects.get(pk=reg.li.pk).id_number.reveal() == reg.ids["li"]


# Reveal


def test_reveal_for_a_permitted_role(reg, client):
    response = client.post(f"/api/v1/residents/{reg.zhang.pk}/reveal/", **api_headers(client, "wg01"))
    assert response.status_code == 200, response.content
    assert response.json() == {"id_number": reg.ids["zhang"], "phone": "13800001111"}
    event = AuditEvent.objects.get(event_type="privacy.reveal")
    assert event.result == "success"
    assert event.actor == reg.users.grid_worker
    assert event.object_type == "registry.resident"
    assert event.object_id == str(reg.zhang.pk)
    assert event.ip == "127.0.0.1"
    assert_no_clear_personal_data(json.dumps(event.data) + event.object_repr)


@pytest.mark.parametrize("username", ["leader", "lb01"])
def test_reveal_refused_for_a_role_without_the_right(reg, client, username):
    response = client.post(f"/api/v1/residents/{reg.zhang.pk}/reveal/", **api_headers(client, username))
    body = assert_error(response, 403, "forbidden")
    assert_no_clear_personal_data(json.dumps(body))
    event = AuditEvent.objects.get(event_type="privacy.reveal")
    assert (event.result, event.object_id, event.actor_username) == ("denied", str(reg.zhang.pk), username)


def test_reveal_outside_the_grid_is_not_found_and_audited(reg, client):
    response = client.post(f"/api/v1/residents/{reg.zhao.pk}/reveal/", **api_headers(client, "wg01"))
    body = assert_error(response, 404, "not_found")
    assert_no_clear_personal_data(json.dumps(body))
    event = AuditEvent.objects.get(event_type="privacy.reveal")
    assert (event.result, event.object_type, event.object_id) == ("denied", "registry.resident", str(reg.zhao.pk))
    assert event.actor_username == "wg01"
    assert event.object_repr == "", "the name of a record outside the scope is not written down"


def test_reveal_of_a_missing_record_is_not_found_and_audited(reg, client):
    headers = api_headers(client, "center")
    assert_error(client.post("/api/v1/residents/999999/reveal/", **headers), 404, "not_found")
    assert_error(client.post("/api/v1/shops/abc/reveal/", **headers), 404, "not_found")
    events = AuditEvent.objects.filter(event_type="privacy.reveal").order_by("id")
    assert [(e.result, e.object_type, e.object_id) for e in events] == [
        ("denied", "registry.resident", "999999"),
        ("denied", "registry.shop", "abc"),
    ]


def test_browsable_api_forms_show_no_personal_data(reg, client):
    client.force_login(reg.users.grid_worker)
    for url in ("/api/v1/residents/", f"/api/v1/residents/{reg.zhang.pk}/"):
        response = client.get(url, {"format": "api"})
        assert response.status_code == 200
        html = response.content.decode()
        assert_no_clear_personal_data(html)
        assert reg.ids["zhang"][:6] + "********" not in html.split("<form")[-1], "no masked value to send back"
        assert "三网格" not in html and "吸毒" not in html, "choices come from the caller's scope"


def test_reveal_needs_post(reg, client):
    headers = api_headers(client, "wg01")
    assert_error(client.get(f"/api/v1/residents/{reg.zhang.pk}/reveal/", **headers), 405, "method_not_allowed")
    assert not AuditEvent.objects.filter(event_type="privacy.reveal").exists()


def test_every_reveal_is_audited(reg, client):
    headers = api_headers(client, "center")
    for _ in range(3):
        assert client.post(f"/api/v1/residents/{reg.li.pk}/reveal/", **headers).status_code == 200
    assert AuditEvent.objects.filter(event_type="privacy.reveal", object_id=str(reg.li.pk)).count() == 3


# Households, buildings, shops, places


def test_household_create_list_detail_and_head(org, client):
    headers = api_headers(client, "wg01")
    building = post(
        client,
        "/api/v1/buildings/",
        {"grid": org.g11.pk, "address": "一网格5栋", "use": "residential", "floors": 6},
        headers,
    ).json()
    response = post(
        client,
        "/api/v1/households/",
        {"group": org.grp1.pk, "address": "一网格5栋", "building": building["id"], "room": "301", "number": "H001"},
        headers,
    )
    assert response.status_code == 201, response.content
    household = response.json()
    assert household["grid"]["id"] == org.g11.pk
    assert household["group"]["id"] == org.grp1.pk
    assert household["building"] == building["id"]
    assert household["room"] == "301"
    assert household["head"] is None
    assert household["members"] == 0
    for n, name in enumerate(["钱一", "钱二"]):
        member = post(
            client,
            "/api/v1/residents/",
            {"name": name, "id_number": id_number("19600101", f"{n}91"), "household": household["id"]},
            headers,
        )
        assert member.status_code == 201, member.content
    head_id = member.json()["id"]
    response = patch(client, f"/api/v1/households/{household['id']}/", {"head": head_id, "room": "302"}, headers)
    assert response.status_code == 200, response.content
    assert response.json()["head"] == {"id": head_id, "name": "钱二"}
    assert response.json()["room"] == "302"
    assert response.json()["members"] == 2
    assert Resident.objects.get(pk=head_id).relation == "head"
    listed = client.get("/api/v1/households/", **headers).json()
    assert listed["count"] == 1
    assert listed["results"][0]["members"] == 2
    assert listed["results"][0]["head"]["name"] == "钱二"
    event = AuditEvent.objects.get(event_type="household.update")
    assert event.data == {"fields": ["room"]}


def test_household_head_must_be_a_member(reg, client):
    headers = api_headers(client, "wg01")
    household = services.household_create(actor=None, grid=reg.g11, address="一网格6号")
    response = patch(client, f"/api/v1/households/{household.pk}/", {"head": reg.li.pk}, headers)
    assert_error(response, 400, "invalid_household", "head")
    response = post(client, "/api/v1/households/", {"grid": reg.g11.pk, "address": "x", "head": reg.li.pk}, headers)
    assert_error(response, 400, "invalid_household", "head")
    response = patch(client, f"/api/v1/households/{household.pk}/", {"head": reg.zhao.pk}, headers)
    assert_error(response, 400, "invalid", "head")


def test_household_refusals(org, client):
    headers = api_headers(client, "wg01")
    before = counts()
    assert_error(post(client, "/api/v1/households/", {"grid": org.g11.pk}, headers), 400, "invalid", "address")
    assert_error(
        post(client, "/api/v1/households/", {"grid": org.g21.pk, "address": "x"}, headers), 400, "invalid", "grid"
    )
    assert counts() == before


def test_building_create_list_detail_update(org, client):
    headers = api_headers(client, "wg01")
    response = post(
        client,
        "/api/v1/buildings/",
        {
            "grid": org.g11.pk,
            "name": "自建房",
            "address": "一网格7号",
            "use": "self_built",
            "floors": 3,
            "structure": "brick_concrete",
            "year_built": 1998,
            "safety_grade": "C",
            "lng": 117.005,
            "lat": 32.605,
        },
        headers,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["use"] == "self_built"
    assert body["safety_grade"] == "C"
    assert body["lng"] == pytest.approx(117.005)
    assert body["grid"]["code"] == org.g11.code
    detail = client.get(f"/api/v1/buildings/{body['id']}/", **headers).json()
    assert detail == body
    listed = client.get("/api/v1/buildings/", {"use": "self_built"}, **headers).json()
    assert [b["id"] for b in listed["results"]] == [body["id"]]
    updated = patch(client, f"/api/v1/buildings/{body['id']}/", {"safety_grade": "D", "floors": 4}, headers)
    assert updated.status_code == 200, updated.content
    assert (updated.json()["safety_grade"], updated.json()["floors"]) == ("D", 4)
    assert updated.json()["address"] == "一网格7号"
    assert AuditEvent.objects.get(event_type="building.update").data == {"fields": ["floors", "safety_grade"]}
    other = api_headers(client, "center")
    assert client.get(f"/api/v1/buildings/{body['id']}/", **other).status_code == 200
    hidden = services.building_create(actor=None, grid=org.g21, address="三网格1号", use="residential")
    assert_error(client.get(f"/api/v1/buildings/{hidden.pk}/", **headers), 404, "not_found")
    assert_error(patch(client, f"/api/v1/buildings/{hidden.pk}/", {"floors": 1}, headers), 404, "not_found")


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"use": "castle"}, "use", "invalid"),
        ({"year_built": 1500}, "year_built", "invalid_building"),
        ({"lng": 117.0}, "lng", "invalid_building"),
        ({"lng": 500, "lat": 32.6}, "lng", "invalid_building"),
        ({"floors": "many"}, "floors", "invalid"),
        ({"address": ""}, "address", "invalid"),
    ],
)
def test_building_refusals(org, client, data, field, code):
    before = counts()
    body = {"grid": org.g11.pk, "address": "一网格8号", "use": "residential", **data}
    assert_error(post(client, "/api/v1/buildings/", body, api_headers(client, "wg01")), 400, code, field)
    assert counts() == before


def test_shop_create_list_masked_and_reveal(org, client):
    headers = api_headers(client, "wg01")
    response = post(
        client,
        "/api/v1/shops/",
        {
            "group": org.grp2.pk,
            "name": "便民超市",
            "business_type": "零售",
            "licence_number": "91340404MA2N0XXX1A",
            "operator": "孙老板",
            "phone": "18955443322",
            "address": "一网格商业街1号",
        },
        headers,
    )
    assert response.status_code == 201, response.content
    shop = response.json()
    assert shop["phone"] == "189****3322"
    assert shop["grid"]["id"] == org.g11.pk and shop["group"]["id"] == org.grp2.pk
    listed = client.get("/api/v1/shops/", {"q": "超市"}, **headers)
    assert [s["id"] for s in listed.json()["results"]] == [shop["id"]]
    assert_no_clear_personal_data(listed.content.decode())
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM registry_shop WHERE id = %s", [shop["id"]])
        assert cursor.fetchone()[0].startswith("g1$")
    revealed = client.post(f"/api/v1/shops/{shop['id']}/reveal/", **headers)
    assert revealed.status_code == 200, revealed.content
    assert revealed.json() == {"phone": "18955443322"}
    refused = client.post(f"/api/v1/shops/{shop['id']}/reveal/", **api_headers(client, "leader"))
    assert_error(refused, 403, "forbidden")
    hidden = client.post(f"/api/v1/shops/{shop['id']}/reveal/", **api_headers(client, "unit01"))
    assert_error(hidden, 404, "not_found")
    results = list(
        AuditEvent.objects.filter(event_type="privacy.reveal").order_by("id").values_list("result", "object_type")
    )
    assert results == [("success", "registry.shop"), ("denied", "registry.shop"), ("denied", "registry.shop")]
    updated = patch(client, f"/api/v1/shops/{shop['id']}/", {"operator": "孙二"}, headers)
    assert updated.status_code == 200, updated.content
    assert Shop.objects.get(pk=shop["id"]).phone.reveal() == "18955443322"
    assert AuditEvent.objects.get(event_type="shop.update").data == {"fields": ["operator"]}


def test_shop_refusals(org, client):
    headers = api_headers(client, "wg01")
    before = counts()
    base = {"grid": org.g11.pk, "name": "店", "business_type": "餐饮"}
    body = assert_error(post(client, "/api/v1/shops/", {**base, "phone": "12345678901"}, headers), 400, "invalid_shop")
    assert "phone" in body["fields"]
    assert "12345678901" not in json.dumps(body)
    assert_error(
        post(client, "/api/v1/shops/", {**base, "licence_number": "123"}, headers),
        400,
        "invalid_shop",
        "licence_number",
    )
    assert_error(
        post(client, "/api/v1/shops/", {"grid": org.g11.pk, "name": "店"}, headers), 400, "invalid", "business_type"
    )
    assert counts() == before


def test_place_create_list_detail(org, client):
    headers = api_headers(client, "sq01")
    line = {"type": "LineString", "coordinates": [[117.001, 32.601], [117.009, 32.602]]}
    response = post(
        client,
        "/api/v1/places/",
        {"grid": org.g11.pk, "kind": "road", "name": "公园旁道路", "geometry": line, "description": "A区"},
        headers,
    )
    assert response.status_code == 201, response.content
    place = response.json()
    assert place["geometry"] == line
    assert place["kind"] == "road"
    assert place["group"] is None
    assert client.get(f"/api/v1/places/{place['id']}/", **headers).json() == place
    assert [p["id"] for p in client.get("/api/v1/places/", {"kind": "road"}, **headers).json()["results"]] == [
        place["id"]
    ]
    assert client.get("/api/v1/places/", {"kind": "park"}, **headers).json()["count"] == 0
    park = square(117.002, 32.602, 0.001)
    updated = patch(client, f"/api/v1/places/{place['id']}/", {"geometry": park, "kind": "park"}, headers)
    assert updated.status_code == 200, updated.content
    assert updated.json()["geometry"] == park
    assert AuditEvent.objects.get(event_type="place.update").data == {"fields": ["geometry", "kind"]}
    assert client.get("/api/v1/places/", **api_headers(client, "tj01")).json()["count"] == 0


@pytest.mark.parametrize(
    "geometry",
    [
        {"type": "Circle", "coordinates": [117, 32]},
        {"type": "Point"},
        "117,32",
        {"type": "LineString", "coordinates": [[1]]},
    ],
)
def test_place_refusals(org, client, geometry):
    before = counts()
    data = {"grid": org.g11.pk, "kind": "camera", "name": "探头", "geometry": geometry}
    assert_error(post(client, "/api/v1/places/", data, api_headers(client, "wg01")), 400, "invalid_place", "geometry")
    assert counts() == before


# Tags


def test_tags_hide_restricted_kinds_from_a_grid_worker(org, client):
    headers = api_headers(client, "wg01")
    body = client.get("/api/v1/tags/", {"page_size": 100}, **headers).json()
    kinds = {t["kind"] for t in body["results"]}
    assert kinds == {"care", "service", "party"}
    assert {"dibao", "dangyuan", "zhiyuanzhe"} <= {t["code"] for t in body["results"]}
    dibao = next(t for t in body["results"] if t["code"] == "dibao")
    assert dibao == {"id": tag("dibao").pk, "code": "dibao", "name": "低保", "kind": "care", "description": ""}
    assert_error(client.get(f"/api/v1/tags/{tag('xidu').pk}/", **headers), 404, "not_found")
    assert client.get(f"/api/v1/tags/{tag('dibao').pk}/", **headers).json()["code"] == "dibao"


def test_tags_show_restricted_kinds_with_the_permission(org, client):
    from django.contrib.auth.models import Permission

    org.users.grid_worker.user_permissions.add(Permission.objects.get(codename="view_restricted_tags"))
    headers = api_headers(client, "wg01")
    body = client.get("/api/v1/tags/", {"page_size": 100}, **headers).json()
    assert "key" in {t["kind"] for t in body["results"]}
    assert body["count"] == Tag.objects.count()
    assert client.get(f"/api/v1/tags/{tag('xidu').pk}/", **headers).status_code == 200


def test_tags_are_read_only_and_need_a_post(org, client):
    headers = api_headers(client, "admin")
    assert_error(
        post(client, "/api/v1/tags/", {"code": "x", "name": "x", "kind": "care"}, headers), 405, "method_not_allowed"
    )
    assert client.get("/api/v1/tags/", **api_headers(client, "nobody")).json()["count"] == 0


# Query counts


def _many_residents(org, count: int) -> None:
    tags = [tag("dibao"), tag("canji"), tag("xidu")]
    for n in range(count):
        services.resident_create(
            actor=None,
            grid=org.g11,
            group=org.grp1 if n % 2 else None,
            name=f"居民{n:03d}",
            id_number=id_number("19700101", f"{n:03d}"),
            phone=f"138{n:08d}",
            tags=tags[: n % 4],
        )


@pytest.mark.parametrize("username", ["admin", "center", "sq01", "wg01"])
def test_resident_list_of_fifty_uses_a_bounded_number_of_queries(org, client, django_assert_max_num_queries, username):
    _many_residents(org, 55)
    headers = api_headers(client, username)
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/residents/", {"page_size": 50, "tags": tag("dibao").pk}, **headers)
    assert response.status_code == 200
    assert response.json()["count"] == 41
    with django_assert_max_num_queries(10):
        response = client.get("/api/v1/residents/", {"page_size": 50}, **headers)
    assert len(response.json()["results"]) == 50
    assert_no_clear_personal_data(response.content.decode())


def test_resident_list_query_count_does_not_grow_with_the_page(org, client, django_assert_num_queries):
    from django.test.utils import CaptureQueriesContext

    _many_residents(org, 55)
    headers = api_headers(client, "wg01")
    client.get("/api/v1/residents/", **headers)  # the caller's scope is read once per process, then kept
    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/residents/", {"page_size": 5}, **headers).json()["results"]) == 5
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get("/api/v1/residents/", {"page_size": 50}, **headers).json()["results"]) == 50


def test_other_lists_use_a_bounded_number_of_queries(org, client, django_assert_max_num_queries):
    for n in range(30):
        building = services.building_create(actor=None, grid=org.g11, address=f"楼{n}", use="residential")
        household = services.household_create(actor=None, group=org.grp1, address=f"户{n}", building=building)
        head = services.resident_create(actor=None, household=household, name=f"户主{n}", gender="male")
        services.household_set_head(actor=None, household=household, head=head)
        services.shop_create(actor=None, group=org.grp2, name=f"店{n}", business_type="零售", phone=f"139{n:08d}")
        services.place_create(
            actor=None,
            grid=org.g11,
            group=org.grp1,
            kind="camera",
            name=f"探头{n}",
            geometry={"type": "Point", "coordinates": [117.001, 32.601]},
        )
    headers = api_headers(client, "wg01")
    for url in ("/api/v1/households/", "/api/v1/buildings/", "/api/v1/shops/", "/api/v1/places/"):
        with django_assert_max_num_queries(8):
            response = client.get(url, {"page_size": 50}, **headers)
        assert response.status_code == 200, url
        assert response.json()["count"] == 30, url
    with django_assert_max_num_queries(8):
        assert client.get("/api/v1/tags/", **headers).status_code == 200
    assert all(h["members"] == 1 for h in client.get("/api/v1/households/", **headers).json()["results"])


# OpenAPI


def test_schema_documents_the_registry(org, client):
    response = client.get("/api/v1/schema/", {"format": "json"}, **api_headers(client, "admin"))
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for name in ("residents", "households", "buildings", "shops", "places"):
        assert {"get", "post"} <= set(paths[f"/api/v1/{name}/"]), name
        assert {"get", "put", "patch"} <= set(paths[f"/api/v1/{name}/{{id}}/"]), name
    assert set(paths["/api/v1/tags/"]) == {"get"}
    assert set(paths["/api/v1/tags/{id}/"]) == {"get"}
    for name in ("residents", "shops"):
        reveal = paths[f"/api/v1/{name}/{{id}}/reveal/"]["post"]
        assert {"200", "403", "404"} <= set(reveal["responses"])
    reveal_ref = paths["/api/v1/residents/{id}/reveal/"]["post"]["responses"]["200"]["content"]["application/json"]
    component = reveal_ref["schema"]["$ref"].rsplit("/", 1)[-1]
    assert {"id_number", "phone"} <= set(document["components"]["schemas"][component]["properties"])
    create = paths["/api/v1/residents/"]["post"]
    body_ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    body = document["components"]["schemas"][body_ref]
    assert {"name", "grid", "group", "household", "id_number", "phone", "tags"} <= set(body["properties"])
    assert body["properties"]["tags"]["items"]["type"] == "string"
    assert body["properties"]["grid"]["type"] == "integer"
    listed = {p["name"] for p in paths["/api/v1/residents/"]["get"]["parameters"]}
    assert {"q", "area", "grid", "group", "tags", "living_status", "age_min", "age_max", "page", "page_size"} <= listed
