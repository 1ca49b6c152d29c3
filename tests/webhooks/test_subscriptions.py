"""Subscriptions: validated, the secret sealed and shown once, rotated, managed only by admins and the center."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.db import connection

from gridgov.core import crypto
from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.webhooks.models import WebhookDelivery, WebhookSubscription
from gridgov.webhooks.services import (
    webhook_subscription_create,
    webhook_subscription_ping,
    webhook_subscription_rotate_secret,
    webhook_subscription_update,
)

# What existing rows were sealed for: the SecretField seals with the same context, so they read unchanged.
SECRET_CONTEXT = "webhooks_webhooksubscription.secret"


def stored_secret(subscription: WebhookSubscription) -> str:
    """The secret column as the database holds it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret FROM webhooks_webhooksubscription WHERE id = %s", [subscription.pk])
        return cursor.fetchone()[0]


def test_create_seals_the_secret(org, subscribe):
    subscription, secret = subscribe("https://hooks.example.org/gridgov?token=abc", events=["case.created"])
    assert secret.startswith("whsec_") and len(secret) > 40
    stored = stored_secret(subscription)
    assert secret not in stored and stored.startswith("g1$")
    assert crypto.decrypt(stored, context=SECRET_CONTEXT) == secret
    assert WebhookSubscription.objects.get().secret == secret
    assert subscription.events == ["case.created"] and subscription.area == org.s
    assert subscription.created_by == org.users.admin
    event = AuditEvent.objects.get(event_type="webhooks.subscription.create")
    # Neither the secret nor the URL's token goes on the trail: the host is enough.
    assert secret not in str(event.data) and "abc" not in str(event.data)
    assert event.data["host"] == "hooks.example.org"


def test_center_creates_with_default_area(org):
    subscription, _secret = webhook_subscription_create(
        actor=org.users.center, name="city hub", url="http://hub:8080/in", events=["case.overdue", "case.created"]
    )
    # Intranet host names need no dot; events are kept in the choice set's order.
    assert subscription.area == org.s and subscription.events == ["case.created", "case.overdue"]


@pytest.mark.parametrize(
    ("url", "field_ok"),
    [
        ("ftp://example.org/x", False),
        ("javascript:alert(1)", False),
        ("http://", False),
        ("http://user:pw@example.org/", False),
        ("http://example.org:99999/", False),
        ("http://exa mple.org/", False),
        ("", False),
        ("http://127.0.0.1:8000/hook", True),
    ],
)
def test_url_checked(org, url, field_ok):
    if field_ok:
        webhook_subscription_create(actor=org.users.admin, name="r", url=url, events=["case.created"], area=org.s)
        assert WebhookSubscription.objects.count() == 1
        return
    with pytest.raises(ApplicationError) as info:
        webhook_subscription_create(actor=org.users.admin, name="r", url=url, events=["case.created"], area=org.s)
    assert info.value.code == "invalid" and list(info.value.fields) == ["url"]
    assert WebhookSubscription.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type__startswith="webhooks.").exists()


@pytest.mark.parametrize("events", [[], ["case.deleted"], ["ping"]])
def test_events_checked(org, events):
    with pytest.raises(ApplicationError) as info:
        webhook_subscription_create(actor=org.users.admin, name="r", url="http://a.example/", events=events, area=org.s)
    assert info.value.code == "invalid" and "events" in info.value.fields
    assert WebhookSubscription.objects.count() == 0


@pytest.mark.parametrize("who", ["grid_worker", "community", "leader", "unit_handler", "nobody"])
def test_only_admins_and_center(org, subscribe, who):
    subscription, _secret = subscribe()
    actor = getattr(org.users, who)
    for call in (
        lambda: webhook_subscription_create(actor=actor, name="r", url="http://a.example/", events=["case.created"]),
        lambda: webhook_subscription_rotate_secret(actor=actor, subscription=subscription),
        lambda: webhook_subscription_ping(actor=actor, subscription=subscription),
    ):
        with pytest.raises(ApplicationError) as info:
            call()
        assert info.value.code == "forbidden" and info.value.status == 403
    assert WebhookSubscription.objects.count() == 1 and WebhookDelivery.objects.count() == 0
    assert AuditEvent.objects.filter(event_type__startswith="webhooks.").count() == 1  # the admin's create


def test_area_outside_scope_refused(org_wide):
    with pytest.raises(ApplicationError) as info:
        webhook_subscription_create(
            actor=org_wide.users.center, name="r", url="http://a.example/", events=["case.created"], area=org_wide.s2
        )
    assert info.value.code == "invalid" and "area" in info.value.fields
    assert WebhookSubscription.objects.count() == 0


def test_rotate_secret(org, subscribe):
    subscription, old = subscribe()
    rotated, new = webhook_subscription_rotate_secret(actor=org.users.center, subscription=subscription)
    assert new != old and new.startswith("whsec_")
    rotated.refresh_from_db()
    assert rotated.secret == new
    assert crypto.decrypt(stored_secret(rotated), context=SECRET_CONTEXT) == new
    assert rotated.secret_rotated_at is not None
    event = AuditEvent.objects.get(event_type="webhooks.subscription.rotate_secret")
    assert new not in str(event.data) and old not in str(event.data)


def test_update(org, subscribe):
    subscription, secret = subscribe(events=["case.created"])
    sealed = stored_secret(subscription)
    webhook_subscription_update(
        actor=org.users.admin,
        subscription=subscription,
        name="renamed",
        url="https://b.example/hook",
        events=["case.overdue"],
        area=org.c1,
        active=False,
    )
    subscription.refresh_from_db()
    assert (subscription.name, subscription.url, subscription.events, subscription.area, subscription.active) == (
        "renamed",
        "https://b.example/hook",
        ["case.overdue"],
        org.c1,
        False,
    )
    assert stored_secret(subscription) == sealed and subscription.secret == secret
    event = AuditEvent.objects.get(event_type="webhooks.subscription.update")
    assert event.data["fields"] == ["active", "area", "events", "name", "url"]
    with pytest.raises(ApplicationError) as info:
        webhook_subscription_update(
            actor=org.users.admin, subscription=subscription, name="", url="x", events=[], area=org.c1, active=True
        )
    assert set(info.value.fields) == {"name", "url", "events"}
    subscription.refresh_from_db()
    assert subscription.name == "renamed"


def test_command_create_list_rotate(org):
    out, err = io.StringIO(), io.StringIO()
    args = ["create", "--name", "hub", "--url", "http://hub/in", "--event", "case.created", "--area", org.c1.code]
    call_command("webhook", *args, stdout=out, stderr=err)
    secret = out.getvalue().strip()
    subscription = WebhookSubscription.objects.get()
    assert subscription.secret == secret
    assert subscription.area == org.c1 and subscription.events == ["case.created"]
    assert "not shown again" in err.getvalue()
    listing = io.StringIO()
    call_command("webhook", "list", stdout=listing)
    assert "http://hub/in" in listing.getvalue() and secret not in listing.getvalue()
    rotated = io.StringIO()
    call_command("webhook", "rotate", str(subscription.pk), stdout=rotated, stderr=io.StringIO())
    subscription.refresh_from_db()
    assert subscription.secret == rotated.getvalue().strip() != secret
