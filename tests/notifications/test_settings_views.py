"""The 通知设置 page: addresses, the kind × channel matrix, test sends."""

from __future__ import annotations

import pytest

from gridgov.core.models import AuditEvent
from gridgov.notifications import services
from gridgov.notifications.choices import KINDS
from gridgov.notifications.models import ChannelAddress, Notification, NotificationPreference
from tests.notifications.conftest import ROBOT_KEY

URL = "/notifications/settings/"
OFFICIAL = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"


def html(response) -> str:
    return response.content.decode()


def address_form(**values) -> dict:
    data = {"form": "addresses", "http_url": "", "http_secret": "", "wecom_url": "", "wecom_msgtype": "markdown"}
    data.update(values)
    return data


@pytest.fixture
def signed_in(people, channels, client):
    channels("console", "email", "http", "wecom")
    client.force_login(people.a)
    return client


def test_the_page_shows_the_matrix_in_chinese(signed_in):
    response = signed_in.get(URL)
    assert response.status_code == 200
    text = html(response)
    assert '<html lang="zh-hans">' in text
    assert "<h1" in text and "通知设置" in text
    assert "企业微信群机器人" in text
    assert "事件派遣给我" in text
    assert text.count('name="on"') == len(KINDS) * 3, "e-mail, HTTP, WeCom: the server log is not the user's"
    assert "服务器日志" not in text
    assert 'value="case.dispatch:wecom" checked' in text, "on by default"
    assert text.count('data-testid="address-missing"') == 2, "no endpoint, no robot yet"


def test_the_centre_links_to_the_settings(signed_in):
    text = html(signed_in.get("/notifications/"))
    assert f'href="{URL}"' in text
    assert "通知设置" in text


def test_saving_addresses(signed_in, people):
    response = signed_in.post(
        URL, address_form(http_url="https://hooks.example.org/in", http_secret="abc", wecom_url=OFFICIAL)
    )
    assert response.status_code == 302
    assert response["Location"] == URL
    address = ChannelAddress.objects.get(user=people.a)
    assert (address.http_url, address.http_secret, address.wecom_url) == (
        "https://hooks.example.org/in",
        "abc",
        OFFICIAL,
    )
    text = html(signed_in.get(URL))
    assert "通知地址已保存。" in text
    assert "693a****5aaa" in text
    assert ROBOT_KEY not in text, "the robot's key is never shown again"
    assert 'value="abc"' not in text, "nor the secret"
    assert 'value="https://hooks.example.org/in"' in text
    assert 'data-testid="secret-set"' in text

    # Blank secret and robot keep them; the removal boxes remove them.
    signed_in.post(URL, address_form(http_url="https://hooks.example.org/in"))
    address.refresh_from_db()
    assert (address.http_secret, address.wecom_url) == ("abc", OFFICIAL)
    signed_in.post(
        URL, address_form(http_url="https://hooks.example.org/in", clear_http_secret="on", remove_wecom="on")
    )
    address.refresh_from_db()
    assert (address.http_secret, address.wecom_url) == ("", "")


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"http_url": "ftp://hooks.example.org/in"}, "http_url", "请输入以 http:// 或 https:// 开头的完整地址。"),
        ({"http_url": "http://127.0.0.1:8000/"}, "http_url", "该地址指向本服务器或链路本地地址"),
        ({"wecom_url": "https://example.org/robot?key=abc"}, "wecom_url", "请粘贴企业微信显示的机器人 Webhook 地址"),
    ],
)
def test_bad_urls_are_refused_in_chinese_and_nothing_is_saved(signed_in, values, field, message):
    response = signed_in.post(URL, address_form(**values, http_secret="abc" if field != "http_url" else ""))
    assert response.status_code == 400
    text = html(response)
    assert message in text
    assert f'data-testid="error-{field}"' in text
    assert not ChannelAddress.objects.exists()
    assert not AuditEvent.objects.filter(event_type="notification.address.save").exists()


