"""GB 11643 citizen ID numbers and mainland phone numbers."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gridgov.core.validators import (
    PROVINCES,
    id_check_digit,
    normalize_id_number,
    normalize_phone,
    parse_id_number,
    phone_kind,
    validate_phone,
)

VALID_ID = "340404199001011294"  # male (17th digit 9)
VALID_ID_X = "34040419900101126X"  # female (17th digit 6)


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 written independently of the code under test: weights are 2^(i-1) mod 11 counted
    from the right, and the check character makes the weighted sum ≡ 1 (mod 11)."""
    total = sum(int(d) * pow(2, 17 - i, 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


def with_check(first17: str) -> str:
    return first17 + check_char(first17)


@st.composite
def id_numbers(draw):
    """A valid ID number and what it says: (number, birth date, gender)."""
    region = draw(st.sampled_from(sorted(PROVINCES))) + f"{draw(st.integers(1, 9999)):04d}"
    birth = draw(st.dates(min_value=date(1890, 1, 1), max_value=date.today()))
    sequence = f"{draw(st.integers(0, 999)):03d}"
    number = with_check(f"{region}{birth:%Y%m%d}{sequence}")
    return number, birth, "male" if int(sequence[-1]) % 2 else "female"


# No time limit per example: the first one may load the translation catalogue on a busy machine.
no_deadline = settings(deadline=None)


def code_of(value: str, **kwargs) -> str:
    with pytest.raises(ValidationError) as excinfo:
        parse_id_number(value, **kwargs)
    return excinfo.value.code


# --- GB 11643 ---------------------------------------------------------------------------------


def test_check_digit_agrees_with_the_standard():
    # The worked example of GB 11643-1999, appendix A.
    assert id_check_digit("11010519491231002") == "X"
    assert check_char("11010519491231002") == "X"
    assert id_check_digit(VALID_ID[:17]) == VALID_ID[17]


@no_deadline
@given(id_numbers())
def test_any_valid_number_parses(case):
    number, birth, gender = case
    info = parse_id_number(number)
    assert info.number == number
    assert info.birth_date == birth
    assert info.gender == gender
    assert info.region == number[:6]
    assert id_check_digit(number[:17]) == number[17]


@no_deadline
@given(id_numbers(), st.integers(0, 16), st.integers(0, 9))
def test_changing_one_digit_is_always_caught(case, position, digit):
    """MOD 11-2 catches every single-digit change; the change may be caught earlier as a region or date."""
    number = case[0]
    assume(number[position] != str(digit))
    changed = number[:position] + str(digit) + number[position + 1 :]
    code = code_of(changed)
    assert code in {"id_checksum", "id_region", "id_birth_date"}
    if position >= 14:  # the sequence number: only the checksum can tell
        assert code == "id_checksum"


@no_deadline
@given(id_numbers(), st.sampled_from("0123456789X"))
def test_a_different_check_character_fails_the_checksum(case, char):
    number = case[0]
    assume(number[17] != char)
    assert code_of(number[:17] + char) == "id_checksum"


@no_deadline
@given(id_numbers(), st.integers(0, 15))
def test_swapping_two_neighbouring_digits_is_caught(case, position):
    number = case[0]
    assume(number[position] != number[position + 1])
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    assert code_of(swapped) in {"id_checksum", "id_region", "id_birth_date"}


def test_valid_examples():
    info = parse_id_number(VALID_ID)
    assert (info.birth_date, info.gender, info.region) == (date(1990, 1, 1), "male", "340404")
    info = parse_id_number(VALID_ID_X)
    assert (info.number, info.gender) == (VALID_ID_X, "female")


@pytest.mark.parametrize(
    "value",
    [VALID_ID_X.lower(), f"  {VALID_ID_X} ", "340404 19900101 126x", "３４０４０４１９９００１０１１２６Ｘ"],
)
def test_lower_case_x_spaces_and_full_width_characters_are_the_same_number(value):
    assert parse_id_number(value).number == VALID_ID_X
    assert normalize_id_number(value) == VALID_ID_X


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("", "id_length"),
        (VALID_ID[:17], "id_length"),
        (VALID_ID + "1", "id_length"),
        ("34040419900101129", "id_length"),
        ("34040419900101129A", "id_characters"),
        ("3404041990O101129" + "4", "id_characters"),  # a letter O for a zero
        ("34040419900101129-", "id_characters"),
        ("X40404199001011294", "id_characters"),
        ("34040419900101١٢٩4", "id_characters"),  # Arabic-Indic digits are digits to Python, not to GB 11643
        (with_check("99040419900101129"), "id_region"),  # no province 99
        (with_check("00040419900101129"), "id_region"),
        (with_check("34000019900101129"), "id_region"),  # a province, not a county
        (with_check("34040419900230129"), "id_birth_date"),  # 30 February
        (with_check("34040419901301129"), "id_birth_date"),  # month 13
        (with_check("34040419900100129"), "id_birth_date"),  # day 0
        (with_check("34040418800101129"), "id_birth_date"),  # born 1880
        ("340404199001011295", "id_checksum"),
    ],
)
def test_invalid_numbers(value, code):
    assert code_of(value) == code


