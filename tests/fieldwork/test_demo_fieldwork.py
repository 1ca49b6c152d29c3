"""`gridgov demo`'s fieldwork: campaigns part done, care with its alerts, patrols, activities, 孟庆梅.

The demo is built once for the module (inside a transaction rolled back at the end).
"""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import Count
from django.test.utils import override_settings
from django.utils import timezone
from shapely.geometry import Point, shape

from gridgov.accounts.models import User
from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.cases.choices import Source
from gridgov.core.models import AuditEvent
from gridgov.fieldwork.choices import (
    CampaignState,
    CareCheckState,
    CareMethod,
    PatrolState,
    PointFlag,
    TargetState,
)
from gridgov.fieldwork.demo import MENG
from gridgov.fieldwork.models import (
    Activity,
    Campaign,
    CampaignTarget,
    CareCheck,
    CarePlan,
    Finding,
    HomeService,
    Patrol,
    PatrolPoint,
    Visit,
)
from gridgov.fieldwork.selectors.campaigns import campaign_progress, campaign_totals
from gridgov.fieldwork.services.care import MISSED_KIND
from gridgov.notifications.models import Notification
from gridgov.registry.choices import LivingStatus
from gridgov.registry.models import Household, Resident

pytestmark = pytest.mark.django_db


@contextmanager
def built_demo():
    """The demo built into the test database; everything is rolled back afterwards."""
    out = io.StringIO()
    fast = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    with transaction.atomic():
        with override_settings(DEBUG=True, PASSWORD_HASHERS=fast):
            call_command("demo", stdout=out)
        yield out.getvalue()
        transaction.set_rollback(True)


@pytest.fixture(scope="module")
def demo(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), built_demo() as output:
        yield output


@pytest.fixture(scope="module")
def as_of(demo, django_db_blocker) -> datetime:
    with django_db_blocker.unblock():
        return datetime.fromisoformat(AuditEvent.objects.get(event_type="demo.fieldwork").data["as_of"])


def running(name: str) -> Campaign:
    return Campaign.objects.get(name=name, state=CampaignState.RUNNING)


def test_the_progress_line_counts_what_was_built(demo):
    visits, activities = str(Visit.objects.count()), str(Activity.objects.count())
    assert any(visits in line and activities in line for line in demo.splitlines())
    assert "visit recorded" not in demo, "the services' log lines stay out of the demo's output"


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [
        ("自建房安全专项排查", 0.3, 0.7),
        ("养老诈骗防范宣传", 0.3, 0.55),
        ("消防安全隐患排查", 0.4, 0.6),
        ("独居老人冬季走访", 0.2, 0.7),
    ],
)
def test_running_campaigns_with_partial_progress(demo, as_of, name, low, high):
    campaign = running(name)
    assert campaign.area.level == Level.SUBDISTRICT
    assert campaign.starts_on < as_of.date() < campaign.ends_on
    done = campaign.targets.filter(state=TargetState.DONE).count()
    assert campaign.done_count == done
    assert low < done / campaign.target_count < high
    assert campaign.target_count == campaign.targets.count() > 0


def test_the_campaigns_pick_their_targets_from_the_registry(demo):
    from gridgov.registry.models import Building, Shop

    assert running("自建房安全专项排查").target_count == Building.objects.filter(use="self_built").count()
    assert running("消防安全隐患排查").target_count == Shop.objects.count()
    fraud = running("养老诈骗防范宣传")
    # Carried by the 联保长 where there is one (the first group of each grid), else by the grid worker.
    carriers = Counter(
        User.objects.get(pk=pk).posts.get().role
        for pk in fraud.targets.values_list("assignee_id", flat=True).distinct()
    )
    assert carriers["group_leader"] > 10 and carriers["grid_worker"] > 10
    leader_visits = Visit.objects.filter(targets_done__campaign=fraud, visitor__username__startswith="lb")
    assert leader_visits.exists()


def test_households_with_two_open_campaign_tasks_at_their_door(demo):
    """What one visit can finish: the living-alone elders' households carry the anti-fraud task too."""
    pending = CampaignTarget.objects.filter(state=TargetState.PENDING, campaign__state=CampaignState.RUNNING)
    doubles = (
        pending.filter(household__isnull=False)
        .values("household")
        .annotate(n=Count("campaign", distinct=True))
        .filter(n__gte=2)
    )
    assert doubles.count() >= 20
    assert running("独居老人冬季走访").target_count == (
        Household.objects.filter(members__tags__code="dujulaoren").distinct().count()
    )


