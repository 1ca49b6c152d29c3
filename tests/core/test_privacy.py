"""Personal data protected by default: masks, values that print masked, encrypted columns with a blind index."""

from __future__ import annotations

import json
import logging

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
    Sensitive,
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
