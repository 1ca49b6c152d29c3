"""The notification centre: one in-app row per user and event, one delivery row per extra channel,
and each user's channel addresses and per-kind choices."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gridgov.core.models import BaseModel
from gridgov.core.privacy import SecretField
from gridgov.notifications.choices import DeliveryState, WeComMessageType


class Notification(BaseModel):
    """Something a user should know about (a case dispatched to them, a deadline passed). Private to its user.

    Generic on purpose: `object_type`/`object_id` name the record it is about and `url` links to it,
    so any app can notify without this app knowing its models.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notifications",
        db_index=False,  # the composite indexes below start with the user
    )
    kind = models.CharField(_("kind"), max_length=32, help_text=_("What happened, such as case.dispatched."))
    title = models.CharField(pgettext_lazy("notification", "title"), max_length=200)  # not a post's title
    body = models.TextField(_("body"), blank=True)
    url = models.CharField(_("link"), max_length=300, blank=True, help_text=_("A page of this site."))
    object_type = models.CharField(_("object type"), max_length=64, blank=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-id"]
        indexes = [
            # The bell's unread count and the unread list.
            models.Index(fields=["user", "read_at", "-id"], name="notification_unread_idx"),
            # The centre's full list, newest first.
            models.Index(fields=["user", "-id"], name="notification_recent_idx"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_read(self) -> bool:
        return self.read_at is not None


class NotificationDelivery(BaseModel):
    """One notification sent through one channel besides the in-app centre (console, e-mail).

    Every attempt is recorded here, so a notification is never dropped silently: it is sent,
    skipped (with the reason), or failed with the last error after its attempts.
    """

    notification = models.ForeignKey(
        Notification, verbose_name=_("notification"), on_delete=models.CASCADE, related_name="deliveries"
    )
    channel = models.CharField(_("channel"), max_length=32)
    state = models.CharField(
        _("state"), max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING, db_index=True
    )
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification delivery")
        verbose_name_plural = _("notification deliveries")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.channel}:{self.notification_id} {self.state}"


class ChannelAddress(BaseModel):
    """Where a user's own channels send to: an HTTP endpoint (with an optional signing secret) and a WeCom robot.

    All three values can carry a credential (a robot URL holds its key), so each is a SecretField:
    sealed under its column's name, plain text when read (DecryptionError when no key opens it).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_address",
    )
    http_url = SecretField(_("HTTP endpoint"), blank=True, default="", help_text=_("Stored encrypted."))
    http_secret = SecretField(_("signing secret"), blank=True, default="", help_text=_("Stored encrypted."))
    wecom_url = SecretField(_("WeCom robot URL"), blank=True, default="", help_text=_("Stored encrypted."))
    wecom_msgtype = models.CharField(
        _("WeCom message type"), max_length=16, choices=WeComMessageType.choices, default=WeComMessageType.MARKDOWN
    )

    class Meta:
        verbose_name = _("notification address")
        verbose_name_plural = _("notification addresses")

    def __str__(self) -> str:
        return str(self.user)


class NotificationPreference(BaseModel):
    """One cell of a user's choice: whether notifications of `kind` go out through `channel`.

    Without a row a channel is on (for the HTTP and WeCom channels: once the user has set their
    address). The in-app centre has no rows: it is always on.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.CASCADE,
        related_name="notification_preferences",
        db_index=False,  # the unique constraint starts with the user
    )
    kind = models.CharField(_("kind"), max_length=32)
    channel = models.CharField(_("channel"), max_length=32)
    enabled = models.BooleanField(_("enabled"), default=True)

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")
        ordering = ["user", "kind", "channel"]
        constraints = [
            models.UniqueConstraint(fields=["user", "kind", "channel"], name="notification_preference_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.channel} {'on' if self.enabled else 'off'}"
