"""The fieldwork part of `gridgov demo`: 毕家岗街道's work on foot (格中走、走访、专项任务、关爱、志愿宣传).

What it builds, sized like the article:

- five campaigns (专项任务): 自建房安全专项排查 over every self-built house, 养老诈骗防范宣传 over the
  households with a member aged 60 or more (carried by the 联保长 where there is one), 消防安全隐患排查
  over the shops (the first batch of some grids already overdue), all running with partial progress,
  独居老人冬季走访 of every household with an elder living alone (with 养老诈骗防范宣传, two open tasks at
  many of their doors), and 疫情防控排查 of every household earlier in the year, finished at 100 %;
- care plans (关爱) for every living-alone elder (独居老人) and some disabled and 低保 residents —
  weekly phone calls, home visits every two weeks by the grid worker — with eight weeks of checks,
  a few missed (the last ones swept for real, so grid leaders have their alerts) and some due today;
  the article's 孟庆梅, bedridden after a fall, with daily calls and 代购 every other day;
- about 200 home services (代办、代购、代送, repairs) in the year;
- three weeks of patrols (格中走), three a week per grid worker, 50–200 track points each walking
  inside the grid, a few points flagged, visits made on the way attached;
- about 1,000 volunteer and publicity activities (志愿宣传活动1000余次) with volunteers from the registry.

What goes through the services, and what does not (and why):

- Through the services (actor None where no person is named, else the person who did it):
  `install_checklists`, 孟庆梅's household and resident (`registry.services`), `campaign_create`,
  `campaign_finish`, `care_plan_create`, `patrol_start` / `patrol_add_points` / `patrol_end` for every
  patrol, every visit and care check of the last six days (`visit_record`, `care_check_complete`),
  every home service (`home_service_record`), the missed-check sweep (`sweep_care_checks`), every
  activity (`activity_create`).
- Bulk-inserted, because `visit_record` refuses visits older than seven days (a visit is recorded
  on the spot) and because thousands of rows through it would make `make demo` slow: the campaign
  visits before that (the answers checked with the service's own `check_answers`, each target completed
  as `visit_record` completes it, `Campaign.done_count` counted the same way), their findings, and
  the care checks of the eight weeks before (done checks make the next one due `interval_days`
  later, missed ones make it due the day after, as `care_check_complete` and `sweep_care_checks` do;
  home visits are `Visit` rows linked to their check). One audit event `demo.fieldwork` records the
  counts. Two direct updates: the due day of the overdue shop targets (there is no service to move
  one), and `created_at` of rows made through services with a past date.
- Problem answers: a problem answer opens a hazard case. The cases part already writes the year's
  ~3,000 cases, most of them reported by grid workers on their rounds — which is what a campaign visit
  is — so the history's findings are the grid-worker hazard cases of the campaign's categories, grid
  and time that the cases part wrote (a visit to the target at the case's address, at the case's
  moment, with the problem answer that opened it). Counting them twice would inflate the year, and
  new cases written after the cases part would break its invariants (case ids follow report times,
  nothing after the moment its history ends). Visits of the last six days, which go through
  `visit_record` and would open their cases now, carry no problem answers for the same reason.
"""

from __future__ import annotations

import io
import logging
import math
import random
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

import shapely
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone
from django.utils.translation import gettext as _
from shapely.geometry import shape

from gridgov.accounts.models import User
from gridgov.areas.choices import Role
from gridgov.areas.models import Area, Post
from gridgov.cases.choices import Source
from gridgov.cases.models import Case
from gridgov.core import audit
from gridgov.fieldwork.checklists import check_answers
from gridgov.fieldwork.choices import (
    ActivityKind,
    AssignTo,
    CareCheckState,
    CareMethod,
    ServiceKind,
    TargetKind,
    TargetState,
)
from gridgov.fieldwork.defaults import install_checklists
from gridgov.fieldwork.models import (
    Activity,
    Campaign,
    CampaignTarget,
    CareCheck,
    CarePlan,
    ChecklistItem,
    ChecklistTemplate,
    Finding,
    HomeService,
    Patrol,
    Visit,
)
from gridgov.fieldwork.photos import check_photos, store_photo
from gridgov.fieldwork.services.activities import VOLUNTEER_TAG, activity_create
from gridgov.fieldwork.services.campaigns import campaign_create, campaign_finish
from gridgov.fieldwork.services.care import (
    care_check_complete,
    care_plan_create,
    home_service_record,
    sweep_care_checks,
)
from gridgov.fieldwork.services.patrols import patrol_add_points, patrol_end, patrol_start
from gridgov.fieldwork.services.visits import visit_record
from gridgov.registry.choices import BuildingUse, LivingStatus
from gridgov.registry.demo import MENG
from gridgov.registry.models import Building, Household, Resident, Shop

if TYPE_CHECKING:
    from gridgov.demo.builder import DemoSummary

BATCH = 500
RECENT_DAYS = 6  # visit_record takes visits up to seven days old; older ones are history
CARE_WEEKS = 8
PATROL_WEEKS = 3
PATROLS_PER_WEEK = 3
WALK_SPEED = 1.2  # m/s
POINT_SECONDS = 30  # a phone records a point every 30 s
ACTIVITIES = 1000
HOME_SERVICES = 200
PHOTO_NAME = "房屋照片.png"


@dataclass
class Counts:
    """What the part wrote, for the progress line and the audit event."""

    campaigns: int = 0
    targets: int = 0
    done: int = 0
    visits: int = 0
    findings: int = 0
    care_plans: int = 0
    care_checks: int = 0
    missed: int = 0
    home_services: int = 0
    patrols: int = 0
    points: int = 0
    activities: int = 0


def build_fieldwork(summary: DemoSummary) -> str:
    """Campaigns, visits, care, patrols and activities of the last year (see the module docstring)."""
    counts = build_fieldwork_demo(summary)
    return (
        _(
            "fieldwork… %(campaigns)d campaigns (%(done)d of %(targets)d targets done), %(visits)d visits, "
            "%(care_plans)d care plans, %(patrols)d patrols (%(points)d track points), %(home_services)d home "
            "services, %(activities)d activities"
        )
        % counts.__dict__
    )


