"""Every write of the notification centre: notifying users, delivering through channels, marking read.

`notify` is what other apps call, inside their own transaction: the in-app rows are written with
it, and the other channels are sent by the worker only after that transaction commits, so an
action that is rolled back notifies nobody. Marking one's own notifications read is personal
inbox state and is not audited (the `read_at` column is its record); `notify` is audited once per call.

Each user chooses per kind of notification which channels they want (`NotificationPreference`) and
sets the addresses of the channels that send to one of their own (`ChannelAddress`: an HTTP
endpoint, a WeCom robot). `notify` reads both for all its recipients in a fixed number of queries.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.db import models, transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.translation import gettext as _

from gridgov.accounts.models import User
from gridgov.core import audit, crypto
from gridgov.core.errors import ApplicationError, NotFound, PermissionDenied
from gridgov.core.privacy import is_secret_set
from gridgov.notifications import channels, selectors
from gridgov.notifications.choices import KINDS, OPEN_STATES, TEST_KIND, DeliveryState, WeComMessageType
from gridgov.notifications.models import ChannelAddress, Notification, NotificationDelivery, NotificationPreference

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
    is the record the notification is about. Each user gets the configured channels they did not
    turn off for this kind, the HTTP and WeCom channels only once they set their address (no
    delivery row otherwise). Cheap in bulk: two reads, two inserts and one queued task per call.
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
    chosen = selectors.recipient_channels(user_ids=[user.pk for user in recipients], kind=kind, names=names)

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
            [NotificationDelivery(notification=n, channel=name) for n in notifications for name in chosen[n.user_id]]
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


# --- channel addresses and choices ----------------------------------------------------------------

HTTP_URL_MAX = 500
SECRET_MAX = 200
# A robot's key as WeCom writes it (a UUID today); anything else is a mistyped or truncated paste.
WECOM_KEY = re.compile(r"[A-Za-z0-9-]{8,100}")
WECOM_URL = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"
# A user may send themselves this many test notifications a minute (a robot takes 20 messages a minute).
TEST_LIMIT = 5


def wecom_url_prefix() -> str:
    """The robot webhook address before `?key=` (another host for a privately deployed WeCom)."""
    return getattr(settings, "GRIDGOV_NOTIFICATION_WECOM_URL", WECOM_URL).rstrip("?/")


def _local_host(host: str) -> bool:
    """A host name that names this server, or a literal address no receiver has (no DNS lookup here)."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return channels.is_local_address(ipaddress.ip_address(host))
    except ValueError:
        return False


def clean_http_url(value: Any) -> str:
    """An http(s) URL of another host, without credentials; ApplicationError saying what is wrong."""
    url = str(value or "").strip()
    if not url:
        return ""
    reason = None
    try:
        parts = urlsplit(url)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        parts, port_ok = None, False
    if len(url) > HTTP_URL_MAX:
        reason = _("The URL is too long (at most %(max)d characters).") % {"max": HTTP_URL_MAX}
    elif parts is None or parts.scheme not in ("http", "https") or not parts.hostname or not port_ok:
        reason = _("Enter a full address starting with http:// or https://.")
    elif any(ch.isspace() for ch in url):
        reason = _("An address cannot contain spaces.")
    elif parts.username or parts.password:
        reason = _("Do not put a user name or password in the address: use the signing secret.")
    elif not channels.local_targets_allowed() and _local_host(parts.hostname):
        reason = _("This address is the server itself or a link-local address: enter the receiver's address.")
    if reason:
        raise ApplicationError("invalid_address", reason, fields={"http_url": [reason]})
    return url