def test_a_bad_url_keeps_the_stored_addresses(signed_in, people):
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/in", wecom_url=OFFICIAL)
    response = signed_in.post(URL, address_form(http_url="https://hooks.example.org/v2", wecom_url="not a url"))
    assert response.status_code == 400
    address = ChannelAddress.objects.get()
    assert (address.http_url, address.wecom_url) == ("https://hooks.example.org/in", OFFICIAL)


def test_saving_the_matrix(signed_in, people):
    every = [f"{kind}:{name}" for kind in KINDS for name in ("email", "http", "wecom")]
    response = signed_in.post(URL, {"form": "preferences", "on": [v for v in every if v != "case.dispatch:wecom"]})
    assert response.status_code == 302
    assert response["Location"] == URL
    row = NotificationPreference.objects.get(user=people.a)
    assert (row.kind, row.channel, row.enabled) == ("case.dispatch", "wecom", False)
    text = html(signed_in.get(URL))
    assert "通知偏好已保存。" in text
    assert 'value="case.dispatch:wecom" checked' not in text
    assert 'value="case.urge:wecom" checked' in text


def test_a_forged_matrix_cell_is_refused(signed_in):
    response = signed_in.post(URL, {"form": "preferences", "on": ["case.dispatch:pager"]})
    assert response.status_code == 400
    assert "未知的通知类型或渠道" in html(response)
    assert not NotificationPreference.objects.exists()


def test_send_test_shows_the_outcome(signed_in, people, receiver):
    services.channel_address_save(actor=people.a, http_url="", wecom_url=receiver.robot_url())
    response = signed_in.post(f"{URL}test/wecom/", follow=True)
    assert response.redirect_chain[-1][0] == URL
    assert "测试通知已通过企业微信群机器人发送。" in html(response)
    assert Notification.objects.filter(user=people.a, kind="notification.test").count() == 1
    assert len(receiver.requests) == 1

    receiver.default = (200, b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    text = html(signed_in.post(f"{URL}test/wecom/", follow=True))
    assert "通过企业微信群机器人发送失败：WeCom errcode 93000: invalid webhook url。" in text

    text = html(signed_in.post(f"{URL}test/http/", follow=True))
    assert "未通过HTTP 推送地址发送：您还没有设置 HTTP 推送地址。" in text


def test_send_test_needs_a_post_and_a_running_channel(signed_in, settings):
    assert signed_in.get(f"{URL}test/console/").status_code == 405
    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["console"]
    text = html(signed_in.post(f"{URL}test/wecom/", follow=True))
    assert "本站未启用该渠道。" in text
    assert not Notification.objects.exists()


@pytest.mark.parametrize("names", [(), ("console",)])
def test_only_the_site_channels_are_offered(people, channels, client, names):
    channels(*names)
    client.force_login(people.a)
    text = html(client.get(URL))
    assert 'data-testid="no-channels"' in text
    assert 'data-testid="address-form"' not in text
    response = client.post(URL, address_form(http_url="https://hooks.example.org/in"))
    assert response.status_code == 302
    assert not ChannelAddress.objects.exists(), "nothing to set"


def test_anonymous_users_are_sent_to_the_login(client, db):
    for response in (client.get(URL), client.post(f"{URL}test/console/")):
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_a_channel_the_site_does_not_run_keeps_its_address(people, channels, client):
    services.channel_address_save(actor=people.a, http_url="https://hooks.example.org/in", wecom_url=OFFICIAL)
    channels("console", "http")
    client.force_login(people.a)
    text = html(client.get(URL))
    assert 'name="http_url"' in text
    assert 'name="wecom_url"' not in text
    response = client.post(URL, {"form": "addresses", "http_url": "https://hooks.example.org/v2"})
    assert response.status_code == 302
    address = ChannelAddress.objects.get()
    assert (address.http_url, address.wecom_url) == ("https://hooks.example.org/v2", OFFICIAL)
