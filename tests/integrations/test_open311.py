"""Open311 GeoReport v2 at /open311/v2/ through the Django test client: every resource in XML and JSON, the
specification's filters and defaults, the public rule of what is shown, and every refusal in the spec's
error format."""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from xml.etree import ElementTree

import pytest
from django.utils import timezone

from gridgov.cases.choices import Action, Source, State
from gridgov.cases.models import Case, Category
from gridgov.cases.services import case_report, case_transition
from gridgov.core.models import AuditEvent
from gridgov.integrations.models import ApiKey, Channel
from gridgov.integrations.open311 import selectors
from gridgov.integrations.open311.render import ITEM
from gridgov.integrations.services import apikey_create, apikey_revoke

BASE = "/open311/v2"
IN_G11 = {"lat": "32.605", "long": "117.005"}
IN_G21 = {"lat": "32.605", "long": "117.025"}
W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d$")
FORMATS = ["xml", "json"]
SCHEMA = [
    {"name": "width_m", "label": "宽度(米)", "type": "number", "required": True},
    {"name": "floors", "label": "层数", "type": "integer"},
    {"name": "blocked", "label": "是否影响通行", "type": "boolean"},
    {"name": "grade", "label": "等级", "type": "choice", "choices": ["A", "B"]},
    {"name": "since", "label": "发现日期", "type": "date"},
    {"name": "note", "label": "补充", "type": "text", "max_length": 50},
]


# --- helpers ----------------------------------------------------------------------------------


def from_xml(element: ElementTree.Element):
    """An XML document as the values its JSON twin carries (leaves as text): lists for list elements."""
    if element.tag in ITEM:
        return [from_xml(child) for child in element]
    if len(element):
        return {child.tag: from_xml(child) for child in element}
    return element.text


def as_text(value):
    """JSON values as XML text, to compare the two formats."""
    if isinstance(value, list):
        return [as_text(v) for v in value]
    if isinstance(value, dict):
        return {k: as_text(v) for k, v in value.items()}
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return None if value is None else str(value)


def parse(response, fmt: str):
    """The body, strictly parsed: XML with its declaration and UTF-8 content type, or JSON."""
    if fmt == "xml":
        assert response["Content-Type"] == "text/xml; charset=utf-8"
        assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
        return ElementTree.fromstring(response.content)
    assert response["Content-Type"] == "application/json; charset=utf-8"
    return response.json()


def values(response, fmt: str):
    """The body as plain values, the same shape for both formats (XML leaves are text)."""
    body = parse(response, fmt)
    return from_xml(body) if fmt == "xml" else body


def error_list(response, fmt: str, status: int) -> list[str]:
    """Assert the spec's error body and return the descriptions."""
    assert response.status_code == status, response.content
    body = parse(response, fmt)
    if fmt == "xml":
        assert body.tag == "errors"
        items = [{child.tag: child.text for child in error} for error in body]
        assert all(error.tag == "error" for error in body)
    else:
        items = body
    assert items and all(set(item) == {"code", "description"} for item in items)
    assert all(str(item["code"]) == str(status) for item in items)
    if fmt == "json":
        assert all(isinstance(item["code"], int) for item in items)
    return [item["description"] for item in items]


@pytest.fixture
def key(org):
    """An Open311 key for the whole subdistrict (the default area) and its raw value."""
    row, raw = apikey_create(actor=None, name="app", channel=Channel.OPEN311)
    return row, raw


def post(client, raw: str | None, fmt: str = "json", headers: dict | None = None, **fields):
    data = {"service_code": "01001", "description": "小区门口有一堆垃圾", **IN_G11, **fields}
    if raw is not None:
        data["api_key"] = raw
    return client.post(f"{BASE}/requests.{fmt}", data, **(headers or {}))


def resident_case(**fields):
    base = {"category": "01001", "title": "暴露垃圾", "lat": 32.605, "lng": 117.005, "source": Source.RESIDENT}
    return case_report(actor=None, **{**base, **fields})