def clean_wecom_url(value: Any) -> str:
    """A WeCom robot webhook URL as WeCom shows it, rewritten to its canonical form (prefix + key)."""
    url = str(value or "").strip()
    if not url:
        return ""
    prefix = wecom_url_prefix()
    expected = urlsplit(prefix)
    try:
        parts = urlsplit(url)
        keys = parse_qs(parts.query, keep_blank_values=True).get("key", [])
        same_place = (parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/")) == (
            expected.scheme.lower(),
            expected.netloc.lower(),
            expected.path.rstrip("/"),
        )
    except ValueError:
        keys, same_place = [], False
    if not same_place or len(keys) != 1 or not WECOM_KEY.fullmatch(keys[0]):
        reason = _("Paste the robot's webhook address as WeCom shows it: %(prefix)s?key=…") % {"prefix": prefix}
        raise ApplicationError("invalid_address", reason, fields={"wecom_url": [reason]})
    return f"{prefix}?key={keys[0]}"


ADDRESS_FIELDS = ("http_url", "http_secret", "wecom_url")


def _readable(address: ChannelAddress, name: str) -> str | None:
    """The stored value, or None when no configured key opens it any more (it is then overwritten)."""
    try:
        return getattr(address, name)
    except crypto.DecryptionError:
        return None


def channel_address_save(
    *,
    actor: User,
    http_url: Any = None,
    http_secret: Any = None,
    wecom_url: Any = None,
    wecom_msgtype: Any = None,
) -> ChannelAddress:
    """Set the actor's own channel addresses, all or nothing; audited without the addresses themselves.

    Each argument left None keeps what is stored and "" removes it (the page never shows the
    secret or the robot URL again, so a blank input means "keep"). Without an endpoint there is
    no secret: removing the endpoint removes its secret too.
    """
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied("not_authenticated", _("Sign in first."), status=401)
    errors: dict[str, list[str]] = {}

    def clean(cleaner: Any, value: Any) -> Any:
        try:
            return cleaner(value)
        except ApplicationError as exc:
            errors.update(exc.fields)
            return None

    url = clean(clean_http_url, http_url) if http_url is not None else None
    robot = clean(clean_wecom_url, wecom_url) if wecom_url is not None else None
    secret = None if http_secret is None else str(http_secret).strip()
    if secret and len(secret) > SECRET_MAX:
        errors["http_secret"] = [_("The secret is too long (at most %(max)d characters).") % {"max": SECRET_MAX}]
    if wecom_msgtype is not None and wecom_msgtype not in WeComMessageType.values:
        errors["wecom_msgtype"] = [_("Choose one of the message types.")]
    if errors:
        _refuse_address(actor, errors)

    with transaction.atomic():
        address, created = ChannelAddress.objects.select_for_update().get_or_create(user=actor)
        # Whether each value is set, without opening it (one no key opens still counts as set).
        before = {name: is_secret_set(address, name) for name in ADDRESS_FIELDS}
        changed = []
        if url is not None and url != _readable(address, "http_url"):
            address.http_url = url
            changed.append("http_url")
        if not is_secret_set(address, "http_url"):
            if secret:
                # Raised inside the transaction: a row get_or_create just made is rolled back too.
                _refuse_address(actor, {"http_secret": [_("A signing secret needs an HTTP endpoint.")]})
            secret = ""  # no endpoint, nothing to sign for
        if secret is not None and secret != _readable(address, "http_secret"):
            address.http_secret = secret
            changed.append("http_secret")
        if robot is not None and robot != _readable(address, "wecom_url"):
            address.wecom_url = robot
            changed.append("wecom_url")
        if wecom_msgtype is not None and wecom_msgtype != address.wecom_msgtype:
            address.wecom_msgtype = wecom_msgtype
            changed.append("wecom_msgtype")
        address.save()
        audit.record(
            actor=actor,
            event="notification.address.save",
            obj=address,
            data={
                "changed": changed,
                "created": created,
                "http": is_secret_set(address, "http_url"),
                "signed": is_secret_set(address, "http_secret"),
                "wecom": is_secret_set(address, "wecom_url"),
                "removed": sorted(name for name, was in before.items() if was and not is_secret_set(address, name)),
            },
        )
    return address


