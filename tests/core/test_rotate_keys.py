"""`gridgov rotate_keys`: re-sealing every encrypted value with the current key and cipher."""

from __future__ import annotations

import base64
import os
from io import StringIO
from unittest import mock

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from gridgov.core import crypto
from gridgov.core.management.commands.rotate_keys import HELP, encrypted_fields
from gridgov.core.models import AuditEvent, AuditResult
from gridgov.registry import services
from gridgov.registry.models import Resident, Shop

IDS = ["340404199001011294", "34040419900101126X", "340404198506150025", "11010519491231002X", "340404200002290016"]
PHONES = ["13812345678", "13900001111", "", "0554-2669359", ""]


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def sealed(org, settings):
    """Five residents (two without a phone) and a shop, sealed under key k1 with AES."""
    settings.FIELD_ENCRYPTION_KEY = f"k1:{new_key()}"
    settings.GRIDGOV_FIELD_CIPHER = "aes-256-gcm"
    for index, (id_number, phone) in enumerate(zip(IDS, PHONES, strict=True)):
        services.resident_create(actor=None, grid=org.g11, name=f"居民{index}", id_number=id_number, phone=phone)
    services.shop_create(actor=None, grid=org.g11, name="小店", business_type="餐饮", phone="13700000000")
    return settings


def raw(model, column: str) -> dict[int, str]:
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, {column} FROM {table} ORDER BY id")  # noqa: S608
        return dict(cursor.fetchall())


def snapshot() -> dict[str, dict[int, str]]:
    return {
        "resident.id_number": raw(Resident, "id_number"),
        "resident.phone": raw(Resident, "phone"),
        "resident.id_number_hash": raw(Resident, "id_number_hash"),
        "resident.phone_hash": raw(Resident, "phone_hash"),
        "shop.phone": raw(Shop, "phone"),
        "shop.phone_hash": raw(Shop, "phone_hash"),
    }


def rotate(*args: str) -> str:
    out = StringIO()
    call_command("rotate_keys", *args, stdout=out)
    return out.getvalue()


def key_ids(values: dict[int, str]) -> set[tuple[str, str]]:
    return {tuple(value.split("$")[1:3]) for value in values.values() if value}


def plain_values() -> list:
    return [(r.id_number.reveal(), r.phone.reveal()) for r in Resident.objects.order_by("id")] + [
        s.phone.reveal() for s in Shop.objects.all()
    ]


def test_finds_every_encrypted_field():
    labels = {f"{model._meta.label_lower}.{field.attname}" for model, field in encrypted_fields()}
    assert {"registry.resident.id_number", "registry.resident.phone", "registry.shop.phone"} <= labels


def test_rotation_to_a_new_key(sealed):
    before = snapshot()
    plain = plain_values()
    assert key_ids(before["resident.id_number"]) == {("k1", "a")}
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"

    output = rotate()

    after = snapshot()
    for name in ("resident.id_number", "resident.phone", "shop.phone"):
        assert key_ids(after[name]) == {("k2", "a")}
        assert all(after[name][pk] != value for pk, value in before[name].items() if value)
    phones = list(after["resident.phone"].values())  # in id order, as created
    assert phones[2] == "" and phones[4] == ""  # empty values stay empty
    # The blind index is keyed separately and does not change.
    for name in ("resident.id_number_hash", "resident.phone_hash", "shop.phone_hash"):
        assert after[name] == before[name]
    assert plain_values() == plain
    assert "registry.resident.id_number: 5 values, 5 re-sealed, 0 already current, 0 unreadable" in output
    assert "registry.resident.phone: 3 values, 3 re-sealed, 0 already current, 0 unreadable" in output
    assert "registry.shop.phone: 1 values, 1 re-sealed, 0 already current, 0 unreadable" in output
    assert "nothing left to re-seal" in output

    [event] = AuditEvent.objects.filter(event_type="privacy.rotate_keys")
    assert event.result == AuditResult.SUCCESS
    assert event.data["key"] == "k2" and event.data["cipher"] == "aes-256-gcm"
    assert event.data["fields"]["registry.resident.id_number"] == {
        "scanned": 5,
        "current": 0,
        "resealed": 5,
        "unreadable": 0,
    }
    assert event.data["fields"]["registry.shop.phone"]["resealed"] == 1
    text = str(event.data)
    assert all(value not in text for value in IDS + PHONES if value)

    # Once nothing is left, the old key can go: everything opens with the new key alone.
    sealed.FIELD_ENCRYPTION_KEY = sealed.FIELD_ENCRYPTION_KEY.split(",")[0]
    assert plain_values() == plain


