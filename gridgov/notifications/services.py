"""Every write of the notification centre: notifying users, delivering through channels, marking read.

`notify` is what other apps call, inside their own transaction: the in-app rows are written with
it, and the other channels are sent by the worker only after that transaction commits, so an
action that is rolled back notifies nobody. Marking one's own notifications read is personal
inbox state and is not audited (the `read_at` column is its record); `notify` is audited once per call.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.core import audit
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.notifications import channels
from gridgov.notifications.choices import OPEN_STATES, DeliveryState
from gridgov.notifications.models import Notification, NotificationDelivery

logger = logging.getLogger("gridgov.notifications")

# A delivery is tried this often (the first time and two retries of the task), then left failed.
MAX_ATTEMPTS = 3
# Deliveries are loaded and sent in batches of this many (SQLite limits the parameters of a query).
BATCH = 500


def is_local_url(url: str) -> bool:
    """A link to a page of this site: a path, never another host or a scheme such as javascript:."""
    return (
        url.startswith("/")
        and not url.startswith("//")
        and "\\" not in url
        and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
    )


def _recipients(users: Iterable[User | None]) -> list[User]:
    """Distinct active users, in the order given."""
    seen: set[Any] = set()
    recipients = []
    for user in users:
        if user is None or user.pk is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        recipients.append(user)
    return recipients


def notify(
    *,
    users: Iterable[User | None],
    kind: str,
    title: str,
    body: str = "",
    url: str = "",
    obj: models.Model | None = None,
) -> list[Notification]:
    """Notify each distinct active user once: an in-app row now, the configured channels after commit.

    `users` may hold None and duplicates (they are skipped); `url` is a path on this site; `obj`
    is the record the notification is about. Cheap in bulk: two inserts and one queued task per call.
    """
    kind = (kind or "").strip()
    if not kind or len(kind) > Notification._meta.get_field("kind").max_length:
        message = _("A notification needs a kind of at most 32 characters.")
        raise ApplicationError("invalid_notification", message, fields={"kind": [message]})
    if url and not is_local_url(url):
        message = _("A notification can only link to a page of this site.")
        raise ApplicationError("invalid_notification", message, fields={"url": [message]})
    if len(url) > Notification._meta.get_field("url").max_length:
        message = _("The link of a notification is too long.")
        raise ApplicationError("invalid_notification", message, fields={"url": [message]})
    names = channels.configured()  # an unknown channel in the settings is refused here, before any write

    recipients = _recipients(users)
    if not recipients:
        return []
    title = Truncator(" ".join(str(title).split())).chars(Notification._meta.get_field("title").max_length)
    object_type = obj._meta.label_lower if obj is not None else ""
    object_id = str(obj.pk) if obj is not None and obj.pk is not None else ""

    with transaction.atomic():
        notifications = Notification.objects.bulk_create(
            [
                Notification(
                    user=user,
                    kind=kind,
                    title=title,
                    body=body,
                    url=url,
                    object_type=object_type,
                    object_id=object_id,
                )
                for user in recipients
            ]
        )
        deliveries = NotificationDelivery.objects.bulk_create(
            [NotificationDelivery(notification=n, channel=name) for n in notifications for name in names]
        )
        audit.record(
            actor=None,
            event="notification.create",
            obj=obj,
            data={"kind": kind, "recipients": len(notifications), "channels": names},
        )
        if deliveries:
            ids = [d.pk for d in deliveries]
            # robust: the caller's action has committed; a queue that is down must not turn it into
            # an error. The deliveries stay pending and `notification_deliveries_resume` sends them.
            transaction.on_commit(lambda: _queue(ids), robust=True)
    return notifications


def _queue(delivery_ids: list[int]) -> None:
    from gridgov.notifications.tasks import notification_deliver_task

    notification_deliver_task(delivery_ids)


@dataclass
class DeliveryOutcome:
    """What one run of `notification_deliver` did; `retry` counts failures that have attempts left."""

    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retry: int = 0


def _claim(delivery: NotificationDelivery) -> bool:
    """Count an attempt, only if no other worker counted one since this row was read."""
    claimed = NotificationDelivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, state__in=OPEN_STATES
    ).update(attempts=F("attempts") + 1, updated_at=timezone.now())
    delivery.attempts += 1
    return bool(claimed)


def _send(delivery: NotificationDelivery) -> None:
    """Send one claimed delivery and record how it went."""
    notification = delivery.notification
    try:
        if not notification.user.is_active:
            raise channels.Skipped("inactive user")
        channels.channel(delivery.channel).send(notification)
    except channels.Skipped as exc:
        delivery.state, delivery.last_error = DeliveryState.SKIPPED, str(exc)
    except Exception as exc:  # any failure of a channel is recorded and retried, never lost
        delivery.state, delivery.last_error = DeliveryState.FAILED, f"{type(exc).__name__}: {exc}"[:1000]
        logger.warning(
            "notification delivery failed id=%s channel=%s attempt=%s/%s error=%s",
            delivery.pk,
            delivery.channel,
            delivery.attempts,
            MAX_ATTEMPTS,
            delivery.last_error,
        )
    else:
        delivery.state, delivery.last_error, delivery.sent_at = DeliveryState.SENT, "", timezone.now()
    delivery.save(update_fields=["state", "last_error", "sent_at", "updated_at"])


def notification_deliver(*, delivery_ids: Sequence[int]) -> DeliveryOutcome:
    """Send the open deliveries among `delivery_ids` once each (the worker's job; safe to run twice)."""
    outcome = DeliveryOutcome()
    ids = sorted(set(delivery_ids))
    for start in range(0, len(ids), BATCH):
        batch = (
            NotificationDelivery.objects.filter(
                pk__in=ids[start : start + BATCH], state__in=OPEN_STATES, attempts__lt=MAX_ATTEMPTS
            )
            .select_related("notification__user")
            .order_by("pk")
        )
        for delivery in batch:
            if not _claim(delivery):
                continue
            _send(delivery)
            if delivery.state == DeliveryState.SENT:
                outcome.sent += 1
            elif delivery.state == DeliveryState.SKIPPED:
                outcome.skipped += 1
            else:
                outcome.failed += 1
                if delivery.attempts < MAX_ATTEMPTS:
                    outcome.retry += 1
                else:
                    logger.error(
                        "notification delivery given up id=%s channel=%s after %s attempts",
                        delivery.pk,
                        delivery.channel,
                        delivery.attempts,
                    )
    return outcome


def notification_deliveries_resume(*, older_than_minutes: int = 15) -> int:
    """Queue again the deliveries still pending well after their notification: their task was lost."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    ids = list(
        NotificationDelivery.objects.filter(
            state=DeliveryState.PENDING, attempts__lt=MAX_ATTEMPTS, created_at__lt=cutoff
        ).values_list("pk", flat=True)[:10_000]
    )
    if ids:
        _queue(ids)
    return len(ids)


def _require_own(actor: User, notification: Notification) -> None:
    if not getattr(actor, "is_authenticated", False) or notification.user_id != actor.pk:
        raise NotFound("not_found", _("%(name)s not found.") % {"name": Notification._meta.verbose_name})


def notification_mark_read(*, actor: User, notification: Notification) -> Notification:
    """Mark one of the actor's own notifications read (again: nothing changes). Others' are not found."""
    _require_own(actor, notification)
    if notification.read_at is None:
        now = timezone.now()
        # Conditional: a second tab marking it at the same moment keeps the first time.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(read_at=now, updated_at=now)
        notification.refresh_from_db(fields=["read_at", "updated_at"])
    return notification


def notification_mark_all_read(*, actor: User) -> int:
    """Mark all of the actor's unread notifications read; how many there were."""
    if not getattr(actor, "is_authenticated", False):
        return 0
    now = timezone.now()
    return Notification.objects.filter(user=actor, read_at__isnull=True).update(read_at=now, updated_at=now)