# --- discovery and services -------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_discovery(client, org, fmt):
    response = client.get(f"{BASE}/discovery.{fmt}")
    assert response.status_code == 200
    body = values(response, fmt)
    assert set(body) == {"changeset", "contact", "key_service", "endpoints"}
    assert W3.match(body["changeset"]) and body["contact"] and body["key_service"]
    (endpoint,) = body["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": "http://testserver/open311/v2",
        "changeset": body["changeset"],
        "type": "production",
        "formats": ["text/xml", "application/json"],
    }


def test_root_serves_discovery_in_xml(client, org):
    response = client.get(f"{BASE}/")
    assert response.status_code == 200
    assert parse(response, "xml").tag == "discovery"


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_list_is_the_public_categories(client, org, fmt):
    Category.objects.filter(code="01004").update(active=False)
    response = client.get(f"{BASE}/services.{fmt}")
    assert response.status_code == 200
    services = values(response, fmt)
    codes = [s["service_code"] for s in services]
    public = list(
        Category.objects.filter(active=True, resident_reportable=True, parent__isnull=False)
        .exclude(code="01004")
        .order_by("code")
        .values_list("code", flat=True)
    )
    assert codes == public
    assert "03001" not in codes and "01" not in codes and "01004" not in codes  # staff-only, major, inactive
    by_code = {s["service_code"]: s for s in services}
    road = by_code["02001"]
    assert list(road) == ["service_code", "service_name", "description", "metadata", "type", "keywords", "group"]
    assert road["service_name"] == "道路塌陷与破损" and road["group"] == "公共设施"
    assert road["type"] == "realtime"
    assert road["metadata"] == (True if fmt == "json" else "true")
    assert by_code["01001"]["metadata"] == (False if fmt == "json" else "false")
    assert road["keywords"] == "道路塌陷与破损, 道路塌陷, 破损, 公共设施, 城市管理"
    assert "道路塌陷与破损" in road["description"] and "城市管理" in road["description"]


