"""Password rules: at least 10 characters from at least 3 of 4 classes."""

from __future__ import annotations

import string

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

MIN_LENGTH = 10
MIN_CLASSES = 3


def character_classes(password: str) -> int:
    classes = [
        any(c.islower() for c in password),
        any(c.isupper() for c in password),
        any(c.isdigit() for c in password),
        any(c in string.punctuation or c.isspace() or not c.isascii() for c in password),
    ]
    return sum(classes)


class ComplexityValidator:
    """Django password validator enforcing length and character classes."""

    def validate(self, password: str, user=None) -> None:
        errors = []
        if len(password) < MIN_LENGTH:
            errors.append(
                ValidationError(
                    _("The password must have at least %(n)d characters.") % {"n": MIN_LENGTH},
                    code="password_too_short",
                )
            )
        if character_classes(password) < MIN_CLASSES:
            errors.append(
                ValidationError(
                    _("The password must mix at least 3 of: lower-case letters, capitals, digits, symbols."),
                    code="password_too_simple",
                )
            )
        if errors:
            raise ValidationError(errors)

    def get_help_text(self) -> str:
        return _("At least 10 characters, mixing at least 3 of: lower-case letters, capitals, digits, symbols.")
