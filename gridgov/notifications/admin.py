"""Admin: notifications and their deliveries, read-only (they are written by `notifications.services`)."""

from __future__ import annotations

from django.contrib import admin

from gridgov.notifications.models import Notification, NotificationDelivery


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
