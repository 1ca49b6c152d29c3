"""Personal data protected by default: masks, values that print masked, encrypted columns with a blind index;
sealed secrets (SecretField)."""

from __future__ import annotations

import base64
import json
import logging
import os

import pytest
from django.core import serializers
from django.core.exceptions import FieldError, ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.template import Context, Template

from gridgov.core import crypto
from gridgov.core.errors import ApplicationError
from gridgov.core.privacy import (
    ID_NUMBER,
    PHONE,
    EncryptedField,
    SealedSecret,
    Sensitive,
    is_secret_set,
    mask,
    mask_id_number,
    mask_phone,
    plain_of,
    search_hash,
)
from gridgov.core.validators import parse_id_number, validate_phone
from gridgov.registry import services
from gridgov.registry.models import Resident, Shop

ID = "340404199001011294"  # valid (GB 11643 check digit 4), male
ID_MASKED = "340404********1294"
ID_X = "34040419900101126X"  # valid, ends in X
MOBILE = "13812345678"
MOBILE_MASKED = "138****5678"
LANDLINE = "0554-2669359"
LANDLINE_MASKED = "0554-***9359"


# --- masks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("340404199001011234", "340404********1234"),
        (ID, ID_MASKED),
        ("34040419900101126x", "340404********126X"),
        (" 340404 19900101 1294 ", ID_MASKED),
        ("12345", "*****"),
    ],
)
def test_mask_id_number(value, masked):
    assert mask_id_number(value) == masked


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        (MOBILE, MOBILE_MASKED),
        ("+86 138 1234 5678", MOBILE_MASKED),
        ("008613812345678", MOBILE_MASKED),
        ("86 13812345678", MOBILE_MASKED),
        (LANDLINE, LANDLINE_MASKED),
        ("(0554)2669359", LANDLINE_MASKED),
        ("（0554）2669359", LANDLINE_MASKED),
        ("010-12345678", "010-****5678"),
        ("123", "***"),
    ],
)
def test_mask_phone(value, masked):
    assert mask_phone(value) == masked


def test_mask_of_nothing_is_nothing():
    assert mask(ID_NUMBER, "") == ""
    assert mask(PHONE, "") == ""


# --- Sensitive --------------------------------------------------------------------------------


@pytest.fixture
def sid():
    return Sensitive(ID, ID_NUMBER)


@pytest.fixture
def sphone():
    return Sensitive(MOBILE, PHONE)


def test_sensitive_prints_masked(sid, sphone):
    assert str(sid) == ID_MASKED
    assert f"{sid}" == ID_MASKED
    assert format(sid) == ID_MASKED
    assert "{}".format(sid) == ID_MASKED  # noqa: UP032 — the str.format path on purpose
    assert "%s" % sid == ID_MASKED  # noqa: UP031 — the %-format path on purpose
    assert f"{sid:>20}" == f"{ID_MASKED:>20}"
    assert f"{sphone!s}" == MOBILE_MASKED
    assert ID not in repr(sid) and ID_MASKED in repr(sid)
    assert ID not in f"{sid!r}"
    assert MOBILE not in repr([sid, sphone])
    assert sid.masked == ID_MASKED
    assert sid.reveal() == ID


def test_sensitive_in_a_template_is_masked(sid, sphone):
    rendered = Template("{{ v }} {{ p }} {{ v|upper }} {{ p|default:'-' }}").render(Context({"v": sid, "p": sphone}))
    assert ID not in rendered and MOBILE not in rendered
    assert rendered == f"{ID_MASKED} {MOBILE_MASKED} {ID_MASKED} {MOBILE_MASKED}"


def test_sensitive_through_a_drf_char_field_is_masked(sid):
    from rest_framework import serializers as drf

    assert drf.CharField().to_representation(sid) == ID_MASKED


def test_a_model_serializer_shows_masked_values(org):
    from rest_framework import serializers as drf

    class ResidentSerializer(drf.ModelSerializer):
        class Meta:
            model = Resident
            fields = ["name", "id_number", "phone"]

    resident = services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    data = ResidentSerializer(Resident.objects.get(pk=resident.pk)).data
    assert data == {"name": "张三", "id_number": ID_MASKED, "phone": MOBILE_MASKED}


