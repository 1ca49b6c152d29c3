"""Keys that outside systems (Open311 clients, cameras, the 12345 hotline) use to create cases."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from gridgov.core.models import BaseModel
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
