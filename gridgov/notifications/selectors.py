"""Reads of the notification centre. A notification, an address, a choice is its user's own: every read
filters by user."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from gridgov.core import crypto
from gridgov.core.errors import NotFound
from gridgov.notifications import channels
from gridgov.notifications.choices import KINDS, WeComMessageType
from gridgov.notifications.models import ChannelAddress, Notification, NotificationPreference


def notification_list(*, user: Any, unread_only: bool = False) -> QuerySet[Notification]:
    """The user's own notifications, newest first; only the unread ones when asked."""
    if not getattr(user, "is_authenticated", False):
        return Notification.objects.none()
    queryset = Notification.objects.filter(user=user).order_by("-id")
    if unread_only:
        queryset = queryset.filter(read_at__isnull=True)
    return queryset


def notification_get(*, user: Any, pk: Any) -> Notification:
    """One of the user's own notifications; NotFound for a missing one and for anybody else's alike."""
    try:
        return notification_list(user=user).get(pk=pk)
    except (Notification.DoesNotExist, ValueError, TypeError):
        raise NotFound("not_found", _("%(name)s not found.") % {"name": Notification._meta.verbose_name}) from None


def unread_count(*, user: Any) -> int:
    """How many of the user's notifications are unread: one COUNT on the (user, read_at) index."""
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


# --- channels: addresses and per-kind choices ---------------------------------------------------

# Recipients are looked up in chunks of this many (SQLite limits the parameters of a query).
CHUNK = 500


def recipient_channels(*, user_ids: Sequence[Any], kind: str, names: Sequence[str]) -> dict[Any, list[str]]:
    """Which of the running channels `names` each user gets a notification of `kind` through.

    A channel is on unless the user turned it off for this kind; a channel that sends to an
    address of the user's own (HTTP, WeCom) only once that address is set. Two queries for up
    to CHUNK users, whatever the number of channels: the choices, and which addresses are set.
    """
    chosen: dict[Any, list[str]] = {pk: list(names) for pk in user_ids}
    if not names or not user_ids:
        return chosen
    kinds = {name: channels.channel(name) for name in names}
    fields = {name: kind_of.address_field for name, kind_of in kinds.items()}
    choosable = [name for name, kind_of in kinds.items() if kind_of.chosen_by_user]
    columns = sorted({column for column in fields.values() if column})
    for start in range(0, len(user_ids), CHUNK):
        chunk = list(user_ids[start : start + CHUNK])
        off = set()
        if choosable:
            off = set(
                NotificationPreference.objects.filter(
                    user_id__in=chunk, kind=kind, channel__in=choosable, enabled=False
                ).values_list("user_id", "channel")
            )
        # Whether an address is set is whether its sealed column is empty: values() gives SecretField
        # columns unopened (a SealedSecret is truthy), so nothing is decrypted here.
        addresses: dict[Any, dict[str, Any]] = {}
        if columns:
            rows = ChannelAddress.objects.filter(user_id__in=chunk).values("user_id", *columns)
            addresses = {row["user_id"]: row for row in rows}
        for pk in chunk:
            address = addresses.get(pk, {})
            chosen[pk] = [
                name for name in names if (pk, name) not in off and (not fields[name] or address.get(fields[name]))
            ]
    return chosen


@dataclass
class AddressView:
    """What the settings page shows of a user's addresses: the HTTP endpoint in full (it is theirs),
    the WeCom robot URL masked (it holds the robot's key), and whether a secret is set."""

    http_url: str = ""
    has_secret: bool = False
    wecom_masked: str = ""
    wecom_msgtype: str = WeComMessageType.MARKDOWN
    unreadable: bool = False

    @property
    def has_http(self) -> bool:
        return bool(self.http_url)

    @property
    def has_wecom(self) -> bool:
        return bool(self.wecom_masked)


def mask_robot_url(url: str) -> str:
    """`…/send?key=693a91f6-…-0ec2sifa5aaa` → `…/send?key=693a****5aaa`: enough to recognise the robot."""
    if not url:
        return ""
    base, _sep, query = url.partition("?")
    key = next((value for name, _eq, value in (p.partition("=") for p in query.split("&")) if name == "key"), "")
    shown = key[:4] + "****" + key[-4:] if len(key) > 12 else "****"
    return f"{base}?key={shown}"


def channel_address(*, user: Any) -> ChannelAddress | None:
    """The user's own addresses, None when they set none."""
    if not getattr(user, "is_authenticated", False):
        return None
    return ChannelAddress.objects.filter(user=user).first()


def address_view(*, user: Any) -> AddressView:
    """The user's own addresses as the settings page shows them."""
    address = channel_address(user=user)
    if address is None:
        return AddressView()
    try:
        return AddressView(
            http_url=address.http_url,
            has_secret=bool(address.http_secret),  # opened too: a secret no key opens is reported here
            wecom_masked=mask_robot_url(address.wecom_url),
            wecom_msgtype=address.wecom_msgtype,
        )
    except crypto.DecryptionError:
        # A key that was dropped from FIELD_ENCRYPTION_KEY: the user sets the addresses again.
        return AddressView(wecom_msgtype=address.wecom_msgtype, unreadable=True)


@dataclass
class Cell:
    channel: str
    enabled: bool

    @property
    def label(self) -> str:
        return channels.label(self.channel)


@dataclass
class KindRow:
    kind: str
    label: str
    cells: list[Cell] = field(default_factory=list)


def preference_matrix(*, user: Any, names: Sequence[str]) -> list[KindRow]:
    """Every known kind × the running channels `names`, each cell as the user chose it (on by default)."""
    off: set[tuple[str, str]] = set()
    if getattr(user, "is_authenticated", False):
        rows = NotificationPreference.objects.filter(user=user, enabled=False, channel__in=list(names))
        off = set(rows.values_list("kind", "channel"))
    return [
        KindRow(kind=kind, label=str(label), cells=[Cell(name, (kind, name) not in off) for name in names])
        for kind, label in KINDS.items()
    ]
