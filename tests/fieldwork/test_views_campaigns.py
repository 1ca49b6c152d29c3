"""The campaign pages: the list with progress, the new-campaign form (preview, refusals at the fields, nothing
written), the campaign page's progress tabs and targets, reassignment, finish and cancel, and the scope."""

from __future__ import annotations

import pytest
from django.utils import timezone, translation

from gridgov.fieldwork.choices import CampaignState, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget
from gridgov.fieldwork.services.visits import visit_record
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client, username: str) -> None:
    assert client.login(username=username, password=PASSWORD)


def new_campaign_data(org, checklist, **extra) -> dict:
    today = timezone.localdate()
    return {
        "name": "夏季消防专项",
        "area": org.c1.pk,
        "checklist": checklist.pk,
        "starts_on": today.isoformat(),
        "ends_on": today.isoformat(),
        "assign_to": "grid_worker",
        **extra,
    }


def test_the_list_shows_each_campaign_with_the_users_share_of_its_progress(client, org, homes, campaign):
    fire = campaign(name="消防安全专项")  # h1..h5 over the subdistrict: wg01 sees the three of G11
    login(client, "wg01")
    response = client.get("/fieldwork/campaigns/")
    assert response.status_code == 200
    [row] = response.context["campaigns"]
    assert row.pk == fire.pk and (row.totals.total, row.totals.done) == (3, 0)
    assert not response.context["may_create"]
    assert 'data-testid="campaign-new"' not in response.content.decode()
    client.logout()
    login(client, "center")
    response = client.get("/fieldwork/campaigns/?state=finished")
    assert response.context["campaigns"] == []
    assert response.context["may_create"]
    assert client.get("/fieldwork/campaigns/?state=running").context["campaigns"][0].totals.total == 5


def test_creating_a_campaign_from_the_form(client, org, homes, checklists):
    login(client, "sq01")
    page = client.get("/fieldwork/campaigns/new/")
    assert page.status_code == 200
    # Only the community's own areas are offered to community staff; filter fields of each kind are rendered.
    assert {a.pk for a in page.context["form"].fields["area"].queryset} == {org.c1.pk, org.g11.pk, org.g12.pk}
    assert 'name="filter_member_tags"' in page.content.decode()
    response = client.post("/fieldwork/campaigns/new/", new_campaign_data(org, checklists.fire))
    campaign = Campaign.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/fieldwork/campaigns/{campaign.pk}/"
    assert campaign.area_id == org.c1.pk and campaign.target_count == 4  # h1..h4 are in C1
    assert campaign.business_line_id == checklists.fire.business_line_id


def test_preview_counts_the_targets_and_writes_nothing(client, org, homes, checklists):
    login(client, "sq01")
    data = new_campaign_data(org, checklists.fire, preview="1", filter_member_tags=["dujulaoren"])
    response = client.post("/fieldwork/campaigns/new/", data)
    assert response.status_code == 200
    assert response.context["preview"] == 1  # only h1 has a member living alone
    assert Campaign.objects.count() == 0


