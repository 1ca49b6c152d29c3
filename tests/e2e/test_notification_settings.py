"""通知设置 as it is used: a grid worker sets where notifications reach them and which kinds go where.

A bad robot URL is refused in Chinese and nothing is kept; a local HTTP endpoint (with a secret) and a
robot are saved; one kind is turned off for the HTTP channel; after a reload the page shows all of
it, the robot's key masked; "send a test" reaches the endpoint signed. Then the service proves the
choice holds: that kind goes to the robot only, another kind to both.
"""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from gridgov.notifications import channels, services
from gridgov.notifications.choices import TEST_KIND
from gridgov.notifications.models import ChannelAddress, NotificationDelivery, NotificationPreference
from tests.notifications.conftest import ROBOT_KEY, Receiver

pytestmark = pytest.mark.e2e

SECRET = "e2e-signing-secret"
OFF = ("case.dispatch", "http")  # the cell the worker turns off
ON = ("case.urge", "http")  # a cell left as it was
URL = "/notifications/settings/"


@pytest.fixture
def receiver(settings):
    """A local HTTP receiver; the site runs the HTTP and WeCom channels, the robot prefix points at it."""
    server = Receiver()
    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["console", "http", "wecom"]
    settings.GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS = True  # the receiver is on 127.0.0.1
    settings.GRIDGOV_NOTIFICATION_WECOM_URL = server.robot_prefix
    settings.GRIDGOV_NOTIFICATION_HTTP_TIMEOUT = 5
    yield server
    server.close()


def page_errors(journey) -> list[str]:
    """Console errors, but a favicon probe and Chromium's note on the refused form (the 400 is the page's answer)."""
    refused = "Failed to load resource: the server responded with a status of 400 (Bad Request) @ "
    refused += repr({"url": journey.url(URL)})[:-1]
    return [e for e in journey.console_errors if "/favicon.ico" not in e and not e.startswith(refused)]


