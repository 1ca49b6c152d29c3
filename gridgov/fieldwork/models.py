"""Fieldwork (格中走、走访、专项任务、关爱、志愿活动): the work grid workers do on foot.

Every row that belongs to the area repeats the code of its finest area in `area_code`, so the
scope is one prefix match on an indexed column, as in the registry. Services set it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from gridgov.areas.models import Area
from gridgov.core.models import BaseModel
from gridgov.core.scope import ScopeRule
from gridgov.fieldwork.choices import (
    ActivityKind,
    AssignTo,
    CampaignState,
    CareCheckState,
    CareMethod,
    ItemType,
    PatrolState,
    PointFlag,
    ServiceKind,
    TargetKind,
    TargetState,
)

USER = settings.AUTH_USER_MODEL


class ChecklistTemplate(BaseModel):
    """A checklist (排查表): the items a visit answers for one kind of target."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=100)
    business_line = models.ForeignKey(
        "cases.BusinessLine", verbose_name=_("business line"), null=True, blank=True, on_delete=models.PROTECT
    )
    target_kind = models.CharField(_("target kind"), max_length=16, choices=TargetKind.choices)
    description = models.TextField(_("description"), blank=True)
    active = models.BooleanField(_("active"), default=True)

    scope_rule = ScopeRule(everyone=True)

    class Meta:
        verbose_name = _("checklist")
        verbose_name_plural = _("checklists")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class ChecklistItem(models.Model):
    """One question of a checklist; some answers are problems that open a case of `category`."""

    template = models.ForeignKey(
        ChecklistTemplate, verbose_name=_("checklist"), on_delete=models.CASCADE, related_name="items"
    )
    order = models.PositiveSmallIntegerField(_("order"), default=10)
    code = models.SlugField(_("code"), max_length=40)
    label = models.CharField(_("question"), max_length=200)
    type = models.CharField(_("answer type"), max_length=16, choices=ItemType.choices)
    choices = models.JSONField(_("choices"), default=list, blank=True, help_text=_("For choice items: a list of texts"))
    required = models.BooleanField(_("required"), default=True)
    problem_values = models.JSONField(
        _("problem answers"),
        default=list,
        blank=True,
        help_text=_("Answers that are a problem: [true] or [false] for yes / no items, choice texts for choice items"),
    )
    problem_below = models.FloatField(_("problem below"), null=True, blank=True)
    problem_above = models.FloatField(_("problem above"), null=True, blank=True)
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("case category for a problem"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    rectify_days = models.PositiveSmallIntegerField(_("rectification deadline (days)"), null=True, blank=True)
    help_text = models.CharField(_("hint"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("checklist item")
        verbose_name_plural = _("checklist items")
        ordering = ["template", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["template", "code"], name="checklist_item_unique_code")]

    def __str__(self) -> str:
        return self.label

    @property
    def opens_case(self) -> bool:
        return self.category_id is not None


class Campaign(BaseModel):
    """A campaign (专项任务): a checklist taken to every target a registry filter picks in an area."""

    name = models.CharField(_("name"), max_length=100)
    business_line = models.ForeignKey("cases.BusinessLine", verbose_name=_("business line"), on_delete=models.PROTECT)
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="+")
    area_code = models.CharField(_("area code"), max_length=17, editable=False, db_index=True)
    checklist = models.ForeignKey(
        ChecklistTemplate, verbose_name=_("checklist"), on_delete=models.PROTECT, related_name="campaigns"
    )
    target_kind = models.CharField(_("target kind"), max_length=16, choices=TargetKind.choices)
    target_filter = models.JSONField(_("target filter"), default=dict, blank=True)
    assign_to = models.CharField(_("carried by"), max_length=16, choices=AssignTo.choices, default=AssignTo.GRID_WORKER)
    starts_on = models.DateField(_("starts on"))
    ends_on = models.DateField(_("ends on"))
    state = models.CharField(_("state"), max_length=16, choices=CampaignState.choices, default=CampaignState.RUNNING)
    description = models.TextField(_("description"), blank=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    target_count = models.PositiveIntegerField(_("targets"), default=0)
    done_count = models.PositiveIntegerField(_("targets done"), default=0)

    # ancestors: a grid worker sees the subdistrict's campaign that reaches into their grid.
    scope_rule = ScopeRule(area="area_code", ancestors=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-starts_on", "-id"]

    def __str__(self) -> str:
        return self.name


class Targeted(BaseModel):
    """Abstract: a row about one registry target (household, building, shop or place) in a grid."""

    kind = models.CharField(_("target kind"), max_length=16, choices=TargetKind.choices)
    household = models.ForeignKey(
        "registry.Household",
        verbose_name=_("household"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    building = models.ForeignKey(
        "registry.Building",
        verbose_name=_("building"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    shop = models.ForeignKey(
        "registry.Shop", verbose_name=_("shop"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    place = models.ForeignKey(
        "registry.Place", verbose_name=_("place"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Kept when the registry row goes: the ledger still says what was inspected.
    label = models.CharField(_("target"), max_length=200)
    address = models.CharField(_("address"), max_length=200, blank=True)
    grid = models.ForeignKey(Area, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey(
        Area, verbose_name=_("household group"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    area_code = models.CharField(_("area code"), max_length=17, editable=False)

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        abstract = True

    @property
    def target_id(self) -> int | None:
        return getattr(self, f"{self.kind}_id", None)


class CampaignTarget(Targeted):
    """One target of a campaign, carried by one person, done by one visit."""

    campaign = models.ForeignKey(Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="targets")
    assignee = models.ForeignKey(
        USER, verbose_name=_("carried by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    due_on = models.DateField(_("due on"))
    state = models.CharField(_("state"), max_length=16, choices=TargetState.choices, default=TargetState.PENDING)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    visit = models.ForeignKey(
        "Visit", verbose_name=_("visit"), null=True, blank=True, on_delete=models.SET_NULL, related_name="targets_done"
    )
    answers = models.JSONField(_("answers"), default=dict, blank=True)
    problem_count = models.PositiveSmallIntegerField(_("problems found"), default=0)

    class Meta:
        verbose_name = _("campaign target")
        verbose_name_plural = _("campaign targets")
        ordering = ["campaign", "area_code", "id"]
        indexes = [
            models.Index(fields=["campaign", "area_code"], name="target_campaign_area_idx"),
            models.Index(fields=["assignee", "state", "due_on"], name="target_assignee_idx"),
            models.Index(fields=["area_code", "state"], name="target_scope_idx"),
            models.Index(fields=["household", "state"], name="target_household_idx"),
            models.Index(fields=["building", "state"], name="target_building_idx"),
            models.Index(fields=["shop", "state"], name="target_shop_idx"),
            models.Index(fields=["place", "state"], name="target_place_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["campaign", kind], condition=Q(**{f"{kind}__isnull": False}), name=f"target_unique_{kind}"
            )
            for kind in TargetKind.values
        ]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.label}"


class Visit(Targeted):
    """A visit (走访) to a target: one form that does every open campaign item and care check there."""

    visitor = models.ForeignKey(USER, verbose_name=_("visitor"), null=True, on_delete=models.SET_NULL, related_name="+")
    visitor_name = models.CharField(_("visitor"), max_length=50)
    visited_at = models.DateTimeField(_("visited at"))
    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    note = models.TextField(_("notes"), blank=True)
    patrol = models.ForeignKey(
        "Patrol", verbose_name=_("patrol"), null=True, blank=True, on_delete=models.SET_NULL, related_name="visits"
    )

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")
        ordering = ["-visited_at", "-id"]
        indexes = [
            models.Index(fields=["area_code", "visited_at"], name="visit_scope_idx"),
            models.Index(fields=["visitor", "visited_at"], name="visit_visitor_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.label} · {self.visited_at:%Y-%m-%d}"


class Finding(models.Model):
    """A problem answer found on a visit, and the hazard case it opened (排查发现的问题)."""

    visit = models.ForeignKey(Visit, verbose_name=_("visit"), on_delete=models.CASCADE, related_name="findings")
    target = models.ForeignKey(
        CampaignTarget, verbose_name=_("campaign target"), on_delete=models.CASCADE, related_name="findings"
    )
    item = models.ForeignKey(ChecklistItem, verbose_name=_("item"), on_delete=models.PROTECT, related_name="+")
    answer = models.JSONField(_("answer"), null=True)
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.SET_NULL, related_name="findings"
    )
    rectify_by = models.DateField(_("rectify by"), null=True, blank=True)
    area_code = models.CharField(_("area code"), max_length=17, editable=False)

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("finding")
        verbose_name_plural = _("findings")
        ordering = ["id"]

    def __str__(self) -> str:
        return str(self.item)


def _photo_path(instance: FieldPhoto, filename: str) -> str:
    return f"fieldwork/{instance.area_code[:12]}/{filename}"


class FieldPhoto(BaseModel):
    """A photo taken on a visit, an activity or a home service; checked by its content, with a thumbnail."""

    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    activity = models.ForeignKey(
        "Activity", verbose_name=_("activity"), null=True, blank=True, on_delete=models.CASCADE, related_name="photos"
    )
    file = models.FileField(_("file"), upload_to=_photo_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_photo_path, max_length=200, blank=True)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    uploaded_by = models.ForeignKey(
        USER, verbose_name=_("uploaded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("photo")
        verbose_name_plural = _("photos")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name


class Patrol(BaseModel):
    """A patrol (格中走): a worker's walk through their grid, its track, and what they did on the way."""

    worker = models.ForeignKey(USER, verbose_name=_("worker"), on_delete=models.PROTECT, related_name="+")
    grid = models.ForeignKey(Area, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+")
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    state = models.CharField(_("state"), max_length=16, choices=PatrolState.choices, default=PatrolState.ACTIVE)
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    distance_m = models.FloatField(_("distance (m)"), default=0)
    point_count = models.PositiveIntegerField(_("track points"), default=0)
    flagged_count = models.PositiveIntegerField(_("flagged points"), default=0)
    # The last counted point, so each batch extends the distance without rereading the track.
    last_point_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_lat = models.FloatField(null=True, blank=True, editable=False)
    last_lng = models.FloatField(null=True, blank=True, editable=False)
    note = models.TextField(_("notes"), blank=True)

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("patrol")
        verbose_name_plural = _("patrols")
        ordering = ["-started_at", "-id"]
        indexes = [
            models.Index(fields=["area_code", "started_at"], name="patrol_scope_idx"),
            models.Index(fields=["worker", "started_at"], name="patrol_worker_idx"),
        ]
        constraints = [
            # One patrol under way per worker: starting twice (two taps, two phones) cannot make two.
            models.UniqueConstraint(
                fields=["worker"], condition=Q(state=PatrolState.ACTIVE), name="patrol_one_active_per_worker"
            )
        ]

    def __str__(self) -> str:
        return f"{self.worker} · {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def duration_seconds(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


class PatrolPoint(models.Model):
    """One point of a patrol's track, as the phone recorded it; flagged points are kept, not counted."""

    patrol = models.ForeignKey(Patrol, verbose_name=_("patrol"), on_delete=models.CASCADE, related_name="points")
    seq = models.PositiveIntegerField(_("order received"))
    recorded_at = models.DateTimeField(_("recorded at"))
    lat = models.FloatField(_("latitude"))
    lng = models.FloatField(_("longitude"))
    accuracy = models.FloatField(_("accuracy (m)"), null=True, blank=True)
    flag = models.CharField(_("flag"), max_length=16, choices=PointFlag.choices, default=PointFlag.OK, blank=True)

    scope_rule = ScopeRule(area="patrol__area_code")

    class Meta:
        verbose_name = _("track point")
        verbose_name_plural = _("track points")
        ordering = ["patrol", "seq"]
        constraints = [models.UniqueConstraint(fields=["patrol", "seq"], name="patrol_point_unique_seq")]
        # A re-sent batch is recognised by its points' times without reading the whole track.
        indexes = [models.Index(fields=["patrol", "recorded_at"], name="patrol_point_time_idx")]

    def __str__(self) -> str:
        return f"{self.lat:.6f},{self.lng:.6f}"


class CarePlan(BaseModel):
    """A care plan (关爱计划) for a vulnerable resident: what, how often, by whom."""

    resident = models.ForeignKey(
        "registry.Resident", verbose_name=_("resident"), on_delete=models.PROTECT, related_name="care_plans"
    )
    grid = models.ForeignKey(Area, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+")
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    method = models.CharField(_("how"), max_length=16, choices=CareMethod.choices)
    interval_days = models.PositiveSmallIntegerField(_("every (days)"))
    caretaker = models.ForeignKey(
        USER, verbose_name=_("carried out by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    needs = models.TextField(_("needs and notes"), blank=True)
    starts_on = models.DateField(_("starts on"))
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("care plan")
        verbose_name_plural = _("care plans")
        ordering = ["area_code", "id"]
        indexes = [models.Index(fields=["area_code", "active"], name="careplan_scope_idx")]

    def __str__(self) -> str:
        return f"{self.resident} · {self.get_method_display()}"


class CareCheck(BaseModel):
    """One due care check of a plan: done on time, or missed (and the grid leader alerted)."""

    plan = models.ForeignKey(CarePlan, verbose_name=_("care plan"), on_delete=models.CASCADE, related_name="checks")
    resident = models.ForeignKey(
        "registry.Resident", verbose_name=_("resident"), on_delete=models.PROTECT, related_name="care_checks"
    )
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    method = models.CharField(_("how"), max_length=16, choices=CareMethod.choices)
    due_on = models.DateField(_("due on"))
    state = models.CharField(_("state"), max_length=16, choices=CareCheckState.choices, default=CareCheckState.DUE)
    done_at = models.DateTimeField(_("done at"), null=True, blank=True)
    done_by = models.ForeignKey(
        USER, verbose_name=_("done by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    visit = models.ForeignKey(
        Visit, verbose_name=_("visit"), null=True, blank=True, on_delete=models.SET_NULL, related_name="care_checks"
    )
    note = models.TextField(_("notes"), blank=True)
    missed_at = models.DateTimeField(_("missed at"), null=True, blank=True)

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("care check")
        verbose_name_plural = _("care checks")
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["state", "due_on"], name="carecheck_due_idx"),
            models.Index(fields=["area_code", "state", "due_on"], name="carecheck_scope_idx"),
        ]
        constraints = [
            # At most one open check per plan: the next is made when this one is done or missed.
            models.UniqueConstraint(fields=["plan"], condition=Q(state=CareCheckState.DUE), name="carecheck_one_due")
        ]

    def __str__(self) -> str:
        return f"{self.resident} · {self.due_on}"


class HomeService(BaseModel):
    """A home service (上门服务: 代办、代购、代送, repairs) done for a resident."""

    resident = models.ForeignKey(
        "registry.Resident", verbose_name=_("resident"), on_delete=models.PROTECT, related_name="home_services"
    )
    plan = models.ForeignKey(
        CarePlan, verbose_name=_("care plan"), null=True, blank=True, on_delete=models.SET_NULL, related_name="services"
    )
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    kind = models.CharField(_("service"), max_length=16, choices=ServiceKind.choices)
    description = models.TextField(_("what was done"))
    served_on = models.DateField(_("date"))
    served_by = models.ForeignKey(
        USER, verbose_name=_("done by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("home service")
        verbose_name_plural = _("home services")
        ordering = ["-served_on", "-id"]
        indexes = [models.Index(fields=["area_code", "served_on"], name="homeservice_scope_idx")]

    def __str__(self) -> str:
        return f"{self.resident} · {self.get_kind_display()}"


class Activity(BaseModel):
    """A volunteer or publicity activity (志愿宣传活动) in a community, grid or household group."""

    title = models.CharField(_("title"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=ActivityKind.choices)
    organiser = models.CharField(_("organiser"), max_length=100)
    area = models.ForeignKey(Area, verbose_name=_("area"), on_delete=models.PROTECT, related_name="+")
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    held_on = models.DateField(_("date"))
    place = models.CharField(_("place"), max_length=200, blank=True)
    description = models.TextField(_("description"), blank=True)
    households_reached = models.PositiveIntegerField(_("households reached"), default=0)
    participants = models.ManyToManyField(
        "registry.Resident", verbose_name=_("volunteers"), blank=True, related_name="activities"
    )
    created_by = models.ForeignKey(
        USER, verbose_name=_("recorded by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-held_on", "-id"]
        indexes = [models.Index(fields=["area_code", "held_on"], name="activity_scope_idx")]

    def __str__(self) -> str:
        return self.title