@pytest.mark.parametrize("encoder", [None, DjangoJSONEncoder, "drf"])
def test_json_encoders_refuse_a_sensitive(sid, encoder):
    if encoder == "drf":
        from rest_framework.utils.encoders import JSONEncoder

        encoder = JSONEncoder
    with pytest.raises(TypeError):
        json.dumps({"id_number": sid}, cls=encoder)


def test_logging_a_sensitive_writes_the_masked_form(sid, sphone, caplog):
    logger = logging.getLogger("gridgov.tests.privacy")
    with caplog.at_level(logging.INFO, logger="gridgov.tests.privacy"):
        logger.info("%s", sid)
        logger.info("phone %s", sphone)
        logger.info("%r", sid)
        logger.info("values %s", {"id": sid})
        logger.info(f"{sphone}")
    assert ID not in caplog.text and MOBILE not in caplog.text
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0] == ID_MASKED
    assert lines[1] == f"phone {MOBILE_MASKED}"
    assert ID_MASKED in lines[2]


def test_sensitive_equality(sid):
    assert sid == Sensitive(ID, ID_NUMBER)
    assert hash(sid) == hash(Sensitive(ID, ID_NUMBER))
    assert sid != Sensitive("340404199001011242", ID_NUMBER)
    # Never equal to a string: comparing with user input goes through the blind index or .reveal().
    assert sid != ID
    assert sid != ID_MASKED
    assert len({sid, Sensitive(ID, ID_NUMBER)}) == 1


def test_equal_sensitives_hash_equal():
    """The same digits as an ID and as a phone are different values (equality agrees with hash)."""
    as_id, as_phone = Sensitive("12345678", ID_NUMBER), Sensitive("12345678", PHONE)
    assert as_id != as_phone
    assert as_id == Sensitive("12345678", ID_NUMBER)
    assert len({as_id, as_phone}) == 2


def test_empty_sensitive_is_falsy():
    assert not Sensitive("", PHONE)
    assert Sensitive(MOBILE, PHONE)
    assert str(Sensitive("", PHONE)) == ""


def test_plain_of():
    assert plain_of(None) == ""
    assert plain_of(Sensitive(ID, ID_NUMBER)) == ID
    assert plain_of(MOBILE) == MOBILE


def test_search_hash_normalises_what_the_user_typed():
    assert search_hash(PHONE, "+86 138 1234 5678") == crypto.blind_index(MOBILE)
    assert search_hash(ID_NUMBER, ID_X.lower()) == crypto.blind_index(ID_X)
    assert search_hash(ID_NUMBER, f" {ID[:6]} {ID[6:]} ") == crypto.blind_index(ID)


# --- EncryptedField ---------------------------------------------------------------------------


