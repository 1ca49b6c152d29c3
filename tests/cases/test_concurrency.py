"""Two requests on one case at the same moment, over the API, each thread with its own connection.

Transactional tests: each request commits for real, so the row lock of the transition door (and
the unique idempotency key of intake) is what decides, as in production. Run on SQLite and on
PostgreSQL (DATABASE_URL=postgres://…).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from gridgov.areas.choices import Role
from gridgov.cases import defaults
from gridgov.cases.choices import Action, State
from gridgov.cases.models import Case, CaseEvent, IdempotencyKey
from tests.cases.conftest import IN_G11
from tests.conftest import PASSWORD, token_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _categories():
    # A transactional test elsewhere may have flushed what migration 0002 installed.
    defaults.install()


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls in threads released together; each thread closes its own database connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # reported by the assertions of the test, not lost in the thread
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return results


def post(token: str, url: str, data: dict, **headers: str) -> Callable[[], tuple[int, dict]]:
    def call() -> tuple[int, dict]:
        response = Client().post(
            url, data, content_type="application/json", HTTP_AUTHORIZATION=f"Token {token}", **headers
        )
        return response.status_code, response.json()

    return call


def test_two_handlers_of_one_unit_claim_at_once_and_exactly_one_wins(org, report, act):
    from gridgov.accounts.services import user_create
    from gridgov.areas.services import post_create

    second = user_create(actor=None, username="unit02", password=PASSWORD, name="unit02")
    post_create(actor=None, user=second, role=Role.UNIT_HANDLER, unit=org.prop)
    case = report(org.users.center, category="02001", title="同时接单")
    act(org.users.center, case, Action.DISPATCH, unit=org.prop.pk)
    client = Client()
    tokens = {name: token_for(client, name) for name in ("unit01", "unit02")}
    url = f"/api/v1/cases/{case.pk}/actions/claim/"

    results = at_once(post(tokens["unit01"], url, {}), post(tokens["unit02"], url, {}))

    assert not any(isinstance(r, Exception) for r in results), results
    statuses = sorted(status for status, _body in results)
    assert statuses == [200, 409], results
    refused = next(body for status, body in results if status == 409)
    assert refused["code"] == "illegal_transition"
    winner = next(body for status, body in results if status == 200)
    case.refresh_from_db()
    assert case.state == State.IN_PROGRESS
    assert case.assignee.username == winner["timeline"][-1]["actor_name"]
    claims = CaseEvent.objects.filter(case=case, action=Action.CLAIM)
    assert claims.count() == 1
    assert claims.get().actor_id == case.assignee_id


def test_one_idempotency_key_sent_twice_at_once_makes_one_case(org):
    token = token_for(Client(), "wg01")
    body = {"category": "01001", "title": "同一个键", **IN_G11}
    send = post(token, "/api/v1/cases/", body, HTTP_IDEMPOTENCY_KEY="race-1")

    results = at_once(send, send)

    assert not any(isinstance(r, Exception) for r in results), results
    assert sorted(status for status, _body in results) == [200, 201], results
    assert results[0][1]["id"] == results[1][1]["id"]
    assert Case.objects.count() == 1
    assert IdempotencyKey.objects.count() == 1
    assert CaseEvent.objects.filter(action=Action.REPORT).count() == 1
