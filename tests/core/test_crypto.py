"""Sealing personal data: AES-256-GCM and SM4-GCM, key ids and rotation, context binding, the blind index."""

from __future__ import annotations

import base64
import os

import pytest
from django.core.exceptions import ImproperlyConfigured

from gridgov.core import crypto

ID = "340404199001011234"
CONTEXT = "registry.resident.id_number"
CIPHERS = ["aes-256-gcm", "sm4-gcm"]


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def keys(settings):
    """A fresh key and hash key for each test, AES by default."""
    settings.FIELD_ENCRYPTION_KEY = new_key()
    settings.FIELD_HASH_KEY = new_key()
    settings.GRIDGOV_FIELD_CIPHER = "aes-256-gcm"
    return settings


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("plain", [ID, "13812345678", "0554-2669359-12", "", "张三 ü €"])
def test_round_trip(keys, cipher, plain):
    keys.GRIDGOV_FIELD_CIPHER = cipher
    sealed = crypto.encrypt(plain, context=CONTEXT)
    assert crypto.decrypt(sealed, context=CONTEXT) == plain
    prefix, kid, code, _payload = sealed.split("$")
    assert (prefix, kid, code) == ("g1", "k1", crypto.CIPHERS[cipher])
    assert crypto.is_current(sealed)


def test_sm4_and_aes_values_differ_and_both_stay_readable(keys):
    aes = crypto.encrypt(ID, context=CONTEXT)
    keys.GRIDGOV_FIELD_CIPHER = "sm4-gcm"
    sm4 = crypto.encrypt(ID, context=CONTEXT)
    assert aes.split("$")[2] == "a" and sm4.split("$")[2] == "s"
    # Under SM4 the AES value still opens (the cipher is named in the value), but it is not current.
    assert crypto.decrypt(aes, context=CONTEXT) == ID
    assert crypto.decrypt(sm4, context=CONTEXT) == ID
    assert not crypto.is_current(aes)
    assert crypto.is_current(sm4)


def test_sm4_uses_a_derived_128_bit_key(keys):
    """SM4 keys are 128 bits: derived with HKDF, not the first half of the AES key."""
    key = base64.b64decode(keys.FIELD_ENCRYPTION_KEY)
    derived = crypto._sm4_key(key)
    assert len(derived) == 16
    assert derived != key[:16]


@pytest.mark.parametrize("cipher", CIPHERS)
def test_random_nonces(keys, cipher):
    keys.GRIDGOV_FIELD_CIPHER = cipher
    sealed = {crypto.encrypt(ID, context=CONTEXT) for _ in range(20)}
    assert len(sealed) == 20
    nonces = {base64.b64decode(value.split("$")[3])[: crypto.NONCE_BYTES] for value in sealed}
    assert len(nonces) == 20


@pytest.mark.parametrize("cipher", CIPHERS)
def test_a_value_sealed_for_one_column_does_not_open_in_another(keys, cipher):
    keys.GRIDGOV_FIELD_CIPHER = cipher
    sealed = crypto.encrypt(ID, context="registry.resident.id_number")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed, context="registry.resident.phone")
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed, context="registry.shop.phone")


def _flip(sealed: str, index: int) -> str:
    """The sealed value with one bit of its binary payload changed."""
    head, payload = sealed.rsplit("$", 1)
    raw = bytearray(base64.b64decode(payload))
    raw[index] ^= 0x01
    return f"{head}${base64.b64encode(bytes(raw)).decode()}"


@pytest.mark.parametrize("cipher", CIPHERS)
@pytest.mark.parametrize("where", ["nonce", "ciphertext", "tag"])
def test_tampering_is_detected(keys, cipher, where):
    keys.GRIDGOV_FIELD_CIPHER = cipher
    sealed = crypto.encrypt(ID, context=CONTEXT)
    index = {"nonce": 0, "ciphertext": crypto.NONCE_BYTES + 3, "tag": -1}[where]
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(_flip(sealed, index), context=CONTEXT)


def test_swapping_the_cipher_letter_is_detected(keys):
    sealed = crypto.encrypt(ID, context=CONTEXT)
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed.replace("$a$", "$s$", 1), context=CONTEXT)


@pytest.mark.parametrize(
    "stored",
    [
        "340404199001011234",  # plaintext that never was sealed
        "g1$k1$a$not base64!",
        "g1$k1$a$" + base64.b64encode(b"short").decode(),  # shorter than nonce + tag
        "g2$k1$a$" + base64.b64encode(os.urandom(40)).decode(),  # unknown format version
        "g1$k1$x$" + base64.b64encode(os.urandom(40)).decode(),  # unknown cipher
        "g1$k1$a",
        "",
    ],
)
def test_values_that_are_not_sealed_are_refused(keys, stored):
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(stored, context=CONTEXT)
    with pytest.raises(crypto.DecryptionError):
        crypto.is_current(stored)


def test_unknown_key_id(keys):
    sealed = crypto.encrypt(ID, context=CONTEXT)
    with pytest.raises(crypto.DecryptionError, match="k9"):
        crypto.decrypt(sealed.replace("$k1$", "$k9$", 1), context=CONTEXT)


