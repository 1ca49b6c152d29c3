"""What Open311 shows the world: public services and the requests made under them.

Open311 reads need no key, so they show only what the resident pages already show the public:

- services are the categories a resident may report (`cases.selectors.category_list(resident=True)`:
  active minor categories of active business lines with `resident_reportable`);
- requests are the cases of those categories, whatever their source; a case of any other category
  does not exist here (404), like a case outside a user's scope;
- the words of a request (description, media link) are shown only when the public wrote them
  (`PUBLIC_SOURCES`: the resident form and Open311); a case that staff, a camera or the hotline reported
  shows its category, place, state and unit, never its text;
- status notes are the notes the tracking page shows (`public_views.PUBLIC_NOTE_ACTIONS`) and the
  handling result; the reporter's name and phone and the tracking code never leave.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, OuterRef, Q, QuerySet, Subquery

from gridgov.areas.choices import Level
from gridgov.areas.models import Area
from gridgov.cases import selectors as case_selectors
from gridgov.cases.choices import OPEN_STATES, Source, State
from gridgov.cases.models import BusinessLine, Case, CaseEvent, Category
from gridgov.cases.public_views import PUBLIC_NOTE_ACTIONS
from gridgov.core.scope import subtree

# The specification's response volume: 90 days or 1,000 requests, whichever is smaller.
MAX_REQUESTS = 1000
MAX_SPAN_DAYS = 90

PUBLIC_SOURCES = frozenset({Source.RESIDENT, Source.OPEN311})
CLOSED_STATES = frozenset({State.CLOSED, State.REJECTED, State.MERGED})
STATUS_STATES = {"open": OPEN_STATES, "closed": CLOSED_STATES}

# The same rule as category_list(resident=True), seen from a case.
PUBLIC_CATEGORY = Q(
    category__active=True,
    category__business_line__active=True,
    category__resident_reportable=True,
    category__parent__isnull=False,
)


def service_list() -> QuerySet[Category]:
    """The public services, by code, with their major category and business line loaded."""
    return case_selectors.category_list(resident=True)


def service_get(*, code: str) -> Category | None:
    return service_list().filter(code=code).first()


def changeset() -> datetime | None:
    """When the services or their definitions last changed (discovery's `changeset`)."""
    stamps = [
        Category.objects.aggregate(last=Max("updated_at"))["last"],
        BusinessLine.objects.aggregate(last=Max("updated_at"))["last"],
    ]
    return max((stamp for stamp in stamps if stamp is not None), default=None)


def jurisdiction_get(*, code: str) -> Area | None:
    """The subdistrict whose code is the jurisdiction_id."""
    return Area.objects.filter(code=code, level=Level.SUBDISTRICT).first()


def _public_cases(jurisdiction: Area | None) -> QuerySet[Case]:
    """Cases of public categories with what a request shows loaded in the same query: category, unit and the
    latest note written for the public."""
    latest_note = (
        CaseEvent.objects.filter(case=OuterRef("pk"), action__in=PUBLIC_NOTE_ACTIONS)
        .exclude(note="")
        .order_by("-id")
        .values("note")[:1]
    )
    query = (
        Case.objects.filter(PUBLIC_CATEGORY)
        .select_related("category", "unit")
        .annotate(public_note=Subquery(latest_note))
    )
    if jurisdiction is not None:
        query = query.filter(subtree("area_code", jurisdiction.code))
    return query


@dataclass(frozen=True)
class RequestFilters:
    """GET requests' filters, already checked (`ids` overrides every other filter, as the specification says)."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()


def request_list(*, filters: RequestFilters, jurisdiction: Area | None = None) -> list[Case]:
    """At most MAX_REQUESTS public requests, newest first, in one query whatever their number."""
    query = _public_cases(jurisdiction)
    if filters.ids:
        query = query.filter(code__in=filters.ids)
    else:
        if filters.service_codes:
            query = query.filter(category__code__in=filters.service_codes)
        if filters.start is not None:
            query = query.filter(created_at__gte=filters.start)
        if filters.end is not None:
            query = query.filter(created_at__lte=filters.end)
        if filters.statuses:
            query = query.filter(state__in=_states(filters.statuses))
    return list(query.order_by("-created_at", "-id")[:MAX_REQUESTS])


def _states(statuses: Iterable[str]) -> set[str]:
    return {state for status in statuses for state in STATUS_STATES[status]}


def request_get(*, service_request_id: str, jurisdiction: Area | None = None) -> Case | None:
    return _public_cases(jurisdiction).filter(code=service_request_id).first()


def request_by_token(*, token: str, jurisdiction: Area | None = None) -> Case | None:
    """The public request whose tracking code is `token` (codes are upper case; a reporter may type lower)."""
    text = (token or "").strip().upper()
    if not text or len(text) > 16:
        return None
    return _public_cases(jurisdiction).filter(tracking_code=text).first()
