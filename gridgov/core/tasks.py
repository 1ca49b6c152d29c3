"""Background jobs shared by every app."""

from __future__ import annotations

import time

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from gridgov.core.models import Generation

HEARTBEAT = "worker.heartbeat"


@db_periodic_task(crontab(minute="*"))
def worker_heartbeat() -> None:
    """Say, once a minute, that a worker is alive; /healthz reports how long ago it last did."""
    Generation.objects.update_or_create(name=HEARTBEAT, defaults={"value": int(time.time())})