def raw_column(model, pk: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_a_saved_resident_stores_sealed_columns(org):
    resident = services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    for column, plain in (("id_number", ID), ("phone", MOBILE)):
        stored = raw_column(Resident, resident.pk, column)
        assert stored.startswith("g1$")
        assert plain not in stored
        assert crypto.decrypt(stored, context=f"registry.resident.{column}") == plain
    assert raw_column(Resident, resident.pk, "id_number_hash") == search_hash(ID_NUMBER, ID)
    assert raw_column(Resident, resident.pk, "phone_hash") == search_hash(PHONE, MOBILE)


def test_reading_gives_sensitive_values(org):
    resident = services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    fresh = Resident.objects.get(pk=resident.pk)
    assert isinstance(fresh.id_number, Sensitive) and fresh.id_number.reveal() == ID
    assert isinstance(fresh.phone, Sensitive) and fresh.phone.reveal() == MOBILE
    row = Resident.objects.values("id_number", "phone").get(pk=resident.pk)
    assert str(row["id_number"]) == ID_MASKED and str(row["phone"]) == MOBILE_MASKED
    assert [str(v) for v in Resident.objects.values_list("phone", flat=True)] == [MOBILE_MASKED]


def test_an_empty_value_is_stored_empty_without_a_hash(org):
    resident = services.resident_create(actor=None, grid=org.g11, name="李四", gender="male")
    assert raw_column(Resident, resident.pk, "id_number") == ""
    assert raw_column(Resident, resident.pk, "id_number_hash") is None
    assert raw_column(Resident, resident.pk, "phone_hash") is None
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.id_number == Sensitive("", ID_NUMBER) and not fresh.id_number


def test_two_residents_without_id_numbers_do_not_collide(org):
    """The unique blind index is NULL, not the hash of '', when there is no ID number."""
    services.resident_create(actor=None, grid=org.g11, name="甲", gender="male")
    services.resident_create(actor=None, grid=org.g11, name="乙", gender="female")
    assert Resident.objects.filter(id_number_hash__isnull=True).count() == 2


def test_hash_columns_are_set_on_bulk_create(org):
    residents = Resident.objects.bulk_create(
        [
            Resident(grid=org.g11, area_code=org.g11.code, name="甲", gender="male", id_number=ID, phone=MOBILE),
            Resident(grid=org.g11, area_code=org.g11.code, name="乙", gender="male", phone="+86 139 0000 1111"),
        ]
    )
    first = Resident.objects.get(id_number_hash=search_hash(ID_NUMBER, ID))
    assert first.name == "甲"
    assert Resident.objects.get(phone_hash=search_hash(PHONE, "13900001111")).name == "乙"
    for resident in residents:
        assert raw_column(Resident, Resident.objects.get(name=resident.name).pk, "phone").startswith("g1$")


def test_hash_columns_follow_a_changed_value(org):
    resident = services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    resident.phone = "13900001111"
    resident.save()
    assert raw_column(Resident, resident.pk, "phone_hash") == search_hash(PHONE, "13900001111")
    resident.phone = ""
    resident.save()
    assert raw_column(Resident, resident.pk, "phone_hash") is None
    assert raw_column(Resident, resident.pk, "phone") == ""


def test_values_are_normalised_before_sealing(org):
    resident = Resident(grid=org.g11, area_code=org.g11.code, name="张三", gender="female", id_number=ID_X.lower())
    resident.save()
    fresh = Resident.objects.get(pk=resident.pk)
    assert fresh.id_number.reveal() == ID_X
    assert fresh.id_number_hash == search_hash(ID_NUMBER, ID_X)
    shop = Shop(grid=org.g11, area_code=org.g11.code, name="店", business_type="餐饮", phone="+86 138 1234 5678")
    shop.save()
    assert Shop.objects.get(pk=shop.pk).phone.reveal() == MOBILE


def test_the_hash_of_a_sensitive_value_is_taken_of_its_normal_form(org):
    """A Sensitive holding the number as typed is sealed normalised, and hashed the same way."""
    resident = Resident(
        grid=org.g11,
        area_code=org.g11.code,
        name="张三",
        gender="female",
        id_number=Sensitive(ID_X.lower(), ID_NUMBER),
        phone=Sensitive("+86 138 1234 5678", PHONE),
    )
    resident.save()
    fresh = Resident.objects.get(pk=resident.pk)
    assert (fresh.id_number.reveal(), fresh.phone.reveal()) == (ID_X, MOBILE)
    assert fresh.id_number_hash == search_hash(ID_NUMBER, ID_X)
    assert fresh.phone_hash == search_hash(PHONE, MOBILE)


@pytest.mark.parametrize(
    "lookup",
    [
        {"id_number": ID},
        {"id_number__exact": ID},
        {"id_number__iexact": ID},
        {"id_number__startswith": "340404"},
        {"id_number__contains": "1990"},
        {"id_number__in": [ID]},
        {"id_number__gt": ""},
        {"phone": MOBILE},
        {"phone__endswith": "5678"},
    ],
)
def test_lookups_on_sealed_columns_are_refused(org, lookup):
    with pytest.raises(FieldError):
        list(Resident.objects.filter(**lookup))


def test_isnull_lookup_is_allowed(org):
    services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID)
    assert Resident.objects.filter(id_number__isnull=False).count() == 1


def test_field_context_names_the_column():
    assert Resident._meta.get_field("id_number").context == "registry.resident.id_number"
    assert Shop._meta.get_field("phone").context == "registry.shop.phone"