def test_the_epidemic_campaign_of_earlier_in_the_year_is_finished_and_complete(demo, as_of):
    campaign = Campaign.objects.get(name="疫情防控排查")
    assert campaign.state == CampaignState.FINISHED and campaign.ends_on < as_of.date() - timedelta(days=200)
    assert campaign.done_count == campaign.target_count == campaign.targets.filter(state=TargetState.DONE).count()
    first = timezone.localtime(campaign.targets.order_by("done_at").first().done_at).date()
    last = timezone.localtime(campaign.targets.order_by("-done_at").first().done_at).date()
    assert campaign.starts_on <= first and last <= campaign.ends_on


def test_some_shop_targets_are_overdue(demo, as_of):
    overdue = running("消防安全隐患排查").targets.filter(state=TargetState.PENDING, due_on__lt=as_of.date())
    assert 3 <= overdue.count() < 100


def test_progress_by_grid_and_person_adds_up_to_the_totals(demo):
    center = User.objects.get(username="center")
    for campaign in Campaign.objects.all():
        totals = campaign_totals(user=center, campaign=campaign)
        assert (totals.total, totals.done) == (campaign.target_count, campaign.done_count), campaign.name
        for by in ("community", "grid", "person"):
            rows = campaign_progress(user=center, campaign=campaign, by=by)
            assert sum(r.done for r in rows) == campaign.done_count, (campaign.name, by)
            assert sum(r.total for r in rows) == campaign.target_count, (campaign.name, by)
            assert sum(r.overdue for r in rows) == totals.overdue
        grids = campaign_progress(user=center, campaign=campaign, by="grid")
        assert len(grids) == len({t for t in campaign.targets.values_list("grid_id", flat=True)})
    # A grid worker sees their grid's share of the subdistrict's campaign.
    worker = User.objects.get(username="wg01")
    fire = running("消防安全隐患排查")
    mine = campaign_totals(user=worker, campaign=fire)
    grid = Area.objects.get(posts__user=worker)
    assert mine.total == fire.targets.filter(grid=grid).count() < fire.target_count


def test_every_done_target_has_its_visit_in_its_grid(demo):
    done = CampaignTarget.objects.filter(state=TargetState.DONE).select_related("visit")
    assert done.count() > 4000
    for target in done:
        visit = target.visit
        assert visit is not None, target.pk
        assert visit.grid_id == target.grid_id and visit.area_code == target.area_code
        assert getattr(visit, f"{target.kind}_id") == target.target_id
        assert visit.visited_at == target.done_at
        assert target.answers and target.problem_count == target.findings.count()
    # A campaign's history starts with its campaign: no visit before the first day.
    for campaign in Campaign.objects.all():
        first = campaign.targets.exclude(done_at=None).order_by("done_at").first()
        assert timezone.localtime(first.done_at).date() >= campaign.starts_on


def test_problem_answers_are_the_hazard_cases_of_the_rounds(demo):
    findings = list(Finding.objects.select_related("case", "item", "visit", "target"))
    assert findings
    for finding in findings:
        assert finding.case is not None and finding.case.source == Source.GRID_WORKER
        assert finding.case.category_id == finding.item.category_id
        assert finding.case.grid_id == finding.visit.grid_id
        assert finding.case.created_at == finding.visit.visited_at
        assert finding.rectify_by == timezone.localtime(finding.visit.visited_at).date() + timedelta(
            days=finding.item.rectify_days
        )


def test_visits_of_the_last_days_went_through_the_service(demo, as_of):
    recent = Visit.objects.filter(visited_at__gte=as_of - timedelta(days=5))
    assert recent.count() > 50
    ids = {str(pk) for pk in recent.values_list("pk", flat=True)}
    audited = {e.object_id for e in AuditEvent.objects.filter(event_type="fieldwork.visit.record")}
    assert ids <= audited


def test_care_plans_for_every_living_alone_elder(demo):
    alone = Resident.objects.filter(tags__code="dujulaoren", living_status=LivingStatus.RESIDENT)
    planned = set(CarePlan.objects.filter(active=True).values_list("resident_id", "method"))
    for resident in alone:
        assert (resident.pk, CareMethod.PHONE) in planned, resident.name
    assert CarePlan.objects.exclude(resident__tags__code="dujulaoren").exists(), "disabled and 低保 residents too"
    workers = set(User.objects.filter(posts__role="grid_worker").values_list("pk", flat=True))
    assert set(CarePlan.objects.values_list("caretaker_id", flat=True)) <= workers