def test_a_dropped_key_leaves_its_values_unreadable(keys):
    sealed = crypto.encrypt(ID, context=CONTEXT)
    keys.FIELD_ENCRYPTION_KEY = f"k2:{new_key()}"
    with pytest.raises(crypto.DecryptionError, match="k1"):
        crypto.decrypt(sealed, context=CONTEXT)


def test_another_key_under_the_same_id_does_not_open_the_value(keys):
    sealed = crypto.encrypt(ID, context=CONTEXT)
    keys.FIELD_ENCRYPTION_KEY = new_key()
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(sealed, context=CONTEXT)


def test_prepending_a_new_key_keeps_old_values_readable(keys):
    old = keys.FIELD_ENCRYPTION_KEY
    sealed_k1 = crypto.encrypt(ID, context=CONTEXT)
    keys.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},k1:{old}"
    assert crypto.keyring().current == "k2"
    assert crypto.decrypt(sealed_k1, context=CONTEXT) == ID
    assert not crypto.is_current(sealed_k1)
    sealed_k2 = crypto.encrypt(ID, context=CONTEXT)
    assert sealed_k2.split("$")[1] == "k2"
    assert crypto.is_current(sealed_k2)
    assert crypto.decrypt(sealed_k2, context=CONTEXT) == ID


def test_keys_without_ids_are_numbered(keys):
    first, second = new_key(), new_key()
    keys.FIELD_ENCRYPTION_KEY = f"{first}, {second}"
    ring = crypto.keyring()
    assert ring.current == "k1"
    assert ring.keys == {"k1": base64.b64decode(first), "k2": base64.b64decode(second)}


@pytest.mark.parametrize(
    "template",
    [
        "k1:{new},k1:{old}",
        # The old key left without its id is numbered by position: k2, the new key's id.
        "k2:{new},{old}",
    ],
)
def test_a_key_id_given_twice_is_refused(keys, template):
    """Keeping either key silently would seal new values under the wrong one, or make old ones unreadable."""
    keys.FIELD_ENCRYPTION_KEY = template.format(new=new_key(), old=keys.FIELD_ENCRYPTION_KEY)
    with pytest.raises(ImproperlyConfigured, match="twice"):
        crypto.encrypt(ID, context=CONTEXT)


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("FIELD_ENCRYPTION_KEY", "not base64 at all!", "base64"),
        ("FIELD_ENCRYPTION_KEY", base64.b64encode(os.urandom(16)).decode(), "32 bytes"),
        ("FIELD_ENCRYPTION_KEY", base64.b64encode(os.urandom(33)).decode(), "32 bytes"),
        ("FIELD_ENCRYPTION_KEY", "", "empty"),
        ("FIELD_ENCRYPTION_KEY", " , ", "empty"),
        ("FIELD_ENCRYPTION_KEY", "k$1:" + base64.b64encode(os.urandom(32)).decode(), "letters and digits"),
        ("FIELD_ENCRYPTION_KEY", "k2:" + base64.b64encode(os.urandom(32)).decode() + ",k1:short", "base64"),
        ("FIELD_HASH_KEY", "tooshort", "FIELD_HASH_KEY"),
        ("FIELD_HASH_KEY", base64.b64encode(os.urandom(31)).decode(), "32 bytes"),
        ("GRIDGOV_FIELD_CIPHER", "aes-128-cbc", "GRIDGOV_FIELD_CIPHER"),
    ],
)
def test_malformed_settings_are_improperly_configured(keys, setting, value, message):
    setattr(keys, setting, value)
    with pytest.raises(ImproperlyConfigured, match=message):
        crypto.encrypt(ID, context=CONTEXT)


def test_the_error_for_a_malformed_key_does_not_quote_the_key(keys):
    bad = base64.b64encode(os.urandom(16)).decode()
    keys.FIELD_ENCRYPTION_KEY = bad
    with pytest.raises(ImproperlyConfigured) as excinfo:
        crypto.keyring()
    assert bad not in str(excinfo.value)


def test_blind_index_is_deterministic_and_keyed(keys):
    first = crypto.blind_index(ID)
    assert first == crypto.blind_index(ID)
    assert len(first) == 64 and int(first, 16) >= 0
    assert crypto.blind_index("340404199001011235") != first
    keys.FIELD_HASH_KEY = new_key()
    assert crypto.blind_index(ID) != first


def test_blind_index_does_not_rotate_with_the_encryption_key(keys):
    before = crypto.blind_index(ID)
    keys.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},k1:{keys.FIELD_ENCRYPTION_KEY}"
    keys.GRIDGOV_FIELD_CIPHER = "sm4-gcm"
    assert crypto.blind_index(ID) == before


def test_blind_index_is_not_a_plain_hash(keys):
    import hashlib

    assert crypto.blind_index(ID) != hashlib.sha256(ID.encode()).hexdigest()


@pytest.mark.parametrize("cipher", CIPHERS)
def test_no_plaintext_in_the_sealed_string(keys, cipher):
    keys.GRIDGOV_FIELD_CIPHER = cipher
    for plain in (ID, "13812345678"):
        sealed = crypto.encrypt(plain, context=CONTEXT)
        assert plain not in sealed
        assert plain[-4:] not in sealed.split("$", 3)[:3]
        assert plain.encode() not in base64.b64decode(sealed.split("$")[3])
        assert base64.b64encode(plain.encode()).decode() not in sealed