def test_a_filter_matching_nothing_is_shown_at_the_filter_and_nothing_is_written(client, org, homes, checklists):
    login(client, "sq01")
    data = new_campaign_data(org, checklists.fire, area=org.g12.pk, filter_member_tags=["dujulaoren"])
    with translation.override("zh-hans"):
        response = client.post("/fieldwork/campaigns/new/", data, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 400
    assert Campaign.objects.count() == 0 and CampaignTarget.objects.count() == 0
    form = response.context["form"]
    assert form.filter_errors and "二网格" in form.filter_errors[0]
    html = response.content.decode()
    assert 'data-testid="error-target_filter"' in html
    assert form.filter_errors[0] in html


def test_a_wrong_filter_value_is_shown_at_its_field(client, org, homes, checklists):
    login(client, "sq01")
    data = new_campaign_data(org, checklists.fire, filter_member_age_min="300")
    response = client.post("/fieldwork/campaigns/new/", data)
    assert response.status_code == 400
    assert Campaign.objects.count() == 0
    assert response.context["form"].errors["filter_member_age_min"]


def test_workers_may_not_open_the_new_campaign_form(client, org):
    login(client, "wg01")
    assert client.get("/fieldwork/campaigns/new/").status_code == 403
    assert client.post("/fieldwork/campaigns/new/", {"name": "x"}).status_code == 403


def test_the_campaign_page_shows_progress_by_each_breakdown_and_moves_after_a_visit(client, org, homes, campaign):
    fire = campaign(name="消防安全专项")
    target = CampaignTarget.objects.get(campaign=fire, household=homes.h2)
    visit_record(
        actor=org.users.grid_worker,
        kind="household",
        target_id=homes.h2.pk,
        campaigns=[{"target": target.pk, "answers": {"ebike_indoors": "no", "extinguishers": 0}}],
    )
    login(client, "center")
    url = f"/fieldwork/campaigns/{fire.pk}/"
    response = client.get(url)
    assert response.status_code == 200
    assert (response.context["totals"].total, response.context["totals"].done) == (5, 1)
    assert response.context["totals"].problems == 1  # 0 extinguishers is below 1
    grid_rows = {row.key: (row.total, row.done) for row in response.context["progress"]}
    assert grid_rows[org.g11.code] == (3, 1)
    community = {r.key: r.done for r in client.get(url + "?by=community").context["progress"]}
    assert community[org.c1.code] == 1 and community[org.c2.code] == 0
    person = {r.key: r.done for r in client.get(url + "?by=person").context["progress"]}
    assert person[str(org.users.grid_worker.pk)] == 1
    group = {r.key: r.done for r in client.get(url + "?by=group").context["progress"]}
    assert group[org.grp1.code] == 1
    assert [t.pk for t in client.get(url + "?state=done").context["targets"]] == [target.pk]
    html = response.content.decode()
    assert "电动车入户充电" in html  # the checklist preview
    assert f"/fieldwork/campaigns/{fire.pk}/ledger.xlsx" in html
    assert 'data-testid="campaign-finish"' in html


def test_the_campaign_page_is_scoped_and_the_worker_sees_their_share(client, org, homes, campaign):
    fire = campaign(name="一社区专项", area=org.c1)
    login(client, "wg01")
    response = client.get(f"/fieldwork/campaigns/{fire.pk}/")
    assert response.status_code == 200
    assert response.context["totals"].total == 3
    assert not response.context["may_run"]
    assert all(t.candidates is None for t in response.context["targets"])  # workers do not reassign
    client.logout()
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create

    other = user_create(actor=None, username="sq02", password=PASSWORD, name="sq02")
    post_create(actor=None, user=other, role=Role.COMMUNITY, area=org.c2)
    login(client, "sq02")
    assert client.get(f"/fieldwork/campaigns/{fire.pk}/").status_code == 404


def test_the_grid_leader_reassigns_a_target_among_the_grids_people(client, org, homes, campaign):
    fire = campaign(name="消防安全专项")
    target = CampaignTarget.objects.get(campaign=fire, household=homes.h1)
    assert target.assignee_id == org.users.grid_worker.pk
    login(client, "gl01")
    response = client.get(f"/fieldwork/campaigns/{fire.pk}/")
    row = next(t for t in response.context["targets"] if t.pk == target.pk)
    offered = {pk for pk, _label in row.candidates}
    assert {org.users.grid_worker.pk, org.users.group_leader.pk, org.users.grid_leader.pk} <= offered
    response = client.post(
        f"/fieldwork/campaign-targets/{target.pk}/reassign/",
        {"assignee": org.users.group_leader.pk, "next": f"/fieldwork/campaigns/{fire.pk}/?by=person"},
    )
    assert response.status_code == 302 and response["Location"] == f"/fieldwork/campaigns/{fire.pk}/?by=person"
    target.refresh_from_db()
    assert target.assignee_id == org.users.group_leader.pk
    # Someone from another grid is refused and nothing changes.
    from gridgov.accounts.services import user_create
    from gridgov.areas.choices import Role
    from gridgov.areas.services import post_create

    stranger = user_create(actor=None, username="wg21", password=PASSWORD, name="wg21")
    post_create(actor=None, user=stranger, role=Role.GRID_WORKER, area=org.g21)
    client.post(f"/fieldwork/campaign-targets/{target.pk}/reassign/", {"assignee": stranger.pk})
    target.refresh_from_db()
    assert target.assignee_id == org.users.group_leader.pk
    # A worker may not reassign.
    client.logout()
    login(client, "wg01")
    client.post(f"/fieldwork/campaign-targets/{target.pk}/reassign/", {"assignee": org.users.grid_worker.pk})
    target.refresh_from_db()
    assert target.assignee_id == org.users.group_leader.pk


def test_finish_and_cancel_are_for_runners_only(client, org, homes, campaign):
    fire = campaign(name="消防安全专项")
    login(client, "wg01")
    client.post(f"/fieldwork/campaigns/{fire.pk}/finish/")
    fire.refresh_from_db()
    assert fire.state == CampaignState.RUNNING
    client.logout()
    login(client, "center")
    response = client.post(f"/fieldwork/campaigns/{fire.pk}/finish/")
    assert response.status_code == 302
    fire.refresh_from_db()
    assert fire.state == CampaignState.FINISHED
    # A finished campaign cannot be cancelled: the message says so and the state stays.
    response = client.post(f"/fieldwork/campaigns/{fire.pk}/cancel/", follow=True)
    fire.refresh_from_db()
    assert fire.state == CampaignState.FINISHED
    assert any(m.level_tag == "error" for m in response.context["messages"])
    assert CampaignTarget.objects.filter(campaign=fire, state=TargetState.PENDING).count() == 5
