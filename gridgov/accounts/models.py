"""Accounts: the user, lockout state, and the security policy the superuser sets."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """A person who signs in. Roles come from their posts (areas.Post), not from Django groups."""

    name = models.CharField(_("full name"), max_length=50, blank=True)
    phone = models.CharField(_("work phone"), max_length=32, blank=True)
    failed_logins = models.PositiveSmallIntegerField(_("failed logins in a row"), default=0)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["username"]

    def __str__(self) -> str:
        return f"{self.name} ({self.username})" if self.name else self.username

    @property
    def display_name(self) -> str:
        return self.name or self.username

    def is_locked(self, now=None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or timezone.now())


class SecurityPolicy(models.Model):
    """The single row of site-wide security settings that the superuser edits."""

    totp_roles = models.JSONField(
        _("roles that must use TOTP"),
        default=list,
        blank=True,
        help_text=_(
            "Role codes whose holders must confirm each login with a one-time code; 'superuser' for superusers."
        ),
    )

    class Meta:
        verbose_name = _("security policy")
        verbose_name_plural = _("security policy")

    def __str__(self) -> str:
        return str(_("security policy"))

    @classmethod
    def load(cls) -> SecurityPolicy:
        return cls.objects.get_or_create(pk=1)[0]
