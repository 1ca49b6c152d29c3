"""Every write of outbound webhooks: subscriptions, the fan-out from the case timeline, sending, replay.

The case timeline is the outbox: `webhook_dispatch` scans `CaseEvent` rows and writes one delivery
per matching subscription, so the case pipeline itself does not change (and its intake stays as
fast as its tests pin it). Commit order is not id order, so each scan looks back a few minutes
before where the last one ended, and a unique constraint makes seeing an event twice harmless.
`webhook_deliver_due` posts what is due; a failure is retried with exponential backoff until
the attempts run out. Secrets are sealed at rest (`core.privacy.SecretField`) and shown once.
"""

from __future__ import annotations

import http.client
import json
import logging
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.models import Area
from gridgov.cases.choices import Action
from gridgov.cases.models import Case, CaseEvent
from gridgov.core import audit, crypto
from gridgov.core.errors import ApplicationError, Conflict, NotFound, PermissionDenied
from gridgov.core.scope import scope_for, subtree
from gridgov.core.signing import SIGNATURE_HEADER, sign, verify  # noqa: F401 (verify: for receivers)
from gridgov.integrations.services import can_manage_keys, default_area
from gridgov.webhooks.choices import OPEN_STATES, SUBSCRIBABLE, DeliveryState, EventType
from gridgov.webhooks.models import (
    DispatchCursor,
    WebhookAttempt,
    WebhookDelivery,
    WebhookSubscription,
)

logger = logging.getLogger("gridgov.webhooks")

SECRET_PREFIX = "whsec_"
USER_AGENT = "gridgov-webhooks/1.0"
# Events read per query by the dispatcher (SQLite limits the parameters of one query).
SCAN_BATCH = 500
# Deliveries one run of the sender looks at; the next run (a minute later) takes the rest.
DELIVER_BATCH = 200
# A run stops starting new attempts after this long, so runs of the periodic task do not pile up.
DELIVER_BUDGET_SECONDS = 45
# Kept of a receiver's answer, for the delivery log.
RESPONSE_LIMIT = 2000
# A claimed delivery is not due again until its attempt has had time to end (a worker that died mid-send).
LEASE_MARGIN_SECONDS = 60
CURSOR = "dispatch"
CASE_FIELDS = (
    "id",
    "code",
    "title",
    "category__code",
    "category__name",
    "state",
    "level",
    "priority",
    "area_code",
    "unit_id",
    "unit__name",
    "due_at",
    "overdue",
)


def _setting(name: str, default: float) -> float:
    return getattr(settings, name, default)


def timeout_seconds() -> float:
    """How long one attempt may wait for the receiver (connecting, and each read)."""
    return float(_setting("GRIDGOV_WEBHOOK_TIMEOUT", 10))


def max_attempts() -> int:
    return int(_setting("GRIDGOV_WEBHOOK_MAX_ATTEMPTS", 8))


def backoff(failures: int) -> timedelta:
    """The wait after the `failures`-th failed attempt in a row: base, then doubling, capped."""
    base = float(_setting("GRIDGOV_WEBHOOK_BACKOFF_SECONDS", 30))
    cap = float(_setting("GRIDGOV_WEBHOOK_BACKOFF_MAX_SECONDS", 3600))
    return timedelta(seconds=min(base * 2 ** max(failures - 1, 0), cap))


# --- signing ----------------------------------------------------------------------------------


