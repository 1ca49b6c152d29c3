"""The care and activity pages: lists, forms, refusals shown in Chinese, scope."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from gridgov.fieldwork.choices import CareCheckState
from gridgov.fieldwork.models import Activity, CareCheck, CarePlan, HomeService
from gridgov.fieldwork.services.care import care_plan_create, sweep_care_checks


@pytest.fixture
def elder(org):
    from gridgov.registry.models import Tag
    from gridgov.registry.services import resident_create

    return resident_create(
        actor=None,
        grid=org.g11,
        group=org.grp1,
        name="王奶奶",
        gender="female",
        birth_date=date(1940, 3, 1),
        tags=[Tag.objects.get(code="dujulaoren")],
    )


@pytest.fixture
def zh(client, settings):
    settings.LANGUAGE_CODE = "zh-hans"
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    return client


def test_plan_list_search_and_create(client, org, elder):
    client.force_login(org.users.grid_worker)
    page = client.get(reverse("fieldwork:care_plans"), {"find": "王"})
    assert page.status_code == 200
    assert 'data-testid="candidate"' in page.content.decode() and "王奶奶" in page.content.decode()
    response = client.post(
        reverse("fieldwork:care_plans"), {"resident": elder.pk, "method": "phone", "interval_days": 3, "caretaker": ""}
    )
    plan = CarePlan.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("fieldwork:care_plan", args=[plan.pk])
    detail = client.get(response["Location"])
    assert detail.status_code == 200 and 'data-testid="complete-form"' in detail.content.decode()


def test_plan_create_refusal_is_shown_and_writes_nothing(client, org):
    from gridgov.registry.services import resident_create

    ungrouped = resident_create(actor=None, grid=org.g11, name="李大爷", gender="male")
    client.force_login(org.users.grid_worker)
    response = client.post(
        reverse("fieldwork:care_plans"),
        {"resident": ungrouped.pk, "method": "visit", "interval_days": 3, "caretaker": org.users.group_leader.pk},
    )
    assert response.status_code == 400
    assert "lb01" in response.content.decode() and 'class="invalid-feedback d-block"' in response.content.decode()
    assert CarePlan.objects.count() == 0 and CareCheck.objects.count() == 0
    missing = client.post(reverse("fieldwork:care_plans"), {"method": "visit", "interval_days": 3})
    assert missing.status_code == 400 and CarePlan.objects.count() == 0


def test_group_leader_may_not_create_plans(client, org, elder):
    client.force_login(org.users.group_leader)
    assert 'data-testid="plan-form"' not in client.get(reverse("fieldwork:care_plans")).content.decode()
    response = client.post(
        reverse("fieldwork:care_plans"), {"resident": elder.pk, "method": "visit", "interval_days": 3}
    )
    assert response.status_code == 404 and CarePlan.objects.count() == 0


def test_complete_service_and_deactivate_from_the_plan_page(client, org, elder):
    plan = care_plan_create(actor=org.users.grid_worker, resident=elder, method="service", interval_days=5)
    client.force_login(org.users.grid_worker)
    done = client.post(reverse("fieldwork:care_home_service", args=[plan.pk]),
                       {"kind": "errand", "description": "代办低保年审", "complete_check": "on"})  # fmt: skip
    assert done.status_code == 302
    assert HomeService.objects.count() == 1
    assert CareCheck.objects.filter(plan=plan, state=CareCheckState.DONE).count() == 1
    assert client.post(reverse("fieldwork:care_check_complete", args=[plan.pk]), {"method": "phone"}).status_code == 302
    assert CareCheck.objects.filter(plan=plan, state=CareCheckState.DONE).count() == 2
    update = {"method": "service", "interval_days": 5, "caretaker": "", "needs": ""}  # "active" unticked
    assert client.post(reverse("fieldwork:care_plan_update", args=[plan.pk]), update).status_code == 302
    assert not CareCheck.objects.filter(plan=plan, state=CareCheckState.DUE).exists()
    refused = client.post(reverse("fieldwork:care_check_complete", args=[plan.pk]), {"method": "phone"})
    assert refused.status_code == 409


def test_missed_checks_page_and_chinese_error(zh, org, elder):
    care_plan_create(
        actor=org.users.grid_worker,
        resident=elder,
        method="visit",
        interval_days=5,
        starts_on=timezone.localdate() - timedelta(days=2),
    )
    sweep_care_checks()
    zh.force_login(org.users.grid_leader)
    page = zh.get(reverse("fieldwork:care_checks"), {"state": "missed"})
    assert page.status_code == 200
    rows = page.content.decode().count('data-testid="check-row" data-state="missed"')
    assert rows == 1
    zh.force_login(org.users.grid_worker)
    bad = zh.post(reverse("fieldwork:care_plans"), {"resident": elder.pk, "method": "visit", "interval_days": 0})
    assert bad.status_code == 400
    assert "确保该值大于或等于" in bad.content.decode()


def test_plan_outside_scope_is_404(client, org, elder):
    plan = care_plan_create(actor=None, resident=elder, method="visit", interval_days=5)
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create
    from tests.conftest import PASSWORD

    outsider = user_create(actor=None, username="wg21", password=PASSWORD, name="wg21")
    post_create(actor=None, user=outsider, role=Role.GRID_WORKER, area=org.g21)
    client.force_login(outsider)
    assert client.get(reverse("fieldwork:care_plan", args=[plan.pk])).status_code == 404
    assert client.post(reverse("fieldwork:care_check_complete", args=[plan.pk]), {"method": "visit"}).status_code == 404


def test_activity_pages(client, org):
    from gridgov.registry.models import Tag
    from gridgov.registry.services import resident_create

    volunteer = resident_create(
        actor=None, grid=org.g11, name="志愿甲", gender="male", tags=[Tag.objects.get(code="zhiyuanzhe")]
    )
    other = resident_create(actor=None, grid=org.g11, name="普通人", gender="male")
    client.force_login(org.users.grid_worker)
    form = client.get(reverse("fieldwork:activity_create"))
    assert form.status_code == 200 and "志愿甲" in form.content.decode() and "普通人" not in form.content.decode()
    data = {
        "title": "敬老助老",
        "kind": "volunteer",
        "organiser": "一网格",
        "area": org.g11.pk,
        "held_on": timezone.localdate().isoformat(),
        "households_reached": 6,
        "participants": [volunteer.pk],
    }
    response = client.post(reverse("fieldwork:activity_create"), data)
    assert response.status_code == 302
    activity = Activity.objects.get()
    page = client.get(reverse("fieldwork:activity", args=[activity.pk]))
    assert page.status_code == 200 and "志愿甲" in page.content.decode()
    listing = client.get(reverse("fieldwork:activities"))
    assert listing.status_code == 200 and 'data-testid="activity-stats"' in listing.content.decode()
    # A non-volunteer cannot even be ticked: not one of the choices.
    refused = client.post(reverse("fieldwork:activity_create"), {**data, "participants": [other.pk]})
    assert refused.status_code == 400 and Activity.objects.count() == 1
