"""Choice sets of the notification centre: value and label in one place."""

from __future__ import annotations

from typing import Any

from django.db import models
from django.utils.translation import gettext_lazy as _


class DeliveryState(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")
    SKIPPED = "skipped", _("Skipped")


# States a delivery can still leave: the worker (re)tries these.
OPEN_STATES = (DeliveryState.PENDING, DeliveryState.FAILED)


class WeComMessageType(models.TextChoices):
    """How a WeCom group robot shows a notification: markdown reads better, text also reaches WeChat."""

    MARKDOWN = "markdown", _("Markdown (formatted)")
    TEXT = "text", _("Plain text")


# The kind of the notification a user sends themselves from the settings page to try a channel.
TEST_KIND = "notification.test"

# Every kind of notification the apps send, with the label the settings page shows. The kind is
# the notifying app's word for what happened (`case.<action>` for a case step); a kind missing
# here is still delivered, on every channel, but cannot be chosen per kind.
KINDS: dict[str, Any] = {
    "case.report": _("New case reported in my area"),
    "case.reject": _("My case was not registered"),
    "case.dispatch": _("Case dispatched to me"),
    "case.return": _("Case returned"),
    "case.escalate": _("Case escalated to me"),
    "case.resolve": _("Case awaits verification"),
    "case.verify": _("Case verification result"),
    "case.reopen": _("Case reopened"),
    "case.urge": _("Case urged"),
    "case.extend_request": _("Extension requested"),
    "case.extend_approve": _("Extension decided"),
    "case.warn": _("Cases close to their deadline"),
    "case.overdue": _("Cases overdue"),
    "case.escalated": _("Overdue cases escalated to me"),
    "care_check_missed": _("Care checks missed"),
}


def register_kind(kind: str, label: Any) -> None:
    """Let an app add a kind of notification it sends (from its AppConfig.ready()), so users can choose it."""
    KINDS.setdefault(kind, label)


def kind_label(kind: str) -> str:
    """The label of a kind; the kind itself when it is not registered."""
    return str(KINDS.get(kind, kind))
