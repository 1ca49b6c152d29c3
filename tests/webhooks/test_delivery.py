"""Sending to real local receivers: signed, retried with backoff, given up, replayed; exactly once on success."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.webhooks.choices import DeliveryState
from gridgov.webhooks.models import WebhookAttempt, WebhookDelivery
from gridgov.webhooks.services import (
    encode_payload,
    sign,
    verify,
    webhook_deliver_due,
    webhook_delivery_replay,
    webhook_dispatch,
    webhook_subscription_ping,
    webhook_subscription_rotate_secret,
)


def _states(delivery) -> tuple:
    delivery.refresh_from_db()
    return delivery.state, delivery.attempts, delivery.last_status_code


def test_receiver_that_fails_twice_gets_the_event_once_it_recovers(org, report, subscribe, receiver):
    """The issue's check: 500, 500, then 200 — delivered exactly once, on the 3rd attempt, after 30 s and 60 s."""
    hub = receiver([500, 500])
    subscription, secret = subscribe(hub.url, events=["case.created"])
    case = report()
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    delivery = WebhookDelivery.objects.get()

    assert webhook_deliver_due(now=t0).failed == 1
    assert _states(delivery) == (DeliveryState.FAILED, 1, 500)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    assert delivery.last_response == "receiver is down" and delivery.last_error.startswith("HTTP 500")

    assert webhook_deliver_due(now=t0 + timedelta(seconds=29)).failed == 0  # not due yet
    assert len(hub.requests) == 1
    assert webhook_deliver_due(now=t0 + timedelta(seconds=30)).failed == 1
    assert _states(delivery) == (DeliveryState.FAILED, 2, 500)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=90)  # doubled: 60 s after the 2nd attempt

    assert webhook_deliver_due(now=t0 + timedelta(seconds=89)).succeeded == 0
    assert webhook_deliver_due(now=t0 + timedelta(seconds=90)).succeeded == 1
    assert _states(delivery) == (DeliveryState.SUCCEEDED, 3, 200)
    assert delivery.delivered_at == t0 + timedelta(seconds=90) and delivery.next_attempt_at is None

    # Nothing more goes out, however often the dispatcher and the sender run.
    for minutes in (2, 10, 120):
        webhook_dispatch(now=t0 + timedelta(minutes=minutes))
        webhook_deliver_due(now=t0 + timedelta(minutes=minutes))
    assert [r["status"] for r in hub.requests] == [500, 500, 200]
    assert WebhookDelivery.objects.count() == 1
    # The three attempts carried the same delivery id and the same signed body.
    ids = {r["headers"]["X-Gridgov-Delivery"] for r in hub.requests}
    assert ids == {str(delivery.uuid)}
    assert len({r["body"] for r in hub.requests}) == 1
    received = hub.requests[-1]
    assert received["path"] == "/hooks/gridgov"
    assert received["headers"]["X-Gridgov-Event"] == "case.created"
    assert received["headers"]["Content-Type"] == "application/json; charset=utf-8"
    assert received["headers"]["User-Agent"].startswith("gridgov")
    assert verify(secret, received["body"], received["headers"]["X-Gridgov-Signature"])
    assert json.loads(received["body"])["case"]["code"] == case.code
    log = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("number", "status_code", "succeeded"))
    assert log == [(1, 500, False), (2, 500, False), (3, 200, True)]


def test_signature(org, report, subscribe, receiver):
    hub = receiver()
    subscription, secret = subscribe(hub.url, events=["case.created"])
    report(title="井盖缺失")
    webhook_dispatch()
    webhook_deliver_due()
    request = hub.requests[0]
    body, header = request["body"], request["headers"]["X-Gridgov-Signature"]
    delivery = WebhookDelivery.objects.get()
    assert body == encode_payload(delivery.payload)
    assert "井盖缺失" in body.decode("utf-8")  # UTF-8, not \\u escapes
    assert header == sign(secret, body) and header.startswith("sha256=") and len(header) == 7 + 64
    assert verify(secret, body, header)
    assert not verify(secret, body + b" ", header)
    assert not verify("whsec_wrong", body, header)
    assert not verify(secret, body, "")

    # After a rotation, the next attempt (a replay here) is signed with the new secret only.
    _row, new = webhook_subscription_rotate_secret(actor=org.users.admin, subscription=subscription)
    webhook_delivery_replay(actor=org.users.admin, delivery=delivery)
    webhook_deliver_due()
    again = hub.requests[1]
    assert again["body"] == body
    assert verify(new, again["body"], again["headers"]["X-Gridgov-Signature"])
    assert not verify(secret, again["body"], again["headers"]["X-Gridgov-Signature"])


