"""/api/v1/notifications/: the caller's own notifications, and marking them read.

Reads go through `notifications.selectors` (filtered by user: anybody else's notification is a
404, like a missing one), writes through `notifications.services`.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.response import Response

from gridgov.core.api.views import ScopedReadOnlyViewSet
from gridgov.notifications import selectors, services
from gridgov.notifications.api.serializers import MarkedReadSerializer, NotificationSerializer
from gridgov.notifications.views import TRUE_VALUES

UNREAD = OpenApiParameter("unread", OpenApiTypes.BOOL, description="`1`: only unread notifications.")


@extend_schema_view(list=extend_schema(parameters=[UNREAD]))
class NotificationViewSet(ScopedReadOnlyViewSet):
    """The caller's notifications, newest first. `?unread=1` lists the unread ones only."""

    serializer_class = NotificationSerializer
    list_selector = selectors.notification_list
    get_selector = selectors.notification_get

    def get_queryset(self):
        unread = self.request.query_params.get("unread", "").strip().lower() in TRUE_VALUES
        return selectors.notification_list(user=self.request.user, unread_only=unread)

    @extend_schema(request=None, responses={200: NotificationSerializer})
    @action(detail=True, methods=["post"], pagination_class=None)
    def read(self, request, pk=None):
        """Mark one notification read (again: nothing changes). Anybody else's is `not_found`."""
        notification = services.notification_mark_read(actor=request.user, notification=self.get_object())
        return Response(self.get_serializer(notification).data)

    @extend_schema(request=None, responses={200: MarkedReadSerializer})
    @action(detail=False, methods=["post"], url_path="read-all", url_name="read-all", pagination_class=None)
    def read_all(self, request):
        """Mark all of the caller's unread notifications read."""
        return Response({"marked": services.notification_mark_all_read(actor=request.user)})
