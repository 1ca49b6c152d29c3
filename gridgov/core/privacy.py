"""Personal data protected by default: encrypted columns whose values print masked.

`EncryptedField` stores a sealed value (see `core.crypto`) and keeps a companion blind-index
column up to date. Reading it gives a `Sensitive` value, not a string: templates, serializers,
logs and error messages that print it show the masked form (`340404********1234`,
`138****5678`); only `.reveal()` gives the full value, and pages and the API call it only after
the reveal service has checked the role and written an audit event. JSON encoders refuse a
`Sensitive`, so it cannot leak through a forgotten serializer either.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import models

from gridgov.core import crypto
from gridgov.core.validators import normalize_id_number, normalize_phone

ID_NUMBER = "id_number"
PHONE = "phone"


def mask_id_number(number: str) -> str:
    """`340404199001011234` → `340404********1234`."""
    number = normalize_id_number(number)
    if len(number) <= 10:
        return "*" * len(number)
    return number[:6] + "*" * (len(number) - 10) + number[-4:]


def mask_phone(phone: str) -> str:
    """Mobile `13812345678` → `138****5678`; landline `0554-2669359` → `0554-***9359`."""
    phone = normalize_phone(phone)
    if "-" in phone:
        area, _sep, rest = phone.partition("-")
        return f"{area}-{'*' * max(0, len(rest) - 4)}{rest[-4:]}"
    if len(phone) <= 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


MASKS = {ID_NUMBER: mask_id_number, PHONE: mask_phone}
NORMALIZERS = {ID_NUMBER: normalize_id_number, PHONE: normalize_phone}


def mask(kind: str, value: str) -> str:
    return MASKS[kind](value) if value else ""


def search_hash(kind: str, value: str) -> str:
    """The blind index of a value as a user typed it (normalised first)."""
    return crypto.blind_index(NORMALIZERS[kind](value))


class Sensitive:
    """A personal value that prints masked. `.reveal()` is the only way to the full value."""

    __slots__ = ("_plain", "kind")

    def __init__(self, plain: str, kind: str) -> None:
        self._plain = plain
        self.kind = kind

    def reveal(self) -> str:
        return self._plain

    @property
    def masked(self) -> str:
        return mask(self.kind, self._plain)

    def __str__(self) -> str:
        return self.masked

    def __format__(self, spec: str) -> str:
        return format(self.masked, spec)

    def __repr__(self) -> str:
        return f"<Sensitive {self.kind} {self.masked}>"

    def __bool__(self) -> bool:
        return bool(self._plain)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sensitive):
            return self.kind == other.kind and self._plain == other._plain
        return NotImplemented

    def __reduce__(self):
        # Caches and sessions pickle what they keep: a full value must never land there.
        raise TypeError("Sensitive values cannot be pickled")

    def __hash__(self) -> int:
        return hash((self.kind, self._plain))


def plain_of(value: Any) -> str:
    """The full text of a value that may be a Sensitive, a string or None (for services and imports)."""
    if value is None:
        return ""
    return value.reveal() if isinstance(value, Sensitive) else str(value)


class EncryptedField(models.TextField):
    """A text column sealed at rest, with a blind-index column (`hash_field`) kept beside it.

    kind: ID_NUMBER or PHONE — how values are normalised, hashed and masked.
    """

    def __init__(self, *args: Any, kind: str, hash_field: str | None = None, **kwargs: Any) -> None:
        if kind not in MASKS:
            raise ValueError(f"unknown kind {kind!r}")
        self.kind = kind
        self.hash_field = hash_field
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["kind"] = self.kind
        if self.hash_field:
            kwargs["hash_field"] = self.hash_field
        return name, path, args, kwargs

    @property
    def context(self) -> str:
        return f"{self.model._meta.label_lower}.{self.attname}"

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return Sensitive("", self.kind)
        return Sensitive(crypto.decrypt(value, context=self.context), self.kind)

    def to_python(self, value):
        if isinstance(value, Sensitive):
            return value
        return Sensitive(NORMALIZERS[self.kind](value or ""), self.kind)

    def get_prep_value(self, value):
        plain = plain_of(value)
        if not plain:
            return ""
        return crypto.encrypt(NORMALIZERS[self.kind](plain), context=self.context)

    def pre_save(self, model_instance, add):
        value = getattr(model_instance, self.attname)
        if not isinstance(value, Sensitive):
            value = self.to_python(value)
            setattr(model_instance, self.attname, value)
        if self.hash_field:
            plain = NORMALIZERS[self.kind](value.reveal())  # the form get_prep_value seals, so search finds it
            setattr(model_instance, self.hash_field, crypto.blind_index(plain) if plain else None)
        return value

    def value_to_string(self, obj):
        # Fixtures and dumpdata get the masked form, never the full value.
        return str(self.value_from_object(obj))

    def get_lookup(self, lookup_name):
        # Equality on ciphertext can never match (random nonces): search through the hash field.
        if lookup_name not in ("isnull",):
            return None
        return super().get_lookup(lookup_name)

    def validate(self, value, model_instance):
        if not self.blank and not plain_of(value):
            raise ValidationError(self.error_messages["blank"], code="blank")
