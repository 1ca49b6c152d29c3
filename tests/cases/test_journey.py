"""The issue's scripted journey, through the services: grid → community → center → unit → verified."""

from __future__ import annotations

import pytest

from gridgov.cases.choices import Action, CaseLevel, State
from gridgov.cases.selectors import resolution_stats

pytestmark = pytest.mark.django_db


def test_escalated_case_is_dispatched_handled_verified_and_counted(org, report, act):
    u = org.users
    case = report(u.grid_worker, category="02001", title="公园旁道路塌陷")
    assert (case.grid, case.level, case.state, case.handling_area) == (org.g11, CaseLevel.GRID, State.REPORTED, org.g11)
    assert case.code.startswith(org.g11.code) and len(case.code) == 15 + 8 + 4

    act(u.grid_worker, case, Action.ESCALATE, reason="塌陷面积大，网格无法处置")
    case.refresh_from_db()
    assert (case.level, case.handling_area, case.state) == (CaseLevel.COMMUNITY, org.c1, State.REPORTED)
    act(u.community, case, Action.ESCALATE, reason="需街道协调")
    case.refresh_from_db()
    assert (case.level, case.handling_area) == (CaseLevel.SUBDISTRICT, org.s)
    act(u.center, case, Action.DISPATCH, unit=org.prop.pk)
    act(u.unit_handler, case, Action.CLAIM)
    act(u.unit_handler, case, Action.RESOLVE, result="已回填修复")
    act(u.center, case, Action.VERIFY, passed=True)
    case.refresh_from_db()
    assert (case.state, case.closed_level, case.unit) == (State.CLOSED, CaseLevel.SUBDISTRICT, org.prop)
    steps = [(e.action, e.to_state, e.to_level) for e in case.events.order_by("id")]
    assert steps == [
        (Action.REPORT, State.REPORTED, CaseLevel.GRID),
        (Action.ESCALATE, State.REPORTED, CaseLevel.COMMUNITY),
        (Action.ESCALATE, State.REPORTED, CaseLevel.SUBDISTRICT),
        (Action.DISPATCH, State.DISPATCHED, CaseLevel.SUBDISTRICT),
        (Action.CLAIM, State.IN_PROGRESS, CaseLevel.SUBDISTRICT),
        (Action.RESOLVE, State.RESOLVED, CaseLevel.SUBDISTRICT),
        (Action.VERIFY, State.CLOSED, CaseLevel.SUBDISTRICT),
    ]
    stats = resolution_stats(user=u.center, area=org.s)
    assert (stats.total.closed, stats.total.subdistrict, stats.total.within_grid) == (1, 1, 0.0)

    on_site = report(u.grid_worker, title="楼道垃圾")
    act(u.grid_worker, on_site, Action.HANDLE_ON_SITE, result="已清理")
    act(u.grid_leader, on_site, Action.VERIFY, passed=True)
    stats = resolution_stats(user=u.center, area=org.s)
    assert (stats.total.closed, stats.total.grid, stats.total.within_grid) == (2, 1, 0.5)
    c1 = next(child for child in stats.children if child.area == org.c1)
    assert (c1.closed, c1.within_grid, c1.within_community) == (2, 0.5, 0.5)
