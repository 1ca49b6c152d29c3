"""The worker's day (我的今日): campaign targets due, care checks due, cases to handle and the patrol button.

Made for a phone in the street: counts first, then one card per household, shop or building with
every task due there, so one tap opens the visit form that does them all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone

from gridgov.core.scope import scope_for
from gridgov.fieldwork.models import CampaignTarget
from gridgov.fieldwork.selectors import campaigns as campaign_selectors

# A worker may carry hundreds of targets of a big campaign: the page shows the most urgent places.
TARGET_ROWS = 400
PLACES_SHOWN = 30
CHECKS_SHOWN = 20
CASES_SHOWN = 10


@dataclass
class Stop:
    """One place to go: a registry row with every campaign task due there."""

    kind: str
    target_id: int
    label: str
    address: str
    due_on: date
    tasks: list[CampaignTarget] = field(default_factory=list)
    overdue: bool = False


def stops(targets: list[CampaignTarget], today: date) -> list[Stop]:
    """The targets grouped by the registry row they are about, overdue and soonest first."""
    found: dict[tuple[str, int], Stop] = {}
    for target in targets:
        key = (target.kind, target.target_id or 0)
        stop = found.get(key)
        if stop is None:
            stop = found[key] = Stop(
                kind=target.kind, target_id=key[1], label=target.label, address=target.address, due_on=target.due_on
            )
        target.overdue = target.due_on < today
        stop.tasks.append(target)
        stop.due_on = min(stop.due_on, target.due_on)
        stop.overdue = stop.overdue or target.overdue
    return sorted(found.values(), key=lambda s: (not s.overdue, s.due_on, s.label))


def _cases(user: Any) -> tuple[list[Any], int]:
    """The most urgent cases of the user's work queue (every section), and how many there are."""
    from gridgov.cases.selectors import work_queue
    from gridgov.cases.views import decorate

    sections = work_queue(user=user)
    seen: dict[int, Any] = {}
    for section in sections:
        for case in section.cases:
            seen.setdefault(case.pk, case)
    cases = sorted(
        seen.values(), key=lambda c: (not c.overdue, not c.warned, c.due_at is None, c.due_at or timezone.now(), c.pk)
    )[:CASES_SHOWN]
    decorate(cases)
    return cases, sum(section.total for section in sections)


def day(request: HttpRequest) -> HttpResponse:
    """我的今日: what the user should do today, most urgent first."""
    from gridgov.fieldwork.selectors.care import care_checks_due
    from gridgov.fieldwork.selectors.patrols import active_patrol

    user = request.user
    scope = scope_for(user)
    if not (scope.area_codes or scope.everything):
        raise DjangoPermissionDenied
    today = timezone.localdate()
    due = campaign_selectors.targets_due(user=user, on=today)
    targets = list(due[:TARGET_ROWS])
    target_total = len(targets) if len(targets) < TARGET_ROWS else due.count()
    places = stops(targets, today)
    checks_qs = care_checks_due(user=user, on=today).select_related("resident__household")
    checks = list(checks_qs[:CHECKS_SHOWN])
    check_total = len(checks) if len(checks) < CHECKS_SHOWN else checks_qs.count()
    for check in checks:
        check.overdue = check.due_on < today
    cases, case_total = _cases(user)
    patrol = active_patrol(user=user)
    context = {
        "today": today,
        "places": places[:PLACES_SHOWN],
        "place_total": len(places),
        "places_cut": len(places) > PLACES_SHOWN or target_total > len(targets),
        "target_total": target_total,
        "overdue_total": sum(1 for t in targets if t.overdue),
        "checks": checks,
        "check_total": check_total,
        "cases": cases,
        "case_total": case_total,
        "patrol": patrol,
    }
    return render(request, "fieldwork/day.html", context)


urlpatterns = [path("", day, name="day")]
