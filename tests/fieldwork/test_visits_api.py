"""Visits over HTTP, as the issue checks them: one visit does two campaigns and a care check, a problem answer
opens a hazard case in the right grid with the checklist's deadline, progress moves; bad visits write nothing."""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from gridgov.cases.models import Case, CaseEvent
from gridgov.fieldwork.models import CampaignTarget, Finding, Visit
from tests.conftest import api_headers

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_campaigns(campaign, checklists):
    fire = campaign(checklists.fire, name="消防安全专项")
    fraud = campaign(checklists.fraud, name="反诈宣传专项", target_filter={"member_tags": ["dujulaoren"]})
    return fire, fraud


def counts():
    return (Visit.objects.count(), Finding.objects.count(), Case.objects.count(), CaseEvent.objects.count())


def test_one_visit_does_two_campaigns_and_opens_a_hazard_case(client, org, homes, two_campaigns):
    fire, fraud = two_campaigns
    headers = api_headers(client, "wg01")
    context = client.get(f"/api/v1/visits/context/?kind=household&id={homes.h1.pk}", **headers).json()
    tasks = {task["campaign_name"]: task for task in context["tasks"]}
    assert set(tasks) == {"消防安全专项", "反诈宣传专项"}
    assert [item["code"] for item in tasks["消防安全专项"]["items"]] == ["ebike_indoors", "extinguishers", "note"]

    body = {
        "kind": "household",
        "target_id": homes.h1.pk,
        "lat": 32.605,
        "lng": 117.005,
        "note": "入户走访",
        "campaigns": [
            {"target": tasks["消防安全专项"]["target"], "answers": {"ebike_indoors": True, "extinguishers": 1}},
            {"target": tasks["反诈宣传专项"]["target"], "answers": {"leaflet": True, "app": "已安装"}},
        ],
    }
    response = client.post("/api/v1/visits/", json.dumps(body), content_type="application/json", **headers)
    assert response.status_code == 201, response.content
    visit = response.json()
    assert {t["campaign_name"] for t in visit["targets_done"]} == {"消防安全专项", "反诈宣传专项"}
    assert CampaignTarget.objects.filter(visit_id=visit["id"], state="done").count() == 2

    # The problem answer opened one hazard case in G11, the household's grid, due by the checklist's 7 days.
    [opened] = response.json()["cases_opened"]
    case = Case.objects.get(pk=opened["id"])
    assert case.grid == org.g11 and case.category.code == "04002" and case.kind == "hazard"
    rectify_day = timezone.localdate() + timedelta(days=7)
    assert timezone.localtime(case.rectify_by).date() == rectify_day
    assert visit["findings"] == [
        {
            "item": "ebike_indoors",
            "label": "电动车入户充电",
            "answer": True,
            "case": case.code,
            "case_id": case.pk,
            "rectify_by": rectify_day.isoformat(),
        }
    ]
    # Once the grid takes the case in, its handling deadline is the rectification deadline.
    accept = client.post(
        f"/api/v1/cases/{case.pk}/actions/accept/", {}, content_type="application/json", **api_headers(client, "gl01")
    )
    assert accept.status_code == 200, accept.content
    case.refresh_from_db()
    assert case.due_at == timezone.make_aware(datetime.combine(rectify_day, time(23, 59, 59)))
    detail = client.get(f"/api/v1/cases/{case.pk}/", **headers).json()
    assert detail["rectify_by"].startswith(rectify_day.isoformat()) and detail["due_at"] == detail["rectify_by"]

    # Progress moved for the grid, the community and the person.
    grid = {r["key"]: r for r in client.get(f"/api/v1/campaigns/{fire.pk}/progress/?by=grid", **headers).json()}
    assert (grid[org.g11.code]["done"], grid[org.g11.code]["total"], grid[org.g11.code]["problems"]) == (1, 3, 1)
    center = api_headers(client, "center")
    community = {
        r["key"]: r for r in client.get(f"/api/v1/campaigns/{fire.pk}/progress/?by=community", **center).json()
    }
    assert (community[org.c1.code]["done"], community[org.c1.code]["total"]) == (1, 4)
    person = {r["name"]: r for r in client.get(f"/api/v1/campaigns/{fraud.pk}/progress/?by=person", **center).json()}
    assert person["wg01"]["done"] == 1 and person["wg01"]["rate"] == 1.0
    detail = client.get(f"/api/v1/campaigns/{fire.pk}/", **headers).json()
    assert detail["done_count"] == 1

    # Done tasks no longer show up at the door.
    again = client.get(f"/api/v1/visits/context/?kind=household&id={homes.h1.pk}", **headers).json()
    assert again["tasks"] == []


