"""Choice sets of the registry: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class Gender(models.TextChoices):
    MALE = "male", _("Male")
    FEMALE = "female", _("Female")


class LivingStatus(models.TextChoices):
    RESIDENT = "resident", _("Resident")
    MOVED_OUT = "moved_out", _("Moved out")
    DECEASED = "deceased", _("Deceased")


class Relation(models.TextChoices):
    HEAD = "head", _("Head of household")
    SPOUSE = "spouse", _("Spouse")
    CHILD = "child", _("Child")
    PARENT = "parent", pgettext_lazy("relation", "Parent")
    GRANDCHILD = "grandchild", _("Grandchild")
    SIBLING = "sibling", _("Sibling")
    OTHER = "other", _("Other relative")
    TENANT = "tenant", _("Tenant")


class BuildingUse(models.TextChoices):
    RESIDENTIAL = "residential", _("Residential")
    SELF_BUILT = "self_built", _("Self-built house")
    COMMERCIAL = "commercial", _("Commercial")
    MIXED = "mixed", _("Mixed use")


class Structure(models.TextChoices):
    BRICK_CONCRETE = "brick_concrete", _("Brick and concrete")
    FRAME = "frame", _("Reinforced concrete frame")
    BRICK_WOOD = "brick_wood", _("Brick and wood")
    STEEL = "steel", _("Steel")
    OTHER = "other", _("Other")


class SafetyGrade(models.TextChoices):
    # Grades of 危险房屋鉴定标准 (JGJ 125): A safe … D dangerous as a whole.
    A = "A", _("A: safe")
    B = "B", _("B: minor defects")
    C = "C", _("C: partly dangerous")
    D = "D", _("D: dangerous")
    UNKNOWN = "", _("Not assessed")


class PlaceKind(models.TextChoices):
    PARK = "park", _("Park")
    ROAD = "road", _("Road")
    FIRE_LANE = "fire_lane", _("Fire lane")
    CAMERA = "camera", _("Camera point")
    KEY_SITE = "key_site", _("Key site")


class TagKind(models.TextChoices):
    CARE = "care", _("Care")
    SERVICE = "service", _("Service")
    PARTY = "party", _("Party")
    KEY = "key", _("Key person (restricted)")


# Tags of these kinds are shown and assigned only with the key-person permission (DESIGN.md, principle 5).
RESTRICTED_TAG_KINDS = frozenset({TagKind.KEY})