def encode_payload(payload: dict[str, Any]) -> bytes:
    """The exact body sent: compact UTF-8 JSON with sorted keys, the same bytes on every attempt and database."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


# --- subscriptions ----------------------------------------------------------------------------


def _check_manager(actor: Any, message: str) -> None:
    if not can_manage_keys(actor):
        logger.warning("webhooks refused actor=%s: %s", getattr(actor, "pk", None), message)
        raise PermissionDenied("forbidden", message)


def _check_scope(actor: Any, area: Area) -> bool:
    return actor is None or scope_for(actor).covers_code(area.code)


def check_url(url: Any) -> str:
    """A receiver's address: http or https, a host, no credentials. Returns it stripped; raises otherwise.

    Not Django's URLValidator: intranet receivers often have host names without a dot.
    """
    url = str(url or "").strip()
    limit = WebhookSubscription._meta.get_field("url").max_length
    if not url:
        raise ValueError(_("This field is required."))
    if len(url) > limit:
        raise ValueError(_("The URL is too long."))
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError(_("Enter a URL without spaces."))
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ValueError(_("Enter a valid http:// or https:// URL.")) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(_("Enter a valid http:// or https:// URL."))
    if parts.username or parts.password:
        raise ValueError(_("Put no user name or password in the URL."))
    return url


def webhook_subscription_check(
    *, actor: Any, name: Any, url: Any, events: Any, area: Area | None
) -> tuple[str, str, list[str], Area]:
    """The cleaned (name, url, events, area) of a subscription, or ApplicationError with per-field reasons.

    Forms call it to show the reasons beside the fields; the create and update services call it again.
    """
    fields: dict[str, list[str]] = {}
    name = str(name or "").strip()
    if not name:
        fields["name"] = [_("This field is required.")]
    elif len(name) > WebhookSubscription._meta.get_field("name").max_length:
        fields["name"] = [_("The name is too long.")]
    try:
        url = check_url(url)
    except ValueError as exc:
        fields["url"] = [str(exc)]
    chosen = [events] if isinstance(events, str) else list(events or [])
    unknown = [e for e in chosen if e not in SUBSCRIBABLE]
    if unknown:
        fields["events"] = [_("Unknown event: %(name)s.") % {"name": ", ".join(map(str, unknown))}]
    elif not chosen:
        fields["events"] = [_("Choose at least one event.")]
    if area is None:
        area = default_area()
        if area is None:
            fields["area"] = [_("There is no subdistrict yet; create the organisation first.")]
    if area is not None and not _check_scope(actor, area):
        fields["area"] = [_("This area lies outside your scope.")]
    if fields:
        logger.info("webhook subscription refused fields=%s", sorted(fields))
        raise ApplicationError("invalid", next(iter(fields.values()))[0], fields=fields)
    # In the order of the choice set, once each.
    return name, url, [e.value for e in SUBSCRIBABLE if e in chosen], area


def _host(url: str) -> str:
    """The receiver's host, for the audit trail: a URL's path or query may carry a token."""
    return urllib.parse.urlsplit(url).hostname or ""


def webhook_subscription_create(
    *,
    actor: Any,
    name: Any,
    url: Any,
    events: Iterable[str] | str,
    area: Area | None = None,
    active: bool = True,
) -> tuple[WebhookSubscription, str]:
    """Subscribe `url` to `events` of cases in `area` (default: the subdistrict). Returns the row and the
    signing secret, which is stored sealed and cannot be shown again (rotate it to get a new one)."""
    _check_manager(actor, _("Only administrators and the center may manage webhooks."))
    name, url, events, area = webhook_subscription_check(actor=actor, name=name, url=url, events=events, area=area)
    secret = _new_secret()
    with transaction.atomic():
        subscription = WebhookSubscription(
            name=name,
            url=url,
            events=events,
            area=area,
            active=bool(active),
            secret=secret,
            active_since=timezone.now(),
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        subscription.save(force_insert=True)
        audit.record(
            actor=actor,
            event="webhooks.subscription.create",
            obj=subscription,
            data={"name": name, "host": _host(url), "events": events, "area": area.code, "active": bool(active)},
        )
    logger.info("webhook subscription created id=%s events=%s area=%s", subscription.pk, events, area.code)
    return subscription, secret


def _visible(actor: Any, subscription: WebhookSubscription) -> None:
    if not _check_scope(actor, subscription.area):
        logger.warning("webhooks refused actor=%s: subscription %s outside scope", actor.pk, subscription.pk)
        raise NotFound("not_found", _("%(name)s not found.") % {"name": WebhookSubscription._meta.verbose_name})


def _locked_subscription(subscription: WebhookSubscription) -> WebhookSubscription:
    return WebhookSubscription.objects.select_for_update().select_related("area").get(pk=subscription.pk)


def webhook_subscription_update(
    *,
    actor: Any,
    subscription: WebhookSubscription,
    name: Any,
    url: Any,
    events: Iterable[str] | str,
    area: Area | None,
    active: bool,
) -> WebhookSubscription:
    """Change a subscription. The secret stays; deliveries already written keep their payload."""
    _check_manager(actor, _("Only administrators and the center may manage webhooks."))
    _visible(actor, subscription)
    name, url, events, area = webhook_subscription_check(actor=actor, name=name, url=url, events=events, area=area)
    with transaction.atomic():
        subscription = _locked_subscription(subscription)
        new = {"name": name, "url": url, "events": events, "area_id": area.pk, "active": bool(active)}
        changed = sorted(field for field, value in new.items() if getattr(subscription, field) != value)
        if not changed:
            return subscription
        update_fields = [*changed, "updated_at"]
        if "active" in changed and active:
            subscription.active_since = timezone.now()
            update_fields.append("active_since")
        for field, value in new.items():
            setattr(subscription, field, value)
        subscription.area = area
        subscription.save(update_fields=update_fields)
        audit.record(
            actor=actor,
            event="webhooks.subscription.update",
            obj=subscription,
            data={"fields": [f.removesuffix("_id") for f in changed], "area": area.code, "active": bool(active)},
        )
    return subscription


def webhook_subscription_rotate_secret(
    *, actor: Any, subscription: WebhookSubscription
) -> tuple[WebhookSubscription, str]:
    """Give a subscription a new secret (returned once). Every later attempt, retries included, signs with it."""
    _check_manager(actor, _("Only administrators and the center may manage webhooks."))
    _visible(actor, subscription)
    secret = _new_secret()
    with transaction.atomic():
        subscription = _locked_subscription(subscription)
        subscription.secret = secret
        subscription.secret_rotated_at = timezone.now()
        subscription.save(update_fields=["secret", "secret_rotated_at", "updated_at"])
        audit.record(actor=actor, event="webhooks.subscription.rotate_secret", obj=subscription)
    logger.info("webhook subscription secret rotated id=%s", subscription.pk)
    return subscription, secret


def webhook_subscription_ping(
    *, actor: Any, subscription: WebhookSubscription, now: datetime | None = None
) -> WebhookDelivery:
    """Queue a `ping` delivery to check a receiver: signed and logged like any event, about no case."""
    _check_manager(actor, _("Only administrators and the center may manage webhooks."))
    _visible(actor, subscription)
    if not subscription.active:
        # Nothing is sent to a subscription that is off: the ping would only wait in the log.
        raise Conflict("inactive", _("This subscription is switched off; switch it on to send a test event."))
    now = now or timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.create(
            subscription=subscription,
            case_event=None,
            event=EventType.PING.value,
            payload={
                "event_id": None,
                "type": EventType.PING.value,
                "occurred_at": _iso(now),
                "subscription": {"id": subscription.pk, "name": subscription.name},
            },
            next_attempt_at=now,
        )
        audit.record(
            actor=actor,
            event="webhooks.subscription.ping",
            obj=subscription,
            data={"delivery": str(delivery.uuid)},
        )
        transaction.on_commit(lambda: _queue([delivery.pk]), robust=True)
    return delivery


# --- fan-out from the case timeline -----------------------------------------------------------


@dataclass
class DispatchResult:
    """What one scan did: timeline entries looked at, deliveries written."""

    scanned: int = 0
    created: int = 0


def _iso(value: datetime | None) -> str | None:
    """ISO 8601 with the site's time-zone offset (2026-05-01T09:30:00+08:00)."""
    return timezone.localtime(value).isoformat() if value is not None else None


