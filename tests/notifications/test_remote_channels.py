"""The HTTP and WeCom robot channels against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import hmac
import socket
from datetime import datetime

import pytest

from gridgov.notifications import channels, services, tasks
from gridgov.notifications.choices import DeliveryState
from gridgov.notifications.models import Notification, NotificationDelivery
from tests.notifications.conftest import ROBOT_KEY

SECRET = "s3cret-签名"


def deliveries(channel: str) -> list[NotificationDelivery]:
    return list(NotificationDelivery.objects.filter(channel=channel).order_by("pk"))


@pytest.fixture
def http_user(people, receiver):
    services.channel_address_save(actor=people.a, http_url=f"{receiver.url}/hooks/gridgov", http_secret=SECRET)
    return people.a


@pytest.fixture
def robot_user(people, receiver):
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url())
    return people.a


def send(users, capture, **kwargs):
    kwargs.setdefault("kind", "case.dispatch")
    kwargs.setdefault("title", "事件 A-001 已派遣给您")
    with capture(execute=True):
        return services.notify(users=users, **kwargs)


# --- HTTP ---------------------------------------------------------------------------------------


def test_http_posts_the_notification_as_signed_json(
    http_user, people, receiver, channels, settings, django_capture_on_commit_callbacks
):
    channels("http")
    settings.GRIDGOV_SITE_URL = "https://grid.example.org/"
    notification, _for_bob = send(
        [http_user, people.b], django_capture_on_commit_callbacks, body="请及时处理。", url="/cases/7/"
    )

    (request,) = receiver.requests  # bob set no endpoint: no delivery, nothing sent for him
    assert request.path == "/hooks/gridgov"
    assert request.headers["Content-Type"] == "application/json; charset=utf-8"
    assert request.headers["X-Gridgov-Event"] == "case.dispatch"
    assert request.headers["X-Gridgov-Notification"] == str(notification.pk)
    expected = "sha256=" + hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Gridgov-Signature"] == expected
    payload = request.json()
    assert set(payload) == {"id", "kind", "title", "body", "url", "object_type", "object_id", "created_at"}
    assert payload["id"] == notification.pk
    assert payload["kind"] == "case.dispatch"
    assert (payload["title"], payload["body"]) == ("事件 A-001 已派遣给您", "请及时处理。")
    assert payload["url"] == "https://grid.example.org/cases/7/"
    created = datetime.fromisoformat(payload["created_at"])
    assert created.tzinfo is not None
    assert created == notification.created_at
    (delivery,) = deliveries("http")
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 1, "")
    assert delivery.notification.user == http_user


def test_http_without_a_secret_is_not_signed_and_links_stay_relative(
    people, receiver, channels, django_capture_on_commit_callbacks
):
    channels("http")
    services.channel_address_save(actor=people.a, http_url=f"{receiver.url}/in")
    send([people.a], django_capture_on_commit_callbacks, url="/cases/7/")
    (request,) = receiver.requests
    assert request.headers.get("X-Gridgov-Signature") is None
    assert request.json()["url"] == "/cases/7/"


def test_http_500_fails_is_retried_and_sent_once_the_receiver_recovers(
    http_user, receiver, channels, django_capture_on_commit_callbacks
):
    channels("http")
    receiver.answers = [(500, b"down"), (503, b"still down")]
    receiver.default = (204, b"")
    send([http_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("http")
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 1)
    assert delivery.last_error == "DeliveryFailed: HTTP 500"

    with pytest.raises(tasks.DeliveryIncomplete):  # the worker's retry: still failing
        tasks.notification_deliver_task.call_local([delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, 2)
    assert delivery.last_error == "DeliveryFailed: HTTP 503"

    tasks.notification_deliver_task.call_local([delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 3, "")
    assert len(receiver.requests) == 3
    assert len({r.body for r in receiver.requests}) == 1, "every attempt sends the same body (same id)"


def test_a_redirect_is_a_failure_not_a_second_post(http_user, receiver, channels, django_capture_on_commit_callbacks):
    channels("http")
    receiver.default = (302, b"")
    send([http_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("http")
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "DeliveryFailed: HTTP 302")
    assert [r.path for r in receiver.requests] == ["/hooks/gridgov"]


def test_a_receiver_that_never_answers_times_out(
    people, receiver, channels, settings, django_capture_on_commit_callbacks
):
    channels("http")
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts the connection, never reads or answers
    try:
        services.channel_address_save(actor=people.a, http_url=f"http://127.0.0.1:{silent.getsockname()[1]}/x")
        settings.GRIDGOV_NOTIFICATION_HTTP_TIMEOUT = 0.2
        send([people.a], django_capture_on_commit_callbacks)
    finally:
        silent.close()
    (delivery,) = deliveries("http")
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "DeliveryFailed: no answer: timed out")


def test_an_endpoint_on_this_server_is_skipped_unless_allowed(
    http_user, receiver, channels, settings, django_capture_on_commit_callbacks
):
    channels("http")
    settings.GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS = False  # the endpoint was saved while it was allowed
    send([http_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("http")
    assert delivery.state == DeliveryState.SKIPPED
    assert delivery.last_error == "the endpoint is this server or a link-local address"
    assert receiver.requests == []


# --- WeCom --------------------------------------------------------------------------------------


def test_wecom_posts_a_markdown_message_and_errcode_0_is_sent(
    robot_user, receiver, channels, settings, django_capture_on_commit_callbacks
):
    channels("wecom")
    settings.GRIDGOV_SITE_URL = "https://grid.example.org"
    send([robot_user], django_capture_on_commit_callbacks, body="东门路灯不亮\n\n请今日处置。", url="/cases/7/")
    (request,) = receiver.requests
    assert request.path == f"/cgi-bin/webhook/send?key={ROBOT_KEY}"
    message = request.json()
    assert set(message) == {"msgtype", "markdown"}
    assert message["msgtype"] == "markdown"
    content = message["markdown"]["content"]
    assert content.startswith("**事件 A-001 已派遣给您**\n> 东门路灯不亮\n> 请今日处置。\n")
    assert content.endswith("(https://grid.example.org/cases/7/)")
    (delivery,) = deliveries("wecom")
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 1)


def test_wecom_text_messages(people, receiver, channels, django_capture_on_commit_callbacks):
    channels("wecom")
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url(), wecom_msgtype="text")
    send([people.a], django_capture_on_commit_callbacks, body="正文")
    assert receiver.requests[0].json() == {"msgtype": "text", "text": {"content": "事件 A-001 已派遣给您\n正文"}}


def test_wecom_errcode_is_a_failure_with_its_errmsg_and_is_retried(
    robot_user, receiver, channels, django_capture_on_commit_callbacks
):
    channels("wecom")
    receiver.answers = [(200, b'{"errcode":45009,"errmsg":"api freq out of limit"}')]
    send([robot_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("wecom")
    assert delivery.state == DeliveryState.FAILED
    assert delivery.last_error == "DeliveryFailed: WeCom errcode 45009: api freq out of limit"
    assert ROBOT_KEY not in delivery.last_error

    tasks.notification_deliver_task.call_local([delivery.pk])  # the retry: WeCom says ok now
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.SENT, 2, "")
    assert len(receiver.requests) == 2


def test_wecom_keeps_failing_until_the_attempts_are_used(
    robot_user, receiver, channels, django_capture_on_commit_callbacks
):
    channels("wecom")
    receiver.default = (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    send([robot_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("wecom")
    with pytest.raises(tasks.DeliveryIncomplete):
        tasks.notification_deliver_task.call_local([delivery.pk])
    tasks.notification_deliver_task.call_local([delivery.pk])
    delivery.refresh_from_db()
    assert (delivery.state, delivery.attempts) == (DeliveryState.FAILED, services.MAX_ATTEMPTS)
    assert delivery.last_error == "DeliveryFailed: WeCom errcode 93000: invalid webhook url"
    assert len(receiver.requests) == services.MAX_ATTEMPTS


@pytest.mark.parametrize(
    ("status", "answer", "error"),
    [
        (200, b"<html>gateway</html>", "DeliveryFailed: WeCom answered something that is not its JSON"),
        (502, b"bad gateway", "DeliveryFailed: HTTP 502"),
    ],
)
def test_wecom_answers_that_are_not_its_json_fail(
    robot_user, receiver, channels, django_capture_on_commit_callbacks, status, answer, error
):
    channels("wecom")
    receiver.default = (status, answer)
    send([robot_user], django_capture_on_commit_callbacks)
    (delivery,) = deliveries("wecom")
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, error)


@pytest.mark.parametrize(("msgtype", "limit"), [("markdown", 4096), ("text", 2048)])
def test_long_wecom_messages_are_cut_within_the_limit_keeping_title_and_link(
    people, receiver, channels, settings, django_capture_on_commit_callbacks, msgtype, limit
):
    channels("wecom")
    settings.GRIDGOV_SITE_URL = "https://grid.example.org"
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url(), wecom_msgtype=msgtype)
    send([people.a], django_capture_on_commit_callbacks, body="井盖缺失" * 1000, url="/cases/7/")
    content = receiver.requests[0].json()[msgtype]["content"]
    assert len(content.encode()) <= limit
    assert len(content.encode()) > limit - 16, "the room is used"
    assert "事件 A-001 已派遣给您" in content
    assert "https://grid.example.org/cases/7/" in content
    assert "…" in content
    assert deliveries("wecom")[0].state == DeliveryState.SENT


def test_truncation_cuts_between_characters():
    assert channels.truncate_utf8("短", 10) == "短"
    for limit in range(3, 20):
        cut = channels.truncate_utf8("汉字" * 10, limit)
        assert len(cut.encode()) <= limit
        assert cut.endswith("…")
        assert cut.rstrip("…") == ("汉字" * 10)[: len(cut) - 1], "no half character"
    assert channels.truncate_utf8("abc😀def", 8) == "abc…", "a 4-byte character is dropped whole"


def test_markdown_from_others_cannot_become_a_link(people, receiver, channels, django_capture_on_commit_callbacks):
    channels("wecom")
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url())
    title = "[点此领奖](https://evil.example)"
    send([people.a], django_capture_on_commit_callbacks, title=title, body="<font>x</font>")
    content = receiver.requests[0].json()["markdown"]["content"]
    assert "](" not in content
    assert "<font>" not in content
    assert "［点此领奖］" in content


def test_a_user_without_addresses_gets_no_delivery_rows(people, receiver, channels, django_capture_on_commit_callbacks):
    channels("console", "http", "wecom")
    send([people.b], django_capture_on_commit_callbacks)
    assert list(NotificationDelivery.objects.values_list("channel", flat=True)) == ["console"]
    assert Notification.objects.get().user == people.b
    assert receiver.requests == []


def test_an_address_removed_before_sending_is_skipped(
    robot_user, receiver, channels, django_capture_on_commit_callbacks
):
    channels("wecom")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        services.notify(users=[robot_user], kind="case.dispatch", title="x")
    services.channel_address_save(actor=robot_user, http_url="", wecom_url="")
    callbacks[0]()
    (delivery,) = deliveries("wecom")
    assert (delivery.state, delivery.last_error) == (DeliveryState.SKIPPED, "no WeCom robot")
    assert receiver.requests == []
