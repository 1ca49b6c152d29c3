"""Reads of the integrations app, through the scope."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gridgov.core.scope import scoped
from gridgov.integrations.models import IntakeMessage, MappingRule


def intake_message_list(*, user: Any, channel: str | None = None) -> QuerySet[IntakeMessage]:
    """Messages whose case lies in the user's area, newest first (refused messages, which have no case, only
    for superusers)."""
    qs = IntakeMessage.objects.select_related("case", "api_key", "imported_by")
    if channel:
        qs = qs.filter(channel=channel)
    return scoped(qs, user)


def mapping_rule_list(*, channel: str) -> QuerySet[MappingRule]:
    """The active rules of a channel in their order (configuration: the same for everyone who may import)."""
    return MappingRule.objects.filter(channel=channel, active=True).select_related("category")