def test_worker_sets_channels_and_the_choice_holds(journey, org, receiver):
    worker = org.users.grid_worker
    endpoint = f"{receiver.url}/hook"
    journey.login("wg01")
    page = journey.page

    # From the notification centre to its settings.
    page.get_by_test_id("notification-bell").click()
    expect(page).to_have_url(journey.url("/notifications/"))
    page.get_by_test_id("settings-link").click()
    expect(page).to_have_url(journey.url(URL))
    expect(page.locator("h1")).to_have_text("通知设置")
    expect(page.get_by_test_id("address-missing")).to_have_count(2)  # no endpoint, no robot yet
    expect(page.get_by_test_id("test-http")).to_be_disabled()

    # A robot URL that is not WeCom's: refused in Chinese, and the endpoint typed beside it is not kept either.
    form = page.get_by_test_id("address-form")
    form.locator("input[name=http_url]").fill(endpoint)
    form.locator("input[name=http_secret]").fill(SECRET)
    form.locator("input[name=wecom_url]").fill("https://example.org/robot?key=abc")
    page.get_by_test_id("address-submit").click()
    refusal = f"请粘贴企业微信显示的机器人 Webhook 地址：{receiver.robot_prefix}?key=…"
    expect(page.get_by_test_id("form-errors")).to_contain_text(refusal)
    expect(page.get_by_test_id("error-wecom_url")).to_have_text(refusal)
    expect(page.get_by_test_id("error-http_url")).to_have_count(0)
    assert not ChannelAddress.objects.filter(user=worker).exists()
    journey.shot("notification-settings-refused")

    # The robot's URL as WeCom shows it, the endpoint again (its input kept it), the secret again (it never is).
    expect(form.locator("input[name=http_url]")).to_have_value(endpoint)
    form.locator("input[name=http_secret]").fill(SECRET)
    form.locator("input[name=wecom_url]").fill(receiver.robot_url())
    page.get_by_test_id("address-submit").click()
    expect(page.get_by_role("alert").filter(has_text="通知地址已保存。")).to_be_visible()
    address = ChannelAddress.objects.get(user=worker)
    assert (address.http_url, address.http_secret, address.wecom_url) == (
        endpoint,
        SECRET,
        receiver.robot_url(),
    )

    # One kind off for one channel.
    cell = page.get_by_test_id(f"cell-{OFF[0]}-{OFF[1]}")
    expect(cell).to_be_checked()
    cell.uncheck()
    page.get_by_test_id("preference-submit").click()
    expect(page.get_by_role("alert").filter(has_text="通知偏好已保存。")).to_be_visible()
    assert list(NotificationPreference.objects.filter(user=worker).values_list("kind", "channel", "enabled")) == [
        (*OFF, False)
    ]

    # After a reload the page shows what is stored: the endpoint in full, the robot masked, the secret only as set.
    page.reload()
    expect(page.locator("input[name=http_url]")).to_have_value(endpoint)
    expect(page.locator("input[name=http_secret]")).to_have_value("")
    expect(page.get_by_test_id("secret-set")).to_be_visible()
    expect(page.get_by_test_id("wecom-masked")).to_have_text(f"{receiver.robot_prefix}?key=693a****5aaa")
    expect(page.locator("input[name=wecom_url]")).to_have_value("")
    assert ROBOT_KEY not in page.content(), "the robot's key is never shown again"
    assert SECRET not in page.content()
    expect(page.get_by_test_id("address-set")).to_have_count(2)
    expect(page.get_by_test_id("address-missing")).to_have_count(0)
    expect(page.get_by_test_id(f"cell-{OFF[0]}-{OFF[1]}")).not_to_be_checked()
    expect(page.get_by_test_id(f"cell-{OFF[0]}-wecom")).to_be_checked()
    expect(page.get_by_test_id(f"cell-{ON[0]}-{ON[1]}")).to_be_checked()
    journey.shot("notification-settings-saved")

    # "Send a test" through HTTP: the receiver gets a JSON body signed with the secret, the page says so.
    page.get_by_test_id("test-http").click()
    expect(page.get_by_role("alert").filter(has_text="测试通知已通过HTTP 推送地址发送。")).to_be_visible()
    [test] = receiver.requests
    assert test.path == "/hook"
    assert test.headers.get("Content-Type") == "application/json; charset=utf-8"
    assert test.headers.get("X-Gridgov-Signature") == channels.sign(SECRET, test.body)
    assert test.headers.get("X-Gridgov-Event") == TEST_KIND
    payload = json.loads(test.body)
    assert payload["kind"] == TEST_KIND
    assert payload["title"] == "测试通知"
    assert payload["url"] == URL
    journey.shot("notification-settings-tested")
    journey.assert_only_local_requests()
    assert not page_errors(journey), page_errors(journey)

    # Through the service: the kind turned off reaches only the robot; another kind reaches both.
    receiver.requests.clear()
    [dispatched] = services.notify(users=[worker], kind=OFF[0], title="事件已派遣给您", url="/cases/")
    assert {d.channel: d.state for d in NotificationDelivery.objects.filter(notification=dispatched)} == {
        "console": "sent",
        "wecom": "sent",
    }
    assert [r.path for r in receiver.requests] == [f"/cgi-bin/webhook/send?key={ROBOT_KEY}"]

    receiver.requests.clear()
    [urged] = services.notify(users=[worker], kind=ON[0], title="事件被催办", url="/cases/")
    assert {d.channel: d.state for d in NotificationDelivery.objects.filter(notification=urged)} == {
        "console": "sent",
        "http": "sent",
        "wecom": "sent",
    }
    hook = [r for r in receiver.requests if r.path == "/hook"]
    assert len(receiver.requests) == 2 and len(hook) == 1
    assert hook[0].json()["kind"] == ON[0]
    assert hook[0].headers.get("X-Gridgov-Signature") == channels.sign(SECRET, hook[0].body)
