"""The case pipeline in the browser: a grid worker reports a road subsidence on a phone (map tap,
device location, category fields, a photo) and escalates it; the community passes it to the
center, which dispatches it to the property company; the company claims and repairs it; the
center verifies it and the case page shows it closed with its whole timeline."""

from __future__ import annotations

import io
import re

import pytest
from django.utils import translation
from PIL import Image
from playwright.sync_api import expect

from gridgov.cases import defaults
from gridgov.cases.choices import Action, CaseLevel, State
from gridgov.cases.models import Case
from tests.cases.conftest import IN_G11

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def assert_no_script_errors(journey) -> None:
    """No console errors, except Chromium's own /favicon.ico request (not a page matter)."""
    errors = [e for e in journey.console_errors if "/favicon.ico" not in e]
    assert not errors, f"console errors: {errors}"


def assert_only_local_requests(journey) -> None:
    """Intranet-ready: everything came from the live server. The photo preview shows the chosen
    files through blob: URLs of the page's own origin, which never touch the network."""
    local = (journey.base_url + "/", "blob:" + journey.base_url + "/")
    assert journey.requests, "the page made no request at all"
    foreign = [u for u in journey.requests if not u.startswith(local)]
    assert not foreign, f"requests left the server: {foreign}"


def small_png() -> bytes:
    """A small real PNG, as a phone camera would hand over a photo."""
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (180, 120, 60)).save(out, "PNG")
    return out.getvalue()


def open_case_from_queue(journey, section: str, case: Case) -> None:
    """Open the case from a section of the work queue, as the person whose turn it is."""
    page = journey.page
    page.locator("#gg-sidebar a[href='/cases/queue/']").first.click()
    row = page.get_by_test_id(f"queue-{section}").locator(f"[data-code='{case.code}']")
    expect(row).to_be_visible()
    journey.shot(f"cases-queue-{section}")
    row.click()
    expect(page.get_by_test_id("case-code")).to_have_text(case.code)


def act(journey, action: str, fill: dict[str, str] | None = None) -> None:
    """Open an action's form on the case page, fill it and confirm."""
    page = journey.page
    page.get_by_test_id(f"open-{action}").click()
    form = page.get_by_test_id(f"action-{action}")
    for selector, value in (fill or {}).items():
        field = form.locator(selector)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.get_by_test_id(f"submit-{action}").click()