def test_field_refuses_an_unknown_kind():
    with pytest.raises(ValueError, match="unknown kind"):
        EncryptedField(kind="passport")


def test_field_deconstructs_with_its_kind():
    _name, path, _args, kwargs = Resident._meta.get_field("id_number").deconstruct()
    assert path == "gridgov.core.privacy.EncryptedField"
    assert kwargs["kind"] == ID_NUMBER and kwargs["hash_field"] == "id_number_hash"


def test_serializers_output_masked_values_only(org):
    services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    services.shop_create(actor=None, grid=org.g11, name="店", business_type="餐饮", phone=LANDLINE)
    for fmt in ("json", "xml", "python"):
        output = serializers.serialize(fmt, [*Resident.objects.all(), *Shop.objects.all()])
        text = json.dumps(output, default=str) if fmt == "python" else output
        assert ID not in text and MOBILE not in text and "2669359" not in text
        assert ID_MASKED in text and MOBILE_MASKED in text and LANDLINE_MASKED in text
        assert "g1$" not in text


def test_dumpdata_outputs_masked_values_only(org, capsys):
    from django.core.management import call_command

    services.resident_create(actor=None, grid=org.g11, name="张三", id_number=ID, phone=MOBILE)
    call_command("dumpdata", "registry.resident", stdout=None)
    out = capsys.readouterr().out
    assert ID_MASKED in out and ID not in out and MOBILE not in out


BAD_IDS = [
    "34040419900101123",  # 17 characters
    "3404041990010112345",  # 19
    "34040419900101123A",  # a letter for the check character
    "99040419900101123X",  # no such province
    "340404199002301234",  # 30 February
    "340404299001011234",  # born in 2990
    "340404199001011236",  # wrong check digit
]
BAD_PHONES = ["12812345678", "1381234567", "138123456789", "0554-1669359", "55426693590", "+1 415 555 0100"]


@pytest.mark.parametrize("value", BAD_IDS)
def test_id_number_messages_never_repeat_the_value(value):
    with pytest.raises(ValidationError) as excinfo:
        parse_id_number(value)
    text = " ".join(excinfo.value.messages)
    assert value not in text and value[6:14] not in text and value[-4:] not in text


@pytest.mark.parametrize("value", BAD_PHONES)
def test_phone_messages_never_repeat_the_value(value):
    with pytest.raises(ValidationError) as excinfo:
        validate_phone(value)
    text = " ".join(excinfo.value.messages)
    assert value not in text and value.replace(" ", "")[-4:] not in text


@pytest.mark.parametrize(("id_number", "phone"), list(zip(BAD_IDS, BAD_PHONES, strict=False)))
def test_service_refusals_never_repeat_the_value(org, id_number, phone):
    with pytest.raises(ApplicationError) as excinfo:
        services.resident_create(actor=None, grid=org.g11, name="张三", id_number=id_number, phone=phone)
    text = json.dumps(excinfo.value.as_dict(), ensure_ascii=False) + str(excinfo.value)
    assert id_number not in text and id_number[-4:] not in text
    assert phone not in text and phone[-4:] not in text


def test_sensitive_values_refuse_to_be_pickled():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(Sensitive("13812345678", PHONE))


# --- SecretField: credentials sealed at rest, plain text in Python -----------------------------

SECRET = "whsec_签名-very-secret-123"
ENDPOINT = "https://hooks.example.org/in?token=abc"


