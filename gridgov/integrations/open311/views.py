"""/open311/v2/: Open311 GeoReport v2 (http://wiki.open311.org/GeoReport_v2), in XML and JSON by suffix.

Views parse the request, call one selector or service and render. Every refusal is the specification's
error list in the request's format, with the HTTP status the specification names (400, 403 for a bad,
missing, revoked or other-channel key, 404, 405, 413) and one log line on `gridgov.open311`.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse, QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from gridgov.areas.models import Area
from gridgov.core.audit import client_ip
from gridgov.core.errors import ApplicationError, NotFound
from gridgov.integrations.models import ApiKey, Channel
from gridgov.integrations.open311 import documents, selectors, services
from gridgov.integrations.open311.render import JSON, XML, document, errors
from gridgov.integrations.services import apikey_authenticate

logger = logging.getLogger("gridgov.open311")

DEFAULT_MAX_BODY_BYTES = 64 * 1024
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
ATTRIBUTE = re.compile(r"^attribute\[([^\[\]]+)\](\[\])?$")
# Our field names as the Open311 parameter a client sent, for error descriptions.
PARAMETERS = {
    "category": "service_code",
    "title": "description",
    "lng": "long",
    "address": "address_string",
    "reporter_name": "first_name",
    "reporter_phone": "phone",
    "extra": "attribute",
}
# "2026-05-01T08:00:00+08:00" in a query string that was not URL-encoded: the + arrives as a space.
SPACED_OFFSET = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?) (\d{2}:?\d{2})$")


# --- plumbing ---------------------------------------------------------------------------------


def _parameter(field: str) -> str:
    if field.startswith("extra."):
        return f"attribute[{field.removeprefix('extra.')}]"
    return PARAMETERS.get(field, field)


def _descriptions(exc: ApplicationError) -> list[str]:
    """One description per problem, each naming the Open311 parameter it is about."""
    # "parameter: reason" with an ASCII colon in every language: clients may read the parameter's name.
    items = [f"{_parameter(field)}: {reason}" for field, reasons in exc.fields.items() for reason in reasons]
    return items or [exc.message]


def refuse(request: HttpRequest, fmt: str, exc: ApplicationError, *, allow: str = "") -> HttpResponse:
    # The path only: a query string may carry an api_key.
    logger.warning(
        "open311 refused %s %s: status=%s code=%s ip=%s",
        request.method,
        request.path,
        exc.status,
        exc.code,
        client_ip(request),
    )
    response = errors(fmt, exc.status, _descriptions(exc))
    if allow:
        response["Allow"] = allow
    return response


def endpoint(*methods: str) -> Callable:
    """An Open311 resource: csrf-exempt (clients are not browsers), `methods` only (405 otherwise), refusals in
    the specification's error format."""
    allowed = {*methods, "HEAD"} if "GET" in methods else set(methods)
    allow = ", ".join(sorted(allowed))

    def wrap(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @csrf_exempt
        @functools.wraps(view)
        def run(request: HttpRequest, fmt: str, **kwargs: Any) -> HttpResponse:
            if request.method not in allowed:
                message = _("The method %(method)s is not allowed here.") % {"method": request.method}
                return refuse(request, fmt, ApplicationError("method_not_allowed", message, status=405), allow=allow)
            try:
                return view(request, fmt, **kwargs)
            except ApplicationError as exc:
                return refuse(request, fmt, exc)

        return run

    return wrap


def _value(data: QueryDict, name: str) -> str:
    """A parameter's value; empty means not given (the specification's "optional")."""
    return (data.get(name) or "").strip()


def _jurisdiction(code: str) -> Area | None:
    if not code:
        return None
    area = selectors.jurisdiction_get(code=code)
    if area is None:
        message = _("Unknown jurisdiction_id: %(code)s.") % {"code": code[:20]}
        raise NotFound("unknown_jurisdiction", message)
    return area


def _service(code: str):
    if not code:
        message = _("This field is required.")
        raise ApplicationError("missing_service_code", message, fields={"service_code": [message]})
    service = selectors.service_get(code=code)
    if service is None:
        raise NotFound("unknown_service_code", _("Unknown service_code: %(code)s.") % {"code": code[:20]})
    return service


def _max_body_bytes() -> int:
    return int(getattr(settings, "GRIDGOV_OPEN311_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES))


# --- GET requests' filters --------------------------------------------------------------------


def _list(data: QueryDict, name: str) -> list[str]:
    """A comma-delimited parameter, which may also be declared several times."""
    return [part.strip() for value in data.getlist(name) for part in value.split(",") if part.strip()]


def _moment(data: QueryDict, name: str, *, end: bool) -> datetime | None:
    """A w3 datetime; without a time zone it is local time, a bare date is the start (or end) of that day."""
    text = _value(data, name)
    if not text:
        return None
    text = SPACED_OFFSET.sub(r"\1+\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        message = _("A date and time such as 2026-05-01T00:00:00+08:00 is required.")
        raise ApplicationError("invalid_date", message, fields={name: [message]}) from None
    if len(text) == 10:  # a date alone
        moment = datetime.combine(moment.date(), time.max if end else time.min)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def request_filters(data: QueryDict) -> selectors.RequestFilters:
    """GET requests' filters with the specification's defaults: the last 90 days, at most 90 days."""
    ids = tuple(dict.fromkeys(_list(data, "service_request_id")))[: selectors.MAX_REQUESTS]
    if ids:
        return selectors.RequestFilters(ids=ids)
    statuses = tuple(dict.fromkeys(status.lower() for status in _list(data, "status")))
    unknown = [status for status in statuses if status not in selectors.STATUS_STATES]
    if unknown:
        message = _("Not one of open, closed: %(value)s.") % {"value": unknown[0][:20]}
        raise ApplicationError("invalid_status", message, fields={"status": [message]})
    span = timedelta(days=selectors.MAX_SPAN_DAYS)
    start, end = _moment(data, "start_date", end=False), _moment(data, "end_date", end=True)
    if start is None and end is None:
        end = timezone.now()
    if start is None:
        start = end - span
    elif end is None:
        end = start + span
    if end < start:
        message = _("The end is before the start.")
        raise ApplicationError("invalid_date", message, fields={"end_date": [message]})
    if end - start > span:
        message = _("A search may span at most %(n)d days.") % {"n": selectors.MAX_SPAN_DAYS}
        raise ApplicationError("invalid_date", message, fields={"end_date": [message]})
    return selectors.RequestFilters(
        service_codes=tuple(_list(data, "service_code")), start=start, end=end, statuses=statuses
    )


# --- resources --------------------------------------------------------------------------------


@endpoint("GET")
def discovery(request: HttpRequest, fmt: str) -> HttpResponse:
    """Service discovery: where the endpoint is, what it speaks, whom to ask for a key."""
    url = request.build_absolute_uri(reverse("open311:root")).rstrip("/")
    contact = getattr(settings, "GRIDGOV_OPEN311_CONTACT", "") or _(
        "Contact the subdistrict's comprehensive governance center."
    )
    key_service = getattr(settings, "GRIDGOV_OPEN311_KEY_SERVICE", "") or _(
        "API keys (channel open311) are issued by the subdistrict's center."
    )
    body = documents.discovery(
        url=url,
        changeset=selectors.changeset(),
        contact=contact,
        key_service=key_service,
        test=bool(settings.DEBUG),
    )
    return document(fmt, "discovery", body)


@endpoint("GET")
def service_list(request: HttpRequest, fmt: str) -> HttpResponse:
    _jurisdiction(_value(request.GET, "jurisdiction_id"))
    return document(fmt, "services", [documents.service(category) for category in selectors.service_list()])


@endpoint("GET")
def service_definition(request: HttpRequest, fmt: str, service_code: str) -> HttpResponse:
    _jurisdiction(_value(request.GET, "jurisdiction_id"))
    return document(fmt, "service_definition", documents.service_definition(_service(service_code)))


@endpoint("GET", "POST")
def request_collection(request: HttpRequest, fmt: str) -> HttpResponse:
    if request.method == "POST":
        return _create(request, fmt)
    jurisdiction = _jurisdiction(_value(request.GET, "jurisdiction_id"))
    cases = selectors.request_list(filters=request_filters(request.GET), jurisdiction=jurisdiction)
    return document(fmt, "service_requests", [documents.service_request(case) for case in cases])


def _form(request: HttpRequest) -> QueryDict:
    """The POST's form, refused before it is read when it is too large or not a form."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = -1
    limit = _max_body_bytes()
    if length > limit:
        message = _("The request body is too large (at most %(n)d bytes).") % {"n": limit}
        raise ApplicationError("too_large", message, status=413)
    if length < 0 or request.content_type not in FORM_TYPES:
        raise ApplicationError(
            "not_a_form", _("Send the request form-encoded (application/x-www-form-urlencoded; charset=utf-8).")
        )
    try:
        return request.POST
    except RequestDataTooBig:
        message = _("The request body is too large (at most %(n)d bytes).") % {"n": limit}
        raise ApplicationError("too_large", message, status=413) from None
    except TooManyFieldsSent:
        raise ApplicationError("not_a_form", _("Too many fields.")) from None


def _key(request: HttpRequest, raw: str) -> ApiKey:
    """The Open311 key sent; a missing one and a bad one (unknown, revoked, of another channel) are both 403,
    each saying which (the specification: "specify in error message")."""
    if not raw:
        message = _("This field is required.")
        raise ApplicationError("missing_api_key", message, fields={"api_key": [message]}, status=403)
    try:
        return apikey_authenticate(raw=raw, channel=Channel.OPEN311, ip=client_ip(request))
    except ApplicationError as exc:
        raise ApplicationError(exc.code, exc.message, fields={"api_key": [exc.message]}, status=exc.status) from None


def _attributes(data: QueryDict) -> dict[str, list[str]]:
    """attribute[code]=value and attribute[code][]=value (a multivaluelist), by code."""
    found: dict[str, list[str]] = {}
    for name in data:
        match = ATTRIBUTE.match(name)
        if match:
            found.setdefault(match[1], []).extend(data.getlist(name))
    return found


def _create(request: HttpRequest, fmt: str) -> HttpResponse:
    """POST requests: api_key, service_code, a location, attributes, contact fields, media_url."""
    data = _form(request)
    key = _key(request, _value(data, "api_key") or _value(request.GET, "api_key"))
    jurisdiction = _jurisdiction(_value(data, "jurisdiction_id") or _value(request.GET, "jurisdiction_id"))
    service = _service(_value(data, "service_code"))
    case = services.open311_request_create(
        key=key,
        service=service,
        jurisdiction=jurisdiction,
        description=data.get("description") or "",
        lat=_value(data, "lat"),
        long=_value(data, "long"),
        address_string=_value(data, "address_string"),
        address_id=_value(data, "address_id"),
        attributes=_attributes(data),
        first_name=_value(data, "first_name"),
        last_name=_value(data, "last_name"),
        phone=_value(data, "phone"),
        media_url=_value(data, "media_url"),
        ip=client_ip(request),
    )
    track = request.build_absolute_uri(reverse("public_cases:case", args=[case.tracking_code]))
    notice = _("Received. Follow it at %(url)s (tracking code %(code)s).") % {
        "url": track,
        "code": case.tracking_code,
    }
    return document(fmt, "service_requests", [documents.created(case, notice=notice)])


@endpoint("GET")
def request_detail(request: HttpRequest, fmt: str, service_request_id: str) -> HttpResponse:
    jurisdiction = _jurisdiction(_value(request.GET, "jurisdiction_id"))
    case = selectors.request_get(service_request_id=service_request_id, jurisdiction=jurisdiction)
    if case is None:
        message = _("Unknown service_request_id: %(id)s.") % {"id": service_request_id[:40]}
        raise NotFound("unknown_service_request", message)
    return document(fmt, "service_requests", [documents.service_request(case)])


@endpoint("GET")
def token_detail(request: HttpRequest, fmt: str, token: str) -> HttpResponse:
    jurisdiction = _jurisdiction(_value(request.GET, "jurisdiction_id"))
    case = selectors.request_by_token(token=token, jurisdiction=jurisdiction)
    if case is None:
        raise NotFound("unknown_token", _("Unknown token: %(token)s.") % {"token": token[:20]})
    return document(fmt, "service_requests", [documents.token(case)])


@csrf_exempt
def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Anything else under /open311/v2/: a 404 in the format the path asks for (XML unless .json)."""
    fmt = JSON if request.path.endswith(".json") else XML
    message = _("No such resource. Resources end in .xml or .json, e.g. services.xml.")
    return refuse(request, fmt, NotFound("not_found", message))
