"""Background jobs of fieldwork: thin wrappers around services."""

from __future__ import annotations

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from gridgov.fieldwork.services.care import sweep_care_checks
from gridgov.fieldwork.services.patrols import end_stale_patrols


@db_periodic_task(crontab(minute="7"))
@lock_task("fieldwork.sweep_care_checks")
def care_check_sweep() -> None:
    """Every hour: care checks not done by the end of their due day become missed, the next ones are
    made and grid leaders and caretakers are told (the service is idempotent)."""
    sweep_care_checks()


@db_periodic_task(crontab(minute="*/15"))
@lock_task("fieldwork.end_stale_patrols")
def stale_patrol_sweep() -> None:
    """Every 15 minutes: a patrol with no point for GRIDGOV_PATROL_STALE_HOURS is ended at its last point."""
    end_stale_patrols(hours=settings.GRIDGOV_PATROL_STALE_HOURS)