def test_a_second_run_changes_nothing(sealed):
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    rotate()
    once = snapshot()
    output = rotate()
    assert snapshot() == once
    assert "registry.resident.id_number: 5 values, 0 re-sealed, 5 already current, 0 unreadable" in output
    # Every real run is audited, also one with nothing to do.
    assert AuditEvent.objects.filter(event_type="privacy.rotate_keys").count() == 2


def test_nothing_to_do_without_a_new_key(sealed):
    before = snapshot()
    output = rotate()
    assert snapshot() == before
    assert "0 re-sealed, 5 already current" in output


def test_dry_run_writes_nothing(sealed):
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    before = snapshot()
    events = AuditEvent.objects.count()
    output = rotate("--dry-run")
    assert snapshot() == before
    assert AuditEvent.objects.count() == events
    assert "(dry run)" in output
    assert "registry.resident.id_number: 5 values, 5 to re-seal" in output
    assert "9 values are not sealed with the current key and cipher yet" in output


def test_switching_to_sm4(sealed):
    plain = plain_values()
    sealed.GRIDGOV_FIELD_CIPHER = "sm4-gcm"
    before = snapshot()
    rotate()
    after = snapshot()
    for name in ("resident.id_number", "resident.phone", "shop.phone"):
        assert key_ids(after[name]) == {("k1", "s")}
    assert after["resident.id_number_hash"] == before["resident.id_number_hash"]
    assert plain_values() == plain
    assert AuditEvent.objects.get(event_type="privacy.rotate_keys").data["cipher"] == "sm4-gcm"
    # And back again.
    sealed.GRIDGOV_FIELD_CIPHER = "aes-256-gcm"
    rotate()
    assert key_ids(snapshot()["resident.id_number"]) == {("k1", "a")}
    assert plain_values() == plain


def test_batches_and_progress(sealed):
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    output = rotate("--batch", "2")
    progress = [line for line in output.splitlines() if line.startswith("  registry.resident.id_number:")]
    assert progress == [
        "  registry.resident.id_number: 2 scanned, 2 re-sealed",
        "  registry.resident.id_number: 4 scanned, 4 re-sealed",
        "  registry.resident.id_number: 5 scanned, 5 re-sealed",
    ]
    assert key_ids(snapshot()["resident.id_number"]) == {("k2", "a")}


def test_a_mixture_of_keys_and_ciphers(sealed):
    """Values sealed under an old key, the old cipher and the current pair all end up current."""
    old = sealed.FIELD_ENCRYPTION_KEY
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{old}"
    services.resident_create(actor=None, grid=Resident.objects.first().grid, name="新", id_number="340404201001010013")
    sealed.GRIDGOV_FIELD_CIPHER = "sm4-gcm"
    output = rotate()
    assert key_ids(snapshot()["resident.id_number"]) == {("k2", "s")}
    assert "registry.resident.id_number: 6 values, 6 re-sealed" in output


def test_unreadable_values_are_reported_and_left_alone(sealed):
    pk = Resident.objects.order_by("id").values_list("id", flat=True)[1]
    broken = crypto.encrypt("340404199001011294", context="registry.resident.phone")  # another column's value
    with connection.cursor() as cursor:
        cursor.execute("UPDATE registry_resident SET id_number = %s WHERE id = %s", [broken, pk])
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    out = StringIO()
    with pytest.raises(CommandError, match="1 values open with no configured key"):
        call_command("rotate_keys", stdout=out)
    assert f"registry.resident.id_number: 5 values, 4 re-sealed, 0 already current, 1 unreadable (ids {pk})" in (
        out.getvalue()
    )
    after = snapshot()
    assert after["resident.id_number"][pk] == broken
    assert key_ids({k: v for k, v in after["resident.id_number"].items() if k != pk}) == {("k2", "a")}
    event = AuditEvent.objects.get(event_type="privacy.rotate_keys")
    assert event.result == AuditResult.FAILURE
    assert event.data["fields"]["registry.resident.id_number"]["unreadable"] == 1


