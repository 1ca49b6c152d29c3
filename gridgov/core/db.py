"""Statements the server prepares: for the few that every request of a kind runs.

Django's cursors bind parameters on the client, so PostgreSQL parses and plans every statement anew.
For a statement run on nearly every request (the API token's user) or one large one (the case report),
planning cost as much as running it (make bench: cases.intake_http). A cursor that binds on the server
lets psycopg prepare a statement once it has run `prepare_threshold` times on a connection (settings:
GRIDGOV_DB_PREPARE_THRESHOLD). Django's own cursors still bind on the client and are never prepared.
"""

from __future__ import annotations

from typing import Any

from django.db import connection


def prepared_cursor() -> Any:
    """A cursor whose statements the server prepares (PostgreSQL); a plain cursor elsewhere.

    Django's wrapper is kept: error translation and execute wrappers work as usual.
    """
    if connection.vendor != "postgresql" or connection.queries_logged:
        # While queries are logged (DEBUG, CaptureQueriesContext) they run unprepared: psycopg keeps no text of
        # a prepared statement's run for the log to show.
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    return connection._prepare_cursor(ServerBindingCursor(connection.connection))
