"""My day (我的今日): the targets due grouped by place (overdue first and marked), care checks due, the cases
of the work queue, the patrol button and the counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.fieldwork.models import CampaignTarget
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


def test_my_day_groups_the_tasks_by_place_overdue_first(client, org, homes, campaign, checklists):
    campaign(checklists.fire, name="消防安全专项")
    campaign(checklists.fraud, name="反诈宣传专项", target_filter={"member_tags": ["dujulaoren"]})
    # One task of h3 is overdue: it comes first and is marked.
    late = CampaignTarget.objects.get(household=homes.h3)
    late.due_on = timezone.localdate() - timedelta(days=1)
    late.save(update_fields=["due_on"])
    login(client, "wg01")
    response = client.get("/fieldwork/")
    assert response.status_code == 200
    places = response.context["places"]
    assert [p.target_id for p in places][0] == homes.h3.pk and places[0].overdue
    by_place = {p.target_id: sorted(t.campaign.name for t in p.tasks) for p in places}
    assert by_place == {
        homes.h1.pk: ["反诈宣传专项", "消防安全专项"],
        homes.h2.pk: ["消防安全专项"],
        homes.h3.pk: ["消防安全专项"],
    }
    assert response.context["target_total"] == 4 and response.context["overdue_total"] == 1
    html = response.content.decode()
    assert f"/fieldwork/visits/new/?kind=household&amp;id={homes.h1.pk}" in html
    assert "gg-stop gg-overdue" in html


def test_my_day_shows_care_checks_cases_and_the_patrol(client, org, homes):
    from gridgov.cases.services import case_report
    from gridgov.fieldwork.services.care import care_plan_create
    from gridgov.fieldwork.services.patrols import patrol_start

    care_plan_create(actor=org.users.grid_worker, resident=homes.elder, method="phone", interval_days=7)
    case = case_report(actor=org.users.center, category="01001", title="暴露垃圾", lat=32.605, lng=117.005)
    login(client, "gl01")
    response = client.get("/fieldwork/")
    assert response.status_code == 200
    assert [c.resident_id for c in response.context["checks"]] == [homes.elder.pk]  # the grid leader oversees
    assert response.context["case_total"] >= 1
    assert case.pk in {c.pk for c in response.context["cases"]}
    assert response.context["patrol"] is None
    client.logout()
    patrol_start(actor=org.users.grid_worker)
    login(client, "wg01")
    response = client.get("/fieldwork/")
    assert response.context["patrol"] is not None
    assert 'data-testid="patrol-button"' in response.content.decode()


def test_my_day_needs_an_area_post(client, org):
    login(client, "nobody")
    assert client.get("/fieldwork/").status_code == 403
    client.logout()
    login(client, "unit01")
    assert client.get("/fieldwork/").status_code == 403
    client.logout()
    login(client, "center")
    response = client.get("/fieldwork/")
    assert response.status_code == 200 and response.context["target_total"] == 0


def test_my_day_and_the_campaign_page_read_a_fixed_number_of_queries(client, org, homes, campaign, checklists):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gridgov.registry.services import household_create

    fire = campaign(checklists.fire, name="消防安全专项")
    login(client, "wg01")

    def queries(url: str) -> int:
        client.get(url)  # warm the session and caches
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    day_before = queries("/fieldwork/")
    page_before = queries(f"/fieldwork/campaigns/{fire.pk}/")
    for n in range(6):
        household_create(actor=None, grid=org.g11, group=org.grp2, address=f"一网格9号楼{n}01")
    more = campaign(checklists.fire, name="第二轮消防专项")
    assert more.target_count > fire.target_count
    assert queries("/fieldwork/") == day_before
    assert queries(f"/fieldwork/campaigns/{more.pk}/") == page_before
