"""The case pipeline's data: business lines, the category tree, cases and their timeline.

A case row holds only the current state; every change is a `CaseEvent`, which is append-only.
`area_code` is the code of the grid the case lies in (or of the area that took it when the
point lies outside every grid): the scope is a range on that one indexed column. `level` and
`handling_area` say who owns the case now; both move on escalation, `area_code` never does.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.areas.choices import UnitKind
from gridgov.areas.models import Area, Unit
from gridgov.cases.choices import Action, CaseKind, CaseLevel, Priority, Source, State
from gridgov.core.models import BaseModel, ImmutableError
from gridgov.core.privacy import PHONE, EncryptedField
from gridgov.core.scope import ScopeRule


class BusinessLine(BaseModel):
    """A business line (业务条线): 平安建设, 疫情防控, 文明创建 … Each owns a part of the category tree."""

    code = models.SlugField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=50, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)
    active = models.BooleanField(_("active"), default=True)

    scope_rule = ScopeRule(everyone=True)

    class Meta:
        verbose_name = _("business line")
        verbose_name_plural = _("business lines")
        ordering = ["order", "code"]

    def __str__(self) -> str:
        return self.name


class Category(BaseModel):
    """A case category: a 2-digit major class or a 5-digit minor class under it (GB/T 30428.2 manner).

    Minor classes carry the rules: deadlines per priority, the level that normally handles the
    case, the kind of unit it is usually dispatched to, whether residents may report it, and the
    extra fields its form asks for (`form_schema`, validated by `gridgov.cases.schema`).
    """

    code = models.CharField(_("code"), max_length=5, unique=True)
    name = models.CharField(_("name"), max_length=60)
    business_line = models.ForeignKey(
        BusinessLine, verbose_name=_("business line"), on_delete=models.PROTECT, related_name="categories"
    )
    parent = models.ForeignKey(
        "self", verbose_name=_("major class"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    kind = models.CharField(_("case kind"), max_length=16, choices=CaseKind.choices, default=CaseKind.INCIDENT)
    level = models.CharField(
        _("handling level"),
        max_length=16,
        choices=CaseLevel.choices[:3],
        default=CaseLevel.GRID,
        help_text=_("The level that normally handles cases of this category."),
    )
    unit_kind = models.CharField(_("default unit kind"), max_length=16, choices=UnitKind.choices, blank=True)
    resident_reportable = models.BooleanField(_("residents may report"), default=False)
    accept_minutes_normal = models.PositiveIntegerField(_("accept within (minutes), normal"), default=240)
    accept_minutes_urgent = models.PositiveIntegerField(_("accept within (minutes), urgent"), default=60)
    accept_minutes_critical = models.PositiveIntegerField(_("accept within (minutes), critical"), default=15)
    handle_hours_normal = models.PositiveIntegerField(_("handle within (hours), normal"), default=72)
    handle_hours_urgent = models.PositiveIntegerField(_("handle within (hours), urgent"), default=24)
    handle_hours_critical = models.PositiveIntegerField(_("handle within (hours), critical"), default=4)
    form_schema = models.JSONField(
        _("extra fields"),
        default=list,
        blank=True,
        help_text=_(
            'A list of fields: {"name": "depth_cm", "label": "深度(厘米)", "type": "number", "required": true}. '
            'Types: text, number, integer, boolean, choice (with "choices"), date.'
        ),
    )
    active = models.BooleanField(_("active"), default=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    scope_rule = ScopeRule(everyone=True)

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def is_major(self) -> bool:
        return len(self.code) == 2

    def accept_minutes(self, priority: str) -> int:
        return getattr(self, f"accept_minutes_{priority}", self.accept_minutes_normal)

    def handle_hours(self, priority: str) -> int:
        return getattr(self, f"handle_hours_{priority}", self.handle_hours_normal)


class Case(BaseModel):
    """One problem in the pipeline (事件/案卷), whatever its business line."""

    code = models.CharField(_("case number"), max_length=32)
    title = models.CharField(_("title"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    category = models.ForeignKey(Category, verbose_name=_("category"), on_delete=models.PROTECT, related_name="cases")
    business_line = models.ForeignKey(
        BusinessLine, verbose_name=_("business line"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=CaseKind.choices)
    source = models.CharField(_("source"), max_length=16, choices=Source.choices)
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    extra = models.JSONField(_("extra fields"), default=dict, blank=True)

    lat = models.FloatField(_("latitude"), null=True, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    # A photo or video the sender keeps (an Open311 media_url, a camera's snapshot): linked, never fetched.
    media_url = models.URLField(_("media link"), max_length=500, blank=True)
    grid = models.ForeignKey(
        Area, verbose_name=_("grid"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    area_code = models.CharField(_("area code"), max_length=17, editable=False)
    outside_grids = models.BooleanField(_("outside every grid"), default=False)

    level = models.CharField(_("level"), max_length=16, choices=CaseLevel.choices)
    # Indexed by case_handling_idx (handling_area, state), like unit by case_unit_idx: no single-column copies.
    handling_area = models.ForeignKey(
        Area, verbose_name=_("handling area"), on_delete=models.PROTECT, related_name="+", db_index=False
    )
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.REPORTED)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("responsible unit"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="cases",
        db_index=False,
    )
    co_units = models.ManyToManyField(
        Unit, verbose_name=_("co-handling units"), blank=True, related_name="co_cases", through="CaseCoUnit"
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("handler"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # case_assignee_idx: only claimed cases
    )

    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("reporter"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    reporter_name = models.CharField(_("reporter's name"), max_length=50, blank=True)
    reporter_phone = EncryptedField(_("reporter's phone"), kind=PHONE)
    tracking_code = models.CharField(_("tracking code"), max_length=16, null=True, blank=True)

    # A rectification deadline set at intake (a hazard found by an inspection, 整改时限): the handling
    # step is due then instead of after the category's hours.
    rectify_by = models.DateTimeField(_("rectify by"), null=True, blank=True)
    # The clock of the current step: started, warn at 80 %, due.
    step_started_at = models.DateTimeField(_("step started"), null=True, blank=True)
    warn_at = models.DateTimeField(_("warn at"), null=True, blank=True)
    due_at = models.DateTimeField(_("due"), null=True, blank=True)
    warned = models.BooleanField(_("warning"), default=False)
    overdue = models.BooleanField(_("overdue"), default=False)
    overdue_at = models.DateTimeField(_("became overdue"), null=True, blank=True)
    ever_overdue = models.BooleanField(_("was ever overdue"), default=False)
    urged = models.BooleanField(_("urged"), default=False)
    urge_count = models.PositiveSmallIntegerField(_("urged (times)"), default=0)
    escalation_count = models.PositiveSmallIntegerField(_("escalated (times)"), default=0)
    extension_requested_hours = models.PositiveIntegerField(_("extension requested (hours)"), null=True, blank=True)

    measures = models.TextField(_("rectification measures"), blank=True)
    result = models.TextField(_("handling result"), blank=True)
    verifier = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("verified by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        db_index=False,  # case_verifier_idx: only verified cases
    )
    accepted_at = models.DateTimeField(_("accepted"), null=True, blank=True)
    dispatched_at = models.DateTimeField(_("dispatched"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("resolved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    closed_level = models.CharField(_("level at closure"), max_length=16, choices=CaseLevel.choices, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="merged",
        db_index=False,  # case_merged_into_idx: only merged cases
    )
    related = models.ManyToManyField("self", verbose_name=_("related cases"), blank=True, symmetrical=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    satisfaction_note = models.CharField(_("satisfaction note"), max_length=200, blank=True)

    # A unit sees what is dispatched to it, as lead or as co-handler.
    scope_rule = ScopeRule(area="area_code", unit=("unit_id", "co_unit_links__unit_id"))

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-id"]
        # Constraints rather than unique=True: no extra LIKE-pattern index on PostgreSQL, nobody searches by prefix.
        constraints = [
            models.UniqueConstraint(fields=["code"], name="case_code_unique"),
            models.UniqueConstraint(fields=["tracking_code"], name="case_tracking_code_unique"),
        ]
        indexes = [
            models.Index(fields=["area_code", "id"], name="case_scope_idx"),
            models.Index(fields=["state", "id"], name="case_state_idx"),
            # Columns empty when a case is reported are indexed where they are set: a report writes none of
            # these indexes (make bench: cases.intake_http), and lookups by a value use them all the same.
            models.Index(fields=["unit", "state"], name="case_unit_idx", condition=models.Q(unit__isnull=False)),
            models.Index(fields=["handling_area", "state"], name="case_handling_idx"),
            models.Index(
                fields=["closed_at", "area_code"], name="case_closed_idx", condition=models.Q(closed_at__isnull=False)
            ),
            models.Index(fields=["assignee"], name="case_assignee_idx", condition=models.Q(assignee__isnull=False)),
            models.Index(fields=["verifier"], name="case_verifier_idx", condition=models.Q(verifier__isnull=False)),
            models.Index(
                fields=["merged_into"], name="case_merged_into_idx", condition=models.Q(merged_into__isnull=False)
            ),
            # The deadline sweep: cases by the time they warn and fall due. No flag in any index or its
            # predicate, so marking a case (warned, overdue) is a HOT update on PostgreSQL: no index is
            # written, which is what keeps a sweep of 100,000 newly overdue cases within seconds.
            models.Index(fields=["warn_at"], name="case_warn_idx", condition=models.Q(warn_at__isnull=False)),
            models.Index(fields=["due_at"], name="case_due_idx", condition=models.Q(due_at__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.title}"

    @property
    def is_open(self) -> bool:
        from gridgov.cases.choices import OPEN_STATES

        return self.state in OPEN_STATES


class CaseCoUnit(models.Model):
    """A unit handling a case jointly with the responsible one (联合处置)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="co_unit_links")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("co-handling unit")
        verbose_name_plural = _("co-handling units")
        constraints = [models.UniqueConstraint(fields=["case", "unit"], name="case_co_unit_unique")]
        indexes = [models.Index(fields=["unit", "case"], name="case_co_unit_idx")]


