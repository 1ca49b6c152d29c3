"""Cross-process invalidation: a token per cache, changed by the services that change its source.

A process caches a derived structure (the grid index, the case categories) together with the token it
read; when the token in the database differs, the cache is stale. Tokens are random rather than counters
so that a database that is flushed, restored or rolled back never repeats a token a process saw.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Generic, TypeVar
from weakref import WeakSet

from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save

from gridgov.core.models import Generation

T = TypeVar("T")

# Within one web request every generation is read once, all together: a request that asks for the grid index's
# and the categories' tokens costs one query, not two (make bench: cases.intake_http).
_request = threading.local()

# Every process cache that follows a generation, so that tests can start each case cold.
_caches: WeakSet[Any] = WeakSet()


def forget_all() -> None:
    """Drop what every cache of this process holds (tests: a rolled-back database may reuse a token)."""
    for cache in list(_caches):
        cache.forget()


def _new_token() -> int:
    return secrets.randbits(62) + 1  # never 0, which means "no change yet"


@contextmanager
def request_snapshot() -> Iterator[None]:
    """Read generations at most once while the block runs (a request: its tokens may be as old as its start)."""
    _request.tokens, _request.active = None, True
    try:
        yield
    finally:
        _request.tokens, _request.active = None, False


# The column a request's first query may carry every token in (`tokens_subquery`), as "name=value,…".
TOKENS_COLUMN = "gridgov_generations"


def tokens_subquery() -> str:
    """A scalar subquery giving every generation as "name=value,…" ('' when there is none yet).

    A request that must read a row first (API authentication reads the token's user) selects it too and
    `prime`s the request with it: the tokens then cost no round trip of their own (make bench:
    cases.intake_http). NULL on a database without a string aggregate we know: the tokens are read lazily.
    """
    table = connection.ops.quote_name(Generation._meta.db_table)
    if connection.vendor == "postgresql":
        aggregate = "string_agg(name || '=' || value::text, ',')"
    elif connection.vendor == "sqlite":
        aggregate = "group_concat(name || '=' || value, ',')"
    else:
        return "NULL"
    return f"(SELECT COALESCE({aggregate}, '') FROM {table})"  # noqa: S608 (our table)


def prime(carried: str | None) -> None:
    """Take the tokens a request's first query carried (`tokens_subquery`), unless they were read already."""
    if carried is None or not getattr(_request, "active", False) or _request.tokens is not None:
        return
    tokens = {}
    for pair in carried.split(","):
        if pair:
            name, _, value = pair.rpartition("=")
            tokens[name] = int(value)
    _request.tokens = tokens


def bump(name: str) -> None:
    """Give the generation `name` a new token inside the caller's transaction."""
    _request.tokens = None  # this request reads the new token from now on
    with transaction.atomic():
        updated = Generation.objects.filter(name=name).update(value=_new_token())
        if not updated:
            Generation.objects.update_or_create(name=name, defaults={"value": _new_token()})


def current(name: str) -> int:
    """The token of generation `name` as committed now (0 before the first change).

    Raw SQL on purpose: every grid lookup asks, and the ORM's overhead was 10x the query's
    (measured by `make bench`, figure areas.grid_lookup).
    """
    if getattr(_request, "active", False):
        tokens = _request.tokens
        if tokens is None:
            with connection.cursor() as cursor:
                cursor.execute("SELECT name, value FROM core_generation")
                tokens = _request.tokens = dict(cursor.fetchall())
        return tokens.get(name, 0)
    with connection.cursor() as cursor:
        cursor.execute("SELECT value FROM core_generation WHERE name = %s", [name])
        row = cursor.fetchone()
    return row[0] if row else 0


def track(name: str, *models: Any) -> None:
    """Bump generation `name` whenever a row of `models` is saved or deleted through the ORM.

    For data that no service writes (rows the Django admin edits directly): the save's own transaction
    carries the new token, so a rolled-back edit changes nothing. `QuerySet.update()` and raw SQL send
    no signal; whoever writes that way calls `bump` itself.
    """

    def changed(**kwargs: Any) -> None:
        bump(name)

    for model in models:
        uid = f"gridgov.generations:{name}:{model._meta.label}"
        post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid)
        post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid)


class Cached(Generic[T]):
    """A value built from the database, kept per process and rebuilt when generation `name` has changed.

    One primary-key query per `get()` instead of the queries that build the value. The token is read
    before the value is built, so a value is never older than the token it is kept with.
    """

    def __init__(self, name: str, build: Callable[[], T]) -> None:
        self.name = name
        self.build = build
        self._entry: tuple[int, T] | None = None
        _caches.add(self)

    def get(self) -> T:
        token = current(self.name)
        entry = self._entry  # one read: another thread may replace it meanwhile
        if entry is None or entry[0] != token:
            entry = self._entry = (token, self.build())
        return entry[1]

    def forget(self) -> None:
        self._entry = None


K = TypeVar("K")


class CachedMap(Generic[K, T]):
    """Values built per key (a user's posts), kept per process while generation `name` stands.

    All entries go when the token changes; at most `limit` are kept (the map starts over beyond it), so a
    city's worth of users cannot grow it without bound.
    """

    def __init__(self, name: str, build: Callable[[K], T], *, limit: int = 20_000) -> None:
        self.name = name
        self.build = build
        self.limit = limit
        self._entry: tuple[int, dict[K, T]] | None = None
        _caches.add(self)

    def get(self, key: K) -> T:
        token = current(self.name)
        entry = self._entry  # one read: another thread may replace it meanwhile
        if entry is None or entry[0] != token or len(entry[1]) >= self.limit:
            entry = self._entry = (token, {})
        values = entry[1]
        try:
            return values[key]
        except KeyError:
            value = values[key] = self.build(key)  # built after the token was read: never older than it
            return value

    def forget(self) -> None:
        self._entry = None
