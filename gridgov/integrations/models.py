"""Keys that outside systems (Open311 clients, cameras, the 12345 hotline) use to create cases, and the signed
intake of cameras and the hotline: channel settings, mapping rules and the log of messages received."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gridgov.cases.choices import Priority
from gridgov.core.models import BaseModel
from gridgov.core.privacy import SecretField, is_secret_set
from gridgov.core.scope import ScopeRule

PREFIX_LENGTH = 8


class Channel(models.TextChoices):
    OPEN311 = "open311", _("Open311")
    CAMERA = "camera", _("Camera")
    HOTLINE_12345 = "hotline_12345", _("12345 hotline")
    GENERIC = "generic", _("Generic")


class ApiKey(BaseModel):
    """An API key bound to one channel and one area. Only an HMAC of the key is stored; the key is shown once."""

    name = models.CharField(_("name"), max_length=100)
    channel = models.CharField(_("channel"), max_length=32, choices=Channel.choices)
    area = models.ForeignKey(
        "areas.Area",
        verbose_name=_("area"),
        on_delete=models.PROTECT,
        related_name="api_keys",
        help_text=_("The area whose cases this key may create."),
    )
    # Enough of the key to recognise it in lists without being able to use it.
    prefix = models.CharField(_("prefix"), max_length=PREFIX_LENGTH, db_index=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    last_used_ip = models.GenericIPAddressField(_("last used from"), null=True, blank=True, editable=False)

    scope_rule = ScopeRule(area="area__code")

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


# --- signed intake ------------------------------------------------------------------------------

# The channels that send signed JSON to /api/v1/intake/{channel}/ (Open311 has its own door).
INTAKE_CHANNELS = (Channel.CAMERA, Channel.HOTLINE_12345, Channel.GENERIC)
INTAKE_CHANNEL_CHOICES = [(channel.value, channel.label) for channel in INTAKE_CHANNELS]
SENDER_ID_LENGTH = 100
EVENT_TYPE_LENGTH = 100
# A category a message may become: an active minor class (5-digit code).
MINOR_CATEGORY = models.Q(active=True, code__regex=r"^\d{5}$")


class IntakeChannel(BaseModel):
    """One intake channel's settings: on or off, its signing secret (sealed), and what an unmapped type becomes."""

    channel = models.CharField(_("channel"), max_length=32, choices=INTAKE_CHANNEL_CHOICES, unique=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("An inactive channel refuses every message (403 channel_disabled).")
    )
    # Sealed with gridgov.core.crypto (context SECRET_CONTEXT); shown once when generated, never stored in clear.
    secret = SecretField(_("signing secret (sealed)"), blank=True, editable=False)
    secret_set_at = models.DateTimeField(_("secret set at"), null=True, blank=True, editable=False)
    default_category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("default category"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=MINOR_CATEGORY,
        help_text=_("What a message whose type no rule maps becomes. Empty: such a message is refused."),
    )
    default_priority = models.CharField(
        _("default priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL
    )

    class Meta:
        verbose_name = _("intake channel")
        verbose_name_plural = _("intake channels")
        ordering = ["channel"]

    def __str__(self) -> str:
        return str(self.get_channel_display())

    @property
    def has_secret(self) -> bool:
        return is_secret_set(self, "secret")


class MappingRule(BaseModel):
    """The sender's event type (exact, case-insensitive) → category and priority, per channel."""

    channel = models.CharField(_("channel"), max_length=32, choices=INTAKE_CHANNEL_CHOICES)
    event_type = models.CharField(
        _("event type"),
        max_length=EVENT_TYPE_LENGTH,
        help_text=_("The sender's `type` value, e.g. 占道经营. Matched exactly, ignoring case and full-width forms."),
    )
    # The normalised type (NFKC, case-folded, trimmed): what the match and the unique constraint compare.
    type_key = models.CharField(max_length=EVENT_TYPE_LENGTH, editable=False)
    category = models.ForeignKey(
        "cases.Category",
        verbose_name=_("category"),
        on_delete=models.PROTECT,
        related_name="+",
        limit_choices_to=MINOR_CATEGORY,
    )
    priority = models.CharField(_("priority"), max_length=16, choices=Priority.choices, default=Priority.NORMAL)
    order = models.PositiveSmallIntegerField(_("order"), default=100, help_text=_("Position in lists."))
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("mapping rule")
        verbose_name_plural = _("mapping rules")
        ordering = ["channel", "order", "event_type"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "type_key"], name="intake_mapping_rule_unique_type"),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()}: {self.event_type}"


class IntakeVia(models.TextChoices):
    API = "api", _("Signed API call")
    XLSX = "xlsx", _("Excel import")


class IntakeOutcome(models.TextChoices):
    CREATED = "created", _("Case created")
    REFUSED = "refused", _("Refused")


class IntakeMessage(BaseModel):
    """One message an outside system sent: the case it became, or why it was refused.

    At most one `created` row per channel and sender id (a unique constraint): that is what makes a
    replayed message return the first case instead of a second one. Only messages that passed the
    key and the signature are kept; forged ones leave nothing but a log line.
    """

    channel = models.CharField(_("channel"), max_length=32, choices=INTAKE_CHANNEL_CHOICES)
    via = models.CharField(_("via"), max_length=8, choices=IntakeVia.choices, default=IntakeVia.API)
    sender_id = models.CharField(_("sender's id"), max_length=SENDER_ID_LENGTH, blank=True)
    event_type = models.CharField(_("event type"), max_length=EVENT_TYPE_LENGTH, blank=True)
    body_hash = models.CharField(_("body hash"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received at"), default=timezone.now, db_index=True)
    occurred_at = models.DateTimeField(_("occurred at"), null=True, blank=True)
    api_key = models.ForeignKey(
        ApiKey, verbose_name=_("API key"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=IntakeOutcome.choices)
    error_code = models.CharField(_("error code"), max_length=50, blank=True)
    replays = models.PositiveIntegerField(_("replays"), default=0)
    last_replayed_at = models.DateTimeField(_("last replayed at"), null=True, blank=True)

    scope_rule = ScopeRule(area="case__area_code")

    class Meta:
        verbose_name = _("intake message")
        verbose_name_plural = _("intake messages")
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "sender_id"],
                condition=models.Q(outcome="created"),
                name="intake_message_unique_sender_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} {self.sender_id or '-'}"
