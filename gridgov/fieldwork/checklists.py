"""Answers to checklists: each checked against its item, and the problem answers picked out.

Pure functions over ChecklistItem rows; the visit service calls them before anything is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from gridgov.fieldwork.choices import ItemType
from gridgov.fieldwork.models import ChecklistItem

MAX_TEXT = 1000
_TRUE = frozenset({"true", "yes", "y", "1", "on", "是"})
_FALSE = frozenset({"false", "no", "n", "0", "off", "否"})


@dataclass
class Checked:
    """A checklist's answers after checking: the clean values, the problem items, per-field reasons."""

    answers: dict[str, Any]
    problems: list[ChecklistItem]
    errors: dict[str, list[str]]


def clean_answer(item: ChecklistItem, value: Any, *, photo_names: frozenset[str] = frozenset()) -> Any:
    """The answer in its stored form, or ValueError with the reason (translated). None means unanswered."""
    if value is None or value == "" or value == []:
        return None
    if item.type == ItemType.YES_NO:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, str | int) else ""
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(_("Answer yes or no."))
    if item.type == ItemType.NUMBER:
        if isinstance(value, bool):
            raise ValueError(_("Enter a number."))
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ValueError(_("Enter a number.")) from None
        if not math.isfinite(number):
            raise ValueError(_("Enter a number."))
        return int(number) if number.is_integer() else number
    if item.type == ItemType.CHOICE:
        text = str(value).strip()
        if text not in item.choices:
            raise ValueError(_("Choose one of: %(choices)s.") % {"choices": "、".join(map(str, item.choices))})
        return text
    if item.type == ItemType.TEXT:
        text = str(value).strip()
        if len(text) > MAX_TEXT:
            raise ValueError(_("At most %(n)d characters.") % {"n": MAX_TEXT})
        return text or None
    if item.type == ItemType.PHOTO:
        name = str(value).strip()
        if name not in photo_names:
            raise ValueError(_("Attach the photo to the visit and give its file name."))
        return name
    raise ValueError(_("This item cannot be answered."))


def is_problem(item: ChecklistItem, value: Any) -> bool:
    """True when the answer is one the checklist calls a problem."""
    if value is None:
        return False
    if item.type == ItemType.NUMBER:
        return (item.problem_below is not None and value < item.problem_below) or (
            item.problem_above is not None and value > item.problem_above
        )
    return value in (item.problem_values or [])


def check_answers(
    items: list[ChecklistItem], raw: Any, *, prefix: str, photo_names: frozenset[str] = frozenset()
) -> Checked:
    """Every item of a checklist against `raw` ({item code: answer}); unknown codes and missing required ones too."""
    errors: dict[str, list[str]] = {}
    if not isinstance(raw, dict):
        return Checked({}, [], {prefix: [_("Give the answers as {item code: answer}.")]})
    by_code = {item.code: item for item in items}
    for code in raw:
        if code not in by_code:
            errors.setdefault(f"{prefix}.{code}", []).append(_("This checklist has no such item."))
    answers: dict[str, Any] = {}
    problems: list[ChecklistItem] = []
    for item in items:
        try:
            value = clean_answer(item, raw.get(item.code), photo_names=photo_names)
        except ValueError as exc:
            errors.setdefault(f"{prefix}.{item.code}", []).append(str(exc))
            continue
        if value is None:
            if item.required:
                errors.setdefault(f"{prefix}.{item.code}", []).append(_("Answer this item."))
            continue
        answers[item.code] = value
        if is_problem(item, value):
            problems.append(item)
    return Checked(answers, problems, errors)
