"""Webhooks in the admin: subscriptions (the secret is shown once; rotate; test send) and the delivery log
(read-only, with its attempts; replay). Every write goes through `webhooks.services`."""

from __future__ import annotations

import json

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from gridgov.areas.models import Area
from gridgov.core.errors import ApplicationError
from gridgov.core.privacy import SecretField
from gridgov.core.scope import scoped
from gridgov.integrations.services import can_manage_keys, default_area
from gridgov.webhooks import selectors, services
from gridgov.webhooks.choices import SUBSCRIBABLE, EventType
from gridgov.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookSubscription


class ManagersOnly:
    """Superusers and the center (the rule API keys use), on top of the admin's model permissions."""

    def has_module_permission(self, request):
        return can_manage_keys(request.user) and super().has_module_permission(request)

    def has_view_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_view_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        # Subscriptions are switched off, not deleted: the delivery log refers to them.
        return False


class SubscriptionForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        label=gettext_lazy("events"),
        choices=[(e.value, e.label) for e in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
    )
    actor = None  # set by the admin for each request

    class Meta:
        model = WebhookSubscription
        fields = ["name", "url", "events", "area", "active"]

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            name, url, events, area = services.webhook_subscription_check(
                actor=self.actor,
                name=data.get("name"),
                url=data.get("url"),
                events=data.get("events"),
                area=data.get("area"),
            )
        except ApplicationError as exc:
            for field, reasons in exc.fields.items():
                for reason in reasons:
                    self.add_error(field if field in self.fields else None, reason)
            return data
        data.update(name=name, url=url, events=events, area=area)
        return data


