"""The organisation tree as people in the field see it: overview map, grid page, area switcher."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.e2e


def tree_names(journey) -> list[str]:
    return [n.strip() for n in journey.page.get_by_test_id("area-tree").locator("a.gg-tree-link").all_inner_texts()]


def test_grid_worker_overview_shows_only_own_grid_on_a_local_map(journey, org):
    journey.login("wg01")

    page = journey.page
    expect(page).to_have_url(journey.url("/"))
    expect(page.locator("h1")).to_have_text(org.g11.name)
    tree = page.get_by_test_id("area-tree")
    expect(tree.locator("a.gg-tree-link")).to_have_count(3)
    assert tree_names(journey) == [org.g11.name, org.grp1.name, org.grp2.name]

    area_map = page.get_by_test_id("area-map")
    expect(area_map).to_have_attribute("data-ready", "1")
    expect(area_map).to_have_attribute("data-features", "1")  # the grid; its groups have no boundary
    expect(area_map.locator("path.leaflet-interactive")).to_have_count(1)
    expect(area_map.locator(".gg-map-label")).to_have_text(org.g11.name)

    page.wait_for_load_state("networkidle")
    journey.assert_only_local_requests()
    journey.assert_no_console_errors()
    journey.shot("overview-wg01")


def test_grid_worker_sees_own_grid_page_and_not_others(journey, org):
    journey.login("wg01")
    journey.page.get_by_test_id("area-tree").get_by_role("link", name=org.g11.name).click()

    page = journey.page
    expect(page).to_have_url(journey.url(f"/areas/{org.g11.pk}/"))
    expect(page.locator("h1")).to_have_text(org.g11.name)
    people = page.get_by_test_id("area-people")
    expect(people).to_contain_text("wg01")
    expect(people).to_contain_text("gl01")
    expect(page.get_by_test_id("area-party-branches")).to_contain_text(org.branch.name)
    children = page.get_by_test_id("area-children")
    expect(children.get_by_role("link")).to_have_text([org.grp1.name, org.grp2.name])
    expect(page.get_by_test_id("area-map")).to_have_attribute("data-ready", "1")
    journey.assert_no_console_errors()

    for other in (org.g12, org.g21):
        response = journey.goto(f"/areas/{other.pk}/")
        assert response.status == 404
        expect(page.locator("h1")).to_have_text(re.compile(r"\S"))
        expect(page.locator(".display-3")).to_have_text("404")
        expect(page.locator("body")).not_to_contain_text(other.name)


def test_dispatcher_narrows_the_pages_with_the_area_switcher(journey, org):
    journey.login("center")

    page = journey.page
    area_map = page.get_by_test_id("area-map")
    expect(page.locator("h1")).to_have_text(org.s.name)
    expect(area_map).to_have_attribute("data-ready", "1")
    expect(area_map).to_have_attribute("data-features", "5")  # two communities, three grids
    expect(page.get_by_test_id("area-tree")).to_contain_text(org.c2.name)

    page.get_by_test_id("area-switcher").locator("select").select_option(str(org.c1.pk))

    expect(page.locator("h1")).to_have_text(org.c1.name)
    expect(area_map).to_have_attribute("data-ready", "1")
    expect(area_map).to_have_attribute("data-features", "3")  # the community and its two grids
    expect(area_map.locator("path.leaflet-interactive")).to_have_count(3)
    expect(page.get_by_test_id("area-tree")).not_to_contain_text(org.c2.name)
    expect(page.get_by_test_id("area-switcher").locator("select")).to_have_value(str(org.c1.pk))
    journey.assert_no_console_errors()
