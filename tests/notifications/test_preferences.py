"""Per-user channel addresses and per-kind choices: what `notify` sends to whom, and how they are saved."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gridgov.core import crypto
from gridgov.core.errors import ApplicationError
from gridgov.core.models import AuditEvent
from gridgov.notifications import selectors, services
from gridgov.notifications.choices import KINDS, TEST_KIND, DeliveryState
from gridgov.notifications.models import ChannelAddress, Notification, NotificationDelivery, NotificationPreference
from tests.notifications.conftest import ROBOT_KEY

OFFICIAL = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"


def channels_of(user) -> list[str]:
    return sorted(NotificationDelivery.objects.filter(notification__user=user).values_list("channel", flat=True))


def notify(users, kind="case.dispatch"):
    return services.notify(users=users, kind=kind, title="事件 A-001 已派遣给您")


# --- who gets what ------------------------------------------------------------------------------


def test_without_choices_the_site_channels_run_and_address_channels_wait_for_an_address(people, channels):
    channels("console", "email", "http", "wecom")
    notify([people.a])
    assert channels_of(people.a) == ["console", "email"], "as before: no address, no HTTP or WeCom delivery"

    services.channel_address_save(actor=people.b, http_url="https://hooks.example.org/in", wecom_url=OFFICIAL)
    notify([people.b])
    assert channels_of(people.b) == ["console", "email", "http", "wecom"], "on for every kind once set"


def test_the_setting_still_decides_which_channels_run(people, channels):
    channels("console")
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/in", wecom_url=OFFICIAL)
    notify([people.a])
    assert channels_of(people.a) == ["console"]


def test_wecom_turned_off_for_dispatch_only(people, channels, receiver, django_capture_on_commit_callbacks):
    channels("wecom")
    for user in (people.a, people.b):
        services.channel_address_save(actor=user, http_url="", wecom_url=receiver.robot_url())
    cells = {(kind, "wecom") for kind in KINDS} - {("case.dispatch", "wecom")}
    services.notification_preferences_save(actor=people.a, enabled=cells)

    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a, people.b], kind="case.dispatch")
    assert channels_of(people.a) == []
    assert channels_of(people.b) == ["wecom"]
    assert len(receiver.requests) == 1, "bob's only"
    assert Notification.objects.filter(user=people.a, kind="case.dispatch").exists(), "in-app is always on"

    with django_capture_on_commit_callbacks(execute=True):
        notify([people.a], kind="case.overdue")
    assert channels_of(people.a) == ["wecom"]
    assert len(receiver.requests) == 2
    assert NotificationDelivery.objects.get(notification__user=people.a).state == DeliveryState.SENT


def test_a_kind_nobody_registered_goes_through_every_channel(people, channels):
    channels("console", "email")
    services.notification_preferences_save(actor=people.a, enabled=[])  # everything off for the known kinds
    notify([people.a], kind="case.dispatch")
    assert channels_of(people.a) == ["console"], "the server log is not the user's to turn off"
    notify([people.a], kind="someapp.new_thing")
    assert channels_of(people.a) == ["console", "console", "email"]


def test_notify_reads_choices_and_addresses_once_for_50_recipients(people, channels):
    from gridgov.accounts.services import user_create

    channels("console", "http", "wecom")
    users = [user_create(actor=None, username=f"user{i:02d}", password_hash="x") for i in range(50)]
    for user in users[:20]:
        services.channel_address_save(actor=user, http_url="", wecom_url=OFFICIAL)
    for user in users[15:25]:
        services.channel_address_save(actor=user, http_url="https://hooks.example.org/in")
    for user in users[:5]:
        services.notification_preferences_save(
            actor=user, enabled=[(k, c) for k in KINDS for c in ("http", "wecom") if k != "case.dispatch"]
        )

    with CaptureQueriesContext(connection) as queries:
        created = notify(users)
    assert len(created) == 50
    sql = [q["sql"] for q in queries.captured_queries]
    assert sum("notificationpreference" in q for q in sql) == 1
    assert sum("notifications_channeladdress" in q for q in sql) == 1
    assert len(sql) <= 9, sql
    counts = {name: NotificationDelivery.objects.filter(channel=name).count() for name in ("console", "http", "wecom")}
    # users 0-4 turned all off for this kind (the log runs anyway); 5-19 have a robot (15-19 an endpoint
    # too); 20-24 an endpoint.
    assert counts == {"console": 50, "wecom": 15, "http": 10}


def test_recipient_channels_in_chunks(people, channels, monkeypatch):
    monkeypatch.setattr(selectors, "CHUNK", 2)
    services.channel_address_save(actor=people.c, http_url="", wecom_url=OFFICIAL)
    chosen = selectors.recipient_channels(
        user_ids=[people.a.pk, people.b.pk, people.c.pk], kind="case.dispatch", names=["console", "wecom"]
    )
    assert chosen == {people.a.pk: ["console"], people.b.pk: ["console"], people.c.pk: ["console", "wecom"]}


# --- saving choices -----------------------------------------------------------------------------


def test_saving_choices_writes_only_the_changes_and_is_audited(people, channels):
    channels("console", "email", "http")
    every = {(k, c) for k in KINDS for c in ("email", "http")}
    assert services.notification_preferences_save(actor=people.a, enabled=every) == 0
    assert not NotificationPreference.objects.exists(), "all on is the default: nothing to write"
    assert not AuditEvent.objects.filter(event_type="notification.preferences.save").exists()

    assert services.notification_preferences_save(actor=people.a, enabled=every - {("case.urge", "email")}) == 1
    row = NotificationPreference.objects.get()
    assert (row.user, row.kind, row.channel, row.enabled) == (people.a, "case.urge", "email", False)
    event = AuditEvent.objects.get(event_type="notification.preferences.save")
    assert event.actor == people.a
    assert event.data == {"on": [], "off": ["case.urge/email"]}

    assert services.notification_preferences_save(actor=people.a, enabled=every) == 1
    row.refresh_from_db()
    assert row.enabled is True
    matrix = selectors.preference_matrix(user=people.a, names=["email", "http"])
    assert all(cell.enabled for kind_row in matrix for cell in kind_row.cells)
    assert [r.kind for r in matrix] == list(KINDS)


@pytest.mark.parametrize(
    "cell",
    [
        ("case.nope", "email"),
        ("case.dispatch", "pager"),
        ("case.dispatch", "wecom"),
        ("case.dispatch", "inapp"),
        ("case.dispatch", "console"),
    ],
)
def test_saving_refuses_unknown_cells_and_writes_nothing(people, channels, cell):
    channels("console", "email")  # wecom does not run on this site
    with pytest.raises(ApplicationError) as caught:
        services.notification_preferences_save(actor=people.a, enabled=[("case.urge", "email"), cell])
    assert caught.value.code == "invalid_preference"
    assert "preferences" in caught.value.fields
    assert not NotificationPreference.objects.exists()
    assert not AuditEvent.objects.filter(event_type="notification.preferences.save").exists()


# --- addresses ----------------------------------------------------------------------------------


def test_addresses_are_encrypted_at_rest_and_never_audited(people):
    secret = "very-secret-签名-123"
    services.channel_address_save(
        actor=people.a, http_url="https://hooks.example.org/in?token=abc", http_secret=secret, wecom_url=OFFICIAL
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT http_url, http_secret, wecom_url FROM notifications_channeladdress")
        (row,) = cursor.fetchall()
    stored = " ".join(row)
    for plain in ("hooks.example.org", "token=abc", secret, ROBOT_KEY, "qyapi.weixin.qq.com"):
        assert plain not in stored
    assert all(value.startswith("g1$") for value in row)
    # Each value is bound to its column: a robot URL copied into the endpoint column does not open.
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(row[2], context="notifications_channeladdress.http_url")

    address = ChannelAddress.objects.get(user=people.a)
    assert address.http_url == "https://hooks.example.org/in?token=abc"
    assert address.http_secret == secret
    assert address.wecom_url == OFFICIAL
    event = AuditEvent.objects.get(event_type="notification.address.save")
    assert event.actor == people.a
    assert set(event.data["changed"]) == {"http_url", "http_secret", "wecom_url"}
    dumped = str(event.data) + event.object_repr
    for plain in ("hooks.example.org", secret, ROBOT_KEY):
        assert plain not in dumped


def test_the_settings_view_masks_the_robot(people):
    services.channel_address_save(actor=people.a, http_url="", wecom_url=OFFICIAL)
    view = selectors.address_view(user=people.a)
    assert view.wecom_masked == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a****5aaa"
    assert ROBOT_KEY not in view.wecom_masked
    assert (view.has_wecom, view.has_http, view.has_secret) == (True, False, False)


def test_blank_keeps_empty_removes(people):
    services.channel_address_save(
        actor=people.a, http_url="https://hooks.example.org/in", http_secret="abc", wecom_url=OFFICIAL
    )
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/v2", http_secret=None)
    address = ChannelAddress.objects.get()
    assert (address.http_url, address.http_secret, address.wecom_url) == (
        "https://hooks.example.org/v2",
        "abc",
        OFFICIAL,
    )
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/v2", wecom_url="")
    address.refresh_from_db()
    assert (address.wecom_url, address.http_secret) == ("", "abc")
    services.channel_address_save(actor=people.a, http_url="")
    address.refresh_from_db()
    assert (address.http_url, address.http_secret) == ("", ""), "no endpoint, no secret"
    assert AuditEvent.objects.filter(event_type="notification.address.save").order_by("pk").last().data["removed"] == [
        "http_secret",
        "http_url",
    ]


def test_a_pasted_robot_url_is_stored_in_its_plain_form(people):
    services.channel_address_save(actor=people.a, http_url="", wecom_url=f"  {OFFICIAL}&debug=1  ")
    assert ChannelAddress.objects.get().wecom_url == OFFICIAL


@pytest.mark.parametrize(
    ("arguments", "field"),
    [
        ({"http_url": "ftp://hooks.example.org/in"}, "http_url"),
        ({"http_url": "hooks.example.org/in"}, "http_url"),
        ({"http_url": "https://"}, "http_url"),
        ({"http_url": "https://hooks.example.org:99999/in"}, "http_url"),
        ({"http_url": "https://user:pw@hooks.example.org/in"}, "http_url"),
        ({"http_url": "https://hooks.example.org/" + "x" * 500}, "http_url"),
        ({"http_url": "http://localhost:8000/admin/"}, "http_url"),
        ({"http_url": "http://127.0.0.1/"}, "http_url"),
        ({"http_url": "http://[::1]/"}, "http_url"),
        ({"http_url": "http://169.254.169.254/latest/meta-data/"}, "http_url"),
        ({"http_url": "", "http_secret": "abc"}, "http_secret"),
        ({"http_url": "https://hooks.example.org/in", "http_secret": "x" * 201}, "http_secret"),
        ({"http_url": "", "wecom_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send"}, "wecom_url"),
        ({"http_url": "", "wecom_url": "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=短"}, "wecom_url"),
        ({"http_url": "", "wecom_url": f"https://evil.example/cgi-bin/webhook/send?key={ROBOT_KEY}"}, "wecom_url"),
        (
            {"http_url": "", "wecom_url": f"http://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"},
            "wecom_url",
        ),
        ({"http_url": "", "wecom_url": f"{OFFICIAL}&key=another-key-123"}, "wecom_url"),
        ({"http_url": "", "wecom_msgtype": "news"}, "wecom_msgtype"),
    ],
)
def test_bad_addresses_are_refused_and_nothing_is_saved(people, arguments, field):
    with pytest.raises(ApplicationError) as caught:
        services.channel_address_save(actor=people.a, **arguments)
    assert caught.value.code == "invalid_address"
    assert caught.value.status == 400
    assert field in caught.value.fields
    assert not ChannelAddress.objects.exists()
    assert not AuditEvent.objects.filter(event_type="notification.address.save").exists()


def test_private_network_receivers_are_allowed(people):
    """On a government intranet the receiver lives on a private network."""
    services.channel_address_save(actor=people.a, http_url="http://10.20.30.40:8080/gridgov")
    assert ChannelAddress.objects.get().http_url == "http://10.20.30.40:8080/gridgov"


# --- test sends ---------------------------------------------------------------------------------


def test_a_test_send_goes_out_now_and_lands_in_the_centre(people, channels, receiver):
    channels("console", "wecom")
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url())
    delivery = services.notification_test_send(actor=people.a, channel="wecom")
    assert (delivery.channel, delivery.state, delivery.attempts) == ("wecom", DeliveryState.SENT, 1)
    notification = Notification.objects.get(user=people.a)
    assert notification.kind == TEST_KIND
    assert notification.url == "/notifications/settings/"
    (request,) = receiver.requests
    assert f"**{notification.title}**" in request.json()["markdown"]["content"]
    event = AuditEvent.objects.get(event_type="notification.test")
    assert (event.actor, event.data) == (people.a, {"channel": "wecom"})


def test_a_failed_test_send_says_why_and_is_not_retried(people, channels, receiver):
    channels("wecom")
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url())
    receiver.default = (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    delivery = services.notification_test_send(actor=people.a, channel="wecom")
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error == "DeliveryFailed: WeCom errcode 93000: invalid webhook url"
    assert services.notification_deliveries_resume(older_than_minutes=0) == 0, "a failed test is not resumed"


def test_a_test_send_without_an_address_is_skipped(people, channels):
    channels("http")
    delivery = services.notification_test_send(actor=people.a, channel="http")
    assert (delivery.state, delivery.last_error) == (DeliveryState.SKIPPED, "no HTTP endpoint")


def test_test_sends_only_through_running_channels_and_a_few_a_minute(people, channels):
    channels("console", "email")
    for name in ("wecom", "console"):
        with pytest.raises(ApplicationError) as caught:
            services.notification_test_send(actor=people.a, channel=name)
        assert caught.value.code == "unknown_channel"
    assert not Notification.objects.exists()
    for _ in range(services.TEST_LIMIT):
        assert services.notification_test_send(actor=people.a, channel="email").state == DeliveryState.SENT
    assert len(mail.outbox) == services.TEST_LIMIT
    with pytest.raises(ApplicationError) as caught:
        services.notification_test_send(actor=people.a, channel="email")
    assert (caught.value.code, caught.value.status) == ("too_many_tests", 429)
    assert Notification.objects.count() == services.TEST_LIMIT


def test_a_secret_needs_a_stored_or_given_endpoint(people):
    with pytest.raises(ApplicationError) as caught:
        services.channel_address_save(actor=people.a, http_secret="abc")
    assert (caught.value.code, list(caught.value.fields)) == ("invalid_address", ["http_secret"])
    assert not ChannelAddress.objects.exists(), "the row made for it is rolled back"
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/in")
    services.channel_address_save(actor=people.a, http_secret="abc")  # the stored endpoint counts
    assert ChannelAddress.objects.get().http_secret == "abc"