def test_a_value_changed_while_rotating_is_left_as_the_request_wrote_it(sealed):
    """Compare-and-set: a request that saved a new value between the read and the write wins."""
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    target = Resident.objects.order_by("id").first()
    real_decrypt = crypto.decrypt
    done = []

    def decrypt_and_meanwhile_save(stored, *, context):
        if not done and context == "registry.resident.phone":
            done.append(True)
            services.resident_update(actor=None, resident=Resident.objects.get(pk=target.pk), phone="13600000000")
        return real_decrypt(stored, context=context)

    with mock.patch.object(crypto, "decrypt", side_effect=decrypt_and_meanwhile_save):
        output = rotate()
    assert Resident.objects.get(pk=target.pk).phone.reveal() == "13600000000"
    assert "registry.resident.phone: 3 values, 2 re-sealed" in output
    assert key_ids(snapshot()["resident.phone"]) == {("k2", "a")}
    assert "nothing left to re-seal" in rotate("--dry-run")


def test_batch_must_be_positive(sealed):
    with pytest.raises(CommandError, match="--batch"):
        rotate("--batch", "0")


def test_a_malformed_key_stops_before_anything_is_read(sealed):
    from django.core.exceptions import ImproperlyConfigured

    sealed.FIELD_ENCRYPTION_KEY = "k2:short," + sealed.FIELD_ENCRYPTION_KEY
    before = snapshot()
    with pytest.raises(ImproperlyConfigured):
        rotate()
    assert snapshot() == before


def test_help_documents_the_procedure(capsys):
    for step in (
        "1. Prepend a new key to FIELD_ENCRYPTION_KEY",
        "2. Restart",
        "3. Run `gridgov rotate_keys`",
        "4. Remove the old key",
        "GRIDGOV_FIELD_CIPHER=sm4-gcm",
        "k2:<base64",
    ):
        assert step in HELP
    from gridgov.core.management.commands.rotate_keys import Command

    Command().print_help("gridgov", "rotate_keys")
    help_text = capsys.readouterr().out
    assert "\n  1. Prepend a new key" in help_text  # the numbered steps keep their lines
    assert "--dry-run" in help_text and "--batch" in help_text


# --- sealed secrets (SecretField): notification addresses and webhook secrets --------------------

SECRET_LABELS = [
    "notifications.channeladdress.http_secret",
    "notifications.channeladdress.http_url",
    "notifications.channeladdress.wecom_url",
    "webhooks.webhooksubscription.secret",
]
ENDPOINT = "https://hooks.example.org/in?token=abc"
ROBOT = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa"


@pytest.fixture
def sealed_secrets(sealed, org):
    """Two users' notification addresses (one without a robot) and a webhook subscription, sealed under k1.

    Returns the webhook's plain secret."""
    from gridgov.notifications.services import channel_address_save
    from gridgov.webhooks.services import webhook_subscription_create

    channel_address_save(actor=org.users.grid_worker, http_url=ENDPOINT, http_secret="签名-secret", wecom_url=ROBOT)
    channel_address_save(actor=org.users.center, http_url="https://other.example.org/in")
    _subscription, webhook_secret = webhook_subscription_create(
        actor=org.users.admin, name="hub", url="https://hub.example.org/in", events=["case.created"], area=org.s
    )
    return webhook_secret


def secret_snapshot() -> dict[str, dict[int, str]]:
    from gridgov.notifications.models import ChannelAddress
    from gridgov.webhooks.models import WebhookSubscription

    return {
        "http_url": raw(ChannelAddress, "http_url"),
        "http_secret": raw(ChannelAddress, "http_secret"),
        "wecom_url": raw(ChannelAddress, "wecom_url"),
        "secret": raw(WebhookSubscription, "secret"),
    }


def plain_secrets() -> list:
    from gridgov.notifications.models import ChannelAddress
    from gridgov.webhooks.models import WebhookSubscription

    return [(a.http_url, a.http_secret, a.wecom_url) for a in ChannelAddress.objects.order_by("id")] + [
        s.secret for s in WebhookSubscription.objects.all()
    ]


def test_finds_every_secret_field():
    labels = [f"{model._meta.label_lower}.{field.attname}" for model, field in encrypted_fields()]
    assert set(SECRET_LABELS) <= set(labels)
    assert len(labels) == len(set(labels)), "each column once"


