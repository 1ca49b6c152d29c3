"""The registry of people and things (人·物): residents, households, buildings, shops, places, tags.

Every row sits in a grid (and possibly a household group). `area_code` repeats the code of the
finest of the two so that the scope is a prefix match on one indexed column, which is what lets
lists stay fast over millions of residents. Services set it; nothing else writes it.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.areas.models import Area
from gridgov.core.models import BaseModel
from gridgov.core.privacy import ID_NUMBER, PHONE, EncryptedField
from gridgov.core.scope import ScopeRule
from gridgov.registry.choices import (
    RESTRICTED_TAG_KINDS,
    BuildingUse,
    Gender,
    LivingStatus,
    PlaceKind,
    Relation,
    SafetyGrade,
    Structure,
    TagKind,
)


class Placed(BaseModel):
    """Abstract: a row that belongs to a grid and, optionally, one of its household groups."""

    grid = models.ForeignKey(
        Area, verbose_name=_("grid"), on_delete=models.PROTECT, related_name="+", limit_choices_to={"level": "grid"}
    )
    group = models.ForeignKey(
        Area,
        verbose_name=_("household group"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to={"level": "group"},
    )
    area_code = models.CharField(_("area code"), max_length=17, editable=False)

    scope_rule = ScopeRule(area="area_code")

    class Meta:
        abstract = True


class Tag(BaseModel):
    """A label on residents: care (低保, 五保, 独居老人 …), service, party, or key person (restricted)."""

    code = models.SlugField(_("code"), max_length=40, unique=True)
    name = models.CharField(_("name"), max_length=40, unique=True)
    kind = models.CharField(_("kind"), max_length=16, choices=TagKind.choices)
    description = models.CharField(_("description"), max_length=200, blank=True)
    order = models.PositiveSmallIntegerField(_("order"), default=100)

    # The catalogue is the same for everyone with a post; restricted kinds are filtered by permission.
    scope_rule = ScopeRule(everyone=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["order", "code"]
        permissions = [("view_restricted_tags", _("Can see and assign key-person tags"))]

    def __str__(self) -> str:
        return self.name

    @property
    def restricted(self) -> bool:
        return self.kind in RESTRICTED_TAG_KINDS


class Building(Placed):
    """A house or building (房屋) with its use, structure and safety grade."""

    name = models.CharField(_("name"), max_length=100, blank=True)
    address = models.CharField(_("address"), max_length=200)
    use = models.CharField(_("use"), max_length=16, choices=BuildingUse.choices)
    floors = models.PositiveSmallIntegerField(_("floors"), null=True, blank=True)
    structure = models.CharField(_("structure"), max_length=16, choices=Structure.choices, blank=True)
    year_built = models.PositiveSmallIntegerField(_("year built"), null=True, blank=True)
    safety_grade = models.CharField(_("safety grade"), max_length=1, choices=SafetyGrade.choices, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("building")
        verbose_name_plural = _("buildings")
        ordering = ["area_code", "id"]
        indexes = [models.Index(fields=["area_code", "id"], name="building_scope_idx")]

    def __str__(self) -> str:
        return self.name or self.address


class Household(Placed):
    """A household (户): its members are the residents that point at it."""

    number = models.CharField(_("household number"), max_length=32, blank=True)
    head = models.ForeignKey(
        "Resident", verbose_name=_("head"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    address = models.CharField(_("address"), max_length=200)
    building = models.ForeignKey(
        Building,
        verbose_name=_("building"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="households",
    )
    room = models.CharField(_("room"), max_length=32, blank=True)

    class Meta:
        verbose_name = _("household")
        verbose_name_plural = _("households")
        ordering = ["area_code", "id"]
        indexes = [models.Index(fields=["area_code", "id"], name="household_scope_idx")]

    def __str__(self) -> str:
        return self.address + (f" {self.room}" if self.room else "")


class Resident(Placed):
    """A person living (or once living) in the area. ID and phone numbers are sealed at rest."""

    name = models.CharField(_("name"), max_length=50)
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    id_number = EncryptedField(_("ID number"), kind=ID_NUMBER, hash_field="id_number_hash")
    # Indexed in Meta, not with unique=/db_index=: on PostgreSQL those add a second, LIKE-pattern index
    # that exact hash lookups never use and every insert pays for (see registry/bench.py).
    id_number_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    phone = EncryptedField(_("phone"), kind=PHONE, hash_field="phone_hash")
    phone_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)
    household = models.ForeignKey(
        Household, verbose_name=_("household"), null=True, blank=True, on_delete=models.SET_NULL, related_name="members"
    )
    relation = models.CharField(_("relation to head"), max_length=16, choices=Relation.choices, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    tags = models.ManyToManyField(Tag, verbose_name=_("tags"), blank=True, related_name="residents")
    notes = models.TextField(_("notes"), blank=True)
    living_status = models.CharField(
        _("living status"), max_length=16, choices=LivingStatus.choices, default=LivingStatus.RESIDENT
    )

    class Meta:
        verbose_name = _("resident")
        verbose_name_plural = _("residents")
        ordering = ["area_code", "id"]
        indexes = [
            models.Index(fields=["area_code", "id"], name="resident_scope_idx"),
            models.Index(fields=["name"], name="resident_name_idx"),
            models.Index(fields=["birth_date"], name="resident_birth_idx"),
            models.Index(fields=["phone_hash"], name="resident_phone_hash_idx"),
        ]
        constraints = [models.UniqueConstraint(fields=["id_number_hash"], name="resident_id_number_hash_unique")]

    def __str__(self) -> str:
        return self.name


class Shop(Placed):
    """A shop or business (门店), kept in household groups of 4–8 shops."""

    name = models.CharField(_("name"), max_length=100)
    business_type = models.CharField(_("business type"), max_length=50)
    licence_number = models.CharField(_("business licence number"), max_length=32, blank=True)
    operator = models.CharField(_("operator"), max_length=50, blank=True)
    phone = EncryptedField(_("phone"), kind=PHONE, hash_field="phone_hash")
    phone_hash = models.CharField(max_length=64, null=True, blank=True, editable=False)  # indexed in Meta
    address = models.CharField(_("address"), max_length=200, blank=True)
    lng = models.FloatField(_("longitude"), null=True, blank=True)
    lat = models.FloatField(_("latitude"), null=True, blank=True)

    class Meta:
        verbose_name = _("shop")
        verbose_name_plural = _("shops")
        ordering = ["area_code", "id"]
        indexes = [
            models.Index(fields=["area_code", "id"], name="shop_scope_idx"),
            models.Index(fields=["phone_hash"], name="shop_phone_hash_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Place(Placed):
    """A point or line of interest (点位): a park, a road, a fire lane, a camera, a key site."""

    kind = models.CharField(_("kind"), max_length=16, choices=PlaceKind.choices)
    name = models.CharField(_("name"), max_length=100)
    geometry = models.JSONField(_("location or line"), help_text=_("GeoJSON Point, LineString or Polygon"))
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("place")
        verbose_name_plural = _("places")
        ordering = ["area_code", "id"]
        indexes = [models.Index(fields=["area_code", "id"], name="place_scope_idx")]

    def __str__(self) -> str:
        return self.name


class ImportJob(BaseModel):
    """A spreadsheet import started from the page: its upload, progress and outcome.

    Private to its creator (and superusers) through `registry.imports.import_job_get`. The upload
    holds full personal data, so it is deleted as soon as the job finishes; the job keeps only
    masked values in `errors`.
    """

    class Kind(models.TextChoices):
        RESIDENTS = "residents", _("Residents")
        HOUSEHOLDS = "households", _("Households")
        BUILDINGS = "buildings", _("Buildings")
        SHOPS = "shops", _("Shops")

    class State(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        FAILED = "failed", _("Failed")
        SUCCEEDED = "succeeded", _("Succeeded")

    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    file = models.FileField(_("file"), upload_to="imports/", max_length=200, blank=True)
    file_name = models.CharField(_("file name"), max_length=200)
    actor = models.ForeignKey(
        "accounts.User", verbose_name=_("started by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    area_code = models.CharField(_("area code"), max_length=17, blank=True)
    dry_run = models.BooleanField(_("check only"), default=False)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.QUEUED)
    total = models.PositiveIntegerField(_("rows"), default=0)
    processed = models.PositiveIntegerField(_("rows checked"), default=0)
    created = models.PositiveIntegerField(_("rows created"), default=0)
    error_count = models.PositiveIntegerField(_("errors"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    message = models.CharField(_("message"), max_length=500, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    # The actor's top area; the selector narrows further to the actor's own jobs.
    scope_rule = ScopeRule(area="area_code")

    class Meta:
        verbose_name = _("import job")
        verbose_name_plural = _("import jobs")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["actor", "-created_at"], name="importjob_actor_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} · {self.file_name}"

    @property
    def finished(self) -> bool:
        return self.state in (self.State.FAILED, self.State.SUCCEEDED)