def test_both_formats_carry_the_same_document(client, org):
    resident_case(description="两种格式")
    for path in ("services", "services/02001", "requests", "discovery"):
        xml = values(client.get(f"{BASE}/{path}.xml"), "xml")
        json_body = as_text(client.get(f"{BASE}/{path}.json").json())
        assert xml == json_body, path


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_maps_every_field_type(client, org, fmt):
    Category.objects.filter(code="02001").update(form_schema=SCHEMA)
    response = client.get(f"{BASE}/services/02001.{fmt}")
    assert response.status_code == 200
    body = values(response, fmt)
    assert body["service_code"] == "02001"
    attributes = {a["code"]: a for a in body["attributes"]}
    assert list(attributes) == ["width_m", "floors", "blocked", "grade", "since", "note"]
    expected = {
        "width_m": ("number", True, "1", []),
        "floors": ("number", False, "2", []),
        "blocked": ("singlevaluelist", False, "3", [{"key": "true", "name": "是"}, {"key": "false", "name": "否"}]),
        "grade": ("singlevaluelist", False, "4", [{"key": "A", "name": "A"}, {"key": "B", "name": "B"}]),
        "since": ("datetime", False, "5", []),
        "note": ("string", False, "6", []),
    }
    for code, (datatype, required, order, options) in expected.items():
        attribute = as_text(attributes[code]) if fmt == "json" else attributes[code]
        assert list(attributes[code]) == [
            "variable",
            "code",
            "datatype",
            "required",
            "datatype_description",
            "order",
            "description",
            "values",
        ]
        assert attribute["variable"] == "true"
        assert attribute["datatype"] == datatype
        assert attribute["required"] == ("true" if required else "false")
        assert attribute["order"] == order
        assert attribute["values"] == options
    assert attributes["width_m"]["description"] == "宽度(米)"
    assert attributes["grade"]["datatype_description"] is None
    assert "50" in attributes["note"]["datatype_description"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_service_definition_without_fields(client, org, fmt):
    body = values(client.get(f"{BASE}/services/01001.{fmt}"), fmt)
    assert body == {"service_code": "01001", "attributes": []}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("code", ["99999", "03001", "01", "0100%"])
def test_service_definition_unknown_or_not_public(client, org, fmt, code, caplog):
    with caplog.at_level(logging.WARNING, logger="gridgov.open311"):
        response = client.get(f"{BASE}/services/{code}.{fmt}")
    (description,) = error_list(response, fmt, 404)
    assert "service_code" in description
    assert any("status=404" in r.getMessage() for r in caplog.records if r.name == "gridgov.open311")


@pytest.mark.parametrize("fmt", FORMATS)
def test_jurisdiction(client, org, fmt):
    assert client.get(f"{BASE}/services.{fmt}?jurisdiction_id=340404004").status_code == 200
    assert client.get(f"{BASE}/services.{fmt}?jurisdiction_id=").status_code == 200  # empty = not given
    for code in ("999999999", "340404004001"):  # unknown; a community is not a jurisdiction
        for path in ("services", "services/01001", "requests", "tokens/ABCDEFGH", "requests/1"):
            (description,) = error_list(client.get(f"{BASE}/{path}.{fmt}?jurisdiction_id={code}"), fmt, 404)
            assert "jurisdiction_id" in description


# --- POST requests ----------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_creates_a_case_and_reads_it_back(client, org, key, fmt):
    row, raw = key
    Category.objects.filter(code="02001").update(form_schema=SCHEMA)
    response = post(
        client,
        raw,
        fmt,
        service_code="02001",
        description="人行道塌陷\n约半米宽，有积水",
        address_string="一网格 幸福路 12 号",
        first_name="San",
        last_name="Zhang",
        phone="13800138000",
        email="zhang@example.com",
        device_id="dev-1",
        account_id="acc-1",
        media_url="https://photos.example.com/1.jpg",
        **{
            "attribute[width_m]": "0.5",
            "attribute[floors]": "3",
            "attribute[blocked]": "true",
            "attribute[grade]": "B",
            "attribute[since]": "2026-05-01T23:30:00Z",
            "attribute[note]": "夜间危险",
        },
    )
    assert response.status_code == 200, response.content
    (created,) = values(response, fmt)
    assert list(created) == ["service_request_id", "service_notice", "account_id"]
    case = Case.objects.get()
    assert created["service_request_id"] == case.code
    assert case.tracking_code in created["service_notice"]
    assert f"/public/track/{case.tracking_code}/" in created["service_notice"]
    assert created["account_id"] is None
    assert case.source == Source.OPEN311 and case.category.code == "02001"
    assert case.title == "人行道塌陷" and case.description == "人行道塌陷\n约半米宽，有积水"
    assert case.grid == org.g11 and case.address == "一网格 幸福路 12 号"
    assert case.reporter_name == "San Zhang" and case.reporter_phone.reveal() == "13800138000"
    assert case.media_url == "https://photos.example.com/1.jpg"
    # The date attribute read a UTC timestamp as its Shanghai day.
    assert case.extra == {
        "width_m": 0.5,
        "floors": 3,
        "blocked": True,
        "grade": "B",
        "since": "2026-05-02",
        "note": "夜间危险",
    }
    row.refresh_from_db()
    assert row.last_used_at is not None and row.last_used_ip == "127.0.0.1"
    event = AuditEvent.objects.get(event_type="integrations.open311.request")
    assert event.object_id == str(case.pk) and event.data["key"] == row.prefix
    assert event.actor_username == f"apikey:{row.prefix}"
    assert raw not in str(event.data)

    (request,) = values(client.get(f"{BASE}/requests/{case.code}.{fmt}"), fmt)
    assert list(request) == [
        "service_request_id",
        "status",
        "status_notes",
        "service_name",
        "service_code",
        "description",
        "agency_responsible",
        "service_notice",
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "address_id",
        "zipcode",
        "lat",
        "long",
        "media_url",
    ]
    assert request["service_request_id"] == case.code and request["status"] == "open"
    assert request["service_code"] == "02001" and request["service_name"] == "道路塌陷与破损"
    assert request["description"] == "人行道塌陷\n约半米宽，有积水"
    assert request["address"] == "一网格 幸福路 12 号"
    assert as_text(request["lat"]) == "32.605" and as_text(request["long"]) == "117.005"
    assert request["media_url"] == "https://photos.example.com/1.jpg"
    for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
        assert W3.match(request[name]) and request[name].endswith("+08:00"), name
    body = client.get(f"{BASE}/requests/{case.code}.{fmt}").content.decode()
    for private in ("San", "Zhang", "13800138000", case.tracking_code, "zhang@example.com"):
        assert private not in body


def test_post_by_address_only_goes_to_the_subdistrict(client, org, key):
    _row, raw = key
    response = client.post(
        f"{BASE}/requests.xml", {"api_key": raw, "service_code": "01001", "address_string": "幸福路 12 号"}
    )
    assert response.status_code == 200, response.content
    case = Case.objects.get()
    assert case.outside_grids and case.handling_area == org.s and case.lat is None
    assert case.title == "暴露垃圾"  # no description: the service's name
    (request,) = values(client.get(f"{BASE}/requests/{case.code}.xml"), "xml")
    assert request["lat"] is None and request["long"] is None and request["address"] == "幸福路 12 号"


def test_post_api_key_in_the_query_string(client, org, key):
    _row, raw = key
    response = client.post(f"{BASE}/requests.json?api_key={raw}", {"service_code": "01001", **IN_G11})
    assert response.status_code == 200, response.content
    assert Case.objects.count() == 1


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_refused_keys(client, org_wide, key, fmt, caplog):
    org = org_wide
    _row, raw = key
    revoked, revoked_raw = apikey_create(actor=None, name="old", channel=Channel.OPEN311)
    apikey_revoke(actor=None, key=revoked)
    _camera, camera_raw = apikey_create(actor=None, name="cam", channel=Channel.CAMERA)
    _other, other_raw = apikey_create(actor=None, name="s2", channel=Channel.OPEN311, area=org.s2)
    cases = [
        (None, {}),
        ("", {}),
        ("gg_nonsense", {}),
        (revoked_raw, {}),
        (camera_raw, {}),
        (raw, {"jurisdiction_id": "340404005"}),  # a key of S naming S2
        (other_raw, {"jurisdiction_id": "340404004"}),
    ]
    with caplog.at_level(logging.WARNING, logger="gridgov.open311"):
        descriptions = []
        for api_key, extra in cases:
            (description,) = error_list(post(client, api_key, fmt, **extra), fmt, 403)
            assert description.startswith("jurisdiction_id:" if extra else "api_key:"), description
            descriptions.append(description)
    # Missing and bad keys are told apart; unknown, revoked and other-channel keys are not.
    assert descriptions[0] == descriptions[1] != descriptions[2] == descriptions[3] == descriptions[4]
    assert Case.objects.count() == 0
    refusals = [r.getMessage() for r in caplog.records if r.name == "gridgov.open311"]
    assert len(refusals) == len(cases) and all("status=403" in line for line in refusals)
    assert all(raw not in line and camera_raw not in line for line in refusals)
    assert ApiKey.objects.get(pk=revoked.pk).last_used_at is None


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_unknown_or_missing_service_code(client, org, key, fmt):
    _row, raw = key
    for code in ("99999", "03001", "01"):
        (description,) = error_list(post(client, raw, fmt, service_code=code), fmt, 404)
        assert "service_code" in description
    (description,) = error_list(post(client, raw, fmt, service_code=""), fmt, 400)
    assert description.startswith("service_code:")
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_unknown_jurisdiction(client, org, key, fmt):
    _row, raw = key
    (description,) = error_list(post(client, raw, fmt, jurisdiction_id="999999999"), fmt, 404)
    assert "jurisdiction_id" in description
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_missing_location(client, org, key, fmt):
    _row, raw = key
    response = client.post(f"{BASE}/requests.{fmt}", {"api_key": raw, "service_code": "01001", "description": "x"})
    (description,) = error_list(response, fmt, 400)
    assert "lat" in description and "long" in description and "address_string" in description
    response = client.post(f"{BASE}/requests.{fmt}", {"api_key": raw, "service_code": "01001", "address_id": "77"})
    (description,) = error_list(response, fmt, 400)
    assert "address_id" in description and "address_string" in description
    assert Case.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "parameter"),
    [
        ({"lat": "32.605", "long": ""}, "long:"),
        ({"lat": "abc", "long": "117.005"}, "lat:"),
        ({"lat": "95", "long": "117.005"}, "lat:"),
        ({"phone": "12345"}, "phone:"),
        ({"media_url": "ftp://x.example.com/a.jpg"}, "media_url:"),
        ({"description": "长" * 4001}, "description:"),
        ({"first_name": "名" * 51}, "first_name:"),
        ({"attribute[colour]": "red"}, "attribute[colour]:"),
    ],
)
def test_post_validation_errors_name_the_parameter(client, org, key, fields, parameter):
    _row, raw = key
    descriptions = error_list(post(client, raw, "json", **fields), "json", 400)
    assert any(d.startswith(parameter) for d in descriptions), descriptions
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_attribute_errors(client, org, key, fmt):
    _row, raw = key
    Category.objects.filter(code="02001").update(form_schema=SCHEMA)
    # Missing required width_m, a bad integer and a value not in the list, all named at once.
    response = post(client, raw, fmt, service_code="02001", **{"attribute[floors]": "2.5", "attribute[grade]": "Z"})
    descriptions = error_list(response, fmt, 400)
    assert {d.split(":")[0] for d in descriptions} == {"attribute[width_m]", "attribute[floors]", "attribute[grade]"}
    response = post(client, raw, fmt, service_code="02001", **{"attribute[width_m][]": ["1", "2"]})
    (description,) = error_list(response, fmt, 400)
    assert description.startswith("attribute[width_m]:")
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_outside_the_keys_area(client, org, fmt):
    _row, raw = apikey_create(actor=None, name="c1 only", channel=Channel.OPEN311, area=org.c1)
    (description,) = error_list(post(client, raw, fmt, **IN_G21), fmt, 400)
    assert description.startswith("lat:")
    assert Case.objects.count() == 0
    assert post(client, raw, fmt).status_code == 200  # inside C1


