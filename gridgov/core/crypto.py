"""Encryption of personal data at rest, and keyed hashes for exact search.

Values are sealed with AES-256-GCM (default) or SM4-GCM (`GRIDGOV_FIELD_CIPHER=sm4-gcm`, for
商用密码 deployments) under the current key of `FIELD_ENCRYPTION_KEY`. Each stored value says
which key and cipher sealed it — `g1$<key id>$<cipher>$<base64 nonce|ciphertext|tag>` — so keys
rotate with `gridgov rotate_keys` while old values stay readable. The column name is bound in as
associated data, so a value copied into another column does not decrypt.

`FIELD_ENCRYPTION_KEY` is one base64 key of 32 bytes (key id `k1`) or a comma-separated list of
`id:base64` pairs, the first being the one that seals new values. `FIELD_HASH_KEY` keys the
HMAC-SHA256 blind index that exact search uses; it does not rotate with the encryption keys.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

PREFIX = "g1"
NONCE_BYTES = 12
TAG_BYTES = 16
CIPHERS = {"aes-256-gcm": "a", "sm4-gcm": "s"}


class DecryptionError(Exception):
    """A stored value that no configured key opens (wrong key, tampered, or another column's)."""


@dataclass(frozen=True)
class Keyring:
    current: str
    keys: dict[str, bytes]
    cipher: str  # one-letter code of CIPHERS
    hash_key: bytes


def _b64key(text: str, name: str) -> bytes:
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{name} is not valid base64") from exc
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name} must be 32 bytes (base64 of 32 random bytes)")
    return key


@lru_cache(maxsize=4)
def _keyring(encryption: str, hash_key: str, cipher: str) -> Keyring:
    keys: dict[str, bytes] = {}
    current = ""
    for index, item in enumerate(part for part in encryption.split(",") if part.strip()):
        kid, sep, text = item.strip().partition(":")
        if not sep:
            kid, text = f"k{index + 1}", kid
        if not kid.isalnum():
            raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY ids must be letters and digits")
        if kid in keys:
            # Silently keeping one of the two would seal new values under the wrong key.
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEY names key {kid} twice (a key without an id is k<its position>: "
                "write id:base64 for every key, e.g. k2:<new>,k1:<old>)"
            )
        keys[kid] = _b64key(text, "FIELD_ENCRYPTION_KEY")
        current = current or kid
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is empty")
    if cipher not in CIPHERS:
        raise ImproperlyConfigured(f"GRIDGOV_FIELD_CIPHER must be one of {', '.join(CIPHERS)}")
    return Keyring(current=current, keys=keys, cipher=CIPHERS[cipher], hash_key=_b64key(hash_key, "FIELD_HASH_KEY"))


def keyring() -> Keyring:
    return _keyring(settings.FIELD_ENCRYPTION_KEY, settings.FIELD_HASH_KEY, settings.GRIDGOV_FIELD_CIPHER)


def _sm4_key(key: bytes) -> bytes:
    """SM4 takes 128-bit keys: derive one from the 256-bit key rather than truncate it."""
    return HKDF(algorithm=hashes.SHA256(), length=16, salt=None, info=b"gridgov sm4-gcm").derive(key)


def _seal(cipher: str, key: bytes, nonce: bytes, data: bytes, aad: bytes) -> bytes:
    if cipher == "a":
        return AESGCM(key).encrypt(nonce, data, aad)
    encryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(data) + encryptor.finalize() + encryptor.tag


def _open(cipher: str, key: bytes, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if cipher == "a":
        return AESGCM(key).decrypt(nonce, sealed, aad)
    body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(_sm4_key(key)), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(body) + decryptor.finalize()


def encrypt(plain: str, *, context: str) -> str:
    """Seal `plain` under the current key; `context` (the column) is bound in."""
    ring = keyring()
    nonce = os.urandom(NONCE_BYTES)
    sealed = _seal(ring.cipher, ring.keys[ring.current], nonce, plain.encode(), context.encode())
    return f"{PREFIX}${ring.current}${ring.cipher}${base64.b64encode(nonce + sealed).decode()}"


def parse(stored: str) -> tuple[str, str, bytes]:
    """(key id, cipher code, nonce|sealed) of a stored value."""
    try:
        prefix, kid, cipher, payload = stored.split("$", 3)
        raw = base64.b64decode(payload, validate=True)
    except (ValueError, binascii.Error) as exc:
        raise DecryptionError("not a sealed value") from exc
    if prefix != PREFIX or cipher not in CIPHERS.values() or len(raw) < NONCE_BYTES + TAG_BYTES:
        raise DecryptionError("not a sealed value")
    return kid, cipher, raw


def decrypt(stored: str, *, context: str) -> str:
    kid, cipher, raw = parse(stored)
    key = keyring().keys.get(kid)
    if key is None:
        raise DecryptionError(f"no key {kid!r} in FIELD_ENCRYPTION_KEY")
    try:
        return _open(cipher, key, raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode()).decode()
    except InvalidTag as exc:
        raise DecryptionError("the value does not open with its key (tampered, or another column's)") from exc


def is_current(stored: str) -> bool:
    """Sealed with the current key and cipher: nothing for key rotation to do."""
    ring = keyring()
    kid, cipher, _raw = parse(stored)
    return kid == ring.current and cipher == ring.cipher


def blind_index(normalized: str) -> str:
    """The keyed hash stored beside an encrypted value, for exact search without decrypting."""
    return hmac.new(keyring().hash_key, normalized.encode(), hashlib.sha256).hexdigest()
