"""Delivery channels: where a notification goes besides the in-app centre.

A channel is a class with a `name` and a `send(notification)` that returns when the message is
handed over and raises when it could not be (`Skipped` when there is nothing to send to). The
setting GRIDGOV_NOTIFICATION_CHANNELS lists the channels that run; the in-app centre is always on.
Other apps (or tests) add channels with `@register`.

The HTTP and WeCom channels send to an address each user sets for themselves (`ChannelAddress`):
a channel with an `address_field` is used for a user only once that column is set. Both POST with
`urllib.request` under GRIDGOV_NOTIFICATION_HTTP_TIMEOUT; any answer but a 2xx (and, for WeCom, an
`errcode` other than 0) raises `DeliveryFailed`, which the delivery records and retries. Error
texts never hold the URL: a robot URL carries the robot's key.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import re
import socket
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import send_mail
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gridgov.core.signing import SIGNATURE_HEADER, sign

if TYPE_CHECKING:
    from gridgov.notifications.models import ChannelAddress, Notification

logger = logging.getLogger("gridgov.notifications")

# The in-app centre: always on, so listing it in the setting is allowed and changes nothing.
INAPP = "inapp"


class Skipped(Exception):
    """The channel has nothing to send to for this user (no e-mail address): recorded, not retried."""


class DeliveryFailed(Exception):
    """The receiver refused the message or did not answer: recorded and retried. Never names the URL."""


class Channel:
    """A way to tell a user. `send` raises on failure; the delivery records the error and is retried."""

    name: ClassVar[str]
    label: ClassVar[Any] = ""
    # The `ChannelAddress` column this channel sends to; empty when it needs no address of the user's own.
    address_field: ClassVar[str] = ""
    # Whether users turn it on and off per kind; a channel that is not theirs (a log) always runs.
    chosen_by_user: ClassVar[bool] = True

    def send(self, notification: Notification) -> None:
        raise NotImplementedError


_channels: dict[str, type[Channel]] = {}


def register(cls: type[Channel]) -> type[Channel]:
    """Class decorator: make a channel available under its `name`."""
    _channels[cls.name] = cls
    return cls


def known() -> list[str]:
    return [INAPP, *sorted(_channels)]


def label(name: str) -> str:
    """The name users read for a channel."""
    if name == INAPP:
        return gettext("In-app")
    cls = _channels.get(name)
    return str(cls.label or name) if cls is not None else name


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
    label = _("Server log")
    chosen_by_user = False  # the operators' trail, not a user's channel

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
    label = _("E-mail")

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


# --- HTTP ---------------------------------------------------------------------------------------

USER_AGENT = "gridgov-notifications/1"
# Only this much of an answer is read: a status line is all we need, the WeCom answer is small.
ANSWER_LIMIT = 64 * 1024


def site_url(path: str) -> str:
    """A page of this site as an absolute URL when GRIDGOV_SITE_URL is set; the path as it is otherwise."""
    base = getattr(settings, "GRIDGOV_SITE_URL", "").rstrip("/")
    return base + path if base and path else path


def timeout() -> float:
    return float(getattr(settings, "GRIDGOV_NOTIFICATION_HTTP_TIMEOUT", 10))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer like any other that is not 2xx: a failure, not a second POST elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def encode(payload: dict[str, Any]) -> bytes:
    """The JSON body as sent (and signed): UTF-8, Chinese as it is, no spaces."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> bytes:
    """POST a JSON body; the answer's body when the status is 2xx, DeliveryFailed otherwise."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryFailed("not an http or https URL")
    request = urllib.request.Request(  # noqa: S310 (the scheme is checked just above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})},
    )
    try:
        with urllib.request.build_opener(_NoRedirect).open(request, timeout=timeout()) as response:
            return response.read(ANSWER_LIMIT)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise DeliveryFailed(f"HTTP {exc.code}") from None
    except urllib.error.URLError as exc:
        raise DeliveryFailed(f"no answer: {_reason(exc.reason)}") from None
    except (TimeoutError, OSError, http.client.HTTPException) as exc:
        raise DeliveryFailed(f"no answer: {_reason(exc)}") from None


def _reason(reason: object) -> str:
    if isinstance(reason, TimeoutError | socket.timeout):
        return "timed out"
    return (str(reason) or type(reason).__name__)[:200]


def is_local_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """This server itself, a link-local network (cloud metadata) or no real host: never a receiver.

    Private networks (10/8, 192.168/16 …) are allowed: on a government intranet receivers live there.
    """
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    return ip.is_loopback or ip.is_link_local or ip.is_unspecified or ip.is_multicast or ip.is_reserved


def local_targets_allowed() -> bool:
    return bool(getattr(settings, "GRIDGOV_NOTIFICATION_ALLOW_LOCAL_TARGETS", False))


def check_target(url: str) -> None:
    """Refuse (Skipped) an endpoint whose host resolves to this server or a link-local address.

    Every signed-in user can set an endpoint and press "send test": without this, the server
    would POST for them to its own ports and to cloud metadata, and tell them what answered.
    """
    if local_targets_allowed():
        return
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname or "", port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise DeliveryFailed(f"no answer: cannot resolve the host ({_reason(exc)})") from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if is_local_address(address):
            raise Skipped("the endpoint is this server or a link-local address")


def _address(notification: Notification) -> ChannelAddress | None:
    from gridgov.notifications.models import ChannelAddress

    return ChannelAddress.objects.filter(user_id=notification.user_id).first()


@register
class HttpChannel(Channel):
    """A JSON POST to the endpoint the user set, signed with their secret when they set one."""

    name = "http"
    label = _("HTTP endpoint")
    address_field = "http_url"

    def send(self, notification: Notification) -> None:
        address = _address(notification)
        url = address.http_url if address is not None else ""
        if not url:
            raise Skipped("no HTTP endpoint")
        check_target(url)
        body = encode(self.payload(notification))
        headers = {"X-Gridgov-Event": notification.kind, "X-Gridgov-Notification": str(notification.pk)}
        secret = address.http_secret
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, body)
        post(url, body, headers)

    @staticmethod
    def payload(notification: Notification) -> dict[str, Any]:
        """What the endpoint receives: the notification as the API shows it, with an absolute link."""
        created = notification.created_at
        return {
            "id": notification.pk,
            "kind": notification.kind,
            "title": notification.title,
            "body": notification.body,
            "url": site_url(notification.url),
            "object_type": notification.object_type,
            "object_id": notification.object_id,
            "created_at": timezone.localtime(created).isoformat() if created else None,
        }


# --- WeCom group robot --------------------------------------------------------------------------

# WeCom's limits on a robot message's content, in bytes of UTF-8.
WECOM_LIMITS = {"markdown": 4096, "text": 2048}
ELLIPSIS = "…"
# Characters of WeCom markdown that would turn text written by others (a case title) into a link or a tag.
_MARKDOWN_SPECIAL = str.maketrans({"[": "［", "]": "］", "<": "＜", ">": "＞", "`": "｀"})
_BLANK_LINES = re.compile(r"\n\s*\n+")


def truncate_utf8(text: str, limit: int) -> str:
    """At most `limit` bytes of UTF-8, cut between characters, with an ellipsis when cut."""
    data = text.encode()
    if len(data) <= limit:
        return text
    room = max(0, limit - len(ELLIPSIS.encode()))
    # A character cut in half leaves an invalid tail, which "ignore" drops: the cut lands on a boundary.
    return data[:room].decode("utf-8", errors="ignore") + ELLIPSIS


def wecom_content(notification: Notification, msgtype: str) -> str:
    """The message a robot posts: the title, the body, and the link when the site's address is known.

    When it is too long the body is cut, so the title and the link survive.
    """
    limit = WECOM_LIMITS[msgtype]
    link = site_url(notification.url) if getattr(settings, "GRIDGOV_SITE_URL", "") and notification.url else ""
    body = _BLANK_LINES.sub("\n", notification.body.strip())
    if msgtype == "markdown":
        head = f"**{notification.title.translate(_MARKDOWN_SPECIAL)}**"
        tail = "[{text}]({link})".format(text=gettext("View details"), link=link) if link else ""
        quoted = "\n".join(f"> {line}" for line in body.translate(_MARKDOWN_SPECIAL).splitlines())
    else:
        head, tail, quoted = notification.title, link, body
    fixed = len("\n".join(part for part in (head, tail) if part).encode()) + 2  # the body's line breaks
    if quoted:
        quoted = truncate_utf8(quoted, max(0, limit - fixed))
    return truncate_utf8("\n".join(part for part in (head, quoted, tail) if part), limit)


@register
class WeComChannel(Channel):
    """A message from the WeCom (企业微信) group robot whose webhook URL the user pasted.

    WeCom answers HTTP 200 with `{"errcode": 0, "errmsg": "ok"}` when it posted the message; any
    other errcode is a failure with WeCom's errmsg.
    """

    name = "wecom"
    label = _("WeCom group robot")
    address_field = "wecom_url"

    def send(self, notification: Notification) -> None:
        address = _address(notification)
        url = address.wecom_url if address is not None else ""
        if not url:
            raise Skipped("no WeCom robot")
        answer = post(url, encode(self.message(notification, address.wecom_msgtype)))
        try:
            data = json.loads(answer)
            errcode = int(data.get("errcode", -1))
        except (ValueError, TypeError, AttributeError):
            raise DeliveryFailed("WeCom answered something that is not its JSON") from None
        if errcode != 0:
            errmsg = str(data.get("errmsg", ""))[:300]
            raise DeliveryFailed(f"WeCom errcode {errcode}: {errmsg}")

    @staticmethod
    def message(notification: Notification, msgtype: str) -> dict[str, Any]:
        msgtype = msgtype if msgtype in WECOM_LIMITS else "markdown"
        return {"msgtype": msgtype, msgtype: {"content": wecom_content(notification, msgtype)}}