def test_a_dry_run_reports_the_secrets_to_re_seal(sealed, sealed_secrets):
    secrets_before = secret_snapshot()
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    events = AuditEvent.objects.count()
    output = rotate("--dry-run")
    assert secret_snapshot() == secrets_before
    assert AuditEvent.objects.count() == events
    assert "notifications.channeladdress.http_url: 2 values, 2 to re-seal, 0 already current, 0 unreadable" in output
    assert "notifications.channeladdress.http_secret: 1 values, 1 to re-seal" in output
    assert "notifications.channeladdress.wecom_url: 1 values, 1 to re-seal" in output
    assert "webhooks.webhooksubscription.secret: 1 values, 1 to re-seal, 0 already current, 0 unreadable" in output
    # 9 personal values of the registry fixture and 5 secrets.
    assert "14 values are not sealed with the current key and cipher yet" in output


def test_rotation_re_seals_notification_and_webhook_secrets(sealed, sealed_secrets):
    before = secret_snapshot()
    plain = plain_secrets()
    assert all(key_ids(values) == {("k1", "a")} for values in before.values())
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"

    output = rotate()

    after = secret_snapshot()
    for column, values in after.items():
        assert key_ids(values) == {("k2", "a")}, column
        assert all(values[pk] != value for pk, value in before[column].items() if value)
    assert list(after["wecom_url"].values())[1] == "", "an empty secret stays empty"
    assert "notifications.channeladdress.http_url: 2 values, 2 re-sealed, 0 already current, 0 unreadable" in output
    assert "webhooks.webhooksubscription.secret: 1 values, 1 re-sealed, 0 already current, 0 unreadable" in output
    assert "nothing left to re-seal" in output
    event = AuditEvent.objects.get(event_type="privacy.rotate_keys")
    assert event.data["fields"]["webhooks.webhooksubscription.secret"] == {
        "scanned": 1,
        "current": 0,
        "resealed": 1,
        "unreadable": 0,
    }
    assert event.data["fields"]["notifications.channeladdress.http_secret"]["resealed"] == 1
    text = str(event.data)
    assert sealed_secrets not in text and "签名" not in text and "token=abc" not in text
    assert "nothing left to re-seal" in rotate("--dry-run")

    # The old key can go: every secret opens with the new key alone, and webhooks still sign with theirs.
    sealed.FIELD_ENCRYPTION_KEY = sealed.FIELD_ENCRYPTION_KEY.split(",")[0]
    assert plain_secrets() == plain
    assert plain[-1] == sealed_secrets


def test_an_unreadable_secret_is_counted_and_left_alone(sealed, sealed_secrets):
    from gridgov.webhooks.models import WebhookSubscription

    pk = WebhookSubscription.objects.get().pk
    broken = crypto.encrypt(sealed_secrets, context="integrations_intakechannel.secret")  # another column's value
    with connection.cursor() as cursor:
        cursor.execute("UPDATE webhooks_webhooksubscription SET secret = %s WHERE id = %s", [broken, pk])
    sealed.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{sealed.FIELD_ENCRYPTION_KEY}"
    dry = StringIO()
    with pytest.raises(CommandError, match="1 values open with no configured key"):
        call_command("rotate_keys", "--dry-run", stdout=dry)
    assert (
        f"webhooks.webhooksubscription.secret: 1 values, 0 to re-seal, 0 already current, 1 unreadable (ids {pk})"
        in dry.getvalue()
    )
    out = StringIO()
    with pytest.raises(CommandError, match="1 values open with no configured key"):
        call_command("rotate_keys", stdout=out)
    assert (
        f"webhooks.webhooksubscription.secret: 1 values, 0 re-sealed, 0 already current, 1 unreadable (ids {pk})"
        in out.getvalue()
    )
    after = secret_snapshot()
    assert after["secret"][pk] == broken
    assert key_ids(after["http_secret"]) == {("k2", "a")}, "the readable secrets were re-sealed all the same"
    event = AuditEvent.objects.get(event_type="privacy.rotate_keys")
    assert event.result == AuditResult.FAILURE
    assert event.data["fields"]["webhooks.webhooksubscription.secret"]["unreadable"] == 1


def test_help_names_the_sealed_secrets():
    assert "SecretField" in HELP and "EncryptedField" in HELP and "signing secrets" in HELP
