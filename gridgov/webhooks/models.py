"""Outbound webhooks: who wants which case events, and every delivery of one event to one receiver.

The outbox is the case timeline itself (`cases.CaseEvent`): the dispatcher scans it and writes one
`WebhookDelivery` per matching subscription, with the payload frozen at that moment; the sender
posts it, retrying with backoff. `WebhookAttempt` keeps each HTTP attempt for the delivery log.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.core.models import BaseModel
from gridgov.core.privacy import SecretField
from gridgov.core.scope import ScopeRule
from gridgov.webhooks.choices import OPEN_STATES, DeliveryState, EventType


class WebhookSubscription(BaseModel):
    """A receiver (URL) that wants some case events of one area, signed with its own secret."""

    name = models.CharField(_("name"), max_length=100)
    # Checked by the services (http/https, a host), not URLValidator: intranet hosts often have no dot in their name.
    url = models.CharField(_("URL"), max_length=500, help_text=_("http:// or https:// address that receives a POST."))
    # Sealed at rest (SecretField); the plain secret is shown once, on creation and on rotation.
    secret = SecretField(_("secret"), editable=False)
    events = models.JSONField(_("events"), default=list, help_text=_("The event types sent to this receiver."))
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        on_delete=models.PROTECT,
        related_name="webhook_subscriptions",
        help_text=_("Only cases in this area and below it are sent."),
    )
    active = models.BooleanField(_("active"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    secret_rotated_at = models.DateTimeField(_("secret rotated at"), null=True, blank=True, editable=False)
    # Events from this time on are sent: set on creation and when switched back on, so nothing that
    # happened while the subscription was off arrives as a late backlog.
    active_since = models.DateTimeField(_("active since"), editable=False)

    scope_rule = ScopeRule(area="area__code")

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class WebhookDelivery(BaseModel):
    """One event for one subscription: its frozen payload, and where sending it stands.

    `uuid` is sent as X-Gridgov-Delivery and never changes (retries and replays reuse it), so a
    receiver can drop what it has already seen. `case_event` is empty for a test ping.
    """

    uuid = models.UUIDField(_("delivery id"), default=uuid.uuid4, unique=True, editable=False)
    subscription = models.ForeignKey(
        WebhookSubscription,
        verbose_name=_("subscription"),
        on_delete=models.PROTECT,
        related_name="deliveries",
        db_index=False,  # the unique constraint below starts with it
    )
    case_event = models.ForeignKey(
        "cases.CaseEvent",
        verbose_name=_("timeline entry"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="+",
    )
    event = models.CharField(_("event"), max_length=32, choices=EventType.choices)
    payload = models.JSONField(_("payload"))
    state = models.CharField(_("state"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    # Attempts made before the last replay: the retry schedule of a replay starts again from here.
    replay_offset = models.PositiveSmallIntegerField(_("attempts before the last replay"), default=0)
    replays = models.PositiveSmallIntegerField(_("replays"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last attempt at"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("last status code"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    last_response = models.TextField(_("last response"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered at"), null=True, blank=True)

    scope_rule = ScopeRule(area="subscription__area__code")

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [
            # The dispatcher's scans overlap: the same event reaches a subscription once.
            models.UniqueConstraint(fields=["subscription", "case_event"], name="webhook_delivery_once"),
        ]
        indexes = [
            # The sender's "what is due" lookup; finished deliveries stay out of the index.
            models.Index(
                fields=["next_attempt_at"],
                name="webhook_delivery_due_idx",
                condition=models.Q(state__in=OPEN_STATES),
            ),
            models.Index(fields=["state", "-id"], name="webhook_delivery_state_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscription_id} ({self.uuid})"


class WebhookAttempt(models.Model):
    """One HTTP attempt of a delivery: when, how it ended, what the receiver said. Append-only."""

    delivery = models.ForeignKey(
        WebhookDelivery, verbose_name=_("delivery"), on_delete=models.CASCADE, related_name="attempt_log"
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    replay = models.BooleanField(_("replay"), default=False)
    started_at = models.DateTimeField(_("started at"))
    status_code = models.PositiveSmallIntegerField(_("status code"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), default=False)
    error = models.TextField(_("error"), blank=True)
    response = models.TextField(_("response"), blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"))

    class Meta:
        verbose_name = _("webhook attempt")
        verbose_name_plural = _("webhook attempts")
        ordering = ["delivery", "id"]

    def __str__(self) -> str:
        return f"{self.delivery_id} #{self.number}"


class DispatchCursor(models.Model):
    """How far the dispatcher has scanned the case timeline (one row); its row lock keeps scans one at a time."""

    name = models.CharField(max_length=32, primary_key=True)
    scanned_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("webhook dispatch cursor")

    def __str__(self) -> str:
        return f"{self.name}: {self.scanned_until}"
