"""Care as it is used: a grid worker on a phone sets up a care plan for an elder living alone and
records the check done; a check nobody did is missed, and the grid leader follows the alert to it."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gridgov.fieldwork.choices import CareCheckState
from gridgov.fieldwork.models import CareCheck, CarePlan
from gridgov.fieldwork.services.care import care_plan_create, sweep_care_checks
from gridgov.registry.defaults import ensure_default_tags
from gridgov.registry.models import Tag
from gridgov.registry.services import resident_create

pytestmark = pytest.mark.e2e
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def script_errors(journey) -> list[str]:
    return [e for e in journey.console_errors if "/favicon.ico" not in e]


def test_worker_sets_up_care_and_leader_follows_the_missed_alert(new_journey, org):
    ensure_default_tags()  # transactional tests flush the rows the data migration made
    alone = Tag.objects.get(code="dujulaoren")
    elder = resident_create(
        actor=None, grid=org.g11, group=org.grp1, name="王奶奶", gender="female", birth_date=date(1940, 3, 1),
        tags=[alone],
    )  # fmt: skip
    resident_create(actor=None, grid=org.g11, name="王小明", gender="male")
    forgotten = resident_create(actor=None, grid=org.g11, name="孙爷爷", gender="male", tags=[alone])

    worker = new_journey(**PHONE)
    worker.login("wg01")
    worker.goto("/fieldwork/care/")
    page = worker.page
    page.get_by_test_id("new-plan").click()
    search = page.get_by_test_id("resident-search")
    search.locator("input[name=find]").fill("王")
    search.locator("button[type=submit]").click()
    candidates = page.get_by_test_id("candidate")
    expect(candidates).to_have_count(2)
    expect(candidates.first).to_contain_text("王奶奶")  # the care-tagged resident first
    candidates.first.locator("input[type=radio]").check()
    form = page.get_by_test_id("plan-form")
    form.locator("select[name=method]").select_option("visit")
    form.locator("input[name=interval_days]").fill("7")
    form.locator("textarea[name=needs]").fill("独居，腿脚不便")
    worker.shot("care-plan-form")
    page.get_by_test_id("plan-submit").click()

    expect(page.get_by_test_id("plan-card")).to_contain_text("王奶奶")
    plan = CarePlan.objects.get(resident=elder)
    assert plan.caretaker == org.users.grid_worker
    expect(page.get_by_test_id("due-on")).to_have_text(timezone.localdate().isoformat())
    page.get_by_test_id("complete-form").locator("textarea[name=note]").fill("身体良好，已送米")
    page.get_by_test_id("complete-submit").click()
    expect(page.get_by_test_id("due-on")).to_have_text((timezone.localdate() + timedelta(days=7)).isoformat())
    expect(page.get_by_test_id("check-row").filter(has_text="身体良好")).to_have_count(1)
    assert CareCheck.objects.filter(plan=plan, state=CareCheckState.DONE).count() == 1
    worker.shot("care-plan-page")
    worker.assert_only_local_requests()
    assert not script_errors(worker), script_errors(worker)

    # A check due two days ago that nobody did: the hourly sweep marks it missed and alerts the grid leader.
    care_plan_create(
        actor=None,
        resident=forgotten,
        method="phone",
        interval_days=3,
        starts_on=timezone.localdate() - timedelta(days=2),
    )
    assert sweep_care_checks() == 1

    leader = new_journey()
    leader.login("gl01")
    expect(leader.page.get_by_test_id("unread-count")).to_have_text("1")
    leader.page.get_by_test_id("notification-bell").click()
    [alert] = leader.page.get_by_test_id("notification").all()
    expect(alert).to_have_attribute("data-unread", "1")
    alert.click()  # marks it read and opens its page
    expect(leader.page).to_have_url(leader.url("/fieldwork/care/checks/?state=missed"))
    rows = leader.page.get_by_test_id("check-row")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("孙爷爷")
    expect(rows.first).to_have_attribute("data-state", "missed")
    leader.shot("care-missed")
    leader.assert_only_local_requests()
    assert not script_errors(leader), script_errors(leader)
