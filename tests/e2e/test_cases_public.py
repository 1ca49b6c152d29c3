"""A resident on a phone, without an account: reports a road subsidence (category, the category's own
fields, a tap on the map, a photo), gets a tracking code, and follows the report with it."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from gridgov.cases import defaults
from gridgov.cases.choices import CaseLevel, Source, State
from gridgov.cases.models import Case

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def assert_no_script_errors(journey) -> None:
    """No console errors, except Chromium's own /favicon.ico request (not a page matter)."""
    errors = [e for e in journey.console_errors if "/favicon.ico" not in e]
    assert not errors, f"console errors: {errors}"


def assert_only_local_requests(journey) -> None:
    """Every request went to the live server; the photo preview reads the chosen file through a blob:
    URL of the page's own origin, which never touches the network."""
    local = (journey.base_url + "/", "blob:" + journey.base_url + "/")
    assert journey.requests
    foreign = [u for u in journey.requests if not u.startswith(local)]
    assert not foreign, f"requests left the server: {foreign}"


def small_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 120, 60)).save(out, "PNG")
    return out.getvalue()


def test_a_resident_reports_from_a_phone_and_follows_the_report_with_the_code(new_journey, org):
    defaults.install()  # transactional tests flush the categories the data migration wrote
    resident = new_journey(**PHONE)
    page = resident.page
    resident.goto("/public/report/")
    expect(page.locator("#gg-sidebar")).to_have_count(0)  # no staff layout
    form = page.get_by_test_id("report-form")

    page.locator("#id_category").select_option("02001")
    expect(page.locator("[data-extra-for='02001']")).to_be_visible()
    expect(page.locator("[data-extra-for='07001']")).to_be_hidden()
    page.locator("#id_x_02001_area_m2").fill("2")
    page.locator("#id_x_02001_blocks_traffic").select_option("true")
    page.locator("#id_title").fill("公园旁道路塌陷")
    page.locator("#id_description").fill("公园东门旁人行道塌了一个坑")
    page.locator("#id_address").fill("幸福路公园东门")

    report_map = page.get_by_test_id("report-map")
    expect(report_map).to_have_attribute("data-ready", "1")
    expect(report_map.locator(".gg-map-label", has_text=org.c1.name)).to_be_visible()
    box = report_map.bounding_box()
    assert box is not None and box["width"] <= 390
    # The map fits both communities (C1 is the western two thirds): a tap in its lower left quarter is in C1.
    report_map.tap(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
    expect(page.get_by_test_id("picked-point")).to_contain_text(re.compile(r"32\.6\d+, 117\.0\d+"))
    lat = float(page.locator("input[name=lat]").input_value())
    lng = float(page.locator("input[name=lng]").input_value())
    assert 117.0 < lng < 117.02 and 32.6 < lat < 32.62

    page.locator("input[name=photos]").set_input_files(
        files=[{"name": "塌陷.png", "mimeType": "image/png", "buffer": small_png()}]
    )
    expect(page.locator("#gg-photo-previews img")).to_have_count(1)
    page.locator("#id_reporter_name").fill("王女士")
    page.locator("#id_reporter_phone").fill("13800001234")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")  # nothing wider than a phone
    resident.shot("cases-public-report-phone")
    form.get_by_test_id("submit-report").click()

    code_box = page.get_by_test_id("tracking-code")
    expect(code_box).to_have_text(re.compile(r"^[A-Z0-9]{10}$"))
    code = code_box.inner_text()
    case = Case.objects.get(tracking_code=code)
    assert (case.source, case.level, case.handling_area, case.state) == (
        Source.RESIDENT,
        CaseLevel.COMMUNITY,
        org.c1,
        State.REPORTED,
    )
    assert (round(case.lat, 6), round(case.lng, 6)) == (round(lat, 6), round(lng, 6))
    assert case.extra == {"area_m2": 2.0, "blocks_traffic": True} and case.attachments.count() == 1
    expect(page.get_by_test_id("tracking-link")).to_have_value(re.compile(rf"/public/track/{code}/$"))
    resident.shot("cases-public-received-phone")

    # A new visit: the resident types the code they wrote down.
    page.get_by_test_id("nav-track").click()
    page.locator("#id_code").fill(code.lower())
    page.get_by_test_id("submit-track").click()
    expect(page).to_have_url(re.compile(rf"/public/track/{code}/$"))
    expect(page.get_by_test_id("case-title")).to_have_text("公园旁道路塌陷")
    expect(page.get_by_test_id("public-timeline").locator("li")).to_have_count(1)
    photo = page.get_by_test_id("case-photos").locator("img")
    expect(photo).to_have_count(1)
    expect(photo).to_have_js_property("complete", True)
    assert photo.evaluate("img => img.naturalWidth") > 0
    expect(page.get_by_test_id("public-case")).not_to_contain_text("13800001234")
    resident.shot("cases-public-track-phone")
    assert_only_local_requests(resident)
    assert_no_script_errors(resident)
