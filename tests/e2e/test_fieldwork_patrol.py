"""A patrol on the phone: the grid worker starts, walks (faked device positions), sends the track,
reloads the page in the middle (the waiting points survive in localStorage), ends, and the patrol
page shows the track on its map with the distance."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from gridgov.fieldwork.choices import PatrolState
from gridgov.fieldwork.models import Patrol, PatrolPoint

pytestmark = pytest.mark.e2e

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
LAT, LNG = 32.602, 117.005
STEP = 0.0001  # 11 m north per position, a little over a second apart: a brisk walk


def assert_no_script_errors(journey) -> None:
    errors = [e for e in journey.console_errors if "/favicon.ico" not in e]
    assert not errors, f"console errors: {errors}"


def walk_to(page, lat: float) -> None:
    """Move the faked device and give the clock a moment, so consecutive positions differ in time."""
    time.sleep(1.1)
    page.context.set_geolocation({"latitude": lat, "longitude": LNG})


def waiting(page) -> int:
    return int(page.get_by_test_id("patrol-pending").text_content() or "0")


def test_a_patrol_recorded_on_the_phone(new_journey, org):
    worker = new_journey(**PHONE, permissions=["geolocation"], geolocation={"latitude": LAT, "longitude": LNG})
    page = worker.page
    worker.login("wg01")
    worker.goto("/fieldwork/patrols/current/")
    page.get_by_test_id("patrol-start").click()
    expect(page.get_by_test_id("patrol-active")).to_be_visible()
    expect(page.get_by_test_id("patrol-end-form")).to_have_attribute("data-ready", "1")
    patrol = Patrol.objects.get()
    assert patrol.grid == org.g11

    # Walk five steps north; the points wait on the phone until they are sent.
    for i in range(1, 6):
        walk_to(page, LAT + STEP * i)
    expect(page.get_by_test_id("patrol-pending")).not_to_have_text("0")
    worker.shot("patrol-current-walking")
    page.get_by_test_id("patrol-send").click()
    expect(page.get_by_test_id("patrol-status")).to_have_class("mt-3 small text-success")
    sent = PatrolPoint.objects.filter(patrol=patrol).count()
    assert sent >= 5
    patrol.refresh_from_db()
    assert patrol.distance_m > 40  # 5 × 11 m, the first position included or not

    # Three more steps, then the page is reloaded before they are sent: they survive in localStorage.
    for i in range(6, 9):
        walk_to(page, LAT + STEP * i)
    expect(page.get_by_test_id("patrol-pending")).not_to_have_text("0")
    held = page.evaluate(f"JSON.parse(localStorage.getItem('gridgov.patrol.{patrol.pk}')).length")
    assert held >= 3
    assert PatrolPoint.objects.filter(patrol=patrol).count() == sent
    page.reload()
    expect(page.get_by_test_id("patrol-end-form")).to_have_attribute("data-ready", "1")
    # The page sends what it held as soon as it loads.
    expect(page.get_by_test_id("patrol-status")).to_have_class("mt-3 small text-success")
    assert PatrolPoint.objects.filter(patrol=patrol).count() >= sent + held
    expect(page.get_by_test_id("figure-distance")).not_to_have_text("0 m")

    walk_to(page, LAT + STEP * 9)
    page.get_by_test_id("patrol-end").click()

    # The patrol page: ended, the distance, the track on the map.
    expect(page.get_by_test_id("patrol-state")).to_have_attribute("data-state", PatrolState.ENDED)
    patrol.refresh_from_db()
    assert patrol.state == PatrolState.ENDED
    assert patrol.distance_m > 80  # at least 8 of the 9 steps counted
    assert patrol.flagged_count == 0
    patrol_map = page.get_by_test_id("patrol-map")
    expect(patrol_map).to_have_attribute("data-ready", "1")
    expect(patrol_map).to_have_attribute("data-flagged", "0")
    # The counted line, the start and the end (the grid's boundary is drawn but not interactive).
    expect(patrol_map).to_have_attribute("data-features", "3")
    expect(patrol_map.locator("path.leaflet-interactive")).to_have_count(3)
    expect(page.get_by_test_id("figure-distance")).to_contain_text(str(round(patrol.distance_m)))
    worker.shot("patrol-detail")
    assert page.evaluate(f"localStorage.getItem('gridgov.patrol.{patrol.pk}')") in (None, "[]")
    worker.assert_only_local_requests()
    assert_no_script_errors(worker)

    # The list shows it with its distance.
    worker.goto("/fieldwork/patrols/")
    row = page.get_by_test_id("patrol-row").first
    expect(row.get_by_test_id("patrol-distance")).to_contain_text(str(round(patrol.distance_m)))