def test_road_subsidence_from_the_phone_report_to_the_verified_closure(new_journey, org):
    defaults.install()  # transactional tests flush the categories the data migration wrote

    # --- the grid worker, on a phone, at the spot -------------------------------------------
    worker = new_journey(
        **PHONE,
        permissions=["geolocation"],
        geolocation={"latitude": IN_G11["lat"], "longitude": IN_G11["lng"]},
    )
    worker.login("wg01")
    page = worker.page
    worker.goto("/cases/report/")
    form = page.get_by_test_id("report-form")
    page.locator("#id_category").select_option("02001")
    # The category's own fields appear once it is chosen.
    expect(page.get_by_test_id("extra-fields")).to_be_visible()
    page.locator("[name='extra.area_m2']").fill("2.5")
    page.locator("[name='extra.blocks_traffic']").select_option("yes")
    page.locator("#id_title").fill("公园旁道路塌陷")
    page.locator("#id_description").fill("公园东门旁路面塌陷约两平方米，有行人绊倒风险")
    page.locator("label[for='priority-urgent']").click()

    report_map = page.get_by_test_id("report-map")
    expect(report_map).to_have_attribute("data-ready", "1")
    expect(report_map.locator(".gg-map-label")).to_have_text(org.g11.name)
    report_map.click(position={"x": 195, "y": 120})  # a tap sets the point
    expect(report_map).to_have_attribute("data-point", re.compile(r"^32\.6\d{5},117\.0\d{5}$"))
    page.get_by_test_id("geolocate").click()  # the device's position replaces it
    expect(page.locator("#id_lat")).to_have_value("32.605000")
    expect(page.locator("#id_lng")).to_have_value("117.005000")
    page.locator("#id_address").fill("幸福路公园东门")
    page.get_by_test_id("photos").set_input_files(
        files=[{"name": "塌陷.png", "mimeType": "image/png", "buffer": small_png()}]
    )
    expect(page.locator("#gg-photo-preview img")).to_have_count(1)
    worker.shot("cases-report-phone")
    form.get_by_test_id("submit-report").click()

    expect(page.get_by_test_id("case-title")).to_have_text("公园旁道路塌陷")
    case = Case.objects.get()
    assert (case.grid, case.level, case.priority) == (org.g11, CaseLevel.GRID, "urgent")
    assert case.extra == {"area_m2": 2.5, "blocks_traffic": True}
    expect(page.get_by_test_id("photo")).to_have_count(1)
    expect(page.get_by_test_id("case-map")).to_have_attribute("data-ready", "1")
    worker.shot("cases-detail-reported-phone")
    act(worker, "escalate", {"textarea[name=reason]": "塌陷面积大，网格无法处置"})
    expect(page.get_by_test_id("level")).to_contain_text(org.c1.name)
    assert_only_local_requests(worker)
    assert_no_script_errors(worker)

    # --- the community passes it up to the center --------------------------------------------
    community = new_journey()
    community.login("sq01")
    open_case_from_queue(community, "accept", case)
    act(community, "escalate", {"textarea[name=reason]": "需街道协调物业"})
    expect(community.page.get_by_test_id("level")).to_contain_text(org.s.name)

    # --- the center dispatches it to the property company ----------------------------------------
    center = new_journey()
    center.login("center")
    open_case_from_queue(center, "accept", case)
    act(center, "dispatch", {"select[name=unit]": str(org.prop.pk), "textarea[name=measures]": "三日内回填修复"})
    expect(center.page.get_by_test_id("case-unit")).to_have_text(org.prop.name)
    expect(center.page.get_by_test_id("notice")).to_be_visible()

    # --- the unit claims and repairs it ------------------------------------------------------------
    unit = new_journey()
    unit.login("unit01")
    open_case_from_queue(unit, "claim", case)
    unit.page.get_by_test_id("do-claim").click()
    expect(unit.page.get_by_test_id("state-badge").first).to_have_attribute("data-state", State.IN_PROGRESS)
    act(unit, "resolve", {"textarea[name=result]": "已回填并重新铺设路面"})
    expect(unit.page.get_by_test_id("state-badge").first).to_have_attribute("data-state", State.RESOLVED)

    # --- the center verifies and closes it ---------------------------------------------------------
    open_case_from_queue(center, "verify", case)
    page = center.page
    page.get_by_test_id("open-verify").click()
    page.get_by_test_id("action-verify").locator("label[for='id_verify_passed_0']").click()
    page.get_by_test_id("submit-verify").click()
    expect(page.get_by_test_id("state-badge").first).to_have_attribute("data-state", State.CLOSED)
    expect(page.get_by_test_id("open-verify")).to_have_count(0)  # done: only what fits a closed case is left
    expect(page.get_by_test_id("open-reopen")).to_be_visible()
    entries = page.get_by_test_id("timeline-entry")
    expect(entries).to_have_count(7)
    steps = [entries.nth(i).get_attribute("data-action") for i in range(7)]
    assert steps == [
        Action.REPORT,
        Action.ESCALATE,
        Action.ESCALATE,
        Action.DISPATCH,
        Action.CLAIM,
        Action.RESOLVE,
        Action.VERIFY,
    ]
    expect(page.get_by_test_id("case-timeline")).to_contain_text("已回填并重新铺设路面")
    expect(page.get_by_test_id("case-result")).to_have_text("已回填并重新铺设路面")
    center.shot("cases-detail-closed-center")
    case.refresh_from_db()
    assert (case.state, case.closed_level, case.unit) == (State.CLOSED, CaseLevel.SUBDISTRICT, org.prop)

    # Closed at the subdistrict: it counts against 不出网率 and 不出社区率, not against 不出街道率.
    page.locator("#gg-sidebar a[href='/cases/stats/']").first.click()
    expect(page.get_by_test_id("closed-total")).to_have_text("1")
    expect(page.get_by_test_id("rate-grid")).to_contain_text("0.0%")
    with translation.override("zh-hans"):
        expect(page.get_by_test_id("rate-grid")).to_contain_text(translation.gettext("Closed within the grid"))
    expect(page.get_by_test_id("rate-subdistrict")).to_contain_text("100.0%")
    center.shot("cases-stats-center")
    page.locator("#gg-sidebar a[href='/cases/']").first.click()
    row = page.get_by_test_id("case-table").locator(f"[data-code='{case.code}']")
    expect(row.get_by_test_id("state-badge")).to_have_attribute("data-state", State.CLOSED)
    center.shot("cases-list-center")
    assert_only_local_requests(center)
    assert_no_script_errors(center)
