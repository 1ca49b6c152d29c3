"""Pages of the organisation tree through the test client: home and map, area page, switcher, lists."""

from __future__ import annotations

import json
import re

import pytest

from gridgov.areas.models import Area
from gridgov.areas.selectors import SESSION_AREA_KEY


def map_features(response) -> dict:
    """The GeoJSON the page hands to the map script."""
    match = re.search(
        r'<script id="gg-map-features" type="application/json">(.*?)</script>', response.content.decode(), re.S
    )
    assert match, "the page carries no map features"
    return json.loads(match.group(1))


def feature_codes(response) -> list[str]:
    return sorted(f["properties"]["code"] for f in map_features(response)["features"])


def section(response, testid: str) -> str:
    html = response.content.decode()
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</div>", html.index("</ul>", start))]


# Home


def test_home_for_a_grid_worker_maps_only_its_grid(org, client):
    client.force_login(org.users.grid_worker)
    response = client.get("/")
    assert response.status_code == 200
    assert feature_codes(response) == [org.g11.code], "its grid only; groups have no boundary to draw"
    assert response.context["area"] == org.g11
    tree = section(response, "area-tree")
    assert "一网格" in tree
    assert "二网格" not in tree
    assert "三网格" not in tree


def test_home_for_the_center_maps_communities_and_grids(org, client):
    client.force_login(org.users.center)
    response = client.get("/")
    assert response.status_code == 200
    assert feature_codes(response) == sorted([org.c1.code, org.c2.code, org.g11.code, org.g12.code, org.g21.code])


def test_home_for_a_user_without_a_post(org, client):
    client.force_login(org.users.nobody)
    response = client.get("/")
    assert response.status_code == 200
    assert response.context["area"] is None
    assert map_features_absent(response)


def map_features_absent(response) -> bool:
    return 'id="gg-map-features"' not in response.content.decode()


def test_pages_load_assets_from_this_server(org, client):
    client.force_login(org.users.grid_worker)
    html = client.get("/").content.decode()
    assert re.findall(r'(?:src|href)="(https?:)?//', html) == []
    assert "/static/vendor/leaflet/leaflet.js" in html


# The area page


def test_area_page_of_own_grid(org, client):
    client.force_login(org.users.grid_worker)
    response = client.get(f"/areas/{org.g11.pk}/")
    assert response.status_code == 200
    people = section(response, "area-people")
    assert "wg01" in people
    assert "gl01" in people
    assert "lb01" not in people, "the group leader's post is at the group"
    assert "一二网格党支部" in section(response, "area-party-branches")
    children = section(response, "area-children")
    assert "一组" in children
    assert "二组" in children
    assert feature_codes(response) == [org.g11.code]


def test_area_page_of_a_group(org, client):
    client.force_login(org.users.grid_worker)
    response = client.get(f"/areas/{org.grp1.pk}/")
    assert response.status_code == 200
    assert "lb01" in section(response, "area-people")


