"""Choice sets of the notification centre: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


# States a delivery can still leave: the worker (re)tries these.
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)
