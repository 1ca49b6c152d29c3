"""Generic API views: reads are an app's selectors behind one class, writes its services behind one mixin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status, viewsets
from rest_framework.response import Response


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


WRITE_ACTIONS = frozenset({"create", "update", "partial_update"})

ERROR = inline_serializer(
    "ApiError",
    {
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
    },
)


def error(description: str) -> OpenApiResponse:
    return OpenApiResponse(response=ERROR, description=description)


def write_schema(
    input_serializer: type[serializers.Serializer],
    output_serializer: type[serializers.Serializer],
    more_errors: dict[int, OpenApiResponse] | None = None,
):
    """OpenAPI for the write endpoints of a viewset: the input body, the rendered record, the errors."""
    errors = {
        400: error("`invalid` (fields say why) or the service's own code, such as `invalid_area`."),
        403: error("`forbidden`: the caller's role may not change this area's registry."),
        404: error("`not_found`: no such record in the caller's area."),
        **(more_errors or {}),
    }
    return {
        "create": extend_schema(request=input_serializer, responses={201: output_serializer, **errors}),
        "update": extend_schema(request=input_serializer, responses={200: output_serializer, **errors}),
        "partial_update": extend_schema(request=input_serializer, responses={200: output_serializer, **errors}),
    }


class ServiceWriteMixin:
    """create (POST), update (PUT) and partial_update (PATCH) through the app's services.

    The input serializer parses and looks up; the service validates, checks the permission,
    writes and audits, raising ApplicationError (rendered as {code, message, fields}) on refusal.
    The answer is the record read back through the selector, rendered by the read serializer.
    PUT needs the required fields; fields left out keep their value under both PUT and PATCH.
    """

    input_serializer_class: type[serializers.Serializer]
    create_service: Callable[..., Any]
    update_service: Callable[..., Any]
    update_kwarg: str  # the keyword under which the update service takes the record

    def get_serializer_class(self):
        # The browsable API's forms and the schema use the input serializer for writes.
        if getattr(self, "action", None) in WRITE_ACTIONS:
            return self.input_serializer_class
        return super().get_serializer_class()

    def parse(self, request, *, partial: bool) -> dict[str, Any]:
        data = self.input_serializer_class(data=request.data, partial=partial, context=self.get_serializer_context())
        data.is_valid(raise_exception=True)
        return dict(data.validated_data)

    def rendered(self, obj: Any) -> dict[str, Any]:
        fresh = type(self).get_selector(user=self.request.user, pk=obj.pk)
        return self.serializer_class(fresh, context=self.get_serializer_context()).data

    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        data = self.parse(request, partial=False)
        obj = type(self).create_service(actor=request.user, **data)
        return Response(self.rendered(obj), status=status.HTTP_201_CREATED)

    def update(self, request, *args: Any, partial: bool = False, **kwargs: Any) -> Response:
        obj = self.get_object()
        data = self.parse(request, partial=partial)
        obj = type(self).update_service(actor=request.user, **{self.update_kwarg: obj}, **data)
        return Response(self.rendered(obj))

    def partial_update(self, request, *args: Any, **kwargs: Any) -> Response:
        return self.update(request, *args, partial=True, **kwargs)
