"""API keys in the admin: create (the key is shown once), list, revoke. Keys are never edited or deleted.
Intake channels (defaults, secret rotation shown once), mapping rules, and the read-only log of messages."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.core.errors import ApplicationError
from gridgov.core.scope import scoped
from gridgov.integrations.defaults import normalize_type
from gridgov.integrations.intake import (
    intake_channel_update,
    intake_secret_set,
    mapping_rule_delete,
    mapping_rule_save,
)
from gridgov.integrations.models import ApiKey, IntakeChannel, IntakeMessage, MappingRule
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

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)  # a center sees its own area's keys

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


# --- signed intake -------------------------------------------------------------------------------


class IntakeChannelForm(forms.ModelForm):
    class Meta:
        model = IntakeChannel
        fields = ["active", "default_category", "default_priority"]


@admin.register(IntakeChannel)
class IntakeChannelAdmin(admin.ModelAdmin):
    """The three channels exist from the start (migration); admins switch them, set defaults, rotate secrets."""

    form = IntakeChannelForm
    list_display = ("channel", "active", "secret_state", "secret_set_at", "default_category", "default_priority")
    list_select_related = ("default_category",)
    readonly_fields = ("channel", "secret_state", "secret_set_at")
    fields = ("channel", "active", "default_category", "default_priority", "secret_state", "secret_set_at")
    actions = ["rotate_secret"]

    @admin.display(description=gettext_lazy("signing secret"))
    def secret_state(self, obj: IntakeChannel) -> str:
        return _("set (sealed)") if obj.has_secret else _("not set: every message is refused")

    def has_module_permission(self, request):
        return can_manage_keys(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        try:
            intake_channel_update(actor=request.user, row=obj, fields=list(form.changed_data))
        except ApplicationError as exc:
            # The form's own choices make this rare (a category switched off meanwhile).
            self.message_user(request, exc.message, messages.ERROR)

    @admin.action(description=gettext_lazy("Generate or rotate the signing secret (shown once)"))
    def rotate_secret(self, request, queryset):
        for row in queryset:
            try:
                _row, raw = intake_secret_set(actor=request.user, channel=row.channel, rotate=True)
            except ApplicationError as exc:
                self.message_user(request, f"{row}: {exc.message}", messages.WARNING)
                continue
            messages.success(
                request,
                format_html(
                    "{} <code>{}</code>",
                    _("The new signing secret of %(channel)s (copy it now: it is not shown again):")
                    % {"channel": row.get_channel_display()},
                    raw,
                ),
            )


class MappingRuleForm(forms.ModelForm):
    class Meta:
        model = MappingRule
        fields = ["channel", "event_type", "category", "priority", "order", "active"]

    def _post_clean(self):
        super()._post_clean()
        # The service's checks (active minor category, no second rule for a type) as form errors.
        rule = self.instance
        if self.errors:
            return
        key = normalize_type(rule.event_type)
        if not key:
            self.add_error("event_type", _("This field is required."))
        elif MappingRule.objects.filter(channel=rule.channel, type_key=key).exclude(pk=rule.pk).exists():
            self.add_error("event_type", _("This channel already has a rule for this type."))
        category = self.cleaned_data.get("category")
        if category is not None and (not category.active or category.is_major):
            self.add_error("category", _("Choose an active minor category."))


@admin.register(MappingRule)
class MappingRuleAdmin(admin.ModelAdmin):
    form = MappingRuleForm
    list_display = ("event_type", "channel", "category", "priority", "order", "active")
    list_editable = ("order", "active")
    list_filter = ("channel", "active", "priority")
    search_fields = ("event_type", "category__name", "category__code")
    list_select_related = ("category",)
    ordering = ("channel", "order", "event_type")

    def has_module_permission(self, request):
        return can_manage_keys(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return can_manage_keys(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_delete_permission(request, obj)

    def save_model(self, request, obj, form, change):
        mapping_rule_save(actor=request.user, rule=obj)

    def delete_model(self, request, obj):
        mapping_rule_delete(actor=request.user, rule=obj)

    def delete_queryset(self, request, queryset):
        for rule in queryset:
            mapping_rule_delete(actor=request.user, rule=rule)


@admin.register(IntakeMessage)
class IntakeMessageAdmin(admin.ModelAdmin):
    """The log of received messages: read only. Refused ones show which types still lack a rule."""

    list_display = (
        "received_at",
        "channel",
        "via",
        "sender_id",
        "event_type",
        "outcome",
        "error_code",
        "case",
        "replays",
        "api_key",
    )
    list_filter = ("channel", "outcome", "via", "error_code")
    search_fields = ("sender_id", "event_type", "case__code")
    list_select_related = ("case", "api_key")
    date_hierarchy = "received_at"

    def get_queryset(self, request):
        return scoped(super().get_queryset(request), request.user)

    def has_module_permission(self, request):
        return can_manage_keys(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_view_permission(request, obj)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
