"""Admin: notifications, their deliveries, users' channel addresses and choices, read-only (they are
written by `notifications.services`; users set their own on the settings page)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from gridgov.core.privacy import is_secret_set
from gridgov.notifications.models import ChannelAddress, Notification, NotificationDelivery, NotificationPreference


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class DeliveryInline(admin.TabularInline):
    model = NotificationDelivery
    fields = ["channel", "state", "attempts", "last_error", "sent_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Notification)
class NotificationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at"]
    list_filter = ["kind"]
    search_fields = ["title", "user__username", "object_id"]
    list_select_related = ["user"]
    date_hierarchy = "created_at"
    inlines = [DeliveryInline]


@admin.register(NotificationDelivery)
class NotificationDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "notification", "channel", "state", "attempts", "sent_at"]
    list_filter = ["state", "channel"]
    search_fields = ["notification__title", "notification__user__username"]
    list_select_related = ["notification"]


@admin.register(ChannelAddress)
class ChannelAddressAdmin(ReadOnlyAdmin):
    """Which users set which addresses: never the addresses themselves (they hold keys), only whether they are set."""

    list_display = ["user", "has_http", "signed", "has_wecom", "wecom_msgtype", "updated_at"]
    list_filter = ["wecom_msgtype"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["user", "has_http", "signed", "has_wecom", "wecom_msgtype", "created_at", "updated_at"]
    readonly_fields = fields

    @admin.display(boolean=True, description=_("HTTP endpoint"))
    def has_http(self, obj: ChannelAddress) -> bool:
        return is_secret_set(obj, "http_url")

    @admin.display(boolean=True, description=_("signing secret"))
    def signed(self, obj: ChannelAddress) -> bool:
        return is_secret_set(obj, "http_secret")

    @admin.display(boolean=True, description=_("WeCom group robot"))
    def has_wecom(self, obj: ChannelAddress) -> bool:
        return is_secret_set(obj, "wecom_url")


@admin.register(NotificationPreference)
class NotificationPreferenceAdmin(ReadOnlyAdmin):
    list_display = ["user", "kind", "channel", "enabled", "updated_at"]
    list_filter = ["channel", "enabled", "kind"]
    search_fields = ["user__username", "kind"]
    list_select_related = ["user"]
