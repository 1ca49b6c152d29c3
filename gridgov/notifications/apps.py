from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _


def check_channels(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`gridgov check` reports an unknown name in GRIDGOV_NOTIFICATION_CHANNELS before the first notification."""
    from gridgov.notifications import channels

    try:
        channels.configured()
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="notifications.E001")]
    return []


class NotificationsConfig(AppConfig):
    name = "gridgov.notifications"
    label = "notifications"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from gridgov.core.navigation import NavItem, register

        register(NavItem(_("Notifications"), "notifications:notification_list", "bi-bell", order=90))
        checks.register(check_channels)
