"""Generation tokens: read once per request, and a bump inside the request is seen at once."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.core import generations


def test_a_request_reads_all_generations_once(db):
    generations.bump("one")
    generations.bump("two")
    with generations.request_snapshot(), CaptureQueriesContext(connection) as queries:
        first, second = generations.current("one"), generations.current("two")
        assert generations.current("unknown") == 0
    assert len(queries) == 1
    assert first != 0 and second != 0 and first != second
    assert (first, second) == (generations.current("one"), generations.current("two"))


def test_a_bump_inside_the_request_is_read_back(db):
    generations.bump("one")
    with generations.request_snapshot():
        before = generations.current("one")
        generations.bump("one")
        assert generations.current("one") not in (before, 0)


def test_outside_a_request_every_read_asks_the_database(db):
    generations.bump("one")
    with CaptureQueriesContext(connection) as queries:
        generations.current("one")
        generations.current("one")
    assert len(queries) == 2