def test_birth_dates_in_the_future_are_refused():
    tomorrow = date.today() + timedelta(days=1)
    assert code_of(with_check(f"340404{tomorrow:%Y%m%d}129")) == "id_birth_date"
    today = date.today()
    assert parse_id_number(with_check(f"340404{today:%Y%m%d}129")).birth_date == today


def test_today_can_be_given():
    number = with_check("34040420200101129")
    assert code_of(number, today=date(2019, 12, 31)) == "id_birth_date"
    assert parse_id_number(number, today=date(2020, 1, 1)).birth_date == date(2020, 1, 1)


def test_29_february_only_in_leap_years():
    assert parse_id_number(with_check("34040420000229001")).birth_date == date(2000, 2, 29)
    assert code_of(with_check("34040419000229001")) == "id_birth_date"  # 1900 was not a leap year


# --- phone numbers ----------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["13", "14", "15", "16", "17", "18", "19"])
def test_mobile_prefixes(prefix):
    number = f"{prefix}912345678"
    assert validate_phone(number) == number
    assert phone_kind(number) == "mobile"


@pytest.mark.parametrize(
    ("value", "code"),
    [
        ("12812345678", "phone_mobile"),
        ("11812345678", "phone_mobile"),
        ("10812345678", "phone_mobile"),
        ("1381234567", "phone_mobile"),
        ("138123456789", "phone_mobile"),
        ("1381234567a", "phone_mobile"),
        ("1３８１２３４５٦٧８", "phone_mobile"),
        ("+1 415 555 0100", "phone_invalid"),
        ("0554-1669359", "phone_invalid"),  # local numbers never start with 0 or 1
        ("0554-266935", "phone_invalid"),
        ("05-2669359", "phone_invalid"),
        ("2669359", "phone_invalid"),  # a landline needs its area code
        ("0554-2669359-1234567", "phone_invalid"),
        ("abc", "phone_invalid"),
    ],
)
def test_invalid_phones(value, code):
    with pytest.raises(ValidationError) as excinfo:
        validate_phone(value)
    assert excinfo.value.code == code


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+8613812345678", "13812345678"),
        ("86 13812345678", "13812345678"),
        ("0086 138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86-138-1234-5678", "13812345678"),
        ("１３８１２３４５６７８", "13812345678"),
        (" 13812345678\u3000", "13812345678"),
    ],
)
def test_mobile_numbers_are_normalised(value, normalized):
    assert validate_phone(value) == normalized
    assert phone_kind(normalized) == "mobile"


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("0554-2669359", "0554-2669359"),
        ("(0554)2669359", "0554-2669359"),
        ("（0554）2669359", "0554-2669359"),
        ("(0554) 266 9359", "0554-2669359"),
        ("0554 2669359", "0554-2669359"),
        ("05542669359", "0554-2669359"),
        ("0554-2669359-123", "0554-2669359-123"),
        ("(0554)2669359-8001", "0554-2669359-8001"),
        ("010-62345678", "010-62345678"),
        ("01062345678", "010-62345678"),
        ("021 6234 5678", "021-62345678"),
        ("0755-82345678", "0755-82345678"),
    ],
)
def test_landlines_are_normalised_to_one_form(value, normalized):
    """One form per number, so the blind index finds it however it was typed."""
    assert validate_phone(value) == normalized
    assert phone_kind(normalized) == "landline"


def test_normalize_phone_of_nothing():
    assert normalize_phone("") == ""
    assert normalize_phone(None) == ""


# --- messages ---------------------------------------------------------------------------------

MESSAGE_CASES = [
    ("id", "3404041990010112", "id_length"),
    ("id", "34040419900101129A", "id_characters"),
    ("id", with_check("99040419900101129"), "id_region"),
    ("id", with_check("34040419900230129"), "id_birth_date"),
    ("id", "340404199001011295", "id_checksum"),
    ("phone", "12812345678", "phone_mobile"),
    ("phone", "0554-1669359", "phone_invalid"),
]


def _error(kind: str, value: str) -> ValidationError:
    with pytest.raises(ValidationError) as excinfo:
        (parse_id_number if kind == "id" else validate_phone)(value)
    return excinfo.value


def _has_chinese(text: str) -> bool:
    return any("\u4e00" <= char <= "\u9fff" for char in text)


@pytest.mark.parametrize(("kind", "value", "code"), MESSAGE_CASES)
def test_codes_stay_the_same_in_every_language(kind, value, code):
    for language in ("en", "zh-hans"):
        with translation.override(language):
            error = _error(kind, value)
        assert error.code == code
        assert value not in " ".join(error.messages)


@pytest.mark.parametrize(("kind", "value", "code"), MESSAGE_CASES)
def test_messages_are_in_chinese_once_the_catalogue_has_them(kind, value, code):
    with translation.override("en"):
        english = _error(kind, value).messages[0]
    with translation.override("zh-hans"):
        chinese = _error(kind, value).messages[0]
        translated = translation.gettext(english) != english
    if not translated:
        pytest.skip("the zh_Hans catalogue does not translate this message yet")
    assert _has_chinese(chinese)
    assert chinese != english


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30))
def test_validators_never_crash_on_arbitrary_text(text):
    """Anything a form or a spreadsheet cell holds is either accepted or refused with a ValidationError."""
    for check in (parse_id_number, validate_phone):
        try:
            check(text)
        except ValidationError as exc:
            assert exc.code
