"""Choice sets of the organisation tree: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Level(models.TextChoices):
    SUBDISTRICT = "subdistrict", _("Subdistrict")
    COMMUNITY = "community", _("Community")
    GRID = "grid", _("Grid")
    GROUP = "group", _("Household group")


# The materialised path: GB/T 2260 county (6) + street (3) + community (3) + grid (3) + group (2).
COUNTY_CODE_LENGTH = 6
CODE_LENGTH = {Level.SUBDISTRICT: 9, Level.COMMUNITY: 12, Level.GRID: 15, Level.GROUP: 17}
PARENT_LEVEL = {Level.COMMUNITY: Level.SUBDISTRICT, Level.GRID: Level.COMMUNITY, Level.GROUP: Level.GRID}
LEVEL_ORDER = [Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID, Level.GROUP]


class Mode(models.TextChoices):
    NORMAL = "normal", _("Normal")
    EMERGENCY = "emergency", _("Emergency")


class UnitKind(models.TextChoices):
    PROPERTY = "property", _("Property company")
    POLICE = "police", _("Police station")
    JUDICIAL = "judicial", _("Judicial office")
    COURT = "court", _("People's tribunal")
    ENFORCEMENT = "enforcement", _("Comprehensive enforcement")
    DEPARTMENT = "department", _("Department")
    COMMUNITY = "community", _("Community committee")
    CENTER = "center", _("Comprehensive governance center")


class Role(models.TextChoices):
    CENTER = "center", _("Dispatcher, subdistrict center")
    LEADER = "leader", _("Subdistrict leader")
    COMMUNITY = "community", _("Community staff")
    GRID_LEADER = "grid_leader", _("Grid leader")
    GRID_WORKER = "grid_worker", _("Grid worker")
    GROUP_LEADER = "group_leader", _("Household group leader")
    UNIT_HANDLER = "unit_handler", _("Unit handler")
    MEDIATOR = "mediator", _("Mediator")


# Where each role's post sits. A unit handler's post is at a unit; every other post is at an area.
ROLE_LEVELS: dict[str, tuple[str, ...]] = {
    Role.CENTER: (Level.SUBDISTRICT,),
    Role.LEADER: (Level.SUBDISTRICT,),
    Role.COMMUNITY: (Level.COMMUNITY,),
    Role.GRID_LEADER: (Level.GRID,),
    Role.GRID_WORKER: (Level.GRID,),
    Role.GROUP_LEADER: (Level.GROUP,),
    Role.MEDIATOR: (Level.SUBDISTRICT, Level.COMMUNITY, Level.GRID),
}
UNIT_ROLES = frozenset({Role.UNIT_HANDLER})
# Roles that see the organisation of their area but not its registry or cases by area:
# they see what is assigned to them.
REFERENCE_ONLY_ROLES = frozenset({Role.UNIT_HANDLER, Role.MEDIATOR})
