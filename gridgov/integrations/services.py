"""Writes on API keys: create (the key is returned once), revoke, and authenticate a presented key."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.choices import Level, Role
from gridgov.areas.models import Area
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, Conflict, PermissionDenied
from gridgov.core.scope import scope_for
from gridgov.integrations.models import PREFIX_LENGTH, ApiKey, Channel

KEY_PREFIX = "gg_"


def hash_key(raw: str) -> str:
    """HMAC-SHA256 of the key under SECRET_KEY: a leaked table alone does not let anyone test guesses offline."""
    return hmac.new(settings.SECRET_KEY.encode(), raw.encode(), hashlib.sha256).hexdigest()


def can_manage_keys(actor: Any) -> bool:
    """Superusers and the subdistrict center manage integrations; None is the system (the `gridgov apikey`
    command, run by whoever operates the server)."""
    if actor is None:
        return True
    if not getattr(actor, "is_authenticated", False):
        return False
    return bool(actor.is_superuser or Role.CENTER in scope_for(actor).roles)


def default_area() -> Area | None:
    """The subdistrict: keys created without an area may create cases anywhere in it."""
    return Area.objects.filter(level=Level.SUBDISTRICT).order_by("code").first()


def apikey_create(*, actor: Any, name: str, channel: str, area: Area | None = None) -> tuple[ApiKey, str]:
    """Create a key for `channel` limited to `area` (default: the subdistrict). Returns the key row and the raw key,
    which is never stored and cannot be shown again."""
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may create API keys."))
    name = (name or "").strip()
    fields: dict[str, list[str]] = {}
    if not name:
        fields["name"] = [_("This field is required.")]
    elif len(name) > ApiKey._meta.get_field("name").max_length:
        fields["name"] = [_("The name is too long.")]
    if channel not in Channel.values:
        fields["channel"] = [_("Unknown channel.")]
    if area is None:
        area = default_area()
        if area is None:
            fields["area"] = [_("There is no subdistrict yet; create the organisation first.")]
    if area is not None and actor is not None and not scope_for(actor).covers_code(area.code):
        fields["area"] = [_("This area lies outside your scope.")]
    if fields:
        raise ApplicationError("invalid", next(iter(fields.values()))[0], fields=fields)
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            name=name,
            channel=channel,
            area=area,
            prefix=raw[:PREFIX_LENGTH],
            key_hash=hash_key(raw),
            created_by=actor,
        )
        # The raw key stays out of the trail: the prefix is enough to tell keys apart.
        audit.record(
            actor=actor,
            event="integrations.apikey.create",
            obj=key,
            data={"name": name, "channel": channel, "area": area.code, "prefix": key.prefix},
        )
    return key, raw


def apikey_revoke(*, actor: Any, key: ApiKey) -> ApiKey:
    """Revoke a key: it stops authenticating at once. Revoking twice is a conflict."""
    if not can_manage_keys(actor):
        raise PermissionDenied("forbidden", _("Only administrators and the center may revoke API keys."))
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if key.revoked_at is not None:
            raise Conflict("already_revoked", _("This API key is already revoked."))
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at", "updated_at"])
        audit.record(
            actor=actor,
            event="integrations.apikey.revoke",
            obj=key,
            data={"name": key.name, "channel": key.channel, "prefix": key.prefix},
        )
    return key


def apikey_authenticate(*, raw: str, channel: str | None = None, ip: str | None = None) -> ApiKey:
    """The active key matching `raw` (and `channel`, when given); records its last use.

    Unknown, revoked and wrong-channel keys get the same refusal, so a caller learns nothing about which.
    """
    refused = ApplicationError("invalid_api_key", _("The API key is not valid."), status=403)
    raw = (raw or "").strip()
    if not raw.startswith(KEY_PREFIX):
        raise refused
    key = ApiKey.objects.select_related("area").filter(key_hash=hash_key(raw)).first()
    if key is None or key.revoked_at is not None or (channel is not None and key.channel != channel):
        raise refused
    now = timezone.now()
    # One UPDATE, not save(): concurrent requests with the same key must not overwrite each other's rows.
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip or None)
    key.last_used_at, key.last_used_ip = now, ip or None
    return key