def test_care_checks_done_missed_and_due_today(demo, as_of):
    today = as_of.date()
    checks = Counter(CareCheck.objects.values_list("state", flat=True))
    assert checks[CareCheckState.DONE] > 10 * checks[CareCheckState.MISSED] > 0
    assert CareCheck.objects.filter(state=CareCheckState.DUE, due_on=today).count() >= 10
    assert not CareCheck.objects.filter(state=CareCheckState.DUE, due_on__lt=today).exists(), "the sweep ran"
    # One open check per active plan; the first ones eight weeks back.
    assert CareCheck.objects.filter(state=CareCheckState.DUE).count() == CarePlan.objects.filter(active=True).count()
    assert CareCheck.objects.order_by("due_on").first().due_on <= today - timedelta(weeks=7)
    # Home visits are visits; the missed ones of the last days reached the grid leaders.
    visited = CareCheck.objects.filter(state=CareCheckState.DONE, method=CareMethod.VISIT)
    assert visited.exists() and not visited.filter(visit=None).exists()
    alerts = Notification.objects.filter(kind=MISSED_KIND)
    assert alerts.filter(user__posts__role="grid_leader").exists()


def test_chains_follow_the_services_rules(demo):
    """Done: the next is due `interval_days` after the day it was done; missed: due the next day."""
    by_plan = defaultdict(list)
    for check in CareCheck.objects.select_related("plan").order_by("plan_id", "due_on", "id"):
        by_plan[check.plan_id].append(check)
    for checks in by_plan.values():
        for before, after in zip(checks, checks[1:], strict=False):
            if before.state == CareCheckState.DONE:
                done_day = timezone.localtime(before.done_at).date()
                assert after.due_on == done_day + timedelta(days=before.plan.interval_days)
            elif before.state == CareCheckState.MISSED:
                assert after.due_on > before.due_on


def test_meng_qingmei_with_daily_calls_and_home_services(demo):
    meng = Resident.objects.get(name=MENG)
    assert {"dujulaoren", "canji"} <= set(meng.tags.values_list("code", flat=True))
    plans = {p.method: p for p in CarePlan.objects.filter(resident=meng)}
    assert plans[CareMethod.PHONE].interval_days == 1
    services = HomeService.objects.filter(resident=meng)
    assert services.count() >= 10 and services.filter(kind="shopping", plan=plans[CareMethod.SERVICE]).exists()


def test_about_two_hundred_home_services_in_the_year(demo, as_of):
    services = HomeService.objects.all()
    assert 180 <= services.count() <= 260
    assert {s.kind for s in services} >= {"errand", "shopping", "delivery", "repair"}
    assert all(s.served_on <= as_of.date() and s.served_by_id for s in services)


def test_patrols_walk_inside_their_grid(demo, as_of):
    patrols = list(Patrol.objects.select_related("grid"))
    workers = User.objects.filter(posts__role="grid_worker").count()
    assert len(patrols) == workers * 9
    assert all(p.state == PatrolState.ENDED and p.distance_m > 0 and p.point_count >= 50 for p in patrols)
    assert 0 < sum(p.flagged_count for p in patrols) < 100
    assert sum(p.point_count for p in patrols) < 100_000
    polygons = {p.grid_id: shape(p.grid.boundary) for p in patrols}
    for patrol in patrols[:40]:
        for point in PatrolPoint.objects.filter(patrol=patrol, flag=PointFlag.OK):
            assert polygons[patrol.grid_id].contains(Point(point.lng, point.lat)), patrol.pk
        speed = patrol.distance_m / patrol.duration_seconds
        assert 0.5 < speed < 2.0, "on foot"
    assert Visit.objects.filter(patrol__isnull=False).count() > 50
    for visit in Visit.objects.filter(patrol__isnull=False).select_related("patrol")[:200]:
        assert visit.patrol.started_at <= visit.visited_at <= visit.patrol.ended_at
        assert visit.patrol.worker_id == visit.visitor_id


def test_about_a_thousand_activities_with_volunteers(demo, as_of):
    activities = Activity.objects.all()
    assert 900 <= activities.count() <= 1100
    assert {a.kind for a in activities} == {"volunteer", "publicity"}
    levels = set(Area.objects.filter(pk__in=activities.values("area_id")).values_list("level", flat=True))
    assert levels == {Level.COMMUNITY, Level.GRID, Level.GROUP}
    participants = Resident.objects.filter(activities__isnull=False).distinct()
    assert participants.count() > 100
    assert not participants.exclude(tags__code="zhiyuanzhe").exists()
    first = as_of.date() - timedelta(days=366)
    assert all(first <= a.held_on <= as_of.date() for a in activities)
