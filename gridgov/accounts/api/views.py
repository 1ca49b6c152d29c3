"""POST /api/v1/auth/token/ — trade a username and password for an API token."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from gridgov.accounts import services
from gridgov.core.audit import client_ip


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=512, trim_whitespace=False)
    otp = serializers.CharField(max_length=10, required=False, allow_blank=True)


class TokenView(APIView):
    """Obtain the caller's API token. Wrong passwords count towards the lockout."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: inline_serializer("TokenResponse", {"token": serializers.CharField()})},
    )
    def post(self, request):
        data = TokenRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        key = services.token_issue(
            username=data.validated_data["username"],
            password=data.validated_data["password"],
            otp=data.validated_data.get("otp", ""),
            ip=client_ip(request),
        )
        return Response({"token": key})


class MeView(APIView):
    """Who the caller is, with their posts."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        responses={
            200: inline_serializer(
                "Me",
                {
                    "id": serializers.IntegerField(),
                    "username": serializers.CharField(),
                    "name": serializers.CharField(),
                    "is_superuser": serializers.BooleanField(),
                    "posts": serializers.ListField(child=serializers.DictField()),
                },
            )
        }
    )
    def get(self, request):
        user = request.user
        posts = [
            {"role": p.role, "area": p.area_id, "area_code": p.area.code if p.area else None, "unit": p.unit_id}
            for p in user.posts.filter(active=True).select_related("area")
        ]
        return Response(
            {
                "id": user.pk,
                "username": user.username,
                "name": user.name,
                "is_superuser": user.is_superuser,
                "posts": posts,
            }
        )
