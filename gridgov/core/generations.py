"""Cross-process invalidation: a token per cache, changed by the services that change its source.

A process caches a derived structure (the grid index) together with the token it read; when the
token in the database differs, the cache is stale. Tokens are random rather than counters so
that a database that is flushed, restored or rolled back never repeats a token a process saw.
"""

from __future__ import annotations

import secrets

from django.db import connection, transaction

from gridgov.core.models import Generation


def _new_token() -> int:
    return secrets.randbits(62) + 1  # never 0, which means "no change yet"


def bump(name: str) -> None:
    """Give the generation `name` a new token inside the caller's transaction."""
    with transaction.atomic():
        updated = Generation.objects.filter(name=name).update(value=_new_token())
        if not updated:
            Generation.objects.update_or_create(name=name, defaults={"value": _new_token()})


def current(name: str) -> int:
    """The token of generation `name` as committed now (0 before the first change).

    Raw SQL on purpose: every grid lookup asks, and the ORM's overhead was 10x the query's
    (measured by `make bench`, figure areas.grid_lookup).
    """
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM core_generation WHERE name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else 0
