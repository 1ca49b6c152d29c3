"""/api/v1/areas/, /units/, /party-branches/ over HTTP: fields, filters, pagination, scope, query counts."""

from __future__ import annotations

import pytest

from gridgov.areas import services
from gridgov.areas.models import Area
from tests.conftest import api_headers, square


@pytest.fixture
def as_center(org, client):
    return api_headers(client, "center")


@pytest.fixture
def as_worker(org, client):
    return api_headers(client, "wg01")


def test_area_list_items(org, client, as_center):
    response = client.get("/api/v1/areas/", **as_center)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] == 8
    item = next(i for i in body["results"] if i["code"] == org.g11.code)
    assert {"id", "code", "name", "level", "parent", "geometry"} <= set(item)
    assert item["id"] == org.g11.pk
    assert item["name"] == "一网格"
    assert item["level"] == "grid"
    assert item["parent"] == org.c1.pk
    assert item["geometry"] == square(117.0, 32.6)
    assert item["centre"] == [pytest.approx(117.005), pytest.approx(32.605)]
    assert item["mode"] == "normal"
    group = next(i for i in body["results"] if i["code"] == org.grp1.code)
    assert group["geometry"] is None
    top = next(i for i in body["results"] if i["code"] == org.s.code)
    assert top["parent"] is None


def test_area_list_is_ordered_by_code(org, client, as_center):
    codes = [i["code"] for i in client.get("/api/v1/areas/", **as_center).json()["results"]]
    assert codes == sorted(codes)


def test_area_detail(org, client, as_worker):
    body = client.get(f"/api/v1/areas/{org.grp1.pk}/", **as_worker).json()
    assert body["code"] == org.grp1.code
    assert body["parent"] == org.g11.pk
    assert body["level"] == "group"


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("level=grid", {"g11", "g12", "g21"}),
        ("level=community", {"c1", "c2"}),
        ("level=subdistrict", {"s"}),
        ("level=group", {"grp1", "grp2"}),
        ("code=340404004001", {"c1", "g11", "g12", "grp1", "grp2"}),
        ("q=网格", {"g11", "g12", "g21"}),
    ],
)
def test_area_filters(org, client, as_center, query, expected):
    results = client.get(f"/api/v1/areas/?{query}", **as_center).json()["results"]
    assert {r["code"] for r in results} == {getattr(org, a).code for a in expected}


def test_area_filter_by_parent(org, client, as_center):
    results = client.get("/api/v1/areas/", {"parent": org.c1.pk}, **as_center).json()["results"]
    assert [r["code"] for r in results] == [org.g11.code, org.g12.code]
    results = client.get("/api/v1/areas/", {"parent": org.g11.pk, "level": "group"}, **as_center).json()["results"]
    assert [r["code"] for r in results] == [org.grp1.code, org.grp2.code]


def test_filters_never_widen_the_scope(org, client, as_worker):
    assert client.get("/api/v1/areas/", {"parent": org.c2.pk}, **as_worker).json()["count"] == 0
    assert client.get("/api/v1/areas/", {"level": "community"}, **as_worker).json()["count"] == 0
    assert client.get("/api/v1/areas/", {"code": "3404"}, **as_worker).json()["count"] == 3


def test_area_pagination(org, client, as_center):
    first = client.get("/api/v1/areas/", {"page_size": 3}, **as_center).json()
    assert first["count"] == 8
    assert len(first["results"]) == 3
    assert first["previous"] is None
    assert "page=2" in first["next"]
    second = client.get("/api/v1/areas/", {"page_size": 3, "page": 2}, **as_center).json()
    last = client.get("/api/v1/areas/", {"page_size": 3, "page": 3}, **as_center).json()
    assert len(last["results"]) == 2
    assert last["next"] is None
    codes = [r["code"] for page in (first, second, last) for r in page["results"]]
    assert len(set(codes)) == 8