def stored_address(pk) -> dict[str, str]:
    """The sealed columns of a ChannelAddress as the database holds them."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT http_url, http_secret, wecom_url FROM notifications_channeladdress WHERE id = %s", [pk])
        return dict(zip(("http_url", "http_secret", "wecom_url"), cursor.fetchone(), strict=True))


@pytest.fixture
def address(org):
    from gridgov.notifications.models import ChannelAddress

    return ChannelAddress.objects.create(user=org.users.grid_worker, http_url=ENDPOINT, http_secret=SECRET)


def test_secret_field_round_trip(address):
    from gridgov.notifications.models import ChannelAddress

    assert (address.http_url, address.http_secret, address.wecom_url) == (ENDPOINT, SECRET, "")
    fresh = ChannelAddress.objects.get(pk=address.pk)
    assert (fresh.http_url, fresh.http_secret, fresh.wecom_url) == (ENDPOINT, SECRET, "")
    assert isinstance(fresh.http_secret, str) and type(fresh.wecom_url) is str
    fresh.http_secret = "changed"
    fresh.http_url = ""
    fresh.save()
    again = ChannelAddress.objects.get(pk=address.pk)
    assert (again.http_url, again.http_secret) == ("", "changed")
    assert stored_address(address.pk)["http_url"] == ""


def test_secret_field_stores_no_plain_text(address):
    row = stored_address(address.pk)
    assert row["wecom_url"] == "", "empty stays empty, unsealed"
    for column, plain in (("http_url", ENDPOINT), ("http_secret", SECRET)):
        stored = row[column]
        assert stored.startswith("g1$") and plain not in stored and "token=abc" not in stored
        # Sealed for "<db_table>.<column>": what the hand-written code used, so existing rows read unchanged.
        assert crypto.decrypt(stored, context=f"notifications_channeladdress.{column}") == plain
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt(row["http_secret"], context="notifications_channeladdress.http_url")


def test_secret_field_reads_a_value_sealed_by_hand(org):
    """Rows written before the field existed (crypto.encrypt with the same context) read as they are."""
    from gridgov.notifications.models import ChannelAddress

    row = ChannelAddress.objects.create(user=org.users.center)
    sealed = crypto.encrypt(SECRET, context="notifications_channeladdress.http_secret")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_channeladdress SET http_secret = %s WHERE id = %s", [sealed, row.pk])
    assert ChannelAddress.objects.get(pk=row.pk).http_secret == SECRET


def test_secret_field_context_names_table_and_column():
    from gridgov.notifications.models import ChannelAddress
    from gridgov.webhooks.models import WebhookSubscription

    assert ChannelAddress._meta.get_field("wecom_url").context == "notifications_channeladdress.wecom_url"
    assert WebhookSubscription._meta.get_field("secret").context == "webhooks_webhooksubscription.secret"


def test_loading_rows_decrypts_nothing_until_a_secret_is_read(address, monkeypatch):
    from gridgov.notifications.models import ChannelAddress

    calls = []
    real = crypto.decrypt
    monkeypatch.setattr(
        crypto, "decrypt", lambda stored, *, context: calls.append(context) or real(stored, context=context)
    )
    rows = list(ChannelAddress.objects.all())
    assert [str(row) for row in rows] and calls == []
    assert is_secret_set(rows[0], "http_secret") and not is_secret_set(rows[0], "wecom_url") and calls == []
    assert rows[0].http_secret == SECRET and rows[0].http_secret == SECRET
    assert calls == ["notifications_channeladdress.http_secret"], "opened once, then kept"


def test_an_unreadable_secret_raises_on_access_not_on_load(address):
    from gridgov.notifications.models import ChannelAddress

    broken = crypto.encrypt(SECRET, context="cases_case.reporter_phone")  # another column's value
    with connection.cursor() as cursor:
        cursor.execute("UPDATE notifications_channeladdress SET http_secret = %s WHERE id = %s", [broken, address.pk])
    row = ChannelAddress.objects.get(pk=address.pk)  # loads
    assert row.http_url == ENDPOINT  # the other columns open
    for _twice in range(2):
        with pytest.raises(crypto.DecryptionError):
            _unused = row.http_secret
    assert is_secret_set(row, "http_secret")
    # Saving the row for another reason keeps the unreadable value exactly as it was.
    row.wecom_msgtype = "text"
    row.save()
    assert stored_address(address.pk)["http_secret"] == broken
    # Setting a new value replaces it.
    row.http_secret = "new"
    row.save()
    assert ChannelAddress.objects.get(pk=address.pk).http_secret == "new"


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def test_a_full_save_reseals_an_unread_secret_with_the_current_key(org, settings):
    from gridgov.notifications.models import ChannelAddress

    settings.FIELD_ENCRYPTION_KEY = f"k1:{new_key()}"
    address = ChannelAddress.objects.create(user=org.users.center, http_url=ENDPOINT, http_secret=SECRET)
    before = stored_address(address.pk)
    settings.FIELD_ENCRYPTION_KEY = f"k2:{new_key()},{settings.FIELD_ENCRYPTION_KEY}"
    row = ChannelAddress.objects.get(pk=address.pk)
    row.save()
    after = stored_address(address.pk)
    assert before["http_secret"].startswith("g1$k1$")
    assert after["http_secret"].startswith("g1$k2$") and after["http_url"].startswith("g1$k2$")
    settings.FIELD_ENCRYPTION_KEY = settings.FIELD_ENCRYPTION_KEY.split(",")[0]  # the old key gone
    assert ChannelAddress.objects.get(pk=address.pk).http_secret == SECRET


@pytest.mark.parametrize(
    "lookup",
    [
        {"http_secret": SECRET},
        {"http_secret__exact": SECRET},
        {"http_secret__iexact": ""},
        {"http_secret__contains": "secret"},
        {"http_secret__startswith": "g1$"},
        {"http_secret__in": [SECRET]},
        {"http_secret__gt": ""},
        {"http_url": ENDPOINT},
    ],
)
def test_lookups_on_secret_columns_are_refused(address, lookup):
    from gridgov.notifications.models import ChannelAddress

    with pytest.raises(FieldError):
        list(ChannelAddress.objects.filter(**lookup))


def test_secret_columns_can_be_asked_whether_they_are_set(address):
    from gridgov.notifications.models import ChannelAddress

    assert ChannelAddress.objects.filter(wecom_url="").count() == 1
    assert ChannelAddress.objects.exclude(http_secret="").count() == 1
    assert ChannelAddress.objects.filter(http_secret="").count() == 0
    assert ChannelAddress.objects.filter(http_secret__isnull=False).count() == 1
    # values() gives unopened secrets: truthy when set, and they print nothing of the value.
    row = ChannelAddress.objects.values("http_secret", "wecom_url").get()
    assert row["http_secret"] and row["wecom_url"] == ""
    assert isinstance(row["http_secret"], SealedSecret) and row["http_secret"].open() == SECRET
    assert "g1$" not in repr(row) and SECRET not in repr(row) and "g1$" not in str(row["http_secret"])


def test_update_and_bulk_create_seal_too(org, address):
    from gridgov.notifications.models import ChannelAddress

    ChannelAddress.objects.filter(pk=address.pk).update(wecom_url="https://robot.example/send?key=k")
    assert stored_address(address.pk)["wecom_url"].startswith("g1$")
    assert ChannelAddress.objects.get(pk=address.pk).wecom_url == "https://robot.example/send?key=k"
    [made] = ChannelAddress.objects.bulk_create([ChannelAddress(user=org.users.leader, http_secret="bulk")])
    made = ChannelAddress.objects.get(user=org.users.leader)
    assert stored_address(made.pk)["http_secret"].startswith("g1$") and made.http_secret == "bulk"


def test_is_secret_set_on_a_deferred_column_and_on_other_fields(address):
    from gridgov.notifications.models import ChannelAddress

    row = ChannelAddress.objects.only("user").get()
    assert is_secret_set(row, "http_url") and not is_secret_set(row, "wecom_url")
    assert "http_url" not in row.__dict__, "asked without loading (or opening) it"
    with pytest.raises(TypeError):
        is_secret_set(row, "wecom_msgtype")


def test_secret_field_serializes_sealed_and_loads_back(address):
    from gridgov.notifications.models import ChannelAddress

    row = ChannelAddress.objects.get()
    for fmt in ("json", "xml", "python"):
        output = serializers.serialize(fmt, [row])
        text = json.dumps(output, default=str) if fmt == "python" else output
        assert SECRET not in text and "hooks.example.org" not in text and "g1$" in text
    [loaded] = serializers.deserialize("json", serializers.serialize("json", [row]))
    assert (loaded.object.http_url, loaded.object.http_secret, loaded.object.wecom_url) == (ENDPOINT, SECRET, "")
    loaded.save()
    assert ChannelAddress.objects.get().http_secret == SECRET


def test_secret_field_deconstructs_as_itself():
    from gridgov.notifications.models import ChannelAddress

    _name, path, _args, kwargs = ChannelAddress._meta.get_field("http_secret").deconstruct()
    assert path == "gridgov.core.privacy.SecretField"
    assert kwargs["blank"] is True and kwargs["default"] == ""


def test_a_sealed_secret_prints_nothing_of_itself():
    sealed = SealedSecret(crypto.encrypt(SECRET, context="x.y"), "x.y")
    assert repr(sealed) == str(sealed) == "<SealedSecret>"
    assert sealed.open() == SECRET and bool(sealed)


# --- SecretField callers: a secret no key opens is reported, lists and pages still work ----------


def break_column(table: str, column: str, pk) -> str:
    """Put another column's sealed value into `column`: no configured key opens it there."""
    broken = crypto.encrypt("something", context="cases_case.reporter_phone")
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE id = %s", [broken, pk])  # noqa: S608
    return broken


