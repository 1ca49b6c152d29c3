"""Validators for Chinese identifiers: GB 11643 ID numbers, mainland mobile and landline numbers.

Messages never repeat the value checked: they end up in logs and import reports.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# GB/T 2260 province-level codes.
PROVINCES = frozenset(
    [
        "11",
        "12",
        "13",
        "14",
        "15",
        "21",
        "22",
        "23",
        "31",
        "32",
        "33",
        "34",
        "35",
        "36",
        "37",
        "41",
        "42",
        "43",
        "44",
        "45",
        "46",
        "50",
        "51",
        "52",
        "53",
        "54",
        "61",
        "62",
        "63",
        "64",
        "65",
        "71",
        "81",
        "82",
    ]
)
ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
MOBILE = re.compile(r"^1[3-9]\d{9}$", re.ASCII)
LANDLINE = re.compile(r"^0\d{2,3}-?[2-9]\d{6,7}(?:-\d{1,6})?$", re.ASCII)
# A landline typed with or without the area code's hyphen; 010 and 02x are the only 3-digit area codes.
LANDLINE_PARTS = re.compile(r"^(0\d{2,3})-?(\d{7,8})(-\d{1,6})?$", re.ASCII)


@dataclass(frozen=True)
class IdNumber:
    """What an ID number says about its holder."""

    number: str  # normalised: 18 characters, upper-case X
    region: str  # the 6-digit GB/T 2260 code of the place of first registration
    birth_date: date
    gender: str  # "male" or "female" (the 17th digit: odd is male)


def id_check_digit(first17: str) -> str:
    """The GB 11643 check character (ISO 7064 MOD 11-2) of the first 17 digits."""
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def normalize_id_number(value: str) -> str:
    # NFKC: full-width digits and Ｘ typed with a Chinese input method are the same number.
    return unicodedata.normalize("NFKC", value or "").strip().replace(" ", "").upper()


def parse_id_number(value: str, *, today: date | None = None) -> IdNumber:
    """Check a GB 11643 citizen ID number (18 characters) and read region, birth date and gender."""
    number = normalize_id_number(value)
    if len(number) != 18:
        raise ValidationError(_("An ID number has 18 characters."), code="id_length")
    if not number.isascii() or not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        raise ValidationError(_("An ID number has 17 digits and a final digit or X."), code="id_characters")
    if number[:2] not in PROVINCES or number[2:6] == "0000":
        raise ValidationError(_("The first 6 digits are not a GB/T 2260 region code."), code="id_region")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValidationError(_("Digits 7 to 14 are not a valid birth date."), code="id_birth_date") from None
    if birth.year < 1890 or birth > (today or date.today()):
        raise ValidationError(_("Digits 7 to 14 are not a plausible birth date."), code="id_birth_date")
    if id_check_digit(number[:17]) != number[17]:
        raise ValidationError(_("The check digit is wrong: the number was mistyped."), code="id_checksum")
    gender = "male" if int(number[16]) % 2 else "female"
    return IdNumber(number=number, region=number[:6], birth_date=birth, gender=gender)


def normalize_phone(value: str) -> str:
    """Digits and the area code's hyphen only: '138 0000 1234' → '13800001234', '+86' dropped,
    '0554 2669359' and '(0554)2669359' → '0554-2669359' (one form, so one blind index)."""
    text = unicodedata.normalize("NFKC", value or "").strip().replace(" ", "").replace("（", "(").replace("）", ")")
    if re.fullmatch(r"(\+?86|0086)?-?1\d{2}-\d{4}-\d{4}", text, re.ASCII):  # 138-1234-5678
        text = text.replace("-", "")
    text = re.sub(r"^(\+?86|0086)(?=1\d{10}$)", "", text)
    text = re.sub(r"^\((0\d{2,3})\)", r"\1-", text)
    parts = LANDLINE_PARTS.match(text)
    if parts:
        digits = parts[1] + parts[2]
        area = 3 if digits[1] in "12" else 4
        text = f"{digits[:area]}-{digits[area:]}{parts[3] or ''}"
    return text


def phone_kind(normalized: str) -> str:
    """'mobile' or 'landline', or ValidationError."""
    if MOBILE.match(normalized):
        return "mobile"
    if LANDLINE.match(normalized):
        return "landline"
    if normalized.startswith("1"):
        raise ValidationError(_("A mobile number has 11 digits and starts with 13 to 19."), code="phone_mobile")
    raise ValidationError(
        _("Not a mainland phone number: a mobile number (11 digits) or a landline with its area code."),
        code="phone_invalid",
    )


def validate_phone(value: str) -> str:
    """The normalised phone number, or ValidationError."""
    normalized = normalize_phone(value)
    phone_kind(normalized)
    return normalized