def test_page_past_the_end(org, client, as_center):
    response = client.get("/api/v1/areas/", {"page": 99}, **as_center)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_page_size_is_capped(org, client, as_center):
    assert client.get("/api/v1/areas/", {"page_size": 100000}, **as_center).status_code == 200


def test_locate(org, client, as_worker):
    response = client.get("/api/v1/areas/locate/", {"lat": "32.605", "lng": "117.005"}, **as_worker)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == org.g11.pk
    assert body["geometry"] == square(117.0, 32.6)


def test_locate_on_a_shared_edge(org, client, as_center):
    ids = {
        client.get("/api/v1/areas/locate/", {"lat": "32.605", "lng": "117.01"}, **as_center).json()["id"]
        for _ in range(3)
    }
    assert ids == {org.g11.pk}


def test_locate_follows_a_moved_boundary(org, client, as_worker):
    assert client.get("/api/v1/areas/locate/", {"lat": "32.605", "lng": "117.005"}, **as_worker).status_code == 200
    services.area_update(actor=org.users.admin, area=org.g11, boundary=square(118.5, 33.5))
    gone = client.get("/api/v1/areas/locate/", {"lat": "32.605", "lng": "117.005"}, **as_worker)
    assert gone.status_code == 404
    assert gone.json()["code"] == "outside_grids"
    moved = client.get("/api/v1/areas/locate/", {"lat": "33.505", "lng": "118.505"}, **as_worker)
    assert moved.json()["id"] == org.g11.pk


def test_unit_list(org, client, as_worker):
    body = client.get("/api/v1/units/", **as_worker).json()
    assert body["count"] == 2
    police = next(u for u in body["results"] if u["id"] == org.police.pk)
    assert police["name"] == "测试派出所"
    assert police["kind"] == "police"
    assert police["kind_display"]
    assert police["area"] == org.s.pk
    assert police["area_code"] == org.s.code
    assert police["active"] is True


def test_unit_list_filters(org_wide, client):
    headers = api_headers(client, "center")
    names = {u["name"] for u in client.get("/api/v1/units/", {"kind": "property"}, **headers).json()["results"]}
    assert names == {"测试物业", "二社区物业"}
    by_area = client.get("/api/v1/units/", {"area": org_wide.c2.pk}, **headers).json()["results"]
    assert [u["name"] for u in by_area] == ["二社区物业"]


def test_unit_detail_scope(org_wide, client):
    headers = api_headers(client, "wg01")
    assert client.get(f"/api/v1/units/{org_wide.police.pk}/", **headers).status_code == 200
    assert client.get(f"/api/v1/units/{org_wide.c2_prop.pk}/", **headers).status_code == 404
    assert client.get(f"/api/v1/units/{org_wide.s2_police.pk}/", **headers).status_code == 404


def test_party_branch_list(org_wide, client):
    body = client.get("/api/v1/party-branches/", **api_headers(client, "wg01")).json()
    assert body["count"] == 1
    branch = body["results"][0]
    assert branch["name"] == "一二网格党支部"
    assert branch["grids"] == [
        {"id": org_wide.g11.pk, "code": org_wide.g11.code, "name": "一网格"},
        {"id": org_wide.g12.pk, "code": org_wide.g12.code, "name": "二网格"},
    ]


def test_party_branch_filter_and_detail(org_wide, client):
    headers = api_headers(client, "center")
    by_grid = client.get("/api/v1/party-branches/", {"grid": org_wide.g21.pk}, **headers).json()["results"]
    assert [b["name"] for b in by_grid] == ["三网格党支部"]
    assert client.get("/api/v1/party-branches/", **headers).json()["count"] == 2
    worker = api_headers(client, "wg01")
    assert client.get(f"/api/v1/party-branches/{org_wide.branch.pk}/", **worker).status_code == 200
    assert client.get(f"/api/v1/party-branches/{org_wide.branch2.pk}/", **worker).status_code == 404