def test_post_with_a_jurisdiction_inside_the_keys_area(client, org, key):
    _row, raw = key
    response = post(client, raw, "json", jurisdiction_id="340404004")
    assert response.status_code == 200, response.content
    assert Case.objects.get().grid == org.g11


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_oversized_body_is_refused_unread(client, org, key, settings, fmt):
    row, raw = key
    settings.GRIDGOV_OPEN311_MAX_BODY_BYTES = 2000
    (description,) = error_list(post(client, raw, fmt, description="x" * 3000), fmt, 413)
    assert "2000" in description
    assert Case.objects.count() == 0
    row.refresh_from_db()
    assert row.last_used_at is None  # the key was never read
    assert post(client, raw, fmt, description="x" * 500).status_code == 200


def test_post_default_body_limit(client, org, key):
    _row, raw = key
    error_list(post(client, raw, "xml", description="x" * (65 * 1024)), "xml", 413)
    assert Case.objects.count() == 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_post_must_be_a_form(client, org, key, fmt):
    _row, raw = key
    response = client.post(
        f"{BASE}/requests.{fmt}", {"api_key": raw, "service_code": "01001", **IN_G11}, content_type="application/json"
    )
    (description,) = error_list(response, fmt, 400)
    assert "form" in description
    assert Case.objects.count() == 0


