"""Reads of the shared models."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gridgov.core.errors import PermissionDenied
from gridgov.core.models import AuditEvent


def audit_event_list(*, user: Any) -> QuerySet[AuditEvent]:
    """The audit trail is for administrators only."""
    if not getattr(user, "is_superuser", False):
        raise PermissionDenied("forbidden", "audit trail is for administrators")
    return AuditEvent.objects.select_related("actor")