def test_answers_that_do_not_fit_are_refused_whole(client, org, homes, two_campaigns):
    fire, fraud = two_campaigns
    headers = api_headers(client, "wg01")
    fire_target = CampaignTarget.objects.get(campaign=fire, household=homes.h1)
    fraud_target = CampaignTarget.objects.get(campaign=fraud, household=homes.h1)
    before = counts()
    body = {
        "kind": "household",
        "target_id": homes.h1.pk,
        "campaigns": [
            {"target": fire_target.pk, "answers": {"ebike_indoors": "maybe", "extinguishers": "two", "colour": "red"}},
            {"target": fraud_target.pk, "answers": {"leaflet": True, "app": "华为"}},
        ],
    }
    response = client.post("/api/v1/visits/", json.dumps(body), content_type="application/json", **headers)
    assert response.status_code == 400
    error = response.json()
    assert error["code"] == "invalid_visit"
    assert set(error["fields"]) == {
        "campaigns.0.answers.ebike_indoors",
        "campaigns.0.answers.extinguishers",
        "campaigns.0.answers.colour",
        "campaigns.1.answers.app",
    }
    assert counts() == before
    assert CampaignTarget.objects.filter(state="done").count() == 0

    # A missing required answer, and a task of another household.
    other = CampaignTarget.objects.get(campaign=fire, household=homes.h2)
    body["campaigns"] = [{"target": fire_target.pk, "answers": {"ebike_indoors": False}}, {"target": other.pk}]
    error = client.post("/api/v1/visits/", json.dumps(body), content_type="application/json", **headers).json()
    assert set(error["fields"]) == {"campaigns.0.answers.extinguishers", "campaigns.1.target"}
    assert counts() == before


def test_a_visit_outside_the_workers_grid_is_refused(client, org, homes, two_campaigns):
    fire, _fraud = two_campaigns
    target = CampaignTarget.objects.get(campaign=fire, household=homes.h4)  # G12
    before = counts()
    body = {"kind": "household", "target_id": homes.h4.pk, "campaigns": [{"target": target.pk, "answers": {}}]}
    response = client.post(
        "/api/v1/visits/", json.dumps(body), content_type="application/json", **api_headers(client, "wg01")
    )
    assert response.status_code == 403
    assert response.json()["code"] == "outside_grid"
    assert "二网格3号楼301" in response.json()["message"]
    assert counts() == before
    # The group leader of grp1 may not visit grp2 either; a unit handler visits nobody.
    for username, home in (("lb01", homes.h3), ("unit01", homes.h1)):
        body = {"kind": "household", "target_id": home.pk}
        response = client.post(
            "/api/v1/visits/", json.dumps(body), content_type="application/json", **api_headers(client, username)
        )
        assert response.status_code == 403, username


def test_a_done_task_cannot_be_done_twice(client, org, homes, two_campaigns):
    fire, _fraud = two_campaigns
    target = CampaignTarget.objects.get(campaign=fire, household=homes.h2)
    body = {
        "kind": "household",
        "target_id": homes.h2.pk,
        "campaigns": [{"target": target.pk, "answers": {"ebike_indoors": False, "extinguishers": 2}}],
    }
    headers = api_headers(client, "wg01")
    first = client.post("/api/v1/visits/", json.dumps(body), content_type="application/json", **headers)
    assert first.status_code == 201 and first.json()["cases_opened"] == []
    before = counts()
    second = client.post("/api/v1/visits/", json.dumps(body), content_type="application/json", **headers)
    assert second.status_code == 400
    assert list(second.json()["fields"]) == ["campaigns.0.target"]
    assert counts() == before


def test_visits_are_scoped(client, org, homes, two_campaigns):
    body = {"kind": "household", "target_id": homes.h1.pk, "note": "回访"}
    made = client.post(
        "/api/v1/visits/", json.dumps(body), content_type="application/json", **api_headers(client, "wg01")
    ).json()
    assert client.get(f"/api/v1/visits/{made['id']}/", **api_headers(client, "sq01")).status_code == 200
    assert client.get(f"/api/v1/visits/{made['id']}/", **api_headers(client, "unit01")).status_code == 404
    assert client.get("/api/v1/visits/", **api_headers(client, "lb01")).json()["count"] == 1  # h1 lies in grp1


def test_a_self_built_house_with_three_problems_is_one_case_with_its_fields(org, campaign):
    """The default self-built house checklist: problems of one category make one case, due by the earliest
    deadline, with the category's required extra fields (floors, grade) taken from the answers."""
    from gridgov.fieldwork.models import ChecklistTemplate
    from gridgov.fieldwork.services.visits import visit_record
    from gridgov.registry.services import building_create

    house = building_create(
        actor=None, grid=org.g11, address="一网格自建房8号", use="self_built", floors=4, lng=117.004, lat=32.604
    )
    made = campaign(ChecklistTemplate.objects.get(code="self-built-house"), target_filter={"use": ["self_built"]})
    target = CampaignTarget.objects.get(campaign=made, building=house)
    answers = {
        "for_business": False,
        "floors": 4,  # a problem above 3 floors (30 days)
        "structure_changed": True,  # a problem (30 days)
        "cracks": True,  # a problem (7 days)
        "approved": True,
        "occupants": 6,
        "grade": "B",
        "photo": "house.png",
    }
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.cases.test_services import png

    photo = SimpleUploadedFile("house.png", png(), content_type="image/png")
    visit = visit_record(
        actor=org.users.grid_worker,
        kind="building",
        target_id=house.pk,
        campaigns=[{"target": target.pk, "answers": answers}],
        photos=[photo],
    )
    [case] = visit.opened_cases
    assert case.category.code == "04004" and case.extra == {"floors": 4, "grade": "B"}
    assert timezone.localtime(case.rectify_by).date() == timezone.localdate() + timedelta(days=7)
    assert Finding.objects.filter(visit=visit, case=case).count() == 3
    assert visit.photos.count() == 1 and CampaignTarget.objects.get(pk=target.pk).answers["photo"] == "house.png"