def test_receiver_that_never_answers(org, report, subscribe, silent_url, settings):
    settings.GRIDGOV_WEBHOOK_TIMEOUT = 0.3
    subscribe(silent_url, events=["case.created"])
    report()
    report(title="第二件")
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    outcome = webhook_deliver_due(now=t0)
    # One timeout, not two: the second delivery to the same dead receiver waits for the next run.
    assert (outcome.failed, outcome.deferred) == (1, 1)
    tried = WebhookDelivery.objects.get(attempts=1)
    assert tried.state == DeliveryState.FAILED and tried.last_status_code is None
    assert "timeout" in tried.last_error
    assert tried.next_attempt_at == t0 + timedelta(seconds=30)
    waiting = WebhookDelivery.objects.get(attempts=0)
    assert waiting.state == DeliveryState.PENDING and waiting.next_attempt_at == t0

    outcome = webhook_deliver_due(now=t0 + timedelta(seconds=1))  # the other one's turn
    assert (outcome.failed, outcome.deferred) == (1, 0)
    outcome = webhook_deliver_due(now=t0 + timedelta(seconds=31))  # the first is retried
    assert outcome.failed == 1
    assert sorted(WebhookDelivery.objects.values_list("attempts", flat=True)) == [1, 2]


def test_refused_connection_is_retried(org, report, subscribe, refused_url):
    subscribe(refused_url, events=["case.created"])
    report()
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    assert webhook_deliver_due(now=t0).failed == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED and delivery.last_status_code is None
    assert "connection failed" in delivery.last_error


def test_gives_up_after_max_attempts(org, report, subscribe, receiver, settings, caplog):
    settings.GRIDGOV_WEBHOOK_MAX_ATTEMPTS = 4
    hub = receiver([503] * 10)
    subscribe(hub.url, events=["case.created"])
    report()
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    delivery = WebhookDelivery.objects.get()
    waits = []
    at = t0
    with caplog.at_level(logging.WARNING, logger="gridgov.webhooks"):
        for _ in range(4):
            webhook_deliver_due(now=at)
            delivery.refresh_from_db()
            if delivery.next_attempt_at is not None:
                waits.append((delivery.next_attempt_at - at).total_seconds())
                at = delivery.next_attempt_at
    assert waits == [30, 60, 120]
    assert _states(delivery) == (DeliveryState.GAVE_UP, 4, 503)
    assert delivery.next_attempt_at is None and delivery.delivered_at is None
    assert any("gave up" in r.getMessage() and str(delivery.uuid) in r.getMessage() for r in caplog.records)
    webhook_deliver_due(now=at + timedelta(days=1))
    assert len(hub.requests) == 4


def test_backoff_is_capped(org, report, subscribe, refused_url, settings):
    settings.GRIDGOV_WEBHOOK_BACKOFF_MAX_SECONDS = 100
    subscribe(refused_url, events=["case.created"])
    report()
    at = timezone.now()
    webhook_dispatch(now=at)
    delivery = WebhookDelivery.objects.get()
    waits = []
    for _ in range(4):
        webhook_deliver_due(now=at)
        delivery.refresh_from_db()
        waits.append((delivery.next_attempt_at - at).total_seconds())
        at = delivery.next_attempt_at
    assert waits == [30, 60, 100, 100]


def test_claimed_delivery_is_not_sent_twice(org, report, subscribe, receiver):
    """Two workers read the same due row; only the one whose conditional UPDATE counts the attempt sends."""
    from gridgov.webhooks.services import _claim

    hub = receiver()
    subscribe(hub.url, events=["case.created"])
    report()
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    first, second = WebhookDelivery.objects.get(), WebhookDelivery.objects.get()
    assert _claim(first, now=t0) is True
    assert _claim(second, now=t0) is False  # read before the first claim: refused
    # A sender that reads the row now does not see it due: it is leased to the first worker.
    assert webhook_deliver_due(now=t0).succeeded == 0
    assert hub.requests == []


def test_replay(org, report, subscribe, receiver):
    hub = receiver()
    subscribe(hub.url, events=["case.created"])
    report()
    webhook_dispatch()
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.SUCCEEDED
    payload = delivery.payload

    replayed = webhook_delivery_replay(actor=org.users.center, delivery=delivery)
    assert replayed.state == DeliveryState.PENDING and replayed.replays == 1
    assert webhook_deliver_due().succeeded == 1
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.attempts == 2 and delivery.payload == payload
    first, second = hub.requests
    assert first["headers"]["X-Gridgov-Delivery"] == second["headers"]["X-Gridgov-Delivery"] == str(delivery.uuid)
    assert first["body"] == second["body"]
    assert list(delivery.attempt_log.values_list("number", "replay")) == [(1, False), (2, True)]
    audit = AuditEvent.objects.get(event_type="webhooks.delivery.replay")
    assert audit.actor == org.users.center and audit.data["previous_state"] == "succeeded"
    assert audit.data["delivery"] == str(delivery.uuid)


