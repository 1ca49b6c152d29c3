"""The registry as a grid worker uses it: find a resident by a full ID number, reveal the full
numbers (audited), and see the grid's buildings, shops and places on the map."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from playwright.sync_api import expect

from gridgov.core.models import AuditEvent
from gridgov.core.validators import id_check_digit
from gridgov.registry import services
from gridgov.registry.defaults import ensure_default_tags
from gridgov.registry.models import Tag

pytestmark = pytest.mark.e2e


def assert_no_script_errors(journey) -> None:
    """No console errors, except Chromium's own /favicon.ico request: the layout has no icon yet
    (answered 404 on every page; reported to the layout's owner, not a registry matter)."""
    errors = [e for e in journey.console_errors if "/favicon.ico" not in e]
    assert not errors, f"console errors: {errors}"


def id_number(birth: str, seq: str) -> str:
    first17 = "340404" + birth + seq
    return first17 + id_check_digit(first17)


def build_registry(org) -> SimpleNamespace:
    """A household of three in G11, a few neighbours, a self-built house, a shop and the road beside
    the park; one resident in G21 that the grid worker must never see."""
    ensure_default_tags()  # transactional tests flush the rows the data migration made
    tags = {t.code: t for t in Tag.objects.all()}
    building = services.building_create(
        actor=None,
        grid=org.g11,
        group=org.grp1,
        address="幸福路1号",
        use="self_built",
        floors=3,
        lng=117.004,
        lat=32.604,
    )
    services.building_create(
        actor=None,
        grid=org.g11,
        group=org.grp2,
        address="幸福路9号",
        use="residential",
        floors=6,
        lng=117.007,
        lat=32.607,
    )
    household = services.household_create(
        actor=None, grid=org.g11, group=org.grp1, address="幸福路1号", room="101", building=building
    )
    zhang_id = id_number("19521003", "131")
    zhang = services.resident_create(
        actor=None,
        household=household,
        name="张建国",
        id_number=zhang_id,
        phone="13812345678",
        relation="head",
        tags=[tags["dangyuan"], tags["gaoling"]],
    )
    services.household_set_head(actor=None, household=household, head=zhang)
    services.resident_create(
        actor=None, household=household, name="李秀英", id_number=id_number("19550214", "142"), relation="spouse"
    )
    services.resident_create(
        actor=None,
        household=household,
        name="张小明",
        id_number=id_number("20120520", "151"),
        relation="grandchild",
        tags=[tags["liushou"]],
    )
    for n, (name, tag) in enumerate([("王桂兰", "dujulaoren"), ("刘强", "dibao"), ("陈静", "zhiyuanzhe")]):
        services.resident_create(
            actor=None,
            grid=org.g11,
            group=org.grp2,
            name=name,
            id_number=id_number(f"19{60 + n * 10}0101", f"2{n}2"),
            phone=f"1390000{n:04d}",
            address=f"幸福路9号 {n + 1}01",
            tags=[tags[tag]],
        )
    services.shop_create(
        actor=None,
        grid=org.g11,
        group=org.grp2,
        name="便民超市",
        business_type="零售",
        phone="13655556666",
        lng=117.006,
        lat=32.603,
    )
    services.place_create(
        actor=None,
        grid=org.g11,
        kind="road",
        name="公园旁道路",
        geometry={"type": "LineString", "coordinates": [[117.001, 32.601], [117.009, 32.602]]},
    )
    other = services.resident_create(
        actor=None, grid=org.g21, name="赵外格", id_number=id_number("19900909", "171"), phone="13544443333"
    )
    return SimpleNamespace(zhang=zhang, zhang_id=zhang_id, household=household, building=building, other=other)


def test_grid_worker_finds_a_resident_by_id_number_and_reveals_the_numbers(journey, org):
    reg = build_registry(org)
    journey.login("wg01")
    page = journey.page

    page.locator("#gg-sidebar a[href='/registry/residents/']").click()
    expect(page).to_have_url(journey.url("/registry/residents/"))
    table = page.get_by_test_id("resident-table")
    expect(table.locator("tbody tr")).to_have_count(6)
    expect(table).not_to_contain_text("赵外格")
    expect(table).not_to_contain_text(reg.zhang_id)
    expect(table).to_contain_text(f"{reg.zhang_id[:6]}********{reg.zhang_id[-4:]}")
    journey.shot("registry-residents-wg01")

    form = page.get_by_test_id("filter-form")
    form.locator("input[name=q]").fill(reg.zhang_id)
    form.locator("button[type=submit]").click()
    expect(table.locator("tbody tr")).to_have_count(1)
    table.get_by_role("link", name="张建国").click()

    expect(page).to_have_url(journey.url(f"/registry/residents/{reg.zhang.pk}/"))
    expect(page.locator("h1")).to_have_text("张建国")
    id_cell = page.get_by_test_id("sensitive-id_number")
    expect(id_cell).to_have_text(f"{reg.zhang_id[:6]}********{reg.zhang_id[-4:]}")
    expect(page.get_by_test_id("member-table")).to_contain_text("李秀英")

    page.get_by_test_id("reveal").click()
    expect(id_cell).to_have_text(reg.zhang_id)
    expect(page.get_by_test_id("sensitive-phone")).to_have_text("13812345678")
    expect(page.get_by_test_id("revealed")).to_be_visible()
    # Swapped in place by HTMX: the page did not navigate.
    expect(page).to_have_url(journey.url(f"/registry/residents/{reg.zhang.pk}/"))
    assert AuditEvent.objects.filter(
        event_type="privacy.reveal", result="success", object_id=str(reg.zhang.pk), actor__username="wg01"
    ).exists()
    journey.shot("registry-resident-revealed-wg01")

    page.wait_for_load_state("networkidle")
    journey.assert_only_local_requests()
    assert_no_script_errors(journey)


def test_registry_map_draws_the_grid_and_what_is_in_it(journey, org):
    reg = build_registry(org)
    journey.login("wg01")
    page = journey.page

    page.locator("#gg-sidebar a[href='/registry/map/']").click()
    area_map = page.get_by_test_id("registry-map")
    expect(area_map).to_have_attribute("data-ready", "1")
    expect(area_map).to_have_attribute("data-grids", "1")
    expect(area_map).to_have_attribute("data-buildings", "2")
    expect(area_map).to_have_attribute("data-shops", "1")
    expect(area_map).to_have_attribute("data-places", "1")
    # Two building circles and the road are clickable; the grid boundary is drawn beneath them.
    expect(area_map.locator("path.leaflet-interactive")).to_have_count(3)
    expect(area_map.locator(".leaflet-marker-icon")).to_have_count(1)
    expect(area_map.locator(".leaflet-control-layers-overlays label")).to_have_count(4)
    expect(area_map.locator(".gg-map-label")).to_have_text(org.g11.name)
    journey.shot("registry-map-wg01")

    # The orange circle is the self-built house; its popup links to the building.
    area_map.locator("path.leaflet-interactive[fill='#fd7e14']").click()
    area_map.locator(".leaflet-popup-content a").click()
    expect(page).to_have_url(journey.url(f"/registry/buildings/{reg.building.pk}/"))
    expect(page.get_by_test_id("building-households")).to_contain_text("101")

    page.wait_for_load_state("networkidle")
    journey.assert_only_local_requests()
    assert_no_script_errors(journey)


def test_dispatcher_sees_the_whole_subdistrict_and_reveals_a_shop_phone(journey, org):
    build_registry(org)
    journey.login("center")
    page = journey.page

    journey.goto("/registry/residents/")
    table = page.get_by_test_id("resident-table")
    expect(table.locator("tbody tr")).to_have_count(7)
    expect(table).to_contain_text("赵外格")
    journey.shot("registry-residents-center")

    table.get_by_role("link", name="张建国").click()
    expect(page.get_by_test_id("household-card")).to_contain_text("幸福路1号")
    journey.shot("registry-resident-center")

    page.get_by_test_id("household-card").get_by_role("link", name="幸福路1号 101").first.click()
    expect(page.get_by_test_id("member-table").get_by_test_id("head")).to_have_count(1)
    journey.shot("registry-household-center")
    journey.goto("/registry/buildings/")
    journey.shot("registry-buildings-center")
    page.get_by_test_id("building-table").get_by_role("link", name="幸福路1号").click()
    expect(page.get_by_test_id("registry-map")).to_have_attribute("data-ready", "1")
    journey.shot("registry-building-center")

    journey.goto("/registry/shops/")
    page.get_by_test_id("shop-table").get_by_role("link", name="便民超市").click()
    phone = page.get_by_test_id("sensitive-phone")
    expect(phone).to_have_text("136****6666")
    page.get_by_test_id("reveal").click()
    expect(phone).to_have_text("13655556666")
    journey.shot("registry-shop-revealed-center")
    assert_no_script_errors(journey)


def test_community_staff_register_a_resident_and_fix_a_mistyped_id_number(journey, org):
    reg = build_registry(org)
    journey.login("sq01")
    page = journey.page

    journey.goto("/registry/residents/")
    page.get_by_test_id("create").click()
    expect(page).to_have_url(journey.url("/registry/residents/new/"))
    form = page.get_by_test_id("resident-form")
    household = form.locator("select[name=household]")
    expect(household.locator("option")).to_have_count(1)  # no grid chosen yet: nothing to offer
    # Choosing the grid reloads its household groups and households in place (HTMX).
    form.locator("select[name=grid]").select_option(str(org.g11.pk))
    expect(household.locator("option")).to_have_count(2)
    expect(form.locator("select[name=group] option")).to_have_count(3)

    good = id_number("19880808", "061")
    form.locator("input[name=name]").fill("周新")
    form.locator("input[name=id_number]").fill(good[:-1] + ("0" if good[-1] != "0" else "1"))
    form.locator("input[name=phone]").fill("13811112222")
    household.select_option(str(reg.household.pk))
    form.locator("select[name=relation]").select_option("tenant")
    form.get_by_text("志愿者").click()
    page.get_by_test_id("save").click()

    expect(page.get_by_test_id("form-errors")).to_be_visible()
    expect(form.locator("#id_id_number")).to_have_class(re.compile("is-invalid"))
    expect(form.locator("input[name=name]")).to_have_value("周新")
    expect(household).to_have_value(str(reg.household.pk))
    journey.shot("registry-resident-form-error")

    form.locator("input[name=id_number]").fill(good)
    page.get_by_test_id("save").click()
    expect(page.locator("h1")).to_have_text("周新")
    expect(page.locator(".alert-success")).to_be_visible()
    expect(page.get_by_test_id("sensitive-id_number")).to_have_text(f"{good[:6]}********{good[-4:]}")
    expect(page.get_by_test_id("household-card")).to_contain_text("张建国")
    assert_no_script_errors(journey)


def test_a_reveal_refused_after_the_page_loaded_says_why_in_place(journey, org, settings):
    reg = build_registry(org)
    journey.login("wg01")
    page = journey.page
    journey.goto(f"/registry/residents/{reg.zhang.pk}/")
    expect(page.get_by_test_id("reveal")).to_be_visible()

    settings.GRIDGOV_REVEAL_ROLES = ["center"]  # the role lost the right while the page was open
    page.get_by_test_id("reveal").click()
    expect(page.get_by_test_id("reveal-refused")).to_be_visible()
    expect(page.get_by_test_id("sensitive-id_number")).to_have_text(f"{reg.zhang_id[:6]}********{reg.zhang_id[-4:]}")
    assert AuditEvent.objects.filter(event_type="privacy.reveal", result="denied", actor__username="wg01").exists()