def event_type(action: str, from_state: str, to_state: str) -> str | None:
    """Which webhook event a timeline entry is, if any."""
    if action == Action.REPORT:
        return EventType.CASE_CREATED.value
    if action == Action.OVERDUE:
        return EventType.CASE_OVERDUE.value
    if from_state != to_state:
        return EventType.CASE_STATE_CHANGED.value
    return None


def _type_q(wanted: set[str]) -> Q:
    q = Q(pk__in=[])
    if EventType.CASE_CREATED in wanted:
        q |= Q(action=Action.REPORT)
    if EventType.CASE_OVERDUE in wanted:
        q |= Q(action=Action.OVERDUE)
    if EventType.CASE_STATE_CHANGED in wanted:
        q |= ~Q(action=Action.REPORT) & ~Q(from_state=F("to_state"))
    return q


def _area_q(codes: Iterable[str]) -> Q:
    kept: list[str] = []
    for code in sorted(set(codes), key=len):
        if not any(code.startswith(prefix) for prefix in kept):
            kept.append(code)
    q = Q(pk__in=[])
    for code in kept:
        q |= subtree("case__area_code", code)
    return q


def _case_payload(case: dict[str, Any]) -> dict[str, Any]:
    """The case as receivers see it. No reporter, phone, address, description or coordinates: personal data
    stays in gridgov, and a receiver that needs more reads it through the API with its own rights."""
    return {
        "id": case["id"],
        "code": case["code"],
        "title": case["title"],
        "category": {"code": case["category__code"], "name": case["category__name"]},
        "state": case["state"],
        "level": case["level"],
        "priority": case["priority"],
        "area_code": case["area_code"],
        "unit": {"id": case["unit_id"], "name": case["unit__name"]} if case["unit_id"] else None,
        "due_at": _iso(case["due_at"]),
        "overdue": case["overdue"],
        "url": reverse("cases:detail", args=[case["id"]]),
    }