def _refuse_address(actor: User, errors: dict[str, list[str]]) -> None:
    logger.info("notification address refused user=%s fields=%s", actor.get_username(), ",".join(sorted(errors)))
    raise ApplicationError("invalid_address", next(iter(errors.values()))[0], fields=errors)


def preference_channels() -> list[str]:
    """The channels a user can choose per kind: the ones this site runs, but for the in-app centre and the
    server log, which always run."""
    return [name for name in channels.configured() if channels.channel(name).chosen_by_user]


def notification_preferences_save(*, actor: User, enabled: Iterable[tuple[str, str]]) -> int:
    """Save the actor's kind × channel matrix: the cells in `enabled` on, every other known cell off.

    Only cells that change are written (no row reads as on). How many changed.
    """
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied("not_authenticated", _("Sign in first."), status=401)
    names = preference_channels()
    cells = {(kind, name) for kind in KINDS for name in names}
    wanted = {(str(kind), str(name)) for kind, name in enabled}
    unknown = wanted - cells
    if unknown:
        message = _("Unknown kind of notification or channel: %(cells)s.") % {
            "cells": ", ".join(f"{kind}/{name}" for kind, name in sorted(unknown))[:200]
        }
        logger.info("notification preferences refused user=%s unknown=%d", actor.get_username(), len(unknown))
        raise ApplicationError("invalid_preference", message, fields={"preferences": [message]})

    with transaction.atomic():
        current = {
            (p.kind, p.channel): p.enabled
            for p in NotificationPreference.objects.select_for_update().filter(user=actor, channel__in=names)
        }
        rows = [
            NotificationPreference(user=actor, kind=kind, channel=name, enabled=(kind, name) in wanted)
            for kind, name in sorted(cells)
            if current.get((kind, name), True) != ((kind, name) in wanted)
        ]
        if rows:
            # Upsert: a second tab saving at the same moment updates the row instead of failing on it.
            NotificationPreference.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["user", "kind", "channel"],
                update_fields=["enabled", "updated_at"],
            )
            audit.record(
                actor=actor,
                event="notification.preferences.save",
                data={
                    "on": sorted(f"{r.kind}/{r.channel}" for r in rows if r.enabled),
                    "off": sorted(f"{r.kind}/{r.channel}" for r in rows if not r.enabled),
                },
            )
    return len(rows)


def notification_test_send(*, actor: User, channel: str) -> NotificationDelivery:
    """Send the actor a test notification through one channel now, and return the delivery with its outcome.

    The notification also lands in the actor's centre. It is sent in the request, outside the
    transaction (a slow receiver must not hold it), and not retried: the user sees the outcome.
    """
    if not getattr(actor, "is_authenticated", False):
        raise PermissionDenied("not_authenticated", _("Sign in first."), status=401)
    if channel not in preference_channels():
        message = _("This channel is not available on this site.")
        logger.info("notification test refused user=%s channel=%s", actor.get_username(), str(channel)[:32])
        raise ApplicationError("unknown_channel", message, fields={"channel": [message]})
    recent = Notification.objects.filter(
        user=actor, kind=TEST_KIND, created_at__gte=timezone.now() - timedelta(minutes=1)
    ).count()
    if recent >= TEST_LIMIT:
        logger.info("notification test refused user=%s: too many", actor.get_username())
        raise ApplicationError(
            "too_many_tests", _("Too many test notifications: wait a minute and try again."), status=429
        )
    with transaction.atomic():
        notification = Notification.objects.create(
            user=actor,
            kind=TEST_KIND,
            title=_("Test notification"),
            body=_("Sent from the notification settings to try the channel “%(channel)s”.")
            % {"channel": channels.label(channel)},
            url=reverse("notifications:settings"),
        )
        delivery = NotificationDelivery.objects.create(notification=notification, channel=channel)
        audit.record(actor=actor, event="notification.test", obj=notification, data={"channel": channel})
    if _claim(delivery):
        _send(delivery)
    return delivery
