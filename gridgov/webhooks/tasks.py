"""Background jobs of outbound webhooks: thin wrappers around `webhooks.services`."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task, lock_task

from gridgov.webhooks import services


@db_periodic_task(crontab(minute="*"))
@lock_task("webhooks.dispatch")
def webhook_dispatch() -> None:
    """Every minute: new case timeline entries become deliveries (idempotent; sending is queued after)."""
    services.webhook_dispatch()


@db_periodic_task(crontab(minute="*"))
def webhook_deliver_due() -> None:
    """Every minute: send what is due, retries included. Runs beside other senders safely (rows are claimed)."""
    services.webhook_deliver_due()


@db_task()
def webhook_deliver_task(delivery_ids: list[int] | None = None) -> None:
    """Queued after a fan-out, a test send or a replay, so the receiver does not wait for the next minute."""
    services.webhook_deliver_due(delivery_ids=delivery_ids)