class CaseSequence(models.Model):
    """The last sequence number given to cases of one area on one day (case numbers are area + date + sequence)."""

    prefix = models.CharField(max_length=32, primary_key=True)
    value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("case sequence")


class CaseEvent(models.Model):
    """One step in a case's timeline: who did what, when, from which state and level to which. Append-only."""

    # Indexed by case_event_case_idx (case, id); nothing reads the timeline by actor or unit.
    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="events", db_index=False
    )
    time = models.DateTimeField(_("time"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    actor_name = models.CharField(_("by"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    from_state = models.CharField(_("from state"), max_length=16, choices=State.choices, blank=True)
    to_state = models.CharField(_("to state"), max_length=16, choices=State.choices)
    from_level = models.CharField(_("from level"), max_length=16, choices=CaseLevel.choices, blank=True)
    to_level = models.CharField(_("to level"), max_length=16, choices=CaseLevel.choices)
    unit = models.ForeignKey(
        Unit,
        verbose_name=_("unit"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)
    data = models.JSONField(_("details"), default=dict, blank=True)

    class Meta:
        verbose_name = _("timeline entry")
        verbose_name_plural = _("timeline entries")
        ordering = ["time", "id"]
        indexes = [models.Index(fields=["case", "id"], name="case_event_case_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.time:%Y-%m-%d %H:%M} {self.action}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ImmutableError("timeline entries cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ImmutableError("timeline entries cannot be deleted")


def _attachment_path(instance: CaseAttachment, filename: str) -> str:
    return f"cases/{instance.case.created_at:%Y/%m}/{instance.case_id}/{filename}"


class CaseAttachment(BaseModel):
    """A photo or file on a case, attached at one step of its timeline."""

    case = models.ForeignKey(Case, verbose_name=_("case"), on_delete=models.CASCADE, related_name="attachments")
    event = models.ForeignKey(
        CaseEvent,
        verbose_name=_("timeline entry"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    file = models.FileField(_("file"), upload_to=_attachment_path, max_length=200)
    thumbnail = models.FileField(_("thumbnail"), upload_to=_attachment_path, max_length=200, blank=True)
    name = models.CharField(_("file name"), max_length=200)
    content_type = models.CharField(_("type"), max_length=100)
    size = models.PositiveIntegerField(_("size"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    scope_rule = ScopeRule(area="case__area_code", unit=("case__unit_id", "case__co_unit_links__unit_id"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")


class IdempotencyKey(models.Model):
    """A client's `Idempotency-Key` for case intake: the same key returns the same case."""

    # Indexed by the unique (user, key) constraint, which lookups by user alone use too.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False)
    key = models.CharField(max_length=100)
    body_hash = models.CharField(max_length=64)
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="idempotency_key_unique")]


class SavedView(BaseModel):
    """A user's named set of case-list filters (the query string), shown beside the list."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_case_views")
    name = models.CharField(_("name"), max_length=50)
    query = models.CharField(_("filters"), max_length=500)

    class Meta:
        verbose_name = _("saved view")
        verbose_name_plural = _("saved views")
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["user", "name"], name="saved_view_unique_name")]

    def __str__(self) -> str:
        return self.name
