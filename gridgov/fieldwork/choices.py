"""Choice sets of fieldwork: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


class ItemType(models.TextChoices):
    YES_NO = "yes_no", _("Yes / no")
    NUMBER = "number", _("Number")
    CHOICE = "choice", _("Choice")
    TEXT = "text", _("Text")
    PHOTO = "photo", _("Photo")


class TargetKind(models.TextChoices):
    """What a campaign or a visit is about: a registry row."""

    HOUSEHOLD = "household", _("Household")
    BUILDING = "building", _("Building")
    SHOP = "shop", _("Shop")
    PLACE = "place", _("Place")


class CampaignState(models.TextChoices):
    RUNNING = "running", _("Running")
    FINISHED = "finished", pgettext_lazy("campaign", "Finished")
    CANCELLED = "cancelled", _("Cancelled")


class AssignTo(models.TextChoices):
    """Who carries a campaign's targets: the grid worker, or the household group leader where there is one."""

    GRID_WORKER = "grid_worker", _("Grid worker")
    GROUP_LEADER = "group_leader", _("Household group leader, else the grid worker")


class TargetState(models.TextChoices):
    PENDING = "pending", _("To do")
    DONE = "done", pgettext_lazy("target", "Done")


class PatrolState(models.TextChoices):
    ACTIVE = "active", _("Under way")
    ENDED = "ended", _("Ended")


class PointFlag(models.TextChoices):
    """Why a track point is kept but not counted in the distance."""

    OK = "", _("OK")
    OUT_OF_ORDER = "out_of_order", _("Out of order")
    TOO_FAST = "too_fast", _("Impossible speed")


class CareMethod(models.TextChoices):
    PHONE = "phone", _("Phone call")
    VISIT = "visit", _("Home visit")
    SERVICE = "service", _("Home service")


class CareCheckState(models.TextChoices):
    DUE = "due", _("Due")
    DONE = "done", pgettext_lazy("care check", "Done")
    MISSED = "missed", _("Missed")


class ServiceKind(models.TextChoices):
    """Home services (上门服务): 代办、代购、代送, repairs."""

    ERRAND = "errand", _("Errands run (代办)")
    SHOPPING = "shopping", _("Shopping (代购)")
    DELIVERY = "delivery", _("Delivery (代送)")
    REPAIR = "repair", _("Repair")
    OTHER = "other", _("Other service")


class ActivityKind(models.TextChoices):
    VOLUNTEER = "volunteer", _("Volunteer service")
    PUBLICITY = "publicity", _("Publicity")
