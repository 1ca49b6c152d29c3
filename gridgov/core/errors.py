"""The one error type of gridgov: services raise it, views and the API render it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


class ApplicationError(Exception):
    """A refused action: a stable `code`, a human `message` (already translated), per-field reasons.

    `status` is the HTTP status the API answers with; pages show the message instead.
    """

    status = 400

    def __init__(
        self,
        code: str,
        message: Any,
        *,
        fields: dict[str, list[str]] | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(str(message))
        self.code = code
        self.message = str(message)
        self.fields = {name: [str(reason) for reason in reasons] for name, reasons in (fields or {}).items()}
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "fields": self.fields}


class NotFound(ApplicationError):
    """The record does not exist, or lies outside the caller's scope (never say which)."""

    status = 404


class PermissionDenied(ApplicationError):
    status = 403


class Conflict(ApplicationError):
    """An action that the record's current state does not allow."""

    status = 409


def from_validation_error(exc, *, code: str = "invalid", message: Any = None) -> ApplicationError:
    """Turn a Django ValidationError into an ApplicationError with its per-field reasons."""
    from django.core.exceptions import NON_FIELD_ERRORS
    from django.utils.translation import gettext as _

    if hasattr(exc, "error_dict"):
        fields = {
            ("non_field_errors" if name == NON_FIELD_ERRORS else name): [str(m) for e in errors for m in e]
            for name, errors in exc.error_dict.items()
        }
    else:
        fields = {"non_field_errors": [str(m) for m in exc.messages]}
    if message is None:
        first = next(iter(fields.values()), [None])[0]
        message = first or _("The data is not valid.")
    return ApplicationError(code, message, fields=fields)


@contextmanager
def duplicates_refused(code: str, message: Any, *, field: str | None = None) -> Iterator[None]:
    """Turn a unique-constraint violation into a clean 409 refusal.

    `full_clean()` catches duplicates before saving; this catches the one a concurrent request
    committed in between. Wrap the whole `transaction.atomic()` block, so it is rolled back first.
    """
    from django.db import IntegrityError

    try:
        yield
    except IntegrityError:
        raise Conflict(code, message, fields={field: [str(message)]} if field else None) from None