def test_post_is_csrf_exempt(org, key):
    from django.test import Client

    _row, raw = key
    response = post(Client(enforce_csrf_checks=True), raw, "json")
    assert response.status_code == 200, response.content


# --- methods and unknown paths ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_other_methods_are_405(client, org, fmt):
    for method, path, allow in [
        ("post", "services", "GET, HEAD"),
        ("put", "requests", "GET, HEAD, POST"),
        ("delete", "requests/1", "GET, HEAD"),
        ("patch", "discovery", "GET, HEAD"),
        ("post", "tokens/ABC", "GET, HEAD"),
        ("post", "services/01001", "GET, HEAD"),
    ]:
        response = getattr(client, method)(f"{BASE}/{path}.{fmt}")
        (description,) = error_list(response, fmt, 405)
        assert method.upper() in description
        assert response["Allow"] == allow


def test_head_is_allowed(client, org):
    assert client.head(f"{BASE}/services.xml").status_code == 200


@pytest.mark.parametrize(
    ("path", "fmt"),
    [
        ("nothing.xml", "xml"),
        ("services.csv", "xml"),
        ("requests/x.json/y.json", "json"),
        ("services.json/extra", "xml"),
    ],
)
def test_unknown_paths_are_404_in_the_asked_format(client, org, path, fmt):
    (description,) = error_list(client.get(f"{BASE}/{path}"), fmt, 404)
    assert ".xml" in description


