"""`Authorization: Token <key>` with precise error codes for malformed and unknown tokens."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import User


@cache
def _user_by_token_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(f.column)}" for f in User._meta.concrete_fields)
    return (
        f"SELECT {columns} FROM {quote(User._meta.db_table)} u "  # noqa: S608 (our tables)
        f"JOIN {quote(Token._meta.db_table)} t ON t.{quote('user_id')} = u.{quote(User._meta.pk.column)} "
        f"WHERE t.{quote('key')} = %s"
    )


def user_by_token(key: str) -> User | None:
    """The user holding token `key`. Raw SQL: every API request asks, and the ORM took longer to build the
    query than the database to answer it (make bench: cases.intake_http)."""
    return next(iter(User.objects.raw(_user_by_token_sql(), [key])), None)


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
        user = user_by_token(key)
        if user is None:
            raise exceptions.AuthenticationFailed(_("Invalid or revoked token."), code="token_invalid")
        token = Token(key=key, user=user)
        token._state.adding = False  # the stored row, not a new one
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed(_("This account is disabled."), code="account_disabled")
        if token.user.is_locked():
            raise exceptions.AuthenticationFailed(
                _("Too many failed logins: this account is locked for now."), code="account_locked"
            )
        return (token.user, token)
