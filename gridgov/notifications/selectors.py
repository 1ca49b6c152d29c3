"""Reads of the notification centre. A notification is its user's own: every read filters by user."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from gridgov.core.errors import NotFound
from gridgov.notifications.models import Notification


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