# --- GET requests: the public rule ------------------------------------------------------------


def test_public_rule(client, org):
    mine = resident_case(description="门口垃圾", reporter_name="李四", reporter_phone="13900139000")
    staff = case_report(
        actor=org.users.grid_worker,
        category="01002",
        title="乱堆物料",
        description="网格员看到的内部情况",
        lat=32.605,
        lng=117.005,
    )
    hidden = case_report(actor=org.users.grid_worker, category="03001", title="可疑车辆", lat=32.605, lng=117.005)
    body = client.get(f"{BASE}/requests.json").json()
    by_id = {r["service_request_id"]: r for r in body}
    assert set(by_id) == {mine.code, staff.code}
    assert by_id[mine.code]["description"] == "门口垃圾"
    assert by_id[staff.code]["description"] is None and by_id[staff.code]["media_url"] is None
    text = client.get(f"{BASE}/requests.xml").content.decode()
    for private in ("李四", "13900139000", "网格员看到的内部情况", "可疑车辆", mine.tracking_code, staff.tracking_code):
        assert private not in text
    error_list(client.get(f"{BASE}/requests/{hidden.code}.json"), "json", 404)
    error_list(client.get(f"{BASE}/tokens/{hidden.tracking_code}.xml"), "xml", 404)
    # A category taken off the public list takes its cases with it.
    Category.objects.filter(code="01001").update(resident_reportable=False)
    assert [r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json()] == [staff.code]


def test_status_mapping_and_notes(client, org):
    center = org.users.center
    closed = resident_case(description="已处理的")
    case_transition(actor=center, case=closed, action=Action.HANDLE_ON_SITE, result="已清理干净")
    resolved = resident_case(description="待核查的")
    case_transition(actor=center, case=resolved, action=Action.HANDLE_ON_SITE, result="已清运")
    case_transition(actor=center, case=closed, action=Action.VERIFY, passed=True)
    rejected = resident_case(description="重复的")
    case_transition(actor=center, case=rejected, action=Action.REJECT, reason="与另一报告重复")
    dispatched = resident_case(category="02003", title="路灯不亮", description="路灯不亮")
    case_transition(actor=center, case=dispatched, action=Action.DISPATCH, unit=org.prop.pk)
    fresh = resident_case(description="刚上报的")
    rows = {r["service_request_id"]: r for r in client.get(f"{BASE}/requests.json").json()}
    closed.refresh_from_db()
    assert closed.state == State.CLOSED
    assert rows[closed.code]["status"] == "closed"
    assert rows[closed.code]["status_notes"].startswith("已结案")
    assert rows[closed.code]["status_notes"].endswith("已清理干净")
    assert rows[closed.code]["expected_datetime"] is None
    assert rows[closed.code]["updated_datetime"] == timezone.localtime(closed.closed_at).isoformat(timespec="seconds")
    assert rows[resolved.code]["status"] == "open" and "已清运" in rows[resolved.code]["status_notes"]
    assert rows[rejected.code]["status"] == "closed"
    assert rows[rejected.code]["status_notes"].endswith("与另一报告重复")
    assert rows[rejected.code]["agency_responsible"] is None
    assert rows[dispatched.code]["status"] == "open" and rows[dispatched.code]["agency_responsible"] == "测试物业"
    dispatched.refresh_from_db()
    assert rows[dispatched.code]["expected_datetime"] == timezone.localtime(dispatched.due_at).isoformat(
        timespec="seconds"
    )
    assert rows[fresh.code]["status"] == "open" and rows[fresh.code]["status_notes"]
    assert rows[fresh.code]["agency_responsible"] is None
    # Filter by status, comma-delimited or repeated.
    closed_ids = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json?status=closed").json()}
    assert closed_ids == {closed.code, rejected.code}
    open_ids = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json?status=open").json()}
    assert open_ids == {resolved.code, dispatched.code, fresh.code}
    both = client.get(f"{BASE}/requests.json?status=open,closed").json()
    assert len(both) == 5 == len(client.get(f"{BASE}/requests.json?status=open&status=CLOSED").json())


def _age(case: Case, days: float) -> Case:
    Case.objects.filter(pk=case.pk).update(created_at=timezone.now() - timedelta(days=days))
    return case


