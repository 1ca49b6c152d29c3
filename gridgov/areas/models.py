"""The organisation tree: areas, party branches, responsible units, and the posts people hold."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.areas.choices import Level, Mode, Role, UnitKind
from gridgov.core.models import BaseModel
from gridgov.core.scope import ScopeRule


class Area(BaseModel):
    """A subdistrict, community, grid or household group; `code` is its materialised path."""

    code = models.CharField(_("code"), max_length=17, unique=True)
    name = models.CharField(_("name"), max_length=100)
    level = models.CharField(_("level"), max_length=16, choices=Level.choices)
    parent = models.ForeignKey(
        "self",
        verbose_name=_("parent"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="children",
    )
    boundary = models.JSONField(_("boundary"), null=True, blank=True, help_text=_("GeoJSON Polygon or MultiPolygon"))
    centre_lng = models.FloatField(_("centre longitude"), null=True, blank=True)
    centre_lat = models.FloatField(_("centre latitude"), null=True, blank=True)
    mode = models.CharField(_("mode"), max_length=16, choices=Mode.choices, default=Mode.NORMAL)

    scope_rule = ScopeRule(area="code", reference=True)

    class Meta:
        verbose_name = _("area")
        verbose_name_plural = _("areas")
        ordering = ["code"]
        indexes = [models.Index(fields=["level", "code"])]

    def __str__(self) -> str:
        return self.name

    @property
    def centre(self) -> tuple[float, float] | None:
        """(lng, lat) of the centre, GeoJSON order."""
        if self.centre_lng is None or self.centre_lat is None:
            return None
        return (self.centre_lng, self.centre_lat)

    def ancestor_codes(self) -> list[str]:
        from gridgov.areas.choices import CODE_LENGTH

        return [self.code[:n] for n in sorted(CODE_LENGTH.values()) if n < len(self.code)]


class Unit(BaseModel):
    """A responsible unit (责任单位) that handles cases in the area it serves."""

    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices, db_index=True)
    area = models.ForeignKey(Area, verbose_name=_("area served"), on_delete=models.PROTECT, related_name="units")
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    address = models.CharField(_("address"), max_length=200, blank=True)
    active = models.BooleanField(_("active"), default=True)

    scope_rule = ScopeRule(area="area__code", unit="id", reference=True, ancestors=True)

    class Meta:
        verbose_name = _("unit")
        verbose_name_plural = _("units")
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["area", "name"], name="unit_unique_name_in_area")]

    def __str__(self) -> str:
        return self.name


class PartyBranch(BaseModel):
    """A party branch (党支部) built on one or more grids."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    grids = models.ManyToManyField(
        Area, verbose_name=_("grids"), related_name="party_branches", limit_choices_to={"level": Level.GRID}
    )
    secretary = models.CharField(_("secretary"), max_length=50, blank=True)
    member_count = models.PositiveIntegerField(_("members"), default=0)

    # ancestors: a group leader sees the branch built on their grid.
    scope_rule = ScopeRule(area="grids__code", reference=True, ancestors=True, distinct=True)

    class Meta:
        verbose_name = _("party branch")
        verbose_name_plural = _("party branches")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Post(BaseModel):
    """A user's role at an area (grid worker of grid 3) or at a unit (handler at the police station)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="posts"
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices, db_index=True)
    area = models.ForeignKey(
        Area, verbose_name=_("area"), null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    unit = models.ForeignKey(
        Unit, verbose_name=_("unit"), null=True, blank=True, on_delete=models.PROTECT, related_name="posts"
    )
    title = models.CharField(_("title"), max_length=100, blank=True)
    active = models.BooleanField(_("active"), default=True)

    # A post at a unit belongs to the area the unit serves.
    scope_rule = ScopeRule(area=("area__code", "unit__area__code"), unit="unit_id", reference=True)

    class Meta:
        verbose_name = _("post")
        verbose_name_plural = _("posts")
        ordering = ["role", "area__code"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(area__isnull=False, unit__isnull=True) | models.Q(area__isnull=True, unit__isnull=False)
                ),
                name="post_at_area_xor_unit",
            ),
            # Two partial constraints: one of area and unit is always NULL, and NULLs are never equal.
            models.UniqueConstraint(
                fields=["user", "role", "area"], condition=models.Q(unit__isnull=True), name="post_unique_at_area"
            ),
            models.UniqueConstraint(
                fields=["user", "role", "unit"], condition=models.Q(area__isnull=True), name="post_unique_at_unit"
            ),
        ]

    def __str__(self) -> str:
        where = self.area or self.unit
        return f"{self.user} · {self.get_role_display()} · {where}"
