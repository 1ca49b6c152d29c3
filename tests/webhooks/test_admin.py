"""The admin: subscriptions (secret shown once, rotate, test send) and the read-only delivery log with replay."""

from __future__ import annotations

import re

from django.contrib.messages import get_messages
from django.urls import reverse

from gridgov.core.models import AuditEvent
from gridgov.webhooks.choices import DeliveryState
from gridgov.webhooks.models import WebhookDelivery, WebhookSubscription
from gridgov.webhooks.services import verify, webhook_deliver_due, webhook_dispatch


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_pages_render(org, client, report, subscribe, receiver):
    hub = receiver([500])
    subscription, secret = subscribe(hub.url, events=["case.created"])
    case = report()
    webhook_dispatch()
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    client.force_login(org.users.admin)
    pages = {
        "admin:webhooks_webhooksubscription_changelist": [],
        "admin:webhooks_webhooksubscription_add": [],
        "admin:webhooks_webhooksubscription_change": [subscription.pk],
        "admin:webhooks_webhookdelivery_changelist": [],
        "admin:webhooks_webhookdelivery_change": [delivery.pk],
    }
    for name, args in pages.items():
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        assert secret not in response.content.decode()
    listing = client.get(reverse("admin:webhooks_webhookdelivery_changelist")).content.decode()
    assert case.code in listing and "500" in listing
    page = client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert str(delivery.uuid) in page and "receiver is down" in page  # the last answer and the attempt log
    assert reverse("admin:webhooks_webhookdelivery_replay", args=[delivery.pk]) in page
    for query in ("state__exact=failed", "event__exact=case.created", f"subscription__id__exact={subscription.pk}"):
        response = client.get(reverse("admin:webhooks_webhookdelivery_changelist") + "?" + query)
        assert response.status_code == 200 and case.code in response.content.decode(), query
    response = client.get(reverse("admin:webhooks_webhookdelivery_changelist") + "?state__exact=succeeded")
    assert case.code not in response.content.decode()


def test_create_in_admin_shows_the_secret_once(org, client):
    client.force_login(org.users.admin)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {
            "name": "city hub",
            "url": "https://hub.example.org/in",
            "events": ["case.created", "case.overdue"],
            "area": org.c1.pk,
            "active": "on",
        },
        follow=True,
    )
    assert response.status_code == 200
    subscription = WebhookSubscription.objects.get()
    secret = subscription.secret
    assert any(secret in m for m in _messages(response)) or secret in response.content.decode()
    assert subscription.events == ["case.created", "case.overdue"] and subscription.area == org.c1
    assert AuditEvent.objects.filter(event_type="webhooks.subscription.create").count() == 1
    page = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]))
    sealed = WebhookSubscription.objects.values_list("secret", flat=True).get().stored
    assert secret not in page.content.decode() and sealed not in page.content.decode()


def test_create_in_admin_refuses_bad_input(org, client):
    client.force_login(org.users.admin)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_add"),
        {"name": "x", "url": "ftp://hub.example.org/in", "events": ["case.created"], "area": org.s.pk},
    )
    assert response.status_code == 200  # the form again, with the reason
    assert "http://" in response.content.decode()
    assert WebhookSubscription.objects.count() == 0


def test_change_in_admin(org, client, subscribe):
    subscription, _secret = subscribe(events=["case.created"])
    client.force_login(org.users.admin)
    response = client.post(
        reverse("admin:webhooks_webhooksubscription_change", args=[subscription.pk]),
        {"name": "renamed", "url": subscription.url, "events": ["case.state_changed"], "area": org.s.pk},
    )
    assert response.status_code == 302
    subscription.refresh_from_db()
    assert (subscription.name, subscription.events, subscription.active) == ("renamed", ["case.state_changed"], False)
    assert AuditEvent.objects.filter(event_type="webhooks.subscription.update").count() == 1


def test_rotate_and_ping_actions(org, client, subscribe, receiver, django_capture_on_commit_callbacks):
    hub = receiver()
    subscription, old = subscribe(hub.url)
    client.force_login(org.users.admin)
    url = reverse("admin:webhooks_webhooksubscription_changelist")
    response = client.post(url, {"action": "rotate_secret", "_selected_action": [subscription.pk]}, follow=True)
    subscription.refresh_from_db()
    new = subscription.secret
    assert new != old and any(new in m for m in _messages(response))
    with django_capture_on_commit_callbacks(execute=True):
        client.post(url, {"action": "send_ping", "_selected_action": [subscription.pk]})
    # The queued task ran (Huey is immediate in tests): the receiver got a ping signed with the new secret.
    assert [r["headers"]["X-Gridgov-Event"] for r in hub.requests] == ["ping"]
    assert verify(new, hub.requests[0]["body"], hub.requests[0]["headers"]["X-Gridgov-Signature"])


def test_replay_from_the_admin(org, client, report, subscribe, receiver, django_capture_on_commit_callbacks):
    hub = receiver([500])
    subscribe(hub.url, events=["case.created"])
    report()
    webhook_dispatch()
    webhook_deliver_due()
    delivery = WebhookDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    client.force_login(org.users.admin)
    replay = reverse("admin:webhooks_webhookdelivery_replay", args=[delivery.pk])
    assert client.get(replay).status_code == 405
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(replay)
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.state == DeliveryState.SUCCEEDED and delivery.replays == 1
    assert [r["status"] for r in hub.requests] == [500, 200]
    assert len({r["headers"]["X-Gridgov-Delivery"] for r in hub.requests}) == 1
    assert AuditEvent.objects.filter(event_type="webhooks.delivery.replay", actor=org.users.admin).count() == 1

    # The bulk action does the same.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:webhooks_webhookdelivery_changelist"),
            {"action": "replay", "_selected_action": [delivery.pk]},
        )
    assert len(hub.requests) == 3
    assert AuditEvent.objects.filter(event_type="webhooks.delivery.replay").count() == 2


def test_admin_closed_to_other_staff(org, client, subscribe):
    """Even with is_staff and every model permission, a role other than the center sees nothing here."""
    from django.contrib.auth.models import Permission

    subscription, _secret = subscribe()
    user = org.users.community
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="webhooks"))
    client.force_login(user)
    assert client.get(reverse("admin:webhooks_webhooksubscription_changelist")).status_code == 403
    assert client.get(reverse("admin:webhooks_webhookdelivery_changelist")).status_code == 403
    assert client.post(reverse("admin:webhooks_webhookdelivery_replay", args=[1])).status_code == 403
    page = client.get(reverse("admin:index")).content.decode()
    assert not re.search(r"webhooks/webhooksubscription", page)
    assert WebhookSubscription.objects.get().name == subscription.name


def test_center_with_admin_access_sees_its_subdistrict(org_wide, client, subscribe):
    from django.contrib.auth.models import Permission

    mine, _s = subscribe(name="mine", area=org_wide.c1)
    other, _s = subscribe(name="neighbour", area=org_wide.s2)
    user = org_wide.users.center
    user.is_staff = True
    user.save(update_fields=["is_staff"])
    user.user_permissions.set(Permission.objects.filter(content_type__app_label="webhooks"))
    client.force_login(user)
    listing = client.get(reverse("admin:webhooks_webhooksubscription_changelist")).content.decode()
    assert "mine" in listing and "neighbour" not in listing
    response = client.get(reverse("admin:webhooks_webhooksubscription_change", args=[other.pk]))
    assert response.status_code == 302  # the admin's "does not exist" redirect
