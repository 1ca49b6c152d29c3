"""Background jobs of the notification centre: thin wrappers around `notifications.services`."""

from __future__ import annotations

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from gridgov.notifications import services


class DeliveryIncomplete(Exception):
    """Some deliveries failed and have attempts left: raised so that Huey runs the task again."""


@db_task(retries=services.MAX_ATTEMPTS - 1, retry_delay=60)
def notification_deliver_task(delivery_ids: list[int]) -> None:
    """Send the deliveries of one `notify` call (queued after its transaction commits)."""
    outcome = services.notification_deliver(delivery_ids=delivery_ids)
    if outcome.retry:
        raise DeliveryIncomplete(f"{outcome.retry} notification deliveries failed; retrying")


@db_periodic_task(crontab(minute="*/15"))
def notification_deliveries_resume_task() -> None:
    """Queue again deliveries whose task was lost (a queue that was down at commit). Idempotent."""
    services.notification_deliveries_resume()
