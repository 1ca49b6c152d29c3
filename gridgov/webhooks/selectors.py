"""Reads of outbound webhooks, always through the scope: a center sees its subdistrict's subscriptions."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from gridgov.core.scope import scoped, scoped_get
from gridgov.webhooks.models import WebhookDelivery, WebhookSubscription


def subscription_list(*, user: Any) -> QuerySet[WebhookSubscription]:
    return scoped(WebhookSubscription.objects.select_related("area", "created_by"), user)


def delivery_list(*, user: Any, filters: dict[str, Any] | None = None) -> QuerySet[WebhookDelivery]:
    """Deliveries of the subscriptions `user` may see, newest first; `filters` by state, event, subscription."""
    queryset = scoped(WebhookDelivery.objects.select_related("subscription"), user)
    for name in ("state", "event", "subscription_id"):
        value = (filters or {}).get(name)
        if value not in (None, ""):
            queryset = queryset.filter(**{name: value})
    return queryset.order_by("-id")


def delivery_get(*, user: Any, pk: Any) -> WebhookDelivery:
    """One delivery inside the scope, or NotFound."""
    return scoped_get(WebhookDelivery.objects.select_related("subscription__area"), user, pk=pk)