def test_replay_after_giving_up_starts_a_new_round(org, report, subscribe, receiver, settings):
    settings.GRIDGOV_WEBHOOK_MAX_ATTEMPTS = 2
    hub = receiver([500, 500, 500])
    subscribe(hub.url, events=["case.created"])
    report()
    t0 = timezone.now()
    webhook_dispatch(now=t0)
    webhook_deliver_due(now=t0)
    webhook_deliver_due(now=t0 + timedelta(seconds=30))
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.GAVE_UP
    t1 = t0 + timedelta(hours=1)
    webhook_delivery_replay(actor=org.users.admin, delivery=delivery, now=t1)
    webhook_deliver_due(now=t1)  # 500 again: retried, not given up at once
    assert _states(delivery) == (DeliveryState.FAILED, 3, 500)
    assert delivery.next_attempt_at == t1 + timedelta(seconds=30)
    webhook_deliver_due(now=t1 + timedelta(seconds=30))
    assert _states(delivery) == (DeliveryState.SUCCEEDED, 4, 200)


@pytest.mark.parametrize("who", ["grid_worker", "leader", "nobody"])
def test_replay_refused(org, report, subscribe, receiver, who):
    hub = receiver()
    subscribe(hub.url, events=["case.created"])
    report()
    webhook_dispatch()
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    with pytest.raises(ApplicationError) as info:
        webhook_delivery_replay(actor=getattr(org.users, who), delivery=delivery)
    assert info.value.code == "forbidden" and info.value.status == 403
    assert _states(delivery) == (DeliveryState.SUCCEEDED, 1, 200) and delivery.replays == 0
    assert not AuditEvent.objects.filter(event_type="webhooks.delivery.replay").exists()


def test_replay_outside_scope_not_found(org_wide, subscribe, receiver):
    from gridgov.accounts.services import user_create
    from gridgov.areas import services as areas
    from gridgov.areas.choices import Role

    hub = receiver()
    subscription, _secret = subscribe(hub.url, area=org_wide.s2)
    delivery = webhook_subscription_ping(actor=org_wide.users.admin, subscription=subscription)
    other = user_create(actor=None, username="center2", password="Test-password-2026", name="c2")
    areas.post_create(actor=None, user=other, role=Role.CENTER, area=org_wide.s)
    with pytest.raises(ApplicationError) as info:
        webhook_delivery_replay(actor=other, delivery=delivery)
    assert info.value.code == "not_found" and info.value.status == 404


def test_ping(org, subscribe, receiver):
    hub = receiver()
    subscription, secret = subscribe(hub.url, events=["case.created"])
    delivery = webhook_subscription_ping(actor=org.users.center, subscription=subscription)
    assert delivery.case_event is None and delivery.event == "ping"
    assert webhook_deliver_due().succeeded == 1
    request = hub.requests[0]
    assert request["headers"]["X-Gridgov-Event"] == "ping"
    assert verify(secret, request["body"], request["headers"]["X-Gridgov-Signature"])
    body = json.loads(request["body"])
    assert body["type"] == "ping" and body["subscription"] == {"id": subscription.pk, "name": subscription.name}
    assert AuditEvent.objects.filter(event_type="webhooks.subscription.ping").count() == 1


def test_no_ping_to_an_inactive_subscription(org, subscribe):
    subscription, _secret = subscribe()
    subscription.active = False
    subscription.save(update_fields=["active"])
    with pytest.raises(ApplicationError) as info:
        webhook_subscription_ping(actor=org.users.admin, subscription=subscription)
    assert info.value.code == "inactive" and info.value.status == 409
    assert WebhookDelivery.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type="webhooks.subscription.ping").exists()


def test_inactive_subscription_is_not_sent_to(org, report, subscribe, receiver):
    hub = receiver()
    subscription, _secret = subscribe(hub.url, events=["case.created"])
    report()
    webhook_dispatch()
    subscription.active = False
    subscription.save(update_fields=["active"])
    assert webhook_deliver_due().succeeded == 0
    assert hub.requests == [] and WebhookDelivery.objects.get().state == DeliveryState.PENDING


def test_redirect_is_a_failure(org, report, subscribe, receiver):
    hub = receiver([302])
    subscribe(hub.url, events=["case.created"])
    report()
    webhook_dispatch()
    assert webhook_deliver_due().failed == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_status_code == 302 and delivery.state == DeliveryState.FAILED
    assert len(hub.requests) == 1


def test_command_run_deliveries_replay(org, report, subscribe, receiver):
    import io

    from django.core.management import call_command
    from django.core.management.base import CommandError

    hub = receiver()
    subscribe(hub.url, events=["case.created"], name="hub")
    case = report()
    out = io.StringIO()
    call_command("webhook", "run", stdout=out)
    assert "wrote 1 deliveries; succeeded 1" in out.getvalue()
    delivery = WebhookDelivery.objects.get()
    listing = io.StringIO()
    call_command("webhook", "deliveries", stdout=listing)
    assert str(delivery.uuid) in listing.getvalue() and case.code in listing.getvalue()
    assert "succeeded" in listing.getvalue()
    call_command("webhook", "replay", str(delivery.uuid), stdout=io.StringIO())
    assert AuditEvent.objects.filter(event_type="webhooks.delivery.replay").count() == 1
    call_command("webhook", "run", stdout=io.StringIO())
    assert len(hub.requests) == 2
    with pytest.raises(CommandError):
        call_command("webhook", "replay", "not-a-uuid", stdout=io.StringIO())