def _events_display(events: list[str]) -> str:
    labels = dict(EventType.choices)
    return ", ".join(str(labels.get(e, e)) for e in events)


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(ManagersOnly, admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ("name", "url", "events_display", "area", "active", "created_at", "secret_rotated_at")
    list_filter = ("active",)
    search_fields = ("name", "url")
    list_select_related = ("area",)
    actions = ["rotate_secret", "send_ping"]
    readonly_fields = ("created_at", "created_by", "active_since", "secret_rotated_at")

    @admin.display(description=gettext_lazy("events"))
    def events_display(self, obj):
        return _events_display(obj.events)

    def get_queryset(self, request):
        return selectors.subscription_list(user=request.user)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        return type(form.__name__, (form,), {"actor": request.user})

    def get_fields(self, request, obj=None):
        fields = ["name", "url", "events", "area", "active"]
        return fields if obj is None else [*fields, *self.readonly_fields]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "area":
            kwargs["queryset"] = scoped(Area.objects.order_by("code"), request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_changeform_initial_data(self, request):
        initial = super().get_changeform_initial_data(request)
        area = default_area()
        if area is not None:
            initial.setdefault("area", area.pk)
        initial.setdefault("events", [e.value for e in SUBSCRIBABLE])
        return initial

    def has_add_permission(self, request):
        return can_manage_keys(request.user) and super().has_add_permission(request)

    def has_change_permission(self, request, obj=None):
        return can_manage_keys(request.user) and super().has_change_permission(request, obj)

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        fields = {k: data[k] for k in ("name", "url", "events", "area", "active")}
        if change:
            saved = services.webhook_subscription_update(actor=request.user, subscription=obj, **fields)
        else:
            saved, secret = services.webhook_subscription_create(actor=request.user, **fields)
            messages.success(
                request,
                format_html(
                    "{} <code>{}</code>", _("The signing secret (copy it now: it is not shown again):"), secret
                ),
            )
        # The admin goes on with `obj` (log entry, redirect): make it the row the service wrote.
        # The secret is copied as loaded (sealed): the admin has no use for it, and it may not open.
        for field in WebhookSubscription._meta.concrete_fields:
            raw = isinstance(field, SecretField)
            setattr(obj, field.attname, saved.__dict__[field.attname] if raw else getattr(saved, field.attname))
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        pass  # no many-to-many fields; the service wrote everything

    @admin.action(description=gettext_lazy("Rotate the secret of the selected subscriptions"))
    def rotate_secret(self, request, queryset):
        for subscription in queryset:
            try:
                _row, secret = services.webhook_subscription_rotate_secret(
                    actor=request.user, subscription=subscription
                )
            except ApplicationError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", messages.WARNING)
                continue
            self.message_user(
                request,
                format_html(
                    "{} <code>{}</code>",
                    _("New signing secret of %(name)s (copy it now: it is not shown again):")
                    % {"name": subscription.name},
                    secret,
                ),
                messages.SUCCESS,
            )

    @admin.action(description=gettext_lazy("Send a test event (ping) to the selected subscriptions"))
    def send_ping(self, request, queryset):
        sent = 0
        for subscription in queryset:
            try:
                services.webhook_subscription_ping(actor=request.user, subscription=subscription)
            except ApplicationError as exc:
                self.message_user(request, f"{subscription}: {exc.message}", messages.WARNING)
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                _("%(count)d test event(s) queued; the delivery log shows how they went.") % {"count": sent},
                messages.SUCCESS,
            )


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    fields = ["number", "replay", "started_at", "status_code", "succeeded", "duration_ms", "error", "response"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ManagersOnly, admin.ModelAdmin):
    list_display = (
        "created_at",
        "uuid",
        "subscription",
        "event",
        "case_code",
        "state",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "delivered_at",
    )
    # Only the subscriptions in the (scoped) list: a center does not learn the names of others.
    list_filter = ("state", "event", ("subscription", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("subscription",)
    actions = ["replay"]
    inlines = [AttemptInline]
    fields = (
        "uuid",
        "subscription",
        "event",
        "case_event",
        "state",
        "attempts",
        "replays",
        "next_attempt_at",
        "last_attempt_at",
        "last_status_code",
        "duration_ms",
        "last_error",
        "last_response",
        "delivered_at",
        "created_at",
        "payload_display",
    )
    readonly_fields = fields

    @admin.display(description=gettext_lazy("case number"))
    def case_code(self, obj):
        return (obj.payload.get("case") or {}).get("code", "")

    @admin.display(description=gettext_lazy("payload"))
    def payload_display(self, obj):
        return format_html("<pre>{}</pre>", json.dumps(obj.payload, ensure_ascii=False, indent=2, sort_keys=True))

    def get_queryset(self, request):
        return selectors.delivery_list(user=request.user)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_replay_permission(self, request):
        return self.has_view_permission(request)

    def get_urls(self):
        replay = path(
            "<int:object_id>/replay/",
            self.admin_site.admin_view(self.replay_view),
            name="webhooks_webhookdelivery_replay",
        )
        return [replay, *super().get_urls()]

    def change_view(self, request, object_id, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_replay": self.has_replay_permission(request)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _replay(self, request, delivery) -> bool:
        try:
            services.webhook_delivery_replay(actor=request.user, delivery=delivery)
        except ApplicationError as exc:
            self.message_user(request, f"{delivery.uuid}: {exc.message}", messages.WARNING)
            return False
        return True

    def replay_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_replay_permission(request):
            raise DjangoPermissionDenied
        delivery = get_object_or_404(self.get_queryset(request), pk=object_id)
        if self._replay(request, delivery):
            self.message_user(
                request,
                _("The delivery is queued to be sent again (same payload, same delivery id)."),
                messages.SUCCESS,
            )
        return HttpResponseRedirect(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk]))

    @admin.action(description=gettext_lazy("Replay the selected deliveries"), permissions=["replay"])
    def replay(self, request, queryset):
        replayed = sum(self._replay(request, delivery) for delivery in queryset)
        if replayed:
            self.message_user(
                request, _("%(count)d delivery(ies) queued to be sent again.") % {"count": replayed}, messages.SUCCESS
            )