@pytest.mark.parametrize("attr", ["g12", "g21", "c1", "s"])
def test_area_page_outside_the_scope_is_404(org, client, attr):
    client.force_login(org.users.grid_worker)
    response = client.get(f"/areas/{getattr(org, attr).pk}/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert getattr(org, attr).name not in response.content.decode()


def test_area_page_of_a_missing_area_is_404(org, client):
    client.force_login(org.users.admin)
    assert client.get("/areas/999999/").status_code == 404


def test_center_sees_any_area_page(org, client):
    client.force_login(org.users.center)
    for area in (org.s, org.c2, org.g21, org.grp2):
        assert client.get(f"/areas/{area.pk}/").status_code == 200


# The area switcher


def test_switch_to_a_visible_area(org, client):
    client.force_login(org.users.community)
    assert client.get("/").context["area"] == org.c1
    response = client.post("/areas/switch/", {"area": org.g12.pk, "next": "/units/"})
    assert response.status_code == 302
    assert response["Location"] == "/units/"
    assert client.session[SESSION_AREA_KEY] == org.g12.pk
    home = client.get("/")
    assert home.context["area"] == org.g12
    assert feature_codes(home) == [org.g12.code]


@pytest.mark.parametrize("attr", ["g21", "c2", "s"])
def test_switch_to_an_invisible_area_is_404(org, client, attr):
    client.force_login(org.users.community)
    response = client.post("/areas/switch/", {"area": getattr(org, attr).pk})
    assert response.status_code == 404
    assert SESSION_AREA_KEY not in client.session
    assert client.get("/").context["area"] == org.c1


@pytest.mark.parametrize("value", ["", "abc", "999999"])
def test_switch_to_nothing_is_404(org, client, value):
    client.force_login(org.users.community)
    assert client.post("/areas/switch/", {"area": value}).status_code == 404


def test_switch_does_not_redirect_elsewhere(org, client):
    client.force_login(org.users.community)
    response = client.post("/areas/switch/", {"area": org.g11.pk, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_switch_needs_post(org, client):
    client.force_login(org.users.community)
    assert client.get("/areas/switch/", {"area": org.g11.pk}).status_code == 405


def test_switcher_offers_only_visible_areas(org, client):
    client.force_login(org.users.community)
    html = client.get("/").content.decode()
    switcher = html[
        html.index('data-testid="area-switcher"') : html.index("</form>", html.index('data-testid="area-switcher"'))
    ]
    offered = set(re.findall(r'<option value="(\d+)"', switcher))
    assert offered == {str(org.c1.pk), str(org.g11.pk), str(org.g12.pk)}


# Lists


def test_unit_list_page_is_scoped(org_wide, client):
    client.force_login(org_wide.users.grid_worker)
    response = client.get("/units/")
    assert response.status_code == 200
    assert {u.name for u in response.context["page"]} == {"测试派出所", "测试物业"}
    table = section_table(response, "unit-table")
    assert "测试派出所" in table
    assert "二社区物业" not in table
    assert "邻街道派出所" not in table


def test_unit_list_page_filters(org_wide, client):
    client.force_login(org_wide.users.center)
    response = client.get("/units/", {"kind": "property"})
    assert {u.name for u in response.context["page"]} == {"测试物业", "二社区物业"}


def test_party_branch_list_page_is_scoped(org_wide, client):
    client.force_login(org_wide.users.grid_worker)
    response = client.get("/party-branches/")
    assert response.status_code == 200
    assert [b.name for b in response.context["page"]] == ["一二网格党支部"]
    table = section_table(response, "party-branch-table")
    assert "一二网格党支部" in table
    assert "三网格党支部" not in table


def test_party_branch_list_page_for_the_center(org_wide, client):
    client.force_login(org_wide.users.center)
    assert [b.name for b in client.get("/party-branches/").context["page"]] == ["一二网格党支部", "三网格党支部"]


def section_table(response, testid: str) -> str:
    html = response.content.decode()
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</table>", start)]


# Anonymous visitors


@pytest.mark.parametrize("path", ["/", "/units/", "/party-branches/", "/areas/1/", "/audit/", "/accounts/security/"])
def test_anonymous_is_sent_to_login(db, client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=")


def test_anonymous_switch_is_sent_to_login(db, client):
    response = client.post("/areas/switch/", {"area": 1})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_center_switches_modes_from_the_area_page(org, client):
    client.force_login(org.users.center)
    page = client.get(f"/areas/{org.c1.pk}/")
    assert b'data-testid="mode-form"' in page.content
    response = client.post(f"/areas/{org.c1.pk}/mode/", {"mode": "emergency"}, follow=True)
    assert response.status_code == 200
    assert Area.objects.get(pk=org.g11.pk).mode == "emergency"
    assert b'value="normal"' in response.content, "the page now offers the way back"


def test_grid_worker_gets_no_mode_button_and_cannot_post_it(org, client):
    client.force_login(org.users.grid_worker)
    assert b'data-testid="mode-form"' not in client.get(f"/areas/{org.g11.pk}/").content
    response = client.post(f"/areas/{org.g11.pk}/mode/", {"mode": "emergency"}, follow=True)
    assert response.status_code == 200
    assert Area.objects.get(pk=org.g11.pk).mode == "normal"
    assert client.post(f"/areas/{org.g21.pk}/mode/", {"mode": "emergency"}).status_code == 404
