"""notify() and the delivery of notifications through channels; marking read."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from django.core import mail
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from gridgov.core.errors import ApplicationError, NotFound
from gridgov.core.models import AuditEvent
from gridgov.notifications import channels as channel_registry
from gridgov.notifications import services, tasks
from gridgov.notifications.choices import DeliveryState
from gridgov.notifications.models import Notification, NotificationDelivery


def notify(users, **kwargs):
    kwargs.setdefault("kind", "case.dispatched")
    kwargs.setdefault("title", "案件 A-001 已派遣给你")
    return services.notify(users=users, **kwargs)


class Broken(channel_registry.Channel):
    """A channel whose server is down."""

    name = "broken"

    def send(self, notification) -> None:
        raise RuntimeError("server down")


@pytest.fixture
def broken(monkeypatch):
    monkeypatch.setitem(channel_registry._channels, Broken.name, Broken)
    return Broken


# --- the in-app rows ----------------------------------------------------------------------------


def test_notify_three_users_creates_three_rows(people, channels, django_capture_on_commit_callbacks):
    channels()
    with django_capture_on_commit_callbacks(execute=True):
        created = notify([people.a, people.b, people.c], body="请在 2 小时内签收。", url="/cases/1/")
    assert len(created) == 3
    assert all(n.pk for n in created)
    rows = Notification.objects.order_by("user__username")
    assert [n.user for n in rows] == [people.a, people.b, people.c]
    assert {(n.kind, n.title, n.body, n.url, n.read_at) for n in rows} == {
        ("case.dispatched", "案件 A-001 已派遣给你", "请在 2 小时内签收。", "/cases/1/", None)
    }
    assert not NotificationDelivery.objects.exists(), "in-app only: nothing to deliver"


def test_notify_skips_duplicates_none_and_inactive_users(people, channels):
    channels()
    created = notify([people.a, None, people.a, people.b, people.inactive, people.b])
    assert [n.user for n in created] == [people.a, people.b]
    assert Notification.objects.count() == 2


def test_notify_nobody_writes_nothing(people, channels, django_capture_on_commit_callbacks):
    channels("console")
    with django_capture_on_commit_callbacks() as callbacks:
        assert notify([None, people.inactive]) == []
    assert callbacks == []
    assert not Notification.objects.exists()
    assert not AuditEvent.objects.filter(event_type="notification.create").exists()


def test_notify_accepts_a_queryset(people, channels):
    from gridgov.accounts.models import User

    channels()
    created = notify(User.objects.filter(username__in=["alice", "bob", "erin"]))
    assert sorted(n.user.username for n in created) == ["alice", "bob"]


def test_notify_names_the_object_and_is_audited_once(org, people, channels):
    channels("console")
    notify([people.a, people.b], obj=org.g11)
    assert set(Notification.objects.values_list("object_type", "object_id")) == {("areas.area", str(org.g11.pk))}
    event = AuditEvent.objects.get(event_type="notification.create")
    assert event.object_type == "areas.area"
    assert event.object_id == str(org.g11.pk)
    assert event.data == {"kind": "case.dispatched", "recipients": 2, "channels": ["console"]}


def test_a_rolled_back_transaction_notifies_nobody(people, channels, django_capture_on_commit_callbacks, caplog):
    channels("console", "email")
    caplog.set_level(logging.INFO, logger="gridgov.notifications")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify([people.a, people.b])
        raise RuntimeError("the case transition failed")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert not NotificationDelivery.objects.exists()
    assert mail.outbox == []
    assert "notification id=" not in caplog.text


def test_nothing_is_sent_before_the_commit(people, channels, django_capture_on_commit_callbacks):
    channels("email")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        notify([people.a])
    assert mail.outbox == []
    assert NotificationDelivery.objects.get().state == DeliveryState.PENDING
    assert len(callbacks) == 1
    callbacks[0]()
    assert len(mail.outbox) == 1
    assert NotificationDelivery.objects.get().state == DeliveryState.SENT


def test_notify_in_bulk_is_one_task_and_a_fixed_number_of_queries(
    people, channels, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    from gridgov.accounts.services import user_create

    channels("console", "email")
    users = [user_create(actor=None, username=f"user{i:02d}", password_hash="x") for i in range(40)]
    with django_capture_on_commit_callbacks() as callbacks, django_assert_max_num_queries(6):
        created = notify(users)
    assert len(created) == 40
    assert len(callbacks) == 1, "one task per call, not per user"
    assert NotificationDelivery.objects.count() == 80


@pytest.mark.parametrize("url", ["https://example.org/x", "//example.org/x", "javascript:alert(1)", "cases/1/"])
def test_notify_links_to_this_site_only(people, channels, url):
    channels()
    with pytest.raises(ApplicationError) as caught:
        notify([people.a], url=url)
    assert caught.value.code == "invalid_notification"
    assert "url" in caught.value.fields
    assert not Notification.objects.exists()


def test_notify_needs_a_kind_and_shortens_long_titles(people, channels):
    channels()
    with pytest.raises(ApplicationError) as caught:
        notify([people.a], kind="")
    assert "kind" in caught.value.fields
    (created,) = notify([people.a], title="长" * 300 + "\n")
    assert len(created.title) == 200, "cut to the column, with an ellipsis"
    assert created.title.startswith("长") and not created.title.endswith("长")


def test_an_unknown_channel_is_refused_with_a_clear_message(people, channels):
    channels("console", "sms")
    with pytest.raises(ImproperlyConfigured, match="'sms'.*known channels: inapp, console, email"):
        notify([people.a])
    assert not Notification.objects.exists()


def test_inapp_in_the_setting_changes_nothing(people, channels, django_capture_on_commit_callbacks):
    channels("inapp")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        notify([people.a])
    assert Notification.objects.count() == 1
    assert callbacks == []


# --- channels -----------------------------------------------------------------------------------


def test_console_delivery_is_logged_and_marked_sent(people, channels, django_capture_on_commit_callbacks, caplog):
    channels("console")
    caplog.set_level(logging.INFO, logger="gridgov.notifications")
    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a, people.b], body="联系人电话 13912345678")
    deliveries = NotificationDelivery.objects.all()
    assert [(d.channel, d.state, d.attempts) for d in deliveries] == [("console", DeliveryState.SENT, 1)] * 2
    assert all(d.sent_at for d in deliveries)
    lines = [r.getMessage() for r in caplog.records if r.name == "gridgov.notifications"]
    assert len(lines) == 2
    assert "user=alice" in lines[0]
    assert "案件 A-001 已派遣给你" in lines[0]
    assert "13912345678" not in caplog.text, "the body is never logged"


def test_email_goes_to_each_address(people, channels, django_capture_on_commit_callbacks, settings):
    channels("email")
    settings.GRIDGOV_SITE_URL = "https://grid.example.org"
    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a, people.b], body="请及时处理。", url="/cases/1/")
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@example.org", "bob@example.org"]
    message = mail.outbox[0]
    assert message.subject == "案件 A-001 已派遣给你"
    assert "请及时处理。" in message.body
    assert "https://grid.example.org/cases/1/" in message.body
    assert set(NotificationDelivery.objects.values_list("state", flat=True)) == {DeliveryState.SENT}


def test_email_to_a_user_without_an_address_is_skipped(people, channels, django_capture_on_commit_callbacks):
    channels("email")
    with django_capture_on_commit_callbacks(execute=True):
        notify([people.no_email, people.a])
    assert [m.to for m in mail.outbox] == [["alice@example.org"]]
    skipped = NotificationDelivery.objects.get(notification__user=people.no_email)
    assert skipped.state == DeliveryState.SKIPPED
    assert skipped.last_error == "no e-mail address"
    assert skipped.sent_at is None


def test_a_failing_channel_is_recorded_and_retried_up_to_three_attempts(
    people, channels, broken, django_capture_on_commit_callbacks
):
    channels("broken", "console")
    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a])
    failed = NotificationDelivery.objects.get(channel="broken")
    assert failed.state == DeliveryState.FAILED
    assert failed.attempts == 1
    assert failed.last_error == "RuntimeError: server down"
    assert NotificationDelivery.objects.get(channel="console").state == DeliveryState.SENT, "others still go out"

    ids = list(NotificationDelivery.objects.values_list("pk", flat=True))
    # The task asks Huey for a retry while attempts are left ...
    with pytest.raises(tasks.DeliveryIncomplete):
        tasks.notification_deliver_task.call_local(ids)
    failed.refresh_from_db()
    assert failed.attempts == 2
    # ... and stops asking after the third; the delivery stays failed with its error.
    tasks.notification_deliver_task.call_local(ids)
    failed.refresh_from_db()
    assert (failed.state, failed.attempts) == (DeliveryState.FAILED, 3)
    assert services.notification_deliver(delivery_ids=ids) == services.DeliveryOutcome()
    failed.refresh_from_db()
    assert failed.attempts == 3
    assert NotificationDelivery.objects.get(channel="console").attempts == 1, "sent deliveries are not resent"


def test_a_retry_sends_once_the_channel_recovers(
    people, channels, broken, monkeypatch, django_capture_on_commit_callbacks
):
    channels("broken")
    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a])
    delivery = NotificationDelivery.objects.get()
    assert delivery.state == DeliveryState.FAILED
    monkeypatch.setattr(Broken, "send", lambda self, notification: None)
    outcome = services.notification_deliver(delivery_ids=[delivery.pk])
    assert outcome == services.DeliveryOutcome(sent=1)
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 2, "")


def test_a_delivery_claimed_by_another_worker_is_not_sent_twice(people, channels, django_capture_on_commit_callbacks):
    channels("email")
    with django_capture_on_commit_callbacks(execute=False):
        notify([people.a])
    delivery = NotificationDelivery.objects.get()
    stale = NotificationDelivery.objects.get(pk=delivery.pk)
    NotificationDelivery.objects.filter(pk=delivery.pk).update(attempts=1)  # another worker took it
    assert services._claim(stale) is False
    assert mail.outbox == []


def test_lost_pending_deliveries_are_resumed(people, channels, django_capture_on_commit_callbacks):
    channels("email")
    with django_capture_on_commit_callbacks(execute=False):  # the queue was down: the task never ran
        notify([people.a])
    assert services.notification_deliveries_resume() == 0, "recent ones may still be in the queue"
    NotificationDelivery.objects.update(created_at=timezone.now() - timedelta(hours=1))
    assert services.notification_deliveries_resume() == 1
    assert NotificationDelivery.objects.get().state == DeliveryState.SENT
    assert len(mail.outbox) == 1


# --- marking read -------------------------------------------------------------------------------


def test_mark_read_is_idempotent(people, channels):
    channels()
    (notification,) = notify([people.a])
    services.notification_mark_read(actor=people.a, notification=notification)
    first = notification.read_at
    assert first is not None
    services.notification_mark_read(actor=people.a, notification=notification)
    notification.refresh_from_db()
    assert notification.read_at == first


def test_nobody_marks_anybody_elses_notification(people, channels):
    channels()
    (notification,) = notify([people.a])
    with pytest.raises(NotFound):
        services.notification_mark_read(actor=people.b, notification=notification)
    notification.refresh_from_db()
    assert notification.read_at is None


def test_mark_all_read_counts_the_actors_own_only(people, channels):
    channels()
    notify([people.a, people.b])
    notify([people.a])
    assert services.notification_mark_all_read(actor=people.a) == 2
    assert services.notification_mark_all_read(actor=people.a) == 0
    assert Notification.objects.filter(user=people.b, read_at__isnull=True).count() == 1
