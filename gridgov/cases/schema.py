"""A category's extra form fields: a small schema that forms, the API and the admin share.

A schema is a list of fields, each {"name", "label", "type", "required", "choices", "max_length"}.
`check_schema` refuses a malformed schema when an admin saves it; `clean_extra` checks a case's
values against it and returns them typed, naming every bad field at once.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django.utils.translation import gettext as _

from gridgov.cases.choices import FieldType
from gridgov.core.errors import ApplicationError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
MAX_FIELDS = 20


def check_schema(schema: Any) -> list[dict[str, Any]]:
    """The schema normalised, or ApplicationError naming what is wrong with it."""
    problems: list[str] = []
    if not isinstance(schema, list):
        raise ApplicationError("invalid_schema", _("The extra fields must be a list."), fields={"form_schema": []})
    if len(schema) > MAX_FIELDS:
        problems.append(_("At most %(n)d extra fields.") % {"n": MAX_FIELDS})
    seen: set[str] = set()
    fields: list[dict[str, Any]] = []
    for index, item in enumerate(schema, start=1):
        where = _("Field %(n)d") % {"n": index}
        if not isinstance(item, dict):
            problems.append(_("%(where)s: an object is expected.") % {"where": where})
            continue
        name = item.get("name")
        kind = item.get("type", FieldType.TEXT)
        if not isinstance(name, str) or not NAME.match(name):
            problems.append(_("%(where)s: the name must be lower-case letters, digits and _.") % {"where": where})
        elif name in seen:
            problems.append(_("%(where)s: the name %(name)s is used twice.") % {"where": where, "name": name})
        else:
            seen.add(name)
        if kind not in FieldType.values:
            problems.append(_("%(where)s: unknown type %(type)s.") % {"where": where, "type": kind})
        choices = item.get("choices") or []
        if kind == FieldType.CHOICE and (
            not isinstance(choices, list) or not choices or not all(isinstance(c, str) and c for c in choices)
        ):
            problems.append(_("%(where)s: a choice field needs a list of choices.") % {"where": where})
        fields.append(
            {
                "name": name,
                "label": str(item.get("label") or name),
                "type": kind,
                "required": bool(item.get("required", False)),
                "choices": list(choices) if kind == FieldType.CHOICE else [],
                "max_length": int(item.get("max_length") or 200),
            }
        )
    if problems:
        raise ApplicationError("invalid_schema", problems[0], fields={"form_schema": problems})
    return fields


def _typed(field: dict[str, Any], raw: Any) -> Any:
    kind = field["type"]
    if kind == FieldType.TEXT:
        value = str(raw).strip()
        if len(value) > field["max_length"]:
            raise ValueError(_("At most %(n)d characters.") % {"n": field["max_length"]})
        return value
    if kind in (FieldType.NUMBER, FieldType.INTEGER):
        if isinstance(raw, bool):
            raise ValueError(_("A number is required."))
        try:
            value = float(raw)
        except (TypeError, ValueError):
            raise ValueError(_("A number is required.")) from None
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError(_("A number is required."))
        if kind == FieldType.INTEGER:
            if value != int(value):
                raise ValueError(_("A whole number is required."))
            return int(value)
        return value
    if kind == FieldType.BOOLEAN:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in {"1", "true", "yes", "on", "是"}:
            return True
        if text in {"0", "false", "no", "off", "否"}:
            return False
        raise ValueError(_("Yes or no is required."))
    if kind == FieldType.CHOICE:
        value = str(raw).strip()
        if value not in field["choices"]:
            raise ValueError(_("Not one of the allowed values."))
        return value
    if kind == FieldType.DATE:
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError:
            raise ValueError(_("A date such as 2026-05-01 is required.")) from None
    raise ValueError(_("Unknown field type."))


def clean_extra(schema: list[dict[str, Any]], values: Any) -> dict[str, Any]:
    """The extra values typed by the schema; unknown names, missing required ones and bad values refused."""
    fields_by_name = {f["name"]: f for f in check_schema(schema or [])}
    if values in (None, ""):
        values = {}
    if not isinstance(values, dict):
        message = _("The extra fields must be an object.")
        raise ApplicationError("invalid_extra", message, fields={"extra": [message]})
    problems: dict[str, list[str]] = {}
    cleaned: dict[str, Any] = {}
    for name in values:
        if name not in fields_by_name:
            problems[f"extra.{name}"] = [_("This category has no such field.")]
    for name, field in fields_by_name.items():
        raw = values.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            if field["required"]:
                problems[f"extra.{name}"] = [_("This field is required.")]
            continue
        try:
            cleaned[name] = _typed(field, raw)
        except ValueError as exc:
            problems[f"extra.{name}"] = [str(exc)]
    if problems:
        first = next(iter(problems))
        message = _("%(field)s: %(reason)s") % {
            "field": fields_by_name.get(first.removeprefix("extra."), {}).get("label", first),
            "reason": problems[first][0],
        }
        raise ApplicationError("invalid_extra", message, fields=problems)
    return cleaned
