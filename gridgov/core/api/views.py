"""Generic API views: every model's read endpoints are its selectors behind one class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import viewsets


class ScopedReadOnlyViewSet(viewsets.ReadOnlyModelViewSet):
    """List and detail through the app's selectors, which go through the scope.

    Subclasses set `list_selector` (`(*, user) -> QuerySet`) and `get_selector`
    (`(*, user, pk) -> Model`, raising NotFound outside the scope), besides the serializer and
    filterset.
    """

    list_selector: Callable[..., Any]
    get_selector: Callable[..., Any]

    def get_queryset(self):
        return type(self).list_selector(user=self.request.user)

    def get_object(self):
        obj = type(self).get_selector(user=self.request.user, pk=self.kwargs[self.lookup_url_kwarg or "pk"])
        self.check_object_permissions(self.request, obj)
        return obj