def build_fieldwork_demo(summary: DemoSummary, *, now: datetime | None = None) -> Counts:
    """Build the fieldwork; the areas, accounts, registry and cases come first."""
    now = timezone.localtime(now or timezone.now()).replace(microsecond=0)
    with _quiet(), transaction.atomic():
        install_checklists()  # `flush` empties the checklists the migration wrote
        builder = _Builder(summary, summary.rng("fieldwork"), now)
        counts = builder.build()
        audit.record(actor=None, event="demo.fieldwork", data={**counts.__dict__, "as_of": now.isoformat()})
    return counts


@contextmanager
def _quiet() -> Iterator[None]:
    """The services log a line per visit and patrol; in the demo's output they would bury its progress lines."""
    logger = logging.getLogger("gridgov.fieldwork")
    level = logger.level
    logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


# --- plans ---------------------------------------------------------------------------------------


@dataclass
class PatrolPlan:
    worker: User
    grid: Area
    started: datetime
    ended: datetime
    points: list[dict[str, Any]]
    patrol: Patrol | None = None


@dataclass
class VisitPlan:
    """One visit to one target: the campaign tasks it does, when, by whom, and the case it found."""

    actor: User
    kind: str
    target_id: int
    when: datetime
    tasks: list[tuple[CampaignTarget, dict[str, Any]]] = field(default_factory=list)
    care_plan: CarePlan | None = None  # a care plan whose due check this visit does (recent visits)
    case: Case | None = None
    photo: bool = False


