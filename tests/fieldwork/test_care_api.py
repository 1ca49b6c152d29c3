"""Care over HTTP: plans, checks, home services, and the missed-check alert reaching the grid leader."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.utils import timezone

from gridgov.fieldwork.choices import CareCheckState
from gridgov.fieldwork.models import CareCheck, CarePlan, HomeService
from gridgov.fieldwork.services.care import sweep_care_checks
from tests.conftest import api_headers


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
        id_number="",
        phone="13800138000",
        tags=[Tag.objects.get(code="dujulaoren")],
    )


@pytest.fixture
def far(org):
    from gridgov.registry.services import resident_create

    return resident_create(actor=None, grid=org.g21, name="赵阿姨", gender="female")


def post(client, url, data, headers):
    return client.post(url, data, content_type="application/json", **headers)


def test_plan_check_sweep_alert_journey(client, org, elder):
    worker = api_headers(client, "wg01")
    start = (timezone.localdate() - timedelta(days=2)).isoformat()
    response = post(
        client,
        "/api/v1/care-plans/",
        {"resident": elder.pk, "method": "visit", "interval_days": 7, "starts_on": start, "needs": "行动不便"},
        worker,
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["resident"] == {"id": elder.pk, "name": "王奶奶"}
    assert body["caretaker"]["username"] == "wg01"
    assert body["next_due"] == start
    assert [c["state"] for c in body["checks"]] == ["due"]
    assert "138" not in response.content.decode()  # no phone number, masked or not

    # The check is overdue and nobody did it: the sweep marks it missed and alerts the grid leader.
    assert sweep_care_checks() == 1
    leader = api_headers(client, "gl01")
    notes = client.get("/api/v1/notifications/", **leader).json()["results"]
    [alert] = [n for n in notes if n["kind"] == "care_check_missed"]
    assert "1" in alert["body"] and alert["url"] == "/fieldwork/care/checks/?state=missed"
    assert client.get(alert["url"], **leader).status_code in (200, 302)

    missed = client.get("/api/v1/care-checks/", {"state": "missed"}, **leader).json()["results"]
    assert [c["plan"] for c in missed] == [body["id"]]
    [due] = client.get("/api/v1/care-checks/", {"state": "due", "mine": "1"}, **worker).json()["results"]
    assert due["due_on"] == timezone.localdate().isoformat()

    response = post(client, f"/api/v1/care-checks/{due['id']}/complete/", {"note": "已上门"}, worker)
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "done" and response.json()["done_by"]["username"] == "wg01"
    plan = client.get(f"/api/v1/care-plans/{body['id']}/", **worker).json()
    assert plan["next_due"] == (timezone.localdate() + timedelta(days=7)).isoformat()
    assert plan["missed_count"] == 1

    again = post(client, f"/api/v1/care-checks/{due['id']}/complete/", {}, worker)
    assert again.status_code == 409 and again.json()["code"] == "care_check_not_due"


def test_create_refusals_over_http(client, org, elder, far):
    worker = api_headers(client, "wg01")
    before = (CarePlan.objects.count(), CareCheck.objects.count())
    bad = post(client, "/api/v1/care-plans/", {"resident": elder.pk, "method": "visit", "interval_days": 0}, worker)
    assert bad.status_code == 400 and bad.json()["code"] == "invalid" and "interval_days" in bad.json()["fields"]
    outside = post(client, "/api/v1/care-plans/", {"resident": far.pk, "method": "visit", "interval_days": 3}, worker)
    assert outside.status_code == 400 and "resident" in outside.json()["fields"]
    caretaker = post(
        client,
        "/api/v1/care-plans/",
        {"resident": elder.pk, "method": "visit", "interval_days": 3, "caretaker": org.users.center.pk},
        worker,
    )
    assert caretaker.status_code == 400 and caretaker.json()["code"] == "invalid_caretaker"
    assert (CarePlan.objects.count(), CareCheck.objects.count()) == before


def test_patch_deactivates_and_scope_hides_plans(client, org, elder):
    worker = api_headers(client, "wg01")
    created = post(client, "/api/v1/care-plans/", {"resident": elder.pk, "method": "phone", "interval_days": 3}, worker)
    pk = created.json()["id"]
    response = client.patch(f"/api/v1/care-plans/{pk}/", {"active": False}, content_type="application/json", **worker)
    assert response.status_code == 200, response.content
    assert response.json()["active"] is False and response.json()["next_due"] is None
    assert not CareCheck.objects.filter(plan_id=pk, state=CareCheckState.DUE).exists()
    assert client.put(f"/api/v1/care-plans/{pk}/", {}, content_type="application/json", **worker).status_code == 405
    # Another community's staff see nothing of it.
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create
    from tests.conftest import PASSWORD

    other = user_create(actor=None, username="sq02", password=PASSWORD, name="sq02")
    post_create(actor=None, user=other, role=Role.COMMUNITY, area=org.c2)
    stranger = api_headers(client, "sq02")
    assert client.get(f"/api/v1/care-plans/{pk}/", **stranger).status_code == 404
    assert client.get("/api/v1/care-plans/", **stranger).json()["count"] == 0
    assert client.get("/api/v1/care-plans/", {"active": "false"}, **worker).json()["count"] == 1


def test_home_service_over_http(client, org, elder):
    worker = api_headers(client, "wg01")
    plan = post(client, "/api/v1/care-plans/", {"resident": elder.pk, "method": "service", "interval_days": 5}, worker)
    [check] = plan.json()["checks"]
    response = post(
        client,
        "/api/v1/home-services/",
        {"resident": elder.pk, "kind": "delivery", "description": "代送药品", "check": check["id"]},
        worker,
    )
    assert response.status_code == 201, response.content
    assert response.json()["plan"] == plan.json()["id"] and response.json()["served_by"]["username"] == "wg01"
    assert CareCheck.objects.get(pk=check["id"]).state == CareCheckState.DONE
    listed = client.get("/api/v1/home-services/", {"resident": elder.pk}, **worker).json()
    assert listed["count"] == 1
    before = HomeService.objects.count()
    bad = post(client, "/api/v1/home-services/", {"resident": elder.pk, "kind": "teleport", "description": "x"}, worker)
    assert bad.status_code == 400 and HomeService.objects.count() == before


def test_schema_lists_the_care_endpoints(admin_client):
    paths = admin_client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    for path in (
        "/api/v1/care-plans/",
        "/api/v1/care-plans/{id}/",
        "/api/v1/care-checks/",
        "/api/v1/care-checks/{id}/complete/",
        "/api/v1/home-services/",
        "/api/v1/activities/",
        "/api/v1/activities/stats/",
    ):
        assert path in paths, path
