"""Two requests on one patrol at the same moment, over the API, each thread with its own connection.

Transactional: each request commits for real, so the patrol's row lock and the one-patrol-under-way
constraint decide, as in production. Run on SQLite and on PostgreSQL (DATABASE_URL=postgres://…).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gridgov.fieldwork.models import Patrol, PatrolPoint
from gridgov.fieldwork.services import patrols as services
from tests.cases.test_concurrency import at_once, post
from tests.conftest import token_for

pytestmark = pytest.mark.django_db(transaction=True)

LAT, LNG = 32.602, 117.005
LEG_M = 0.0005 * 111_195.08  # one step north, metres


def walk(t0, n: int, start: int = 0) -> list[dict]:
    return [
        {
            "t": (t0 + timedelta(minutes=start + i + 1)).isoformat(),
            "lat": round(LAT + 0.0005 * (start + i), 7),
            "lng": LNG,
        }
        for i in range(n)
    ]


def test_two_starts_at_once_make_one_patrol(org):
    token = token_for(Client(), "wg01")
    results = at_once(post(token, "/api/v1/patrols/", {}), post(token, "/api/v1/patrols/", {}))
    statuses = sorted(status for status, _body in results)
    assert statuses == [201, 409], results
    refused = next(body for status, body in results if status == 409)
    assert refused["code"] == "patrol_active"
    assert Patrol.objects.count() == 1


def test_two_batches_at_once_queue_on_the_patrol(org):
    t0 = timezone.now().replace(microsecond=0) - timedelta(hours=1)
    patrol = services.patrol_start(actor=org.users.grid_worker, now=t0)
    token = token_for(Client(), "wg01")
    url = f"/api/v1/patrols/{patrol.pk}/points/"
    first, second = walk(t0, 5), walk(t0, 5, start=5)
    results = at_once(post(token, url, {"points": first}), post(token, url, {"points": second}))
    assert [status for status, _body in results] == [200, 200], results
    patrol.refresh_from_db()
    assert sorted(PatrolPoint.objects.filter(patrol=patrol).values_list("seq", flat=True)) == list(range(1, 11))
    assert patrol.point_count == 10
    if patrol.flagged_count == 0:
        # The earlier batch went first: one track of ten points, nine legs.
        assert patrol.distance_m == pytest.approx(9 * LEG_M, rel=1e-3)
    else:
        # The later batch went first: the earlier one came out of order and was not counted. Without
        # the lock both would have extended from "no point yet" and the distance would be 8 legs.
        assert patrol.flagged_count == 5
        assert patrol.distance_m == pytest.approx(4 * LEG_M, rel=1e-3)
