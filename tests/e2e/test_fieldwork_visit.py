"""A grid worker's visit on a phone: My day shows a household with two campaign tasks; one tap opens the
visit form, both checklists are answered (one answer is a problem), the device's location is taken, the
visit page shows the hazard case it opened, and the campaign page shows its progress moved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from gridgov.cases import defaults
from gridgov.cases.models import BusinessLine, Case, Category
from gridgov.fieldwork.choices import ItemType, TargetKind, TargetState
from gridgov.fieldwork.models import CampaignTarget, ChecklistItem, ChecklistTemplate, Visit
from gridgov.fieldwork.services.campaigns import campaign_create
from gridgov.registry.services import household_create
from tests.e2e.test_cases_journey import PHONE, assert_no_script_errors, assert_only_local_requests

pytestmark = pytest.mark.e2e

IN_G11 = {"latitude": 32.605, "longitude": 117.005}


def checklists():
    """A fire checklist whose "yes" to e-bikes charged indoors opens case 04002, and an anti-fraud one."""
    fire = ChecklistTemplate.objects.create(
        code="e2e-fire",
        name="消防排查",
        business_line=BusinessLine.objects.get(code="work_safety"),
        target_kind=TargetKind.HOUSEHOLD,
    )
    ChecklistItem.objects.create(
        template=fire,
        order=1,
        code="ebike_indoors",
        label="电动车入户充电",
        type=ItemType.YES_NO,
        problem_values=[True],
        category=Category.objects.get(code="04002"),
        rectify_days=7,
    )
    ChecklistItem.objects.create(
        template=fire, order=2, code="extinguishers", label="灭火器数量", type=ItemType.NUMBER, problem_below=1
    )
    fraud = ChecklistTemplate.objects.create(
        code="e2e-fraud",
        name="反诈宣传",
        business_line=BusinessLine.objects.get(code="safety"),
        target_kind=TargetKind.HOUSEHOLD,
    )
    ChecklistItem.objects.create(
        template=fraud, order=1, code="leaflet", label="发放宣传单", type=ItemType.YES_NO, problem_values=[False]
    )
    ChecklistItem.objects.create(
        template=fraud,
        order=2,
        code="app",
        label="安装国家反诈中心APP",
        type=ItemType.CHOICE,
        choices=["已安装", "未安装"],
    )
    return fire, fraud


def test_a_worker_does_two_campaigns_in_one_visit_from_my_day(new_journey, org):
    defaults.install()  # transactional tests flush the categories the data migration wrote
    fire_list, fraud_list = checklists()
    home = household_create(actor=None, grid=org.g11, group=org.grp1, address="幸福路1号楼101")
    household_create(actor=None, grid=org.g11, group=org.grp2, address="幸福路2号楼201")
    today = timezone.localdate()
    fire = campaign_create(
        actor=org.users.center,
        name="消防安全专项",
        area=org.s,
        checklist=fire_list,
        starts_on=today,
        ends_on=today + timedelta(days=14),
    )
    fraud = campaign_create(
        actor=org.users.center,
        name="反诈宣传专项",
        area=org.s,
        checklist=fraud_list,
        starts_on=today,
        ends_on=today + timedelta(days=7),
        target_filter={"area": org.grp1.code},
    )

    worker = new_journey(**PHONE, permissions=["geolocation"], geolocation=IN_G11)
    worker.login("wg01")
    page = worker.page
    worker.goto("/fieldwork/")
    expect(page.get_by_test_id("count-targets")).to_have_text("3")
    stop = page.locator(f"[data-testid=day-stop][data-id='{home.pk}']")
    expect(stop.get_by_test_id("day-task")).to_have_count(2)
    worker.shot("fieldwork-day-phone")
    stop.click()

    expect(page.get_by_test_id("visit-target-label")).to_have_text("幸福路1号楼101")
    expect(page.get_by_test_id("task")).to_have_count(2)
    fire_section = page.locator(f"[data-testid=task][data-campaign='{fire.pk}']")
    fraud_section = page.locator(f"[data-testid=task][data-campaign='{fraud.pk}']")
    fire_section.locator("[data-item=ebike_indoors] input[value=yes] + label").click()  # the problem
    fire_section.locator("[data-item=extinguishers] input").fill("2")
    fraud_section.locator("[data-item=leaflet] input[value=yes] + label").click()
    fraud_section.locator("[data-item=app] select").select_option("已安装")
    page.get_by_test_id("geolocate").click()
    expect(page.locator("#id_lat")).to_have_value("32.605000")
    page.locator("#id_note").fill("楼道堆放电动车，已当面提醒")
    worker.shot("fieldwork-visit-form-phone")
    page.get_by_test_id("submit-visit").click()

    expect(page.get_by_test_id("visit-label")).to_have_text("幸福路1号楼101")
    case = Case.objects.get()
    assert case.category.code == "04002" and case.grid_id == org.g11.pk
    expect(page.get_by_test_id("task-done")).to_have_count(2)
    expect(page.get_by_test_id("finding-case")).to_have_text(case.code)
    expect(page.get_by_test_id("rectify-by")).to_contain_text((today + timedelta(days=7)).isoformat())
    expect(page.get_by_test_id("visit-map")).to_have_attribute("data-ready", "1")
    worker.shot("fieldwork-visit-page-phone")
    visit = Visit.objects.get()
    assert CampaignTarget.objects.filter(visit=visit, state=TargetState.DONE).count() == 2

    # The case opens from the visit page; the campaign page shows the progress moved.
    page.get_by_test_id("finding-case").click()
    expect(page.get_by_test_id("case-code")).to_have_text(case.code)
    worker.goto(f"/fieldwork/campaigns/{fire.pk}/")
    totals = page.get_by_test_id("campaign-totals")
    expect(totals).to_have_attribute("data-done", "1")
    expect(totals).to_have_attribute("data-total", "2")
    expect(page.locator("[data-testid=target-row][data-state=done]")).to_have_count(1)
    worker.shot("fieldwork-campaign-phone")
    assert_only_local_requests(worker)
    assert_no_script_errors(worker)
