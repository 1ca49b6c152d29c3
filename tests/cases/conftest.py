"""Fixtures of the case pipeline: the default categories are installed by migration 0002."""

from __future__ import annotations

import pytest

# A point inside each grid of the `org` fixture (grids are 0.01° squares from their south-west corner).
IN_G11 = {"lat": 32.605, "lng": 117.005}
IN_G12 = {"lat": 32.605, "lng": 117.015}
IN_G21 = {"lat": 32.605, "lng": 117.025}
OUTSIDE = {"lat": 10.0, "lng": 10.0}


@pytest.fixture
def report(org):
    """Report a case as someone, at a point (grid 1 by default), through the real service."""
    from gridgov.cases.services import case_report

    def make(actor=None, *, category="01001", title="暴露垃圾", point=IN_G11, **fields):
        actor = org.users.grid_worker if actor is None else actor
        return case_report(actor=actor, category=category, title=title, **point, **fields)

    return make


@pytest.fixture
def act(org):
    """Take an action on a case through the one transition door."""
    from gridgov.cases.services import case_transition

    def run(actor, case, action, **params):
        return case_transition(actor=actor, case=case, action=action, **params)

    return run
