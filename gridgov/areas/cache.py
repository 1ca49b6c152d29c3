"""The organisation tree as each process keeps it: every area without its outline, until any area changes.

Intake asks for the grid a point fell in, the area above it that takes the case, and whether any of them is
in emergency mode; reading those from the database cost three of a report's round trips (make bench:
cases.intake_http). Area services bump `AREAS_GENERATION` with every write, as they do for the grid index.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS

from gridgov.areas.choices import CODE_LENGTH, Mode
from gridgov.areas.geo import AREAS_GENERATION
from gridgov.areas.models import Area
from gridgov.core import generations

# The columns kept: all but the outline (large JSON), which nothing here needs.
FIELDS = tuple(f.attname for f in Area._meta.concrete_fields if f.attname != "boundary")
_CODE, _MODE = FIELDS.index("code"), FIELDS.index("mode")
_LEVEL_LENGTHS = tuple(sorted(CODE_LENGTH.values()))


@dataclass(frozen=True)
class _Tree:
    by_id: dict[int, tuple[Any, ...]]
    by_code: dict[str, tuple[Any, ...]]


def _load() -> _Tree:
    rows = list(Area.objects.order_by().values_list(*FIELDS))
    return _Tree(by_id={row[0]: row for row in rows}, by_code={row[_CODE]: row for row in rows})


_tree = generations.Cached(AREAS_GENERATION, _load)


def _instance(row: tuple[Any, ...]) -> Area:
    """A fresh Area for each caller (callers may change it), as if read from the database, outline deferred."""
    return Area.from_db(DEFAULT_DB_ALIAS, FIELDS, row)


def area_by_id(pk: int) -> Area | None:
    row = _tree.get().by_id.get(pk)
    return None if row is None else _instance(row)


def area_by_code(code: str) -> Area | None:
    row = _tree.get().by_code.get(code)
    return None if row is None else _instance(row)


def in_emergency(code: str) -> bool:
    """Whether the area `code` or one above it is in emergency mode (战时)."""
    by_code = _tree.get().by_code
    for length in _LEVEL_LENGTHS:
        if length > len(code):
            break
        row = by_code.get(code[:length])
        if row is not None and row[_MODE] == Mode.EMERGENCY:
            return True
    return False