def test_api_is_read_only(org, client):
    headers = api_headers(client, "admin")
    for url in ("/api/v1/areas/", "/api/v1/units/", "/api/v1/party-branches/"):
        assert client.post(url, {"name": "x"}, content_type="application/json", **headers).status_code == 405
    assert (
        client.patch(
            f"/api/v1/areas/{org.g11.pk}/", {"name": "x"}, content_type="application/json", **headers
        ).status_code
        == 405
    )


def test_api_root_lists_the_routes(org, client, as_worker):
    body = client.get("/api/v1/", **as_worker).json()
    assert {"areas", "units", "party-branches"} <= set(body)


# Query counts


def _add_groups(org, count: int) -> None:
    grids = [org.g11, org.g12, org.g21]
    for n in range(count):
        grid = grids[n % 3]
        services.area_create(actor=None, code=f"{grid.code}{n // 3 + 10:02d}", name=f"组{n}", parent=grid)


@pytest.mark.parametrize("username", ["admin", "center", "sq01"])
def test_area_list_of_fifty_uses_a_bounded_number_of_queries(org, client, django_assert_max_num_queries, username):
    _add_groups(org, 45)
    headers = api_headers(client, username)
    with django_assert_max_num_queries(6):
        response = client.get("/api/v1/areas/", {"page_size": 50}, **headers)
    assert response.status_code == 200
    assert len(response.json()["results"]) >= 20


def test_area_list_query_count_does_not_grow_with_the_page(org, client, django_assert_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    _add_groups(org, 45)
    headers = api_headers(client, "center")
    client.get("/api/v1/areas/", **headers)  # the caller's scope is read once per process, then kept
    with CaptureQueriesContext(connection) as small:
        assert len(client.get("/api/v1/areas/", {"page_size": 5}, **headers).json()["results"]) == 5
    with django_assert_num_queries(len(small.captured_queries)):
        assert len(client.get("/api/v1/areas/", {"page_size": 50}, **headers).json()["results"]) == 50


def test_unit_and_party_branch_lists_use_a_bounded_number_of_queries(org, client, django_assert_max_num_queries):
    from gridgov.areas.choices import UnitKind

    for n in range(30):
        services.unit_create(actor=None, name=f"单位{n}", kind=UnitKind.DEPARTMENT, area=org.c1)
        services.party_branch_create(actor=None, name=f"支部{n}", grids=[org.g11, org.g12])
    headers = api_headers(client, "wg01")
    with django_assert_max_num_queries(6):
        assert client.get("/api/v1/units/", **headers).json()["count"] == 32
    with django_assert_max_num_queries(7):
        assert client.get("/api/v1/party-branches/", **headers).json()["count"] == 31


def test_center_switches_a_community_to_emergency_mode_over_the_api(org, client):
    headers = api_headers(client, "center")
    response = client.post(
        f"/api/v1/areas/{org.c1.pk}/mode/", {"mode": "emergency"}, content_type="application/json", **headers
    )
    assert response.status_code == 200, response.content
    assert response.json()["mode"] == "emergency"
    assert set(Area.objects.filter(code__startswith=org.c1.code).values_list("mode", flat=True)) == {"emergency"}
    assert Area.objects.get(pk=org.c2.pk).mode == "normal"


def test_mode_switch_refusals_have_the_error_body(org, client):
    center = api_headers(client, "center")
    bad = client.post(f"/api/v1/areas/{org.c1.pk}/mode/", {"mode": "war"}, content_type="application/json", **center)
    assert bad.status_code == 400
    assert bad.json()["code"] == "invalid" and "mode" in bad.json()["fields"]
    worker = api_headers(client, "wg01")
    denied = client.post(
        f"/api/v1/areas/{org.g11.pk}/mode/", {"mode": "emergency"}, content_type="application/json", **worker
    )
    assert denied.status_code == 403
    assert set(denied.json()) == {"code", "message", "fields"}
    hidden = client.post(
        f"/api/v1/areas/{org.g21.pk}/mode/", {"mode": "emergency"}, content_type="application/json", **worker
    )
    assert hidden.status_code == 404
    assert not Area.objects.filter(mode="emergency").exists()
