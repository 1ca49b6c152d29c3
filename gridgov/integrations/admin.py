"""API keys in the admin: create (the key is shown once), list, revoke. Keys are never edited or deleted."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.core.errors import ApplicationError
from gridgov.integrations.models import ApiKey
from gridgov.integrations.services import apikey_create, apikey_revoke, can_manage_keys, default_area


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ["name", "channel", "area"]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyAddForm
    list_display = ("name", "channel", "area", "prefix", "created_at", "last_used_at", "revoked_at")
    list_filter = ("channel", "revoked_at")
    search_fields = ("name", "prefix")
    list_select_related = ("area",)
    actions = ["revoke"]
    # key_hash is deliberately absent everywhere.
    readonly_fields = (
        "name",
        "channel",
        "area",
        "prefix",
        "created_at",
        "created_by",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
    )

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_fields(self, request, obj=None):
        return ApiKeyAddForm.Meta.fields if obj is None else self.readonly_fields

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        area = default_area()
        if area is not None:
            initial.setdefault("area", area.pk)
        return initial

    def has_add_permission(self, request):
        return can_manage_keys(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        # Nothing about a key changes after creation except through revoke.
        return False

    def has_delete_permission(self, request, obj=None):
        # Revoked keys stay listed: the trail refers to them.
        return False

    def save_model(self, request, obj, form, change):
        key, raw = apikey_create(
            actor=request.user,
            name=form.cleaned_data["name"],
            channel=form.cleaned_data["channel"],
            area=form.cleaned_data["area"],
        )
        # The admin goes on with `obj` (log entry, redirect): make it the row the service created.
        for field in ApiKey._meta.concrete_fields:
            setattr(obj, field.attname, getattr(key, field.attname))
        obj._state.adding = False
        messages.success(
            request,
            format_html(
                "{} <code>{}</code>",
                _("The new API key (copy it now: it is not shown again):"),
                raw,
            ),
        )

    @admin.action(description=gettext_lazy("Revoke selected API keys"))
    def revoke(self, request, queryset):
        revoked = 0
        for key in queryset:
            try:
                apikey_revoke(actor=request.user, key=key)
            except ApplicationError as exc:
                self.message_user(request, f"{key}: {exc.message}", messages.WARNING)
            else:
                revoked += 1
        if revoked:
            self.message_user(request, _("%(count)d API key(s) revoked.") % {"count": revoked}, messages.SUCCESS)
