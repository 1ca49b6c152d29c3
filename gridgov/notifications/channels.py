"""Delivery channels: where a notification goes besides the in-app centre.

A channel is a class with a `name` and a `send(notification)` that returns when the message is
handed over and raises when it could not be (`Skipped` when there is nothing to send to). The
setting GRIDGOV_NOTIFICATION_CHANNELS lists the channels that run; the in-app centre is always on.
Other apps (or tests) add channels with `@register`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail

if TYPE_CHECKING:
    from gridgov.notifications.models import Notification

logger = logging.getLogger("gridgov.notifications")

# The in-app centre: always on, so listing it in the setting is allowed and changes nothing.
INAPP = "inapp"


class Skipped(Exception):
    """The channel has nothing to send to for this user (no e-mail address): recorded, not retried."""


class Channel:
    """A way to tell a user. `send` raises on failure; the delivery records the error and is retried."""

    name: ClassVar[str]

    def send(self, notification: Notification) -> None:
        raise NotImplementedError


_channels: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make a channel available under its `name`."""
    _channels[cls.name] = cls
    return cls


def known() -> list[str]:
    return [INAPP, *sorted(_channels)]


def channel(name: str) -> Channel:
    """The channel called `name`; ImproperlyConfigured (naming the known ones) when there is none."""
    try:
        return _channels[name]()
    except KeyError:
        raise ImproperlyConfigured(
            f"Unknown notification channel {name!r} in GRIDGOV_NOTIFICATION_CHANNELS; "
            f"known channels: {', '.join(known())}."
        ) from None


def configured() -> list[str]:
    """The names of the channels that run besides the in-app centre, in the setting's order, checked."""
    names: list[str] = []
    for name in getattr(settings, "GRIDGOV_NOTIFICATION_CHANNELS", []):
        if name == INAPP or name in names:
            continue
        channel(name)  # refuses an unknown name
        names.append(name)
    return names


@register
class ConsoleChannel(Channel):
    """One log line per notification (development, and a trail in production logs).

    Logs the title and the username only: never the body, which may hold personal details.
    """

    name = "console"

    def send(self, notification: Notification) -> None:
        logger.info(
            "notification id=%s kind=%s user=%s title=%s",
            notification.pk,
            notification.kind,
            notification.user.get_username(),
            notification.title,
        )


@register
class EmailChannel(Channel):
    """An e-mail to the user's address through Django's mail backend (EMAIL_* settings)."""

    name = "email"

    def send(self, notification: Notification) -> None:
        user = notification.user
        if not user.email:
            raise Skipped("no e-mail address")
        # A header cannot hold a line break: the title becomes one line.
        subject = " ".join(notification.title.split())
        send_mail(subject, self.text(notification), None, [user.email], fail_silently=False)

    @staticmethod
    def text(notification: Notification) -> str:
        parts = [notification.title, notification.body]
        # Links in the centre are relative; an e-mail needs the site's address to give one.
        base = getattr(settings, "GRIDGOV_SITE_URL", "").rstrip("/")
        if base and notification.url:
            parts.append(base + notification.url)
        return "\n\n".join(part for part in parts if part) + "\n"
