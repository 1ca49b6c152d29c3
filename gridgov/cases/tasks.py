"""Background jobs of the case pipeline: thin wrappers around services."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from gridgov.cases.services import sweep_deadlines


@db_periodic_task(crontab(minute="*"))
@lock_task("cases.sweep_deadlines")
def deadline_sweep() -> None:
    """Every minute: warnings, overdue marks, automatic escalation (the service is idempotent)."""
    sweep_deadlines()
