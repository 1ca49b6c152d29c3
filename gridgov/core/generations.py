"""Cross-process invalidation: a counter per cache, bumped by the services that change its source."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

from gridgov.core.models import Generation


def bump(name: str) -> None:
    """Advance the generation `name` inside the caller's transaction."""
    with transaction.atomic():
        updated = Generation.objects.filter(name=name).update(value=F("value") + 1)
        if not updated:
            Generation.objects.get_or_create(name=name, defaults={"value": 1})


def current(name: str) -> int:
    """The generation `name` as committed now (0 before the first change)."""
    return Generation.objects.filter(name=name).values_list("value", flat=True).first() or 0