def _payload(row: tuple, kind: str, case: dict[str, Any]) -> dict[str, Any]:
    pk, at, action, from_state, to_state, from_level, to_level, _case_id, _area = row
    return {
        "event_id": pk,
        "type": kind,
        "occurred_at": _iso(at),
        "change": {
            "action": action,
            "from_state": from_state,
            "to_state": to_state,
            "from_level": from_level,
            "to_level": to_level,
        },
        "case": _case_payload(case),
    }


def _fan_out(rows: list[tuple], subscriptions: list[WebhookSubscription], now: datetime) -> int:
    """Deliveries for one batch of timeline entries: two reads and one insert, whatever the batch holds."""
    pairs: list[tuple[WebhookSubscription, tuple, str]] = []
    for row in rows:
        kind = event_type(row[2], row[3], row[4])
        for subscription in subscriptions:
            if (
                kind in subscription.events
                and row[8].startswith(subscription.area.code)
                and row[1] >= subscription.active_since
            ):
                pairs.append((subscription, row, kind))
    if not pairs:
        return 0
    seen = set(
        WebhookDelivery.objects.filter(
            case_event_id__in={row[0] for _s, row, _k in pairs},
            subscription_id__in={s.pk for s, _row, _k in pairs},
        ).values_list("subscription_id", "case_event_id")
    )
    pairs = [(s, row, kind) for s, row, kind in pairs if (s.pk, row[0]) not in seen]
    if not pairs:
        return 0
    # The case as it is now, read once per case and only the columns the payload shows.
    cases = {c["id"]: c for c in Case.objects.filter(pk__in={row[7] for _s, row, _k in pairs}).values(*CASE_FIELDS)}
    payloads: dict[int, dict[str, Any]] = {}
    deliveries = []
    for subscription, row, kind in pairs:
        case = cases.get(row[7])
        if case is None:  # deleted since (demo reset): nothing to tell
            continue
        if row[0] not in payloads:
            payloads[row[0]] = _payload(row, kind, case)
        deliveries.append(
            WebhookDelivery(
                subscription=subscription,
                case_event_id=row[0],
                event=kind,
                payload=payloads[row[0]],
                next_attempt_at=now,
            )
        )
    # ignore_conflicts: a scan running beside this one (SQLite has no skip_locked) may have written some.
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True, batch_size=SCAN_BATCH)
    return len(deliveries)


