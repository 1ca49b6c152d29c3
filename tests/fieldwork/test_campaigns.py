"""Campaigns: targets picked by a filter, placed and assigned; progress by area and person; refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.choices import AssignTo, CampaignState, TargetState
from gridgov.fieldwork.models import Campaign, CampaignTarget
from gridgov.fieldwork.selectors.campaigns import campaign_progress, campaign_totals, target_list, targets_due
from gridgov.fieldwork.services.campaigns import campaign_cancel, campaign_create, target_reassign

pytestmark = pytest.mark.django_db


def test_targets_are_picked_placed_and_assigned(org, homes, campaign):
    made = campaign(assign_to=AssignTo.GROUP_LEADER)
    targets = {t.household_id: t for t in CampaignTarget.objects.filter(campaign=made)}
    assert set(targets) == {homes.h1.pk, homes.h2.pk, homes.h3.pk, homes.h4.pk, homes.h5.pk}
    assert made.target_count == 5 and made.state == CampaignState.RUNNING
    # grp1 has a group leader; grp2 falls back to the grid worker; G12 and G21 have nobody.
    assert targets[homes.h1.pk].assignee == org.users.group_leader
    assert targets[homes.h3.pk].assignee == org.users.grid_worker
    assert targets[homes.h4.pk].assignee is None
    assert targets[homes.h1.pk].area_code == org.grp1.code and targets[homes.h1.pk].grid == org.g11
    assert targets[homes.h1.pk].due_on == made.ends_on
    assert AuditEvent.objects.filter(event_type="fieldwork.campaign.create", object_id=str(made.pk)).count() == 1


def test_filters_by_member_tags_and_area(org, homes, campaign, checklists):
    made = campaign(checklists.fraud, target_filter={"member_tags": ["dujulaoren"]})
    assert list(CampaignTarget.objects.filter(campaign=made).values_list("household", flat=True)) == [homes.h1.pk]
    in_c2 = campaign(target_filter={"area": org.c2.code})
    assert list(CampaignTarget.objects.filter(campaign=in_c2).values_list("household", flat=True)) == [homes.h5.pk]
    aged = campaign(target_filter={"member_age_min": 80})
    assert CampaignTarget.objects.filter(campaign=aged).count() == 1


def test_a_filter_that_matches_nothing_writes_nothing(org, homes, campaign):
    before = (Campaign.objects.count(), CampaignTarget.objects.count(), AuditEvent.objects.count())
    with pytest.raises(ApplicationError) as exc:
        campaign(target_filter={"member_tags": ["canji"]})
    assert exc.value.code == "no_targets"
    assert "target_filter" in exc.value.fields
    assert "户" in exc.value.message or "household" in exc.value.message.lower()
    assert (Campaign.objects.count(), CampaignTarget.objects.count(), AuditEvent.objects.count()) == before


@pytest.mark.parametrize(
    ("target_filter", "field"),
    [
        ({"member_tags": ["no-such-tag"]}, "target_filter.member_tags"),
        ({"member_age_min": "old"}, "target_filter.member_age_min"),
        ({"floors_min": 3}, "target_filter.floors_min"),  # a building filter on households
        ({"area": "340404005"}, "target_filter.area"),  # outside the campaign's area
    ],
)
def test_bad_filters_are_refused_with_the_field(org, homes, campaign, target_filter, field):
    with pytest.raises(ApplicationError) as exc:
        campaign(target_filter=target_filter)
    assert exc.value.code == "invalid_filter"
    assert field in exc.value.fields
    assert Campaign.objects.count() == 0


def test_only_center_and_community_run_campaigns(org, homes, checklists):
    today = timezone.localdate()
    fields = dict(name="x", checklist=checklists.fire, starts_on=today, ends_on=today)
    with pytest.raises(ApplicationError) as exc:
        campaign_create(actor=org.users.grid_worker, area=org.g11, **fields)
    assert exc.value.status == 403
    with pytest.raises(ApplicationError) as exc:
        campaign_create(actor=org.users.community, area=org.c2, **fields)  # not their community
    assert exc.value.status == 404
    made = campaign_create(actor=org.users.community, area=org.c1, **fields)
    assert made.target_count == 4  # h1..h4 lie in C1
    with pytest.raises(ApplicationError) as exc:
        campaign_create(actor=org.users.center, area=org.s, **{**fields, "ends_on": today - timedelta(days=1)})
    assert exc.value.fields == {"ends_on": [exc.value.message]}


def test_scope_of_targets_and_campaigns(org, homes, campaign):
    made = campaign()
    assert target_list(user=org.users.grid_worker, campaign=made).count() == 3  # G11's share
    assert target_list(user=org.users.group_leader, campaign=made).count() == 2  # grp1
    assert target_list(user=org.users.community, campaign=made).count() == 4
    assert target_list(user=org.users.unit_handler, campaign=made).count() == 0
    from gridgov.fieldwork.selectors.campaigns import campaign_list

    # A subdistrict's campaign reaches the grid worker; another subdistrict's would not.
    assert list(campaign_list(user=org.users.grid_worker)) == [made]
    assert list(campaign_list(user=org.users.unit_handler)) == []


def test_progress_by_area_and_person(org, homes, campaign):
    made = campaign()
    first = CampaignTarget.objects.get(campaign=made, household=homes.h1)
    CampaignTarget.objects.filter(pk=first.pk).update(state=TargetState.DONE, problem_count=2)
    # One target overdue: its due date has passed.
    CampaignTarget.objects.filter(campaign=made, household=homes.h4).update(
        due_on=timezone.localdate() - timedelta(days=1)
    )
    by_community = {row.key: row for row in campaign_progress(user=org.users.center, campaign=made, by="community")}
    assert (by_community[org.c1.code].total, by_community[org.c1.code].done) == (4, 1)
    assert by_community[org.c1.code].overdue == 1 and by_community[org.c1.code].problems == 2
    assert by_community[org.c1.code].name == "一社区"
    by_grid = {row.key: row for row in campaign_progress(user=org.users.center, campaign=made, by="grid")}
    assert (by_grid[org.g11.code].total, by_grid[org.g11.code].done, by_grid[org.g12.code].overdue) == (3, 1, 0 + 1)
    by_group = {row.key: row for row in campaign_progress(user=org.users.center, campaign=made, by="group")}
    assert set(by_group) == {org.grp1.code, org.grp2.code}
    by_person = {row.name: row for row in campaign_progress(user=org.users.center, campaign=made, by="person")}
    assert by_person["wg01"].total == 3 and by_person["wg01"].done == 1
    assert campaign_totals(user=org.users.grid_worker, campaign=made).total == 3


def test_reassign_and_cancel(org, homes, campaign):
    made = campaign()
    target = CampaignTarget.objects.get(campaign=made, household=homes.h2)
    target_reassign(actor=org.users.grid_leader, target=target, assignee=org.users.group_leader)
    assert CampaignTarget.objects.get(pk=target.pk).assignee == org.users.group_leader
    assert targets_due(user=org.users.group_leader).filter(pk=target.pk).exists()
    with pytest.raises(ApplicationError) as exc:
        target_reassign(actor=org.users.grid_worker, target=target, assignee=None)
    assert exc.value.status == 403
    for stranger in (org.users.unit_handler, org.users.group_leader):
        other = CampaignTarget.objects.get(campaign=made, household=homes.h3)  # grp2: not lb01's group
        target = other if stranger == org.users.group_leader else target
        with pytest.raises(ApplicationError) as exc:
            target_reassign(actor=org.users.grid_leader, target=target, assignee=stranger)
        assert exc.value.code == "invalid_assignee"
    campaign_cancel(actor=org.users.center, campaign=made)
    with pytest.raises(ApplicationError) as exc:
        campaign_cancel(actor=org.users.center, campaign=made)
    assert exc.value.status == 409
