"""Admin: the audit trail is read-only; AuditedModelAdmin audits every admin write."""

from __future__ import annotations

from django.contrib import admin

from gridgov.core import audit
from gridgov.core.models import AuditEvent


class AuditedModelAdmin(admin.ModelAdmin):
    """Admin writes go on the audit trail like every service write."""

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        audit.record(
            actor=request.user,
            event=f"{obj._meta.model_name}.{'update' if change else 'create'}",
            obj=obj,
            ip=audit.client_ip(request),
            data={"fields": sorted(form.changed_data), "via": "admin"},
        )

    def delete_model(self, request, obj):
        audit.record(
            actor=request.user,
            event=f"{obj._meta.model_name}.delete",
            obj=obj,
            ip=audit.client_ip(request),
            data={"via": "admin"},
        )
        super().delete_model(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # bulk delete would skip the audit
        return actions


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = ["time", "actor_username", "event_type", "object_type", "object_repr", "result", "ip"]
    list_filter = ["result", "event_type", "object_type"]
    search_fields = ["actor_username", "event_type", "object_repr", "ip"]
    date_hierarchy = "time"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
