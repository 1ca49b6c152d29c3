"""The channel registry and the settings that choose the channels."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from gridgov.notifications import channels
from gridgov.notifications.apps import check_channels


def test_known_channels():
    assert isinstance(channels.channel("console"), channels.ConsoleChannel)
    assert isinstance(channels.channel("email"), channels.EmailChannel)
    assert channels.known()[:1] == ["inapp"]


def test_unknown_channel_names_the_setting_and_the_known_ones():
    with pytest.raises(ImproperlyConfigured) as caught:
        channels.channel("pager")
    assert "'pager'" in str(caught.value)
    assert "GRIDGOV_NOTIFICATION_CHANNELS" in str(caught.value)
    assert "console, email" in str(caught.value)


def test_configured_keeps_the_order_and_drops_inapp_and_repeats(settings):
    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["inapp", "email", "console", "email"]
    assert channels.configured() == ["email", "console"]


def test_system_check_reports_an_unknown_channel(settings):
    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["console"]
    assert check_channels() == []
    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["console", "pager"]
    (error,) = check_channels()
    assert error.id == "notifications.E001"
    assert "'pager'" in error.msg


def test_email_subject_is_one_line(db):
    from gridgov.notifications.models import Notification

    notification = Notification(title="第一行\n第二行", body="正文", url="/cases/1/")
    assert channels.EmailChannel.text(notification) == "第一行\n第二行\n\n正文\n"