def test_an_unreadable_notification_address_is_reported_not_a_crash(org, client, settings):
    from gridgov.notifications import selectors
    from gridgov.notifications.models import ChannelAddress
    from gridgov.notifications.services import channel_address_save

    settings.GRIDGOV_NOTIFICATION_CHANNELS = ["http", "wecom"]
    user = org.users.grid_worker
    address = channel_address_save(actor=user, http_url=ENDPOINT, http_secret=SECRET)
    broken = break_column("notifications_channeladdress", "http_secret", address.pk)

    view = selectors.address_view(user=user)
    assert view.unreadable and not view.has_http
    # Whether the channel is on is read without opening anything.
    assert selectors.recipient_channels(user_ids=[user.pk], kind="case.dispatch", names=["http", "wecom"]) == {
        user.pk: ["http"]
    }
    client.force_login(user)
    page = client.get("/notifications/settings/")
    assert page.status_code == 200 and 'data-testid="address-unreadable"' in page.content.decode()
    client.force_login(org.users.admin)
    listing = client.get("/admin/notifications/channeladdress/")
    assert listing.status_code == 200 and SECRET not in listing.content.decode()
    assert client.get(f"/admin/notifications/channeladdress/{address.pk}/change/").status_code == 200
    # Saving another value keeps the unreadable one as it was; entering the secret again replaces it.
    channel_address_save(actor=user, http_url="https://hooks.example.org/v2")
    assert stored_address(address.pk)["http_secret"] == broken
    channel_address_save(actor=user, http_secret="again")
    assert ChannelAddress.objects.get(pk=address.pk).http_secret == "again"


