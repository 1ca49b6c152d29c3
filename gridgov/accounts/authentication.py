"""`Authorization: Token <key>` with precise error codes for malformed and unknown tokens."""

from __future__ import annotations

from functools import cache

from django.db import connection
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions
from rest_framework.authtoken.models import Token

from gridgov.accounts.models import User
from gridgov.core import generations
from gridgov.core.db import prepared_cursor


@cache
def _user_by_token_sql() -> str:
    quote = connection.ops.quote_name
    columns = ", ".join(f"u.{quote(f.column)}" for f in User._meta.concrete_fields)
    # The request's cache generations ride along: the request reads them in this round trip, not its own.
    tokens = f"{generations.tokens_subquery()} AS {quote(generations.TOKENS_COLUMN)}"
    return (
        f"SELECT {columns}, {tokens} FROM {quote(User._meta.db_table)} u "  # noqa: S608 (our tables)
        f"JOIN {quote(Token._meta.db_table)} t ON t.{quote('user_id')} = u.{quote(User._meta.pk.column)} "
        f"WHERE t.{quote('key')} = %s"
    )


_USER_FIELDS = tuple(f.attname for f in User._meta.concrete_fields)


def user_by_token(key: str) -> User | None:
    """The user holding token `key`, with the request's cache generations (`generations.prime`).

    Raw SQL, prepared by the server (core.db): every API request asks, and building the query with the ORM,
    then planning it, took longer than answering it (make bench: cases.intake_http).
    """
    with prepared_cursor() as cursor:
        cursor.execute(_user_by_token_sql(), [key])
        row = cursor.fetchone()
    if row is None:
        return None
    generations.prime(row[-1])
    return User.from_db(connection.alias, _USER_FIELDS, row[:-1])


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
