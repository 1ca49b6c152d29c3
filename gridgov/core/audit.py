"""Writing the audit trail. Services call `record` inside their own transaction."""

from __future__ import annotations

import logging
from typing import Any

from django.db import models

from gridgov.core.models import AuditEvent, AuditResult

logger = logging.getLogger("gridgov.audit")


def record(
    *,
    actor: Any,
    event: str,
    obj: models.Model | None = None,
    result: str = AuditResult.SUCCESS,
    ip: str | None = None,
    data: dict[str, Any] | None = None,
    username: str = "",
) -> AuditEvent:
    """Append one audit event. `actor` may be None (anonymous, system); `username` names who tried."""
    actor_obj = actor if getattr(actor, "is_authenticated", False) else None
    event_row = AuditEvent.objects.create(
        actor=actor_obj,
        actor_username=(actor_obj.get_username() if actor_obj else username)[:150],
        event_type=event,
        object_type=obj._meta.label_lower if obj is not None else "",
        object_id=str(obj.pk) if obj is not None and obj.pk is not None else "",
        object_repr=str(obj)[:200] if obj is not None else "",
        result=result,
        ip=ip or None,
        data=data or {},
    )
    logger.info(
        "audit event=%s actor=%s object=%s:%s result=%s",
        event,
        event_row.actor_username or "-",
        event_row.object_type or "-",
        event_row.object_id or "-",
        result,
    )
    return event_row


def client_ip(request) -> str | None:
    """The client's address. Behind nginx, set GRIDGOV_TRUST_X_FORWARDED_FOR so the proxy's header counts."""
    from django.conf import settings

    if getattr(settings, "GRIDGOV_TRUST_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")