def test_dates_default_to_the_last_90_days(client, org):
    recent = _age(resident_case(), 1)
    older = _age(resident_case(), 100)
    oldest = _age(resident_case(), 200)
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json()]
    assert ids == [recent.code]
    # Newest first within a window.
    start = (timezone.localtime() - timedelta(days=150)).date().isoformat()
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json?start_date={start}").json()]
    assert ids == [older.code]  # start + 90 days
    end = (timezone.now() - timedelta(days=99)).isoformat()
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json", {"end_date": end}).json()]
    assert ids == [older.code]  # end - 90 days
    start = (timezone.now() - timedelta(days=201)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (timezone.now() - timedelta(days=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    ids = [
        r["service_request_id"]
        for r in client.get(f"{BASE}/requests.json", {"start_date": start, "end_date": end}).json()
    ]
    assert ids == [oldest.code]
    # service_request_id overrides the window and every other filter, comma-delimited.
    query = {"service_request_id": f"{oldest.code}, {recent.code},nope", "status": "closed", "service_code": "09001"}
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json", query).json()]
    assert ids == [recent.code, oldest.code]


def test_dates_with_an_offset_sent_unencoded(client, org):
    recent = resident_case()
    start = timezone.localtime() - timedelta(days=1)
    text = start.strftime("%Y-%m-%dT%H:%M:%S") + "+08:00"
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json?start_date={text}").json()]
    assert ids == [recent.code]


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("start_date=yesterday", "start_date:"),
        ("end_date=2026-13-01", "end_date:"),
        ("start_date=2026-01-01T00:00:00Z&end_date=2026-04-02T00:00:00Z", "end_date:"),  # 91 days
        ("start_date=2026-02-01&end_date=2026-01-01", "end_date:"),
        ("status=pending", "status:"),
    ],
)
def test_bad_filters(client, org, fmt, query, parameter):
    (description,) = error_list(client.get(f"{BASE}/requests.{fmt}?{query}"), fmt, 400)
    assert description.startswith(parameter)


def test_exactly_90_days_is_allowed(client, org):
    query = "start_date=2026-01-01T00:00:00Z&end_date=2026-04-01T00:00:00Z"
    assert client.get(f"{BASE}/requests.json?{query}").status_code == 200


def test_service_code_filter(client, org):
    trash = resident_case()
    lamp = resident_case(category="02003", title="路灯")
    resident_case(category="01002", title="堆物")
    ids = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json?service_code=01001,02003").json()}
    assert ids == {trash.code, lamp.code}


def test_at_most_1000_requests(client, org, monkeypatch):
    made = [resident_case() for _ in range(4)]
    monkeypatch.setattr(selectors, "MAX_REQUESTS", 3)
    ids = [r["service_request_id"] for r in client.get(f"{BASE}/requests.json").json()]
    assert ids == [c.code for c in reversed(made)][:3]
    assert selectors.MAX_REQUESTS == 3 and len(ids) == 3


def test_jurisdiction_filters_requests(client, org_wide, key):
    org = org_wide
    here = resident_case()
    _row, raw = apikey_create(actor=None, name="s2", channel=Channel.OPEN311, area=org.s2)
    response = client.post(
        f"{BASE}/requests.json", {"api_key": raw, "service_code": "01001", "address_string": "邻街道某路"}
    )
    assert response.status_code == 200, response.content
    there = Case.objects.get(area_code=org.s2.code)
    ids = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json?jurisdiction_id=340404004").json()}
    assert ids == {here.code}
    ids = {r["service_request_id"] for r in client.get(f"{BASE}/requests.json?jurisdiction_id=340404005").json()}
    assert ids == {there.code}
    assert client.get(f"{BASE}/requests/{there.code}.json?jurisdiction_id=340404004").status_code == 404
    assert client.get(f"{BASE}/requests/{there.code}.json?jurisdiction_id=340404005").status_code == 200


def test_list_queries_do_not_grow_with_results(client, org, django_assert_max_num_queries):
    center = org.users.center
    for n in range(12):
        case = resident_case(description=f"第{n}个")
        if n % 3 == 0:
            case_transition(actor=center, case=case, action=Action.REJECT, reason="不属实")
        elif n % 3 == 1:
            case_transition(actor=center, case=case, action=Action.HANDLE_ON_SITE, result="已处理")
    with django_assert_max_num_queries(1):  # one query, whatever the number of requests
        response = client.get(f"{BASE}/requests.xml")
    assert len(parse(response, "xml")) == 12
    with django_assert_max_num_queries(2):  # + the jurisdiction
        assert len(client.get(f"{BASE}/requests.json?jurisdiction_id=340404004").json()) == 12
    with django_assert_max_num_queries(1):
        assert len(client.get(f"{BASE}/services.json").json()) > 10


@pytest.mark.parametrize("fmt", FORMATS)
def test_request_detail_unknown(client, org, fmt):
    (description,) = error_list(client.get(f"{BASE}/requests/3404040040010012026050100001.{fmt}"), fmt, 404)
    assert "service_request_id" in description


def test_control_characters_do_not_break_xml(client, org):
    resident_case(description="坏\x01字符\x0b<b>&amp;")
    (request,) = values(client.get(f"{BASE}/requests.xml"), "xml")
    assert request["description"] == "坏字符<b>&amp;"


# --- tokens -----------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_token(client, org, fmt):
    case = resident_case()
    for token in (case.tracking_code, case.tracking_code.lower()):
        (row,) = values(client.get(f"{BASE}/tokens/{token}.{fmt}"), fmt)
        assert row == {"service_request_id": case.code, "token": case.tracking_code}
    (description,) = error_list(client.get(f"{BASE}/tokens/NOSUCHCODE.{fmt}"), fmt, 404)
    assert "token" in description


def test_errors_speak_the_requested_language(client, org, key):
    response = client.get(f"{BASE}/services/99999.json", HTTP_ACCEPT_LANGUAGE="en")
    assert error_list(response, "json", 404) == ["Unknown service_code: 99999."]
    response = post(client, key[1], "json", headers={"HTTP_ACCEPT_LANGUAGE": "en"}, phone="12345")
    (description,) = error_list(response, "json", 400)
    assert description.startswith("phone: ") and description.isascii()


# --- the services, called directly ------------------------------------------------------------


def test_title_from_the_description():
    from gridgov.integrations.open311.services import title_from

    service = Category(code="01001", name="暴露垃圾")
    assert title_from("", service) == "暴露垃圾"
    assert title_from("\n  \n第一行\n第二行", service) == "第一行"
    long_title = title_from("长" * 150, service)
    assert len(long_title) == 100 and long_title.endswith("…")


def test_sender_area(org_wide):
    from gridgov.core.errors import ApplicationError
    from gridgov.integrations.open311.services import sender_area

    org = org_wide
    whole, _raw = apikey_create(actor=None, name="s", channel=Channel.OPEN311, area=org.s)
    community, _raw = apikey_create(actor=None, name="c1", channel=Channel.OPEN311, area=org.c1)
    assert sender_area(key=whole, jurisdiction=None) == org.s
    assert sender_area(key=whole, jurisdiction=org.s) == org.s
    assert sender_area(key=community, jurisdiction=org.s) == org.c1  # the narrower of the two
    with pytest.raises(ApplicationError) as info:
        sender_area(key=whole, jurisdiction=org.s2)
    assert info.value.status == 403 and "jurisdiction_id" in info.value.fields


def test_create_refuses_a_missing_location_before_writing(org, key):
    from gridgov.core.errors import ApplicationError
    from gridgov.integrations.open311.services import open311_request_create

    row, _raw = key
    service = Category.objects.get(code="01001")
    with pytest.raises(ApplicationError) as info:
        open311_request_create(key=row, service=service, description="没有位置", address_id="A-17")
    assert info.value.code == "missing_location" and "address_id" in info.value.message
    assert Case.objects.count() == 0
    assert not AuditEvent.objects.filter(event_type="integrations.open311.request").exists()
    case = open311_request_create(key=row, service=service, lat="32.605", long="117.005", ip="10.0.0.9")
    assert case.grid == org.g11 and case.source == Source.OPEN311 and case.title == "暴露垃圾"
    assert AuditEvent.objects.get(event_type="integrations.open311.request").ip == "10.0.0.9"
