"""How a report is written: one statement on PostgreSQL, the same rows one by one elsewhere."""

from __future__ import annotations

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from gridgov.cases import services
from gridgov.cases.choices import Action, State
from gridgov.cases.models import Case, CaseEvent, CaseSequence, IdempotencyKey

pytestmark = pytest.mark.django_db


def test_numbers_grow_past_four_digits(org, report):
    prefix = f"{org.g11.code}{timezone.localdate():%Y%m%d}"
    CaseSequence.objects.create(prefix=prefix, value=9998)
    assert report().code == f"{prefix}9999"
    assert report().code == f"{prefix}10000"
    assert report().code == f"{prefix}10001"


def test_the_case_and_its_entry_are_written_as_returned(org, report):
    case = report(idempotency_key="write-1", address="一号楼")
    stored = Case.objects.get(pk=case.pk)
    assert (stored.code, stored.state, stored.level, stored.grid_id) == (case.code, State.REPORTED, "grid", org.g11.pk)
    assert stored.address == "一号楼" and stored.unit_id is None and stored.assignee_id is None
    event = CaseEvent.objects.get(case=stored)
    assert event.pk == case.report_event.pk
    assert (event.action, event.to_state, event.to_level, event.actor_id) == (
        Action.REPORT,
        stored.state,
        stored.level,
        org.users.grid_worker.pk,
    )
    key = IdempotencyKey.objects.get(key="write-1")
    assert key.case_id == stored.pk and key.user_id == org.users.grid_worker.pk


def test_a_held_key_writes_nothing(org, report):
    first = report(idempotency_key="held")
    before = (Case.objects.count(), CaseEvent.objects.count(), CaseSequence.objects.get().value)
    assert report(idempotency_key="held").pk == first.pk
    assert (Case.objects.count(), CaseEvent.objects.count(), CaseSequence.objects.get().value) == before


def test_the_statement_stays_within_what_the_driver_caches(org, report):
    """psycopg parses a statement with at most this many parameters once; past it, on every run."""
    from psycopg import _queries

    case = report(
        idempotency_key="rich",
        description="描述",
        address="一号楼",
        media_url="https://example.org/a.jpg",
        reporter_name="张三",
        reporter_phone="13800138000",
        rectify_by=timezone.now(),
    )
    case_columns, case_values = services._insert_values(case, skip=("code",))
    event_columns, event_values = services._insert_values(case.report_event, skip=("case_id", "to_state", "to_level"))
    count = 3 + 1 + len(case_values) + len(event_values)  # the key, the prefix, the rows
    assert count <= _queries.MAX_CACHED_STATEMENT_PARAMS, (case_columns, event_columns)


def test_postgresql_prepares_the_report_statement(org, report):
    """From the threshold's run on, the server runs the statement it prepared instead of parsing it anew."""
    for n in range(7):
        report(title=f"第{n}件")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT statement FROM pg_prepared_statements")
            statements = [row[0] for row in cursor.fetchall()]
        assert any("INSERT INTO" in s and "cases_case" in s for s in statements), statements
    else:
        assert Case.objects.count() == 7
    assert psycopg.__version__  # the driver is there on both databases: the count above depends on it
