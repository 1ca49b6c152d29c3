"""The same camera alarm sent five times at the same moment, each request on its own connection: one case.

Transactional: every request commits for real, so the unique index on the created message of a
channel and sender id is what decides, as in production. Run on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connections
from django.test import Client

from gridgov.cases import defaults as case_defaults
from gridgov.cases.models import Case
from gridgov.integrations import defaults as intake_defaults
from gridgov.integrations import intake
from gridgov.integrations.models import IntakeMessage, IntakeOutcome
from tests.integrations.test_intake import ALARM, sender

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _catalogue():
    case_defaults.install()
    intake_defaults.install()


def at_once(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run the calls in threads released together; each thread closes its own connection."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = call()
        except Exception as exc:  # reported by the assertions, not lost in the thread
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


def test_five_copies_of_an_alarm_at_once_make_one_case(org):
    cam = sender(org)
    body = json.dumps(ALARM, ensure_ascii=False).encode()
    headers = {"HTTP_X_API_KEY": cam.raw, "HTTP_X_GRIDGOV_SIGNATURE": intake.sign(cam.secret, body)}

    def post() -> tuple[int, dict]:
        response = Client().post("/api/v1/intake/camera/", data=body, content_type="application/json", **headers)
        return response.status_code, response.json()

    results = at_once([post] * 5)
    assert all(isinstance(result, tuple) for result in results), results
    statuses = sorted(status for status, _body in results)
    assert statuses == [200, 200, 200, 200, 201], results
    case = Case.objects.get()
    assert {body["id"] for _status, body in results} == {case.pk}
    message = IntakeMessage.objects.get()
    assert (message.outcome, message.case_id, message.replays) == (IntakeOutcome.CREATED, case.pk, 4)


def test_copies_that_lose_the_race_are_answered_as_replays(org, monkeypatch):
    """Both requests pass the pre-check before either has written: the unique index decides."""
    cam = sender(org)
    body = json.dumps(ALARM, ensure_ascii=False).encode()
    headers = {"HTTP_X_API_KEY": cam.raw, "HTTP_X_GRIDGOV_SIGNATURE": intake.sign(cam.secret, body)}
    checked = threading.Barrier(2)
    created_message = intake.created_message
    first_look: set[int] = set()

    def slow_check(channel: str, sender_id: str):
        found = created_message(channel, sender_id)
        if threading.get_ident() not in first_look:
            first_look.add(threading.get_ident())
            checked.wait(timeout=30)  # both have looked (and found nothing) before either writes
        return found

    monkeypatch.setattr(intake, "created_message", slow_check)

    def post() -> tuple[int, dict]:
        response = Client().post("/api/v1/intake/camera/", data=body, content_type="application/json", **headers)
        return response.status_code, response.json()

    results = at_once([post, post])
    assert sorted(status for status, _body in results) == [200, 201], results
    assert Case.objects.count() == 1 and IntakeMessage.objects.count() == 1
    assert {body["replayed"] for _status, body in results} == {True, False}