def webhook_dispatch(*, now: datetime | None = None) -> DispatchResult:
    """Turn new case timeline entries into deliveries for the active subscriptions that want them.

    Looks back GRIDGOV_WEBHOOK_SCAN_OVERLAP_SECONDS before the end of the last scan, for entries
    whose transaction committed late; a subscription gets entries from when it was created or last
    switched on (`active_since`). Safe to
    run twice and at once (unique constraint, cursor row lock). One query when nobody subscribes.
    """
    subscriptions = list(WebhookSubscription.objects.filter(active=True).select_related("area"))
    result = DispatchResult()
    if not subscriptions:
        return result
    for subscription in subscriptions:
        subscription.events = [e for e in subscription.events if e in SUBSCRIBABLE]
    now = now or timezone.now()
    overlap = timedelta(seconds=float(_setting("GRIDGOV_WEBHOOK_SCAN_OVERLAP_SECONDS", 300)))
    with transaction.atomic():
        DispatchCursor.objects.get_or_create(name=CURSOR)
        cursor = DispatchCursor.objects.select_for_update(skip_locked=True).filter(name=CURSOR).first()
        if cursor is None:
            logger.info("webhook dispatch skipped: another worker is scanning")
            return result
        start = min(s.active_since for s in subscriptions)
        if cursor.scanned_until is not None:
            start = max(start, cursor.scanned_until - overlap)
        wanted = {e for s in subscriptions for e in s.events}
        events = (
            CaseEvent.objects.filter(time__gte=start)
            .filter(_type_q(wanted), _area_q(s.area.code for s in subscriptions))
            .order_by("time", "id")
            .values_list(
                "id", "time", "action", "from_state", "to_state", "from_level", "to_level", "case_id", "case__area_code"
            )
        )
        after: Q | None = None
        while True:
            # Keyset pages on (time, id): no server-side cursor held open while this loop writes.
            rows = list((events.filter(after) if after is not None else events)[:SCAN_BATCH])
            if not rows:
                break
            result.scanned += len(rows)
            result.created += _fan_out(rows, subscriptions, now)
            last_time, last_id = rows[-1][1], rows[-1][0]
            after = Q(time__gt=last_time) | Q(time=last_time, id__gt=last_id)
            if len(rows) < SCAN_BATCH:
                break
        cursor.scanned_until = now
        cursor.save(update_fields=["scanned_until"])
        if result.created:
            transaction.on_commit(lambda: _queue(None), robust=True)
    if result.created:
        logger.info("webhook dispatch scanned=%d created=%d", result.scanned, result.created)
    return result


# --- sending ----------------------------------------------------------------------------------