def test_an_unreadable_webhook_secret_is_reported_and_nothing_goes_out_unsigned(org, client):
    from gridgov.webhooks import services as webhooks
    from gridgov.webhooks.models import WebhookDelivery, WebhookSubscription

    subscription, _secret = webhooks.webhook_subscription_create(
        actor=org.users.admin, name="hub", url="http://127.0.0.1:9/hook", events=["case.created"], area=org.s
    )
    broken = break_column("webhooks_webhooksubscription", "secret", subscription.pk)
    client.force_login(org.users.admin)
    assert client.get("/admin/webhooks/webhooksubscription/").status_code == 200
    change = f"/admin/webhooks/webhooksubscription/{subscription.pk}/change/"
    assert client.get(change).status_code == 200
    response = client.post(
        change,
        {"name": "renamed", "url": subscription.url, "events": ["case.created"], "area": org.s.pk, "active": "on"},
    )
    assert response.status_code == 302
    row = WebhookSubscription.objects.get()
    assert row.name == "renamed"
    assert WebhookSubscription.objects.values_list("secret", flat=True).get().stored == broken, "kept as it was"

    webhooks.webhook_subscription_ping(actor=org.users.admin, subscription=row)
    assert webhooks.webhook_deliver_due().failed == 1
    delivery = WebhookDelivery.objects.get()
    assert delivery.last_error == "the signing secret does not decrypt (FIELD_ENCRYPTION_KEY?)"
    assert delivery.last_status_code is None
    # Rotating gives the subscription a readable secret again.
    _row, new = webhooks.webhook_subscription_rotate_secret(actor=org.users.admin, subscription=row)
    assert WebhookSubscription.objects.get().secret == new
