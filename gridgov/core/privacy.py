"""Personal data protected by default: encrypted columns whose values print masked; sealed secrets.

`EncryptedField` stores a sealed value (see `core.crypto`) and keeps a companion blind-index
column up to date. Reading it gives a `Sensitive` value, not a string: templates, serializers,
logs and error messages that print it show the masked form (`340404********1234`,
`138****5678`); only `.reveal()` gives the full value, and pages and the API call it only after
the reveal service has checked the role and written an audit event. JSON encoders refuse a
`Sensitive`, so it cannot leak through a forgotten serializer either.

`SecretField` is for credentials the code itself uses (signing secrets, robot URLs holding a
key): sealed the same way, but read back as the plain string, opened only when the attribute is
read. Both kinds of column are re-sealed by `gridgov rotate_keys`.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldError, ValidationError
from django.db import models
from django.db.models.lookups import Exact
from django.db.models.query_utils import DeferredAttribute

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


# --- secrets: credentials sealed at rest, read back in full by the code that uses them ---------


class SealedSecret:
    """A secret as the database holds it, not opened yet. Opening it is SecretField's descriptor's job.

    `values()` and `values_list()` give these for non-empty secrets (truthy: "a secret is set"),
    so a query that only needs to know whether a secret is set decrypts nothing.
    """

    __slots__ = ("context", "stored")

    def __init__(self, stored: str, context: str) -> None:
        self.stored = stored
        self.context = context

    def open(self) -> str:
        """The plain secret; crypto.DecryptionError when no configured key opens it."""
        return crypto.decrypt(self.stored, context=self.context)

    def __bool__(self) -> bool:
        return bool(self.stored)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SealedSecret):
            return (self.stored, self.context) == (other.stored, other.context)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.stored, self.context))

    def __repr__(self) -> str:
        return "<SealedSecret>"

    __str__ = __repr__


class _SecretAttribute(DeferredAttribute):
    """Opens a loaded secret on first access and keeps the plain value on the instance.

    A data descriptor (it has __set__), so every read comes here, also after a value was set.
    """

    def __get__(self, instance, cls=None):
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, SealedSecret):
            value = value.open()  # DecryptionError leaves the sealed value in place: every access raises
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance, value) -> None:
        instance.__dict__[self.field.attname] = value


class _EmptyOnlyExact(Exact):
    """`secret=""`: whether a secret is set. Any other value can never match a sealed column (random nonces)."""

    def get_prep_lookup(self):
        if not (self.rhs is None or (isinstance(self.rhs, str) and self.rhs == "")):
            raise FieldError(
                f"{self.lhs.output_field.__class__.__name__} {self.lhs.output_field.name!r} is sealed: "
                "it can only be compared with '' (not set)"
            )
        return super().get_prep_lookup()


class SecretField(models.TextField):
    """A credential (signing secret, a URL holding a key) sealed at rest, plain text in Python.

    The Python value is the plain str ("" when empty). It is stored as
    `crypto.encrypt(value, context="<db_table>.<column>")`; "" stays "". A loaded row keeps the
    sealed value until the attribute is read: only then is it decrypted, and a value that no
    configured key opens raises crypto.DecryptionError at that access (not when the row loads),
    so a list of rows never fails because of one broken secret. A row saved without its secret
    being read or set writes the sealed value back as it was (re-sealed with the current key
    when it opens), so an unreadable secret is never lost on an unrelated save.
    `is_secret_set()` says whether a secret is set without decrypting it. (`refresh_from_db()`
    reads every field it reloads, so it opens the secret too: pass `fields=` to leave it out.)

    Not searchable: lookups other than `isnull` and `exact` with "" are refused. Serializers
    and dumpdata get the sealed text, which loaddata takes back as it is. `gridgov rotate_keys`
    re-seals these columns like EncryptedField columns.
    """

    descriptor_class = _SecretAttribute

    @property
    def context(self) -> str:
        """What the value is sealed for (bound into the ciphertext): its table and column."""
        return f"{self.model._meta.db_table}.{self.column}"

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return SealedSecret(value, self.context)

    def to_python(self, value):
        if value is None or isinstance(value, SealedSecret):
            return value
        value = str(value)
        if value.startswith(f"{crypto.PREFIX}$"):
            try:
                crypto.parse(value)
            except crypto.DecryptionError:
                return value
            return SealedSecret(value, self.context)  # a sealed value from a fixture (value_to_string)
        return value

    def get_prep_value(self, value):
        if value is None:
            return None
        if isinstance(value, SealedSecret):
            return value.stored
        plain = str(value)
        return crypto.encrypt(plain, context=self.context) if plain else ""

    def pre_save(self, model_instance, add):
        # Not getattr: that would decrypt a value that is only written back.
        value = model_instance.__dict__.get(self.attname)
        if isinstance(value, SealedSecret) and value.stored:
            try:
                if not crypto.is_current(value.stored):
                    value = value.open()  # sealed again below with the current key
            except crypto.DecryptionError:
                pass  # kept exactly as stored, for a restored key or rotate_keys to deal with
        return value

    def value_to_string(self, obj):
        # Fixtures and dumpdata get the sealed text, never the plain secret.
        value = obj.__dict__.get(self.attname)
        return self.get_prep_value(value) or ""

    def get_lookup(self, lookup_name):
        if lookup_name == "exact":
            return _EmptyOnlyExact
        if lookup_name == "isnull":
            return super().get_lookup(lookup_name)
        return None


def is_secret_set(obj: models.Model, name: str) -> bool:
    """Whether `obj`'s SecretField `name` holds a secret, without decrypting it (for lists and admin columns)."""
    model_field = obj._meta.get_field(name)
    if not isinstance(model_field, SecretField):
        raise TypeError(f"{name} is not a SecretField")
    if model_field.attname in obj.__dict__:
        return bool(obj.__dict__[model_field.attname])
    # A deferred column: ask the database whether it is empty (refresh_from_db would decrypt it).
    return type(obj)._base_manager.filter(pk=obj.pk).exclude(**{model_field.attname: ""}).exists()