class _Builder:
    """Plans the fieldwork of the past, writes the history, then replays the last days through the services."""

    def __init__(self, summary: DemoSummary, rng: random.Random, now: datetime) -> None:
        self.summary = summary
        self.rng = rng
        self.now = now
        self.today = now.date()
        self.tz = timezone.get_current_timezone()
        self.cutoff = self.today - timedelta(days=RECENT_DAYS)  # days before it are history
        self.counts = Counts()
        self.history: list[VisitPlan] = []
        self.recent: list[tuple[datetime, int, Callable[[], Any]]] = []
        self.patrols: dict[int, list[PatrolPlan]] = defaultdict(list)  # worker id → plans
        self.used_cases: set[int] = set()
        self.to_finish: list[Campaign] = []  # campaigns all done, finished once their visits are written

    # -- the whole part ---------------------------------------------------------------------------

    def build(self) -> Counts:
        self._load()
        self._meng()
        self._plan_patrols()
        for plan in [p for plans in self.patrols.values() for p in plans if p.ended.date() < self.cutoff]:
            self._walk(plan)
        self._campaigns()
        plans = self._care_plans()
        self._care_history(plans)
        self._write_history()
        for plan in [p for plans in self.patrols.values() for p in plans if p.ended.date() >= self.cutoff]:
            # Started, then visits on the way (attached by the service), then the track and the end.
            self._later(plan.started, lambda plan=plan: self._start(plan))
            self._later(plan.ended, lambda plan=plan: self._end(plan))
        self._care_recent(plans)
        self._run_recent()
        sweep_care_checks(today=self.today)  # the checks left undone: missed, and the grid leaders told
        self._home_services(plans)
        self._activities()
        self._count()
        return self.counts

    def _count(self) -> None:
        c = self.counts
        c.campaigns = Campaign.objects.count()
        c.targets = CampaignTarget.objects.count()
        c.done = CampaignTarget.objects.filter(state=TargetState.DONE).count()
        c.visits = Visit.objects.count()
        c.findings = Finding.objects.count()
        c.care_plans = CarePlan.objects.count()
        c.care_checks = CareCheck.objects.count()
        c.missed = CareCheck.objects.filter(state=CareCheckState.MISSED).count()
        c.home_services = HomeService.objects.count()
        c.patrols = Patrol.objects.count()
        c.points = sum(Patrol.objects.values_list("point_count", flat=True))
        c.activities = Activity.objects.count()

    # -- what the earlier parts built ---------------------------------------------------------------

    def _load(self) -> None:
        summary = self.summary
        self.workers: dict[int, User] = {}
        self.leaders: dict[int, User] = {}
        self.group_leaders: dict[int, User] = {}
        by_role = {
            Role.GRID_WORKER: self.workers,
            Role.GRID_LEADER: self.leaders,
            Role.GROUP_LEADER: self.group_leaders,
        }
        posts = Post.objects.filter(active=True, area__isnull=False, role__in=list(by_role)).select_related("user")
        for post in posts.order_by("id"):
            by_role[post.role].setdefault(post.area_id, post.user)
        self.users = {u.pk: u for u in [*self.workers.values(), *self.leaders.values(), *self.group_leaders.values()]}
        self.polygons: dict[int, Any] = {}
        for grid in summary.grids:
            polygon = shape(grid.boundary)
            inner = polygon.buffer(-0.0002)
            inner = inner if not inner.is_empty else polygon
            shapely.prepare(inner)
            self.polygons[grid.pk] = inner
        self.grids = {g.pk: g for g in summary.grids}
        self.templates = {t.code: t for t in ChecklistTemplate.objects.all()}
        self.items = {
            code: list(t.items.select_related("category").order_by("order", "id")) for code, t in self.templates.items()
        }
        self.building_points = {b[0]: (b[1], b[2]) for b in Building.objects.values_list("id", "lat", "lng")}
        self.household_building = dict(Household.objects.values_list("id", "building_id"))
        self.shop_points = {s[0]: (s[1], s[2]) for s in Shop.objects.values_list("id", "lat", "lng")}
        self.buildings = {b.pk: b for b in Building.objects.filter(use=BuildingUse.SELF_BUILT)}
        self.checklists: dict[int, str] = {}  # campaign id → checklist code

    # -- 孟庆梅 ------------------------------------------------------------------------------------

    def _meng(self) -> None:
        """The article's bedridden elder living alone; the registry part places her in 新建社区A区."""
        self.meng = Resident.objects.select_related("household").get(name=MENG)
        self.household_building[self.meng.household_id] = self.meng.household.building_id

    # -- patrols -----------------------------------------------------------------------------------

    def _plan_patrols(self) -> None:
        """Three patrols a week per grid worker over the last three weeks (never today: it is not over)."""
        rng = self.rng
        for grid in self.summary.grids:
            worker = self.workers[grid.pk]
            for week in range(PATROL_WEEKS):
                days = [self.today - timedelta(days=1 + week * 7 + d) for d in range(7)]
                for day in sorted(rng.sample(days, PATROLS_PER_WEEK)):
                    start = time(rng.choice((8, 9, 14, 15)), rng.randint(0, 50), rng.randint(0, 59))
                    started = datetime.combine(day, start, tzinfo=self.tz)
                    points = self._track(grid, started, rng.randint(50, 200))
                    ended = datetime.fromisoformat(max(p["t"] for p in points)) + timedelta(seconds=rng.randint(20, 90))
                    self.patrols[worker.pk].append(PatrolPlan(worker, grid, started, ended, points))

    def _track(self, grid: Area, started: datetime, count: int) -> list[dict[str, Any]]:
        """A walk inside the grid at about 1.2 m/s, turning at corners and at the edge; now and then a
        point from a poor fix far off (too fast) or sent late (out of order), which the service flags."""
        rng = self.rng
        polygon = self.polygons[grid.pk]
        minx, miny, maxx, maxy = polygon.bounds
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(polygon, x, y):
                break
        heading = rng.uniform(0, 2 * math.pi)
        metres_lat = 111_320.0
        metres_lng = 111_320.0 * math.cos(math.radians(y))
        t = started + timedelta(seconds=rng.randint(5, 30))
        last = t
        points: list[dict[str, Any]] = []
        glitch = rng.randint(10, count - 10) if rng.random() < 0.12 else -1
        late = rng.randint(10, count - 10) if rng.random() < 0.08 else -1
        for n in range(count):
            if n == glitch:
                # A poor fix a second after the last one, 150 m away: the service flags it too fast.
                for _try in range(20):
                    angle = rng.uniform(0, 2 * math.pi)
                    gx, gy = x + 150 * math.cos(angle) / metres_lng, y + 150 * math.sin(angle) / metres_lat
                    if shapely.contains_xy(polygon, gx, gy):
                        points.append(_point(last + timedelta(seconds=1), gy, gx, 35.0))
                        break
            if rng.random() < 0.15:
                heading += rng.choice((-1, 1)) * math.pi / 2 + rng.uniform(-0.2, 0.2)
            step = WALK_SPEED * rng.uniform(0.8, 1.2) * POINT_SECONDS
            for _try in range(12):
                nx = x + step * math.cos(heading) / metres_lng
                ny = y + step * math.sin(heading) / metres_lat
                if shapely.contains_xy(polygon, nx, ny):
                    x, y = nx, ny
                    break
                heading += rng.uniform(math.pi / 2, 3 * math.pi / 2)
            points.append(_point(t, y, x, round(rng.uniform(3, 15), 1)))
            last = t
            if n == late and len(points) > 3:
                # The phone re-sends a point from a minute ago with a later one: kept, flagged out of order.
                earlier = points[-3]
                points.append({**earlier, "lat": round(earlier["lat"] + 0.00001, 7)})
            t += timedelta(seconds=POINT_SECONDS + rng.randint(-3, 3))
        return points

    def _walk(self, plan: PatrolPlan) -> None:
        """The patrol through the services: started, its track uploaded in two batches, ended."""
        self._start(plan)
        self._end(plan)

    def _start(self, plan: PatrolPlan) -> None:
        plan.patrol = patrol_start(actor=plan.worker, grid=plan.grid, now=plan.started)

    def _end(self, plan: PatrolPlan) -> None:
        assert plan.patrol is not None
        half = len(plan.points) // 2
        patrol_add_points(actor=plan.worker, patrol=plan.patrol, points=plan.points[:half])
        patrol_end(actor=plan.worker, patrol=plan.patrol, points=plan.points[half:], now=plan.ended)

    def _patrol_at(self, user: User, when: datetime) -> PatrolPlan | None:
        for plan in self.patrols.get(user.pk, ()):
            if plan.started <= when <= plan.ended:
                return plan
        return None

    def _when(self, user: User, day: date) -> datetime:
        """A moment of `day` for a visit by `user`: during their patrol that day if there is one."""
        rng = self.rng
        for plan in self.patrols.get(user.pk, ()):
            if plan.started.date() == day:
                span = (plan.ended - plan.started).total_seconds()
                return plan.started + timedelta(seconds=round(rng.uniform(0.1, 0.9) * span))
        moment = datetime.combine(day, time(rng.choice((9, 10, 11, 15, 16, 17)), rng.randint(0, 59)), tzinfo=self.tz)
        return min(moment, self.now - timedelta(minutes=rng.randint(5, 60)))

    # -- campaigns ---------------------------------------------------------------------------------

    def _campaigns(self) -> None:
        today = self.today
        subdistrict = self.summary.subdistrict
        specs = [
            (
                "自建房安全专项排查",
                "self-built-house",
                {"use": [BuildingUse.SELF_BUILT]},
                AssignTo.GRID_WORKER,
                today - timedelta(days=42),
                today + timedelta(days=14),
                0.6,
                "按照全国自建房安全专项整治工作要求，对辖区自建房逐栋开展安全隐患排查，建立排查台账。",
            ),
            (
                "养老诈骗防范宣传",
                "anti-fraud",
                {"member_age_min": 60},
                AssignTo.GROUP_LEADER,
                today - timedelta(days=30),
                today + timedelta(days=30),
                0.4,
                "打击整治养老诈骗专项行动：联保长、网格员入户宣传，重点提醒60岁以上老年人。",
            ),
            (
                "消防安全隐患排查",
                "fire-hazard-shop",
                {},
                AssignTo.GRID_WORKER,
                today - timedelta(days=28),
                today + timedelta(days=14),
                0.5,
                "冬季火灾防控：沿街门店、小经营场所逐店排查，第一批网格限期完成。",
            ),
            (
                "独居老人冬季走访",
                "living-alone-check",
                {"member_tags": ["dujulaoren"]},
                AssignTo.GRID_WORKER,
                today - timedelta(days=10),
                today + timedelta(days=20),
                0.3,
                "入冬前走访每一位独居老人：见面了解身体和生活情况，检查燃气、用电安全，登记上门服务需求。",
            ),
            (
                "疫情防控排查",
                "epidemic-check",
                {},
                AssignTo.GROUP_LEADER,
                today - timedelta(days=320),
                today - timedelta(days=285),
                1.0,
                "春节前后入户摸排在家人员、健康状况和疫苗接种情况，做到不漏一户。",
            ),
        ]
        for name, checklist, target_filter, assign_to, starts, ends, share, description in specs:
            campaign = campaign_create(
                actor=None,
                name=name,
                area=subdistrict,
                checklist=self.templates[checklist],
                starts_on=starts,
                ends_on=ends,
                target_filter=target_filter,
                assign_to=assign_to,
                description=description,
            )
            start = datetime.combine(starts, time(8, 30), tzinfo=self.tz)
            Campaign.objects.filter(pk=campaign.pk).update(created_at=start, updated_at=start)
            CampaignTarget.objects.filter(campaign=campaign).update(created_at=start, updated_at=start)
            self.checklists[campaign.pk] = checklist
            self._progress(campaign, share)
        self._overdue_shops()

    def _progress(self, campaign: Campaign, share: float) -> None:
        """Visits for `share` of the targets: the cases found on the rounds first, then clean visits."""
        rng = self.rng
        targets = list(campaign.targets.order_by("id"))
        last_day = min(campaign.ends_on, self.today - timedelta(days=1))
        days = (last_day - campaign.starts_on).days + 1
        wanted = round(share * len(targets))
        chosen: dict[int, VisitPlan] = {}
        for visit in self._found(campaign, targets):
            chosen[visit.tasks[0][0].pk] = visit
        candidates = [t for t in targets if t.pk not in chosen and self._clean_possible(campaign, t)]
        rng.shuffle(candidates)
        for target in candidates[: max(0, wanted - len(chosen))]:
            actor = self.users.get(target.assignee_id) or self.workers[target.grid_id]
            day = campaign.starts_on + timedelta(days=rng.randrange(days))
            answers = self._answers(campaign.checklist.code, target)
            chosen[target.pk] = VisitPlan(
                actor=actor,
                kind=target.kind,
                target_id=target.target_id,
                when=self._when(actor, day),
                tasks=[(target, answers)],
                photo=self._needs_photo(campaign),
            )
        for visit in chosen.values():
            if visit.when.date() < self.cutoff:
                self.history.append(visit)
            else:
                self._later(visit.when, lambda visit=visit: self._record(visit))
        if share >= 1:
            self.to_finish.append(campaign)

    def _needs_photo(self, campaign: Campaign) -> bool:
        return any(i.type == "photo" and i.required for i in self.items[campaign.checklist.code])

    def _clean_possible(self, campaign: Campaign, target: CampaignTarget) -> bool:
        """A self-built house over three floors or graded C/D is a problem by its facts: without its
        case it waits (the cases part says which of them were found)."""
        if campaign.checklist.code != "self-built-house":
            return True
        building = self.buildings[target.building_id]
        return building.floors <= 3 and building.safety_grade in ("A", "B")

    def _found(self, campaign: Campaign, targets: list[CampaignTarget]) -> list[VisitPlan]:
        """The grid workers' hazard cases of the campaign's categories, window and grids, each become the
        visit that found it: to the target at the case's address, at the case's moment, by its reporter."""
        items = self.items[campaign.checklist.code]
        by_category: dict[str, list[ChecklistItem]] = defaultdict(list)
        for item in items:
            if item.category is not None:
                by_category[item.category.code].append(item)
        start = datetime.combine(campaign.starts_on, time(0, 0), tzinfo=self.tz)
        end = min(
            datetime.combine(campaign.ends_on, time(23, 59), tzinfo=self.tz),
            datetime.combine(self.cutoff, time(0, 0), tzinfo=self.tz),
        )
        cases = list(
            Case.objects.filter(
                source=Source.GRID_WORKER,
                category__code__in=list(by_category),
                created_at__gte=start,
                created_at__lt=end,
            )
            .select_related("category")
            .order_by("created_at", "id")
        )
        by_address: dict[tuple[int, str], list[CampaignTarget]] = defaultdict(list)
        for target in targets:
            address = target.address or target.label
            by_address[(target.grid_id, address)].append(target)
        plans = []
        taken: set[int] = set()
        for case in cases:
            if case.pk in self.used_cases:
                continue
            address = case.address.split("（")[0]
            options = [t for t in by_address.get((case.grid_id, address), ()) if t.pk not in taken]
            reporter = self.users.get(case.reporter_id)
            if not options or reporter is None:
                continue
            target = self.rng.choice(options)
            answers = self._answers(campaign.checklist.code, target)
            if campaign.checklist.code == "self-built-house":
                answers["grade"] = self.buildings[target.building_id].safety_grade or "C"
            problem = self.rng.choice(by_category[case.category.code])
            answers[problem.code] = _problem_value(problem)
            taken.add(target.pk)
            self.used_cases.add(case.pk)
            plans.append(
                VisitPlan(
                    actor=reporter,
                    kind=target.kind,
                    target_id=target.target_id,
                    when=timezone.localtime(case.created_at),
                    tasks=[(target, answers)],
                    case=case,
                    photo=self._needs_photo(campaign),
                )
            )
        return plans

    def _answers(self, checklist: str, target: CampaignTarget) -> dict[str, Any]:
        """Answers with no problem in them, true to the registry where it knows (floors, grade)."""
        rng = self.rng
        if checklist == "self-built-house":
            building = self.buildings[target.building_id]
            return {
                "for_business": rng.random() < 0.15,
                "floors": building.floors,
                "structure_changed": False,
                "cracks": False,
                "approved": True,
                "occupants": rng.randint(2, 9),
                "grade": building.safety_grade if building.safety_grade in ("A", "B") else "B",
                "photo": PHOTO_NAME,
            }
        if checklist == "fire-hazard-shop":
            answers = {
                "extinguishers": rng.choice((1, 2, 2, 3, 4)),
                "extinguisher_in_date": True,
                "exit_clear": True,
                "ebike_indoor": False,
                "wiring": True,
                "gas_cylinder": True,
                "three_in_one": False,
            }
            if rng.random() < 0.2:
                answers["note"] = rng.choice(("已现场讲解灭火器使用方法。", "提醒店主下班前切断电源。"))
            return answers
        if checklist == "epidemic-check":
            return {
                "members_present": rng.choice((1, 2, 2, 3, 3, 4)),
                "fever": False,
                "vaccination": rng.choices(
                    ["均已全程接种", "部分成员未完成接种", "有禁忌症不宜接种"], weights=(85, 12, 3)
                )[0],
                "risk_travel": False,
                "isolation_needs": False,
            }
        if checklist == "anti-fraud":
            return {
                "publicity": True,
                "app_installed": rng.random() < 0.7,
                "elderly_briefed": True,
                "suspicious_calls": False,
                "leaflet": True,
            }
        if checklist == "living-alone-check":
            return {
                "seen": True,
                "health": rng.choices(["良好", "一般"], weights=(45, 55))[0],
                "needs_care": False,
                "gas_safe": True,
                "power_safe": True,
                "emergency_contact": rng.random() < 0.9,
                "needs_service": False,
            }
        raise ValueError(f"the demo has no answers for checklist {checklist}")

    def _overdue_shops(self) -> None:
        """The first batch of the shop campaign (four grids) was due a week ago: what is left there is overdue."""
        campaign = Campaign.objects.get(name="消防安全隐患排查")
        grids = [g.pk for g in self.summary.grids[:4]]
        CampaignTarget.objects.filter(campaign=campaign, grid_id__in=grids).update(
            due_on=self.today - timedelta(days=7)
        )

    # -- visits ------------------------------------------------------------------------------------

    def _record(self, visit: VisitPlan) -> None:
        """A visit of the last days, through `visit_record` (its care check read when it happens)."""
        campaigns = [{"target": t.pk, "answers": a} for t, a in visit.tasks if self._pending(t)]
        checks = []
        if visit.care_plan is not None:
            due = CareCheck.objects.filter(plan=visit.care_plan, state=CareCheckState.DUE).first()
            if due is not None and due.due_on <= visit.when.date():
                checks.append({"check": due.pk, "note": _care_note(self.rng, CareMethod.VISIT)})
        if not campaigns and not checks:
            return
        photos = [ContentFile(_house_photo(self.rng), name=PHOTO_NAME)] if visit.photo and campaigns else []
        visit_record(
            actor=visit.actor,
            kind=visit.kind,
            target_id=visit.target_id,
            campaigns=campaigns,
            care_checks=checks,
            visited_at=visit.when,
            photos=photos,
        )

    @staticmethod
    def _pending(target: CampaignTarget) -> bool:
        return CampaignTarget.objects.filter(pk=target.pk, state=TargetState.PENDING).exists()

    def _write_history(self) -> None:
        """The visits before the last days, bulk-inserted as `visit_record` would have written them."""
        visits: list[Visit] = []
        done: list[CampaignTarget] = []
        findings: list[Finding] = []
        increments: dict[int, int] = defaultdict(int)
        photos: list[Visit] = []
        for plan in sorted(self.history, key=lambda p: p.when):
            visit = self._visit_row(plan)
            visits.append(visit)
            if plan.photo:
                photos.append(visit)
            for row, raw in plan.tasks:
                items = self.items[self._checklist_of(row)]
                names = frozenset({PHOTO_NAME}) if plan.photo else frozenset()
                checked = check_answers(items, raw, prefix="campaigns.0.answers", photo_names=names)
                if checked.errors:
                    raise RuntimeError(f"demo answers do not fit the checklist: {checked.errors}")
                row.state, row.done_at, row.answers = TargetState.DONE, plan.when, checked.answers
                row.problem_count = len(checked.problems)
                row.updated_at = plan.when
                row._visit = visit
                done.append(row)
                increments[row.campaign_id] += 1
                rectify = [i.rectify_days for i in checked.problems if i.rectify_days]
                day = plan.when.date() + timedelta(days=min(rectify)) if rectify else None
                for item in checked.problems:
                    findings.append(
                        Finding(
                            target=row,
                            item=item,
                            answer=checked.answers[item.code],
                            case=plan.case if plan.case is not None and item.category == plan.case.category else None,
                            rectify_by=day,
                            area_code=row.area_code,
                        )
                    )
                    findings[-1]._visit = visit
        self._bulk_visits(visits)
        for row in done:
            row.visit = row._visit
        CampaignTarget.objects.bulk_update(
            done, ["state", "done_at", "visit", "answers", "problem_count", "updated_at"], batch_size=BATCH
        )
        for finding in findings:
            finding.visit = finding._visit
        Finding.objects.bulk_create(findings, batch_size=BATCH)
        for campaign_id, n in increments.items():
            Campaign.objects.filter(pk=campaign_id).update(done_count=F("done_count") + n)
        house = _house_photo(self.rng)
        for visit in photos:
            (checked,) = check_photos([ContentFile(house, name=PHOTO_NAME)])
            store_photo(checked=checked, area_code=visit.area_code, actor=visit.visitor, visit=visit)
        for campaign in self.to_finish:
            campaign_finish(actor=None, campaign=campaign)
            Campaign.objects.filter(pk=campaign.pk).update(
                updated_at=datetime.combine(campaign.ends_on, time(17, 30), tzinfo=self.tz)
            )

    def _checklist_of(self, row: CampaignTarget) -> str:
        return self.checklists[row.campaign_id]

    def _visit_row(self, plan: VisitPlan, *, household: Household | None = None) -> Visit:
        """An unsaved Visit as `visit_record` fills it, from the campaign target (or the household)."""
        if plan.tasks:
            row = plan.tasks[0][0]
            label, address = row.label, row.address
            grid_id, group_id, area_code = row.grid_id, row.group_id, row.area_code
        else:
            assert household is not None
            label = (household.address + (f" {household.room}" if household.room else ""))[:200]
            address, grid_id, group_id, area_code = (
                household.address,
                household.grid_id,
                household.group_id,
                household.area_code,
            )
        lat, lng = self._target_point(plan.kind, plan.target_id)
        patrol = self._patrol_at(plan.actor, plan.when)
        return Visit(
            kind=plan.kind,
            **{f"{plan.kind}_id": plan.target_id},
            label=label,
            address=address,
            grid_id=grid_id,
            group_id=group_id,
            area_code=area_code,
            visitor=plan.actor,
            visitor_name=plan.actor.display_name[:50],
            visited_at=plan.when,
            lat=lat,
            lng=lng,
            patrol=patrol.patrol if patrol is not None else None,
        )

    def _target_point(self, kind: str, pk: int) -> tuple[float | None, float | None]:
        if kind == TargetKind.HOUSEHOLD:
            return self.building_points.get(self.household_building.get(pk), (None, None))
        if kind == TargetKind.BUILDING:
            return self.building_points.get(pk, (None, None))
        if kind == TargetKind.SHOP:
            return self.shop_points.get(pk, (None, None))
        return None, None

    def _bulk_visits(self, visits: list[Visit]) -> None:
        for visit in visits:
            visit.full_clean(exclude=["grid", "group", "visitor", "household", "building", "shop", "place", "patrol"])
        Visit.objects.bulk_create(visits, batch_size=BATCH)
        # `bulk_create` stamps every row with this moment: give each visit the time it was made.
        ids = [v.pk for v in visits]
        for start in range(0, len(ids), BATCH):
            Visit.objects.filter(pk__in=ids[start : start + BATCH]).update(
                created_at=F("visited_at"), updated_at=F("visited_at")
            )

    # -- care --------------------------------------------------------------------------------------

    def _care_plans(self) -> list[CarePlan]:
        """Plans through `care_plan_create`: every living-alone elder (weekly calls, a home visit every
        two weeks), some disabled and 低保 residents (a home visit every two weeks), and 孟庆梅."""
        rng = self.rng
        living = Resident.objects.filter(living_status=LivingStatus.RESIDENT, household__isnull=False)
        alone = list(living.filter(tags__code="dujulaoren").exclude(pk=self.meng.pk).order_by("id"))
        others = list(
            living.filter(tags__code__in=["canji", "dibao"]).exclude(tags__code="dujulaoren").distinct().order_by("id")
        )
        others = sorted(rng.sample(others, min(60, len(others))), key=lambda r: r.pk)
        first = self.today - timedelta(weeks=CARE_WEEKS)
        plans = []

        def plan(resident: Resident, method: str, every: int, needs: str, starts: date) -> None:
            plans.append(
                care_plan_create(
                    actor=None, resident=resident, method=method, interval_days=every, needs=needs, starts_on=starts
                )
            )

        for resident in alone:
            starts = first + timedelta(days=rng.randrange(7))
            plan(resident, CareMethod.PHONE, 7, "独居老人，每周电话问候，了解身体和生活情况。", starts)
            plan(
                resident,
                CareMethod.VISIT,
                14,
                "每两周入户走访，查看居家用电、燃气安全。",
                starts + timedelta(days=rng.randrange(7)),
            )
        for resident in others:
            plan(
                resident,
                CareMethod.VISIT,
                14,
                "困难群众，每两周入户走访，了解生活需求。",
                first + timedelta(days=rng.randrange(14)),
            )
        fell = self.today - timedelta(days=40)
        plan(self.meng, CareMethod.PHONE, 1, "摔伤致腰椎骨折，瘫痪在床：每天电话问候，了解身体、饮食情况。", fell)
        plan(self.meng, CareMethod.SERVICE, 2, "每两天代购米面、蔬菜、药品等生活必需品并送上门。", fell)
        return plans

    def _care_history(self, plans: list[CarePlan]) -> None:
        """The checks before the last days, bulk-written as the services would have left them: a done
        check makes the next due `interval_days` after, a missed one (swept the morning after) the next day."""
        rng = self.rng
        firsts = {c.plan_id: c for c in CareCheck.objects.filter(plan__in=plans, state=CareCheckState.DUE)}
        households = {h.pk: h for h in Household.objects.filter(pk__in=[p.resident.household_id for p in plans])}
        updated: list[CareCheck] = []
        created: list[CareCheck] = []
        visits: list[tuple[Visit, CareCheck]] = []
        services: list[tuple[CarePlan, User, CareCheck]] = []
        for plan in plans:
            check = firsts[plan.pk]
            worker = self.users[plan.caretaker_id]
            due = check.due_on
            chain: list[CareCheck] = []
            while due < self.cutoff:
                current = check if not chain else self._new_check(plan, due)
                miss = rng.random() < (0.01 if plan.interval_days == 1 else 0.05)
                if miss:
                    current.state = CareCheckState.MISSED
                    current.missed_at = datetime.combine(due + timedelta(days=1), time(0, 5), tzinfo=self.tz)
                    due = due + timedelta(days=1)
                else:
                    current.state = CareCheckState.DONE
                    current.done_by = worker
                    current.method = plan.method
                    current.note = _care_note(rng, plan.method)
                    if plan.method == CareMethod.VISIT:
                        visit = VisitPlan(
                            actor=worker,
                            kind=TargetKind.HOUSEHOLD,
                            target_id=plan.resident.household_id,
                            when=self._when(worker, due),
                        )
                        current.done_at = visit.when
                        row = self._visit_row(visit, household=households[plan.resident.household_id])
                        row.note = current.note
                        visits.append((row, current))
                    else:
                        current.done_at = datetime.combine(
                            due, time(rng.choice((9, 10, 15, 16)), rng.randint(0, 59)), tzinfo=self.tz
                        )
                    if plan.method == CareMethod.SERVICE:
                        services.append((plan, worker, current))
                    due = due + timedelta(days=plan.interval_days)
                chain.append(current)
            if chain:
                updated.append(chain[0])
                created.extend(chain[1:])
                created.append(self._new_check(plan, due))
        self._bulk_visits([v for v, _c in visits])
        for visit, check in visits:
            check.visit = visit
        CareCheck.objects.bulk_update(
            updated, ["state", "done_at", "done_by", "method", "note", "missed_at", "visit"], batch_size=BATCH
        )
        CareCheck.objects.bulk_create(created, batch_size=BATCH)
        # 孟庆梅's shopping: the home services themselves go through the service, on their days.
        for plan, worker, check in services:
            service = home_service_record(
                actor=worker,
                resident=plan.resident,
                plan=plan,
                kind=ServiceKind.SHOPPING,
                description=check.note,
                served_on=check.done_at.date(),
            )
            HomeService.objects.filter(pk=service.pk).update(created_at=check.done_at, updated_at=check.done_at)

    @staticmethod
    def _new_check(plan: CarePlan, due: date) -> CareCheck:
        return CareCheck(
            plan=plan, resident_id=plan.resident_id, area_code=plan.area_code, method=plan.method, due_on=due
        )

    def _care_recent(self, plans: list[CarePlan]) -> None:
        """The last days' checks through the services, in time order with the rest; a few of the last
        two days are left undone, for the sweep to mark missed and tell the grid leaders."""
        rng = self.rng
        due = {c.plan_id: c.due_on for c in CareCheck.objects.filter(plan__in=plans, state=CareCheckState.DUE)}
        pending = self._pending_by_household()
        for plan in plans:
            worker = self.users[plan.caretaker_id]
            day = due[plan.pk]
            while day < self.today:
                if day >= self.today - timedelta(days=2) and rng.random() < 0.12:
                    break  # not done: the sweep finds it
                if plan.method == CareMethod.VISIT:
                    visit = VisitPlan(
                        actor=worker,
                        kind=TargetKind.HOUSEHOLD,
                        target_id=plan.resident.household_id,
                        when=self._when(worker, day),
                        care_plan=plan,
                    )
                    # One visit does it all: the household's own campaign task, if the caretaker carries it.
                    task = pending.pop((plan.resident.household_id, worker.pk), None)
                    if task is not None:
                        visit.tasks.append(task)
                    self._later(visit.when, lambda visit=visit: self._record(visit))
                else:
                    when = datetime.combine(day, time(rng.choice((9, 10, 16)), rng.randint(0, 59)), tzinfo=self.tz)
                    self._later(when, lambda plan=plan, when=when, worker=worker: self._check(plan, worker, when))
                day = day + timedelta(days=plan.interval_days)

    def _pending_by_household(self) -> dict[tuple[int, int], tuple[CampaignTarget, dict[str, Any]]]:
        """Household tasks of running campaigns nobody has planned to visit yet, by (household, carrier)."""
        planned = {t.pk for v in self.history for t, _a in v.tasks}
        out = {}
        rows = CampaignTarget.objects.filter(
            kind=TargetKind.HOUSEHOLD, state=TargetState.PENDING, campaign__state="running"
        ).select_related("campaign__checklist")
        for row in rows:
            if row.pk in planned or row.assignee_id is None:
                continue
            out.setdefault((row.household_id, row.assignee_id), (row, self._answers(row.campaign.checklist.code, row)))
        return out

    def _check(self, plan: CarePlan, worker: User, when: datetime) -> None:
        check = CareCheck.objects.filter(plan=plan, state=CareCheckState.DUE).first()
        if check is None or check.due_on > when.date():
            return
        if plan.method == CareMethod.SERVICE:
            home_service_record(
                actor=worker,
                resident=plan.resident,
                plan=plan,
                kind=ServiceKind.SHOPPING,
                description=self.rng.choice(MENG_SERVICES),
                served_on=when.date(),
            )
        care_check_complete(
            actor=worker, check=check, note=_care_note(self.rng, plan.method), method=plan.method, now=when
        )

    # -- the last days, in time order ------------------------------------------------------------

    def _later(self, when: datetime, action: Callable[[], Any]) -> None:
        self.recent.append((when, len(self.recent), action))

    def _run_recent(self) -> None:
        """Patrols, visits and checks of the last days through the services, in the order they happened,
        so a visit made during a patrol is attached to it."""
        for _when, _n, action in sorted(self.recent, key=lambda row: row[:2]):
            action()

    # -- home services -----------------------------------------------------------------------------

    def _home_services(self, plans: list[CarePlan]) -> None:
        """About 200 in the year through `home_service_record`, most for the residents in care."""
        rng = self.rng
        existing = HomeService.objects.count()
        residents = sorted(
            {p.resident_id: p for p in plans if p.resident_id != self.meng.pk}.values(), key=lambda p: p.pk
        )
        first = self.today - timedelta(days=364)
        for _n in range(max(0, HOME_SERVICES - existing)):
            plan = rng.choice(residents)
            served = first + timedelta(days=rng.randrange(364))
            kind, description = rng.choice(SERVICES)
            service = home_service_record(
                actor=self.users[plan.caretaker_id],
                resident=plan.resident,
                plan=plan if served >= plan.starts_on else None,
                kind=kind,
                description=description,
                served_on=served,
            )
            moment = datetime.combine(served, time(rng.randint(9, 17), rng.randint(0, 59)), tzinfo=self.tz)
            HomeService.objects.filter(pk=service.pk).update(created_at=moment, updated_at=moment)

    # -- activities --------------------------------------------------------------------------------

    def _activities(self) -> None:
        """About 1,000 volunteer and publicity activities in the year, through `activity_create`."""
        rng = self.rng
        volunteers: dict[int, list[int]] = defaultdict(list)
        for pk, grid_id in (
            Resident.objects.filter(tags__code=VOLUNTEER_TAG, living_status=LivingStatus.RESIDENT)
            .order_by("id")
            .values_list("id", "grid_id")
        ):
            volunteers[grid_id].append(pk)
        households = dict(Household.objects.values("grid_id").annotate(n=Count("id")).values_list("grid_id", "n"))
        communities = {c.pk: c for c in self.summary.communities}
        first = self.today - timedelta(days=364)
        rows = []
        for _n in range(ACTIVITIES):
            grid = rng.choice(self.summary.grids)
            level = rng.choices(("grid", "group", "community"), (55, 30, 15))[0]
            if level == "group":
                area = rng.choice([g for g in self.summary.groups[grid.code] if not g.name.endswith("（门店）")])
                organiser = f"{area.name.removeprefix(grid.name)}联保组"
            elif level == "community":
                area = communities[grid.parent_id]
                organiser = f"{area.name}新时代文明实践站"
            else:
                area = grid
                organiser = f"{grid.name}网格党支部"
            kind, title, place, description = rng.choice(ACTIVITY_TOPICS)
            pool = volunteers.get(grid.pk) or []
            people = rng.sample(pool, min(len(pool), rng.randint(2, 9)))
            reach = households.get(grid.pk, 100)
            held = first + timedelta(days=rng.randrange(364))
            activity = activity_create(
                actor=None,
                title=title,
                kind=kind,
                organiser=organiser,
                area=area,
                held_on=held,
                place=place,
                description=description,
                households_reached=rng.randint(8, 40) if level == "group" else rng.randint(20, max(21, reach // 3)),
                participants=people,
            )
            moment = datetime.combine(held, time(rng.randint(15, 19), rng.randint(0, 59)), tzinfo=self.tz)
            activity.created_at = activity.updated_at = moment
            rows.append(activity)
        Activity.objects.bulk_update(rows, ["created_at", "updated_at"], batch_size=BATCH)


# --- helpers ---------------------------------------------------------------------------------------


def _point(t: datetime, lat: float, lng: float, accuracy: float) -> dict[str, Any]:
    return {"t": t.isoformat(), "lat": round(lat, 7), "lng": round(lng, 7), "accuracy": accuracy}


def _problem_value(item: ChecklistItem) -> Any:
    """An answer the checklist calls a problem."""
    if item.type == "number":
        if item.problem_above is not None:
            return int(item.problem_above) + 1
        return max(0, int(item.problem_below or 1) - 1)
    return item.problem_values[-1]


def _care_note(rng: random.Random, method: str) -> str:
    if method == CareMethod.PHONE:
        return rng.choice(PHONE_NOTES)
    if method == CareMethod.SERVICE:
        return rng.choice(MENG_SERVICES)
    return rng.choice(VISIT_NOTES)


def _house_photo(rng: random.Random) -> bytes:
    """A small drawn picture of a self-built house: walls, a roof, windows."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (320, 240), (185, 210, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 200, 320, 240), fill=(120, 120, 110))
    wall = rng.choice(((210, 200, 185), (200, 190, 170), (225, 220, 210)))
    floors = rng.randint(2, 3)
    top = 200 - 45 * floors
    draw.rectangle((80, top, 240, 200), fill=wall, outline=(90, 90, 90))
    draw.polygon(((70, top), (160, top - 35), (250, top)), fill=(150, 70, 50))
    for f in range(floors):
        y = top + 10 + 45 * f
        for x in (100, 180):
            draw.rectangle((x, y, x + 30, y + 25), fill=(90, 120, 150))
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


PHONE_NOTES = (
    "电话问候，老人身体状况良好，饮食正常。",
    "电话联系，老人说最近血压平稳，按时服药。",
    "电话问候，提醒天冷注意保暖、用电安全。",
    "电话联系，老人情绪较好，暂无服务需求。",
)
VISIT_NOTES = (
    "入户走访，查看燃气、用电情况，均正常。",
    "入户看望，帮助老人整理药品，叮嘱按时服药。",
    "入户走访，了解生活需求，老人希望代购米面。",
    "入户走访，检查门窗、插座，提醒夜间注意防滑。",
)
MENG_SERVICES = (
    "代购大米、挂面、鸡蛋和新鲜蔬菜，送到床前。",
    "代购降压药和护理垫，并帮助整理房间。",
    "代购牛奶、面包、水果等生活用品并送上门。",
    "代购卫生纸、洗衣粉等日用品，顺带倒垃圾。",
)
SERVICES = (
    (ServiceKind.ERRAND, "上门代办高龄津贴申请。"),
    (ServiceKind.ERRAND, "代办医保报销材料提交。"),
    (ServiceKind.ERRAND, "代办低保年审材料。"),
    (ServiceKind.SHOPPING, "代购米、面、油等生活必需品。"),
    (ServiceKind.SHOPPING, "代购常用药品。"),
    (ServiceKind.DELIVERY, "代送社区发放的慰问品上门。"),
    (ServiceKind.DELIVERY, "代取快递并送上门。"),
    (ServiceKind.REPAIR, "联系志愿者上门维修水龙头。"),
    (ServiceKind.REPAIR, "更换老化电灯开关和插座。"),
    (ServiceKind.OTHER, "上门为老人理发。"),
)
ACTIVITY_TOPICS = (
    (ActivityKind.PUBLICITY, "防范养老诈骗宣传", "小区广场", "发放宣传折页，讲解常见养老诈骗手法。"),
    (ActivityKind.PUBLICITY, "防范电信网络诈骗宣传", "单元门口", "指导居民安装国家反诈中心APP。"),
    (ActivityKind.PUBLICITY, "消防安全宣传", "沿街门店", "讲解灭火器使用，提醒电动车不进楼入户。"),
    (ActivityKind.PUBLICITY, "自建房安全知识宣传", "居民楼下", "宣传自建房安全常识和擅自改扩建的危害。"),
    (ActivityKind.PUBLICITY, "垃圾分类宣传", "小区广场", "讲解垃圾分类知识，现场指导投放。"),
    (ActivityKind.PUBLICITY, "文明创建宣传", "党群服务中心", "宣传文明城市创建，倡导文明行为。"),
    (ActivityKind.PUBLICITY, "疫情防控知识宣传", "小区出入口", "宣传科学防疫知识，提醒老人接种疫苗。"),
    (ActivityKind.PUBLICITY, "平安建设宣传", "小区广场", "开展平安建设满意度宣传，发放宣传品。"),
    (ActivityKind.VOLUNTEER, "环境卫生清洁行动", "小区楼道", "志愿者清理楼道杂物和小广告。"),
    (ActivityKind.VOLUNTEER, "关爱独居老人志愿服务", "老人家中", "志愿者上门看望独居老人，打扫卫生。"),
    (ActivityKind.VOLUNTEER, "义诊进社区", "党群服务中心", "联系社区卫生服务站为居民测血压、血糖。"),
    (ActivityKind.VOLUNTEER, "爱心义剪", "党群服务中心", "志愿者为老年人免费理发。"),
    (ActivityKind.VOLUNTEER, "清理小广告志愿服务", "沿街门店", "清除墙面、电线杆上的小广告。"),
    (ActivityKind.VOLUNTEER, "邻里帮帮团调解志愿服务", "党群服务中心", "帮帮团成员走访邻里，了解矛盾苗头。"),
)
