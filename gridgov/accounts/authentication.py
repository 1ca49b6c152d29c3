"""`Authorization: Token <key>` with precise error codes for malformed and unknown tokens."""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token


class TokenAuthentication(authentication.TokenAuthentication):
    model = Token

    def authenticate(self, request):
        auth = authentication.get_authorization_header(request).split()
        if not auth or auth[0].lower() != self.keyword.lower().encode():
            return None
        if len(auth) != 2:
            raise exceptions.AuthenticationFailed(
                _("Malformed Authorization header: use 'Token <token>'."), code="token_malformed"
            )
        try:
            key = auth[1].decode("ascii")
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                _("The token contains invalid characters."), code="token_malformed"
            ) from None
        if not key.isalnum() or len(key) != 40:
            raise exceptions.AuthenticationFailed(_("The token is malformed."), code="token_malformed")
        return self.authenticate_credentials(key)

    def authenticate_credentials(self, key):
        try:
            token = Token.objects.select_related("user").get(key=key)
        except Token.DoesNotExist:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."), code="token_invalid") from None
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This account is disabled."), code="account_disabled")
        if token.user.is_locked():
            raise exceptions.AuthenticationFailed(
                _("Too many failed logins: this account is locked for now."), code="account_locked"
            )
        return (token.user, token)