def _queue(delivery_ids: list[int] | None) -> None:
    from gridgov.webhooks.tasks import webhook_deliver_task

    webhook_deliver_task(delivery_ids)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer that is not 2xx: a failure, not a second POST somewhere else."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _read(response: Any, deadline: float) -> str:
    """The beginning of the receiver's answer, read until RESPONSE_LIMIT or the attempt's deadline."""
    chunks: list[bytes] = []
    size = 0
    try:
        while size < RESPONSE_LIMIT and time.monotonic() < deadline:
            chunk = response.read(min(1024, RESPONSE_LIMIT - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except (OSError, http.client.HTTPException, ValueError, AttributeError):
        pass  # the status is what counts; a body cut short is still worth keeping
    return b"".join(chunks).decode("utf-8", errors="replace")


@dataclass
class HttpResult:
    status: int | None
    response: str
    error: str

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300 and not self.error


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float) -> HttpResult:
    """POST `body`; never raises. A timeout, a refused connection or a non-2xx answer is an error."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        return HttpResult(None, "", "not an http:// or https:// URL")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (checked above)
    deadline = time.monotonic() + timeout
    try:
        with _opener.open(request, timeout=timeout) as response:
            return HttpResult(response.status, _read(response, deadline), "")
    except urllib.error.HTTPError as exc:
        text = _read(exc, deadline) if exc.fp is not None else ""
        return HttpResult(exc.code, text, f"HTTP {exc.code} {exc.reason}".strip())
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            return HttpResult(None, "", f"timeout: no answer within {timeout:g} s")
        return HttpResult(None, "", f"connection failed: {exc.reason}")
    except TimeoutError:
        return HttpResult(None, "", f"timeout: no answer within {timeout:g} s")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return HttpResult(None, "", f"{type(exc).__name__}: {exc}"[:1000])


def delivery_headers(delivery: WebhookDelivery, body: bytes, secret: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": USER_AGENT,
        "X-Gridgov-Event": delivery.event,
        "X-Gridgov-Delivery": str(delivery.uuid),
        SIGNATURE_HEADER: sign(secret, body),
    }


@dataclass
class DeliverOutcome:
    """What one run of the sender did. `deferred`: left for the next run (receiver unreachable, time budget)."""

    succeeded: int = 0
    failed: int = 0
    gave_up: int = 0
    deferred: int = 0


def _claim(delivery: WebhookDelivery, *, now: datetime) -> bool:
    """Count an attempt, only if no other worker counted one since this row was read.

    The row stops being due until the attempt has had time to end, so a second worker reading it
    now skips it; if this worker dies mid-send, the delivery becomes due again after that lease.
    """
    lease = now + timedelta(seconds=timeout_seconds() + LEASE_MARGIN_SECONDS)
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, attempts=delivery.attempts, state__in=OPEN_STATES, next_attempt_at__lte=now
    ).update(attempts=F("attempts") + 1, next_attempt_at=lease, last_attempt_at=now, updated_at=timezone.now())
    if claimed:
        delivery.attempts += 1
    return bool(claimed)


def _attempt(delivery: WebhookDelivery, *, now: datetime) -> HttpResult:
    """Send one claimed delivery and record the attempt and its outcome."""
    subscription = delivery.subscription
    body = encode_payload(delivery.payload)
    timeout = timeout_seconds()
    started = time.monotonic()
    try:
        secret = subscription.secret
    except crypto.DecryptionError:
        # Nothing may go out unsigned: recorded and retried (a key restored to FIELD_ENCRYPTION_KEY fixes it).
        result = HttpResult(None, "", "the signing secret does not decrypt (FIELD_ENCRYPTION_KEY?)")
    else:
        result = post(subscription.url, body, delivery_headers(delivery, body, secret), timeout=timeout)
    duration = int((time.monotonic() - started) * 1000)
    replay = delivery.replays > 0 and delivery.attempts == delivery.replay_offset + 1
    failures = delivery.attempts - delivery.replay_offset
    changes: dict[str, Any] = {
        "last_status_code": result.status,
        "last_error": result.error,
        "last_response": result.response,
        "duration_ms": duration,
        "updated_at": timezone.now(),
    }
    if result.ok:
        changes.update(state=DeliveryState.SUCCEEDED, delivered_at=now, next_attempt_at=None)
    elif failures >= max_attempts():
        changes.update(state=DeliveryState.GAVE_UP, next_attempt_at=None)
    else:
        changes.update(state=DeliveryState.FAILED, next_attempt_at=now + backoff(failures))
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            number=delivery.attempts,
            replay=replay,
            started_at=now,
            status_code=result.status,
            succeeded=result.ok,
            error=result.error,
            response=result.response,
            duration_ms=duration,
        )
        # Conditional: a replay made while this attempt ran keeps its own schedule.
        WebhookDelivery.objects.filter(pk=delivery.pk, attempts=delivery.attempts).update(**changes)
    for field, value in changes.items():
        setattr(delivery, field, value)
    log = logger.warning if changes["state"] == DeliveryState.GAVE_UP else logger.info
    log(
        "webhook delivery %s uuid=%s subscription=%s event=%s attempt=%s status=%s error=%s",
        {DeliveryState.GAVE_UP: "gave up", DeliveryState.SUCCEEDED: "succeeded"}.get(changes["state"], "failed"),
        delivery.uuid,
        subscription.pk,
        delivery.event,
        delivery.attempts,
        result.status,
        result.error or "-",
    )
    return result


def webhook_deliver_due(
    *, now: datetime | None = None, delivery_ids: Sequence[int] | None = None, limit: int = DELIVER_BATCH
) -> DeliverOutcome:
    """Send the deliveries that are due (of `delivery_ids`, when given) once each. Safe to run in parallel.

    A receiver that does not answer costs one timeout per run: its other deliveries wait for the next run.
    """
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    outcome = DeliverOutcome()
    due = WebhookDelivery.objects.filter(state__in=OPEN_STATES, next_attempt_at__lte=clock(), subscription__active=True)
    if delivery_ids is not None:
        due = due.filter(pk__in=sorted(set(delivery_ids))[:limit])
    batch = list(due.select_related("subscription").order_by("next_attempt_at", "id")[:limit])
    unreachable: set[int] = set()
    started = time.monotonic()
    for delivery in batch:
        if delivery.subscription_id in unreachable or time.monotonic() - started > DELIVER_BUDGET_SECONDS:
            outcome.deferred += 1
            continue
        at = clock()
        if not _claim(delivery, now=at):
            continue
        result = _attempt(delivery, now=at)
        if result.ok:
            outcome.succeeded += 1
            continue
        if result.status is None:
            unreachable.add(delivery.subscription_id)
        if delivery.state == DeliveryState.GAVE_UP:
            outcome.gave_up += 1
        else:
            outcome.failed += 1
    return outcome


# --- replay -----------------------------------------------------------------------------------


def _delivery_not_found() -> NotFound:
    return NotFound("not_found", _("%(name)s not found.") % {"name": WebhookDelivery._meta.verbose_name})


def webhook_delivery_replay(*, actor: Any, delivery: WebhookDelivery, now: datetime | None = None) -> WebhookDelivery:
    """Send a delivery again, now: the same payload and delivery id, with a fresh round of retries."""
    _check_manager(actor, _("Only administrators and the center may replay webhook deliveries."))
    now = now or timezone.now()
    with transaction.atomic():
        try:
            delivery = (
                WebhookDelivery.objects.select_for_update(of=("self",))
                .select_related("subscription__area")
                .get(pk=delivery.pk)
            )
        except WebhookDelivery.DoesNotExist:
            raise NotFound(
                "not_found", _("%(name)s not found.") % {"name": WebhookDelivery._meta.verbose_name}
            ) from None
        if not _check_scope(actor, delivery.subscription.area):
            logger.warning("webhooks refused actor=%s: delivery %s outside scope", actor.pk, delivery.pk)
            raise NotFound("not_found", _("%(name)s not found.") % {"name": WebhookDelivery._meta.verbose_name})
        previous = delivery.state
        delivery.state = DeliveryState.PENDING
        delivery.next_attempt_at = now
        delivery.replay_offset = delivery.attempts
        delivery.replays += 1
        delivery.delivered_at = None
        delivery.save(
            update_fields=["state", "next_attempt_at", "replay_offset", "replays", "delivered_at", "updated_at"]
        )
        audit.record(
            actor=actor,
            event="webhooks.delivery.replay",
            obj=delivery,
            data={
                "delivery": str(delivery.uuid),
                "subscription": delivery.subscription_id,
                "event": delivery.event,
                "previous_state": previous,
            },
        )
        transaction.on_commit(lambda: _queue([delivery.pk]), robust=True)
    logger.info(
        "webhook delivery replayed uuid=%s subscription=%s previous_state=%s by=%s",
        delivery.uuid,
        delivery.subscription_id,
        previous,
        getattr(actor, "pk", None),
    )
    return delivery
