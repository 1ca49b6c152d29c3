"""POST requests: an Open311 service request becomes a case through the one intake door (`case_report`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from gridgov.areas.models import Area
from gridgov.cases.choices import FieldType, Source
from gridgov.cases.models import Case, Category
from gridgov.cases.schema import check_schema
from gridgov.cases.services import MAX_TITLE, case_report
from gridgov.core import audit
from gridgov.core.errors import ApplicationError
from gridgov.integrations.models import ApiKey


def sender_area(*, key: ApiKey, jurisdiction: Area | None) -> Area:
    """Where this request may lie: the key's area, or the jurisdiction when it is inside the key's area.

    A key bound to one subdistrict naming another as jurisdiction is refused like a wrong key (403).
    """
    if jurisdiction is None or jurisdiction.code.startswith(key.area.code):
        return jurisdiction or key.area
    if key.area.code.startswith(jurisdiction.code):
        return key.area
    message = _("This API key may not create requests in this jurisdiction.")
    raise ApplicationError("invalid_api_key", message, fields={"jurisdiction_id": [message]}, status=403)


def title_from(description: str, service: Category) -> str:
    """Open311 has no title: the first line of the description (cut to fit), or the service's name."""
    first = next((line.strip() for line in (description or "").splitlines() if line.strip()), "")
    if not first:
        return service.name
    return first if len(first) <= MAX_TITLE else first[: MAX_TITLE - 1] + "…"


def _attribute_value(field: dict[str, Any] | None, name: str, values: list[str]) -> str:
    if len(values) > 1:
        message = _("Only one value is allowed.")
        raise ApplicationError("invalid_extra", message, fields={f"extra.{name}": [message]})
    value = values[0] if values else ""
    if field is not None and field["type"] == FieldType.DATE and "T" in value:
        # The datatype is `datetime`: a client may send a full timestamp; the field keeps its (local) day.
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            return value  # clean_extra names the field
        if timezone.is_aware(moment):
            moment = timezone.localtime(moment)
        return moment.date().isoformat()
    return value


def attribute_values(*, service: Category, attributes: dict[str, list[str]]) -> dict[str, Any]:
    """`attribute[code]` values as the case's `extra` (typed and checked later by case_report → clean_extra)."""
    fields = {field["name"]: field for field in check_schema(service.form_schema or [])}
    return {name: _attribute_value(fields.get(name), name, values) for name, values in attributes.items()}


def has_location(*, lat: Any, long: Any, address_string: Any) -> bool:
    return any(str(value or "").strip() for value in (lat, long, address_string))


def open311_request_create(
    *,
    key: ApiKey,
    service: Category,
    jurisdiction: Area | None = None,
    description: str = "",
    lat: Any = None,
    long: Any = None,
    address_string: str = "",
    address_id: str = "",
    attributes: dict[str, list[str]] | None = None,
    first_name: str = "",
    last_name: str = "",
    phone: str = "",
    media_url: str = "",
    ip: str | None = None,
) -> Case:
    """Create the case of an Open311 request sent with `key`, inside the key's area.

    email, device_id and account_id are not kept: a case has no place for them and we keep no personal data
    we do not use. The key's prefix is audited, so every Open311 case can be traced to the key that sent it.
    """
    within = sender_area(key=key, jurisdiction=jurisdiction)
    if not has_location(lat=lat, long=long, address_string=address_string):
        if (address_id or "").strip():
            message = _("address_id is not supported: send lat and long, or address_string.")
        else:
            message = _("A location is required: send lat and long, or address_string.")
        raise ApplicationError("missing_location", message)
    extra = attribute_values(service=service, attributes=attributes or {})
    description = (description or "").strip()
    reporter_name = " ".join(part.strip() for part in (first_name or "", last_name or "") if part.strip())
    with transaction.atomic():
        case = case_report(
            actor=None,
            category=service,
            title=title_from(description, service),
            description=description,
            source=Source.OPEN311,
            lat=lat,
            lng=long,
            address=address_string or "",
            reporter_name=reporter_name,
            reporter_phone=(phone or "").strip(),
            extra=extra,
            media_url=(media_url or "").strip(),
            within=within,
        )
        audit.record(
            actor=None,
            username=f"apikey:{key.prefix}",
            event="integrations.open311.request",
            obj=case,
            ip=ip,
            data={"key": key.prefix, "service_code": service.code, "within": within.code},
        )
    return case
