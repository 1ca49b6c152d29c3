"""Choice sets of outbound webhooks: value and label in one place."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class EventType(models.TextChoices):
    CASE_CREATED = "case.created", _("Case created")
    CASE_STATE_CHANGED = "case.state_changed", _("Case state changed")
    CASE_OVERDUE = "case.overdue", _("Case overdue")
    # Sent only by the admin's test send, to check a receiver; nobody subscribes to it.
    PING = "ping", _("Ping (test)")


# What a subscription may choose.
SUBSCRIBABLE = (EventType.CASE_CREATED, EventType.CASE_STATE_CHANGED, EventType.CASE_OVERDUE)


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SUCCEEDED = "succeeded", _("Succeeded")
    FAILED = "failed", _("Failed, will retry")
    GAVE_UP = "gave_up", _("Gave up")


# States the worker still sends: a failed delivery waits for its next attempt.
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)
