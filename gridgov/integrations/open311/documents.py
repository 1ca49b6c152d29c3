"""Our records as the specification's documents: discovery, services, a service definition, requests.

Every field the specification lists is present, in its order; a value we do not have is None (an empty
element in XML, null in JSON), so a client reading a field never meets a missing key.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.cases.choices import FieldType, State
from gridgov.cases.models import Case, Category
from gridgov.cases.public_views import PUBLIC_STATES
from gridgov.cases.schema import check_schema
from gridgov.integrations.open311.render import MIME_TYPES
from gridgov.integrations.open311.selectors import CLOSED_STATES, PUBLIC_SOURCES

SPECIFICATION = "http://wiki.open311.org/GeoReport_v2"

# A category field's type as an Open311 datatype; a yes/no field is a list of two values.
DATATYPES = {
    FieldType.TEXT: "string",
    FieldType.NUMBER: "number",
    FieldType.INTEGER: "number",
    FieldType.BOOLEAN: "singlevaluelist",
    FieldType.CHOICE: "singlevaluelist",
    FieldType.DATE: "datetime",
}
# Where a category's name joins two things (道路塌陷与破损): each part is a keyword of its own.
NAME_PARTS = re.compile(r"[与和及、/,，]")


def w3(value: datetime | None) -> str | None:
    """ISO 8601 in local time with its offset (2026-05-01T08:30:00+08:00), as the specification requires."""
    if value is None:
        return None
    return timezone.localtime(value).isoformat(timespec="seconds")


def discovery(*, url: str, changeset: datetime | None, contact: str, key_service: str, test: bool) -> dict:
    stamp = w3(changeset)
    return {
        "changeset": stamp,
        "contact": contact,
        "key_service": key_service,
        "endpoints": [
            {
                "specification": SPECIFICATION,
                "url": url,
                "changeset": stamp,
                "type": "test" if test else "production",
                "formats": list(MIME_TYPES),
            }
        ],
    }


def keywords(category: Category) -> str:
    """Synonyms from names we already have: the category's name and its parts, its major category, its line."""
    words = [category.name, *NAME_PARTS.split(category.name)]
    if category.parent is not None:
        words.append(category.parent.name)
    words.append(category.business_line.name)
    unique = dict.fromkeys(word.strip() for word in words if word and word.strip())
    return ", ".join(unique)


def service_description(category: Category) -> str:
    return _("Report %(name)s, part of %(group)s (%(line)s); normally handled within %(hours)d hours.") % {
        "name": category.name,
        "group": category.parent.name if category.parent is not None else category.name,
        "line": category.business_line.name,
        "hours": category.handle_hours_normal,
    }


def service(category: Category) -> dict:
    return {
        "service_code": category.code,
        "service_name": category.name,
        "description": service_description(category),
        "metadata": bool(category.form_schema),
        "type": "realtime",
        "keywords": keywords(category),
        "group": category.parent.name if category.parent is not None else category.name,
    }


def _datatype_description(field: dict[str, Any]) -> str | None:
    kind = field["type"]
    if kind == FieldType.TEXT:
        return _("At most %(n)d characters.") % {"n": field["max_length"]}
    if kind == FieldType.INTEGER:
        return _("A whole number.")
    if kind == FieldType.NUMBER:
        return _("A number.")
    if kind == FieldType.DATE:
        return _("A date such as 2026-05-01 (a date and time is read as its day).")
    return None


def _values(field: dict[str, Any]) -> list[dict[str, str]]:
    if field["type"] == FieldType.BOOLEAN:
        return [{"key": "true", "name": _("Yes")}, {"key": "false", "name": _("No")}]
    if field["type"] == FieldType.CHOICE:
        return [{"key": choice, "name": choice} for choice in field["choices"]]
    return []


def service_definition(category: Category) -> dict:
    """The category's extra fields as attributes (`attribute[code]` in a POST)."""
    attributes = [
        {
            "variable": True,
            "code": field["name"],
            "datatype": DATATYPES.get(field["type"], "string"),
            "required": field["required"],
            "datatype_description": _datatype_description(field),
            "order": order,
            "description": field["label"],
            "values": _values(field),
        }
        for order, field in enumerate(check_schema(category.form_schema or []), start=1)
    ]
    return {"service_code": category.code, "attributes": attributes}


def status(case: Case) -> str:
    return "closed" if case.state in CLOSED_STATES else "open"


def status_notes(case: Case) -> str:
    """The state in the tracking page's words, with what was done or why it was not accepted."""
    label = str(PUBLIC_STATES.get(case.state, case.get_state_display()))
    detail = ""
    if case.state in (State.RESOLVED, State.CLOSED):
        detail = case.result or getattr(case, "public_note", None) or ""
    elif case.state == State.REJECTED:
        detail = getattr(case, "public_note", None) or ""
    return _("%(state)s: %(note)s") % {"state": label, "note": detail} if detail else label


def service_request(case: Case) -> dict:
    """One request of GET requests and GET requests/{id}."""
    public = case.source in PUBLIC_SOURCES
    closed = case.state in CLOSED_STATES
    return {
        "service_request_id": case.code,
        "status": status(case),
        "status_notes": status_notes(case),
        "service_name": case.category.name,
        "service_code": case.category.code,
        "description": (case.description or case.title) if public else None,
        "agency_responsible": case.unit.name if case.unit is not None and case.state != State.REJECTED else None,
        "service_notice": None,
        "requested_datetime": w3(case.created_at),
        "updated_datetime": w3(case.closed_at if closed and case.closed_at else case.updated_at),
        "expected_datetime": None if closed else w3(case.due_at),
        "address": case.address or None,
        "address_id": None,
        "zipcode": None,
        "lat": case.lat,
        "long": case.lng,
        "media_url": (case.media_url or None) if public else None,
    }


def created(case: Case, *, notice: str) -> dict:
    """The answer to a POST: a realtime service, so the request id and never a token."""
    return {"service_request_id": case.code, "service_notice": notice, "account_id": None}


def token(case: Case) -> dict:
    return {"service_request_id": case.code, "token": case.tracking_code}
