"""An Open311 client that nobody here wrote (the PyPI package `georeport`) against the live server, in XML and
in JSON: it lists the services, reads a definition, posts a request with a key (georeport cannot post, so the
POST is a plain form with `requests`), and reads the request back with the fields the specification requires.
Every XML document is also parsed strictly with xml.etree."""

from __future__ import annotations

import re
from types import SimpleNamespace
from xml.etree import ElementTree

import pytest
import requests
from georeport import GeoReport

from gridgov.cases import defaults
from gridgov.cases.choices import Source
from gridgov.cases.models import Case
from gridgov.integrations.models import Channel
from gridgov.integrations.services import apikey_create

W3 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)$")
# The fields GET requests answers with that the specification does not mark "may not be returned".
REQUIRED = (
    "service_request_id",
    "status",
    "service_name",
    "service_code",
    "description",
    "requested_datetime",
    "updated_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
)
TIMEOUT = 10


def as_list(value) -> list:
    """xmltodict gives one repeated element as a dict and several as a list."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def strict_xml(url: str, **params) -> ElementTree.Element:
    response = requests.get(url, params=params, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"] == "text/xml; charset=utf-8"
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    return ElementTree.fromstring(response.content)


@pytest.fixture
def served(org, live_server):
    defaults.install()  # transactional tests flush the categories the data migration wrote
    _key, raw = apikey_create(actor=None, name="georeport", channel=Channel.OPEN311)
    return SimpleNamespace(root=f"{live_server.url}/open311/v2", key=raw)


@pytest.mark.parametrize("fmt", ["xml", "json"])
def test_georeport_lists_reads_posts_and_reads_back(served, fmt):
    client = GeoReport(served.root, api_key=served.key, output_format=fmt)

    services = client.get_service_list()
    by_code = {s["service_code"]: s for s in services}
    assert {"01001", "02001", "09003"} <= set(by_code) and "03001" not in by_code
    road = by_code["02001"]
    assert road["service_name"] == "道路塌陷与破损" and road["type"] == "realtime" and road["group"] == "公共设施"
    assert road["metadata"] == (True if fmt == "json" else "true")
    assert road["keywords"] and road["description"]

    definition = client.get_service_definition("02001")
    assert definition["service_code"] == "02001"
    attributes = definition["attributes"] if fmt == "json" else as_list(definition["attributes"]["attribute"])
    by_attribute = {a["code"]: a for a in attributes}
    assert by_attribute["area_m2"]["datatype"] == "number"
    blocks = by_attribute["blocks_traffic"]
    assert blocks["datatype"] == "singlevaluelist"
    keys = [v["key"] for v in (blocks["values"] if fmt == "json" else as_list(blocks["values"]["value"]))]
    assert keys == ["true", "false"]

    form = {
        "api_key": served.key,
        "service_code": "02001",
        "lat": "32.605",
        "long": "117.005",
        "address_string": "一网格 幸福路 3 号",
        "description": f"路面塌陷（{fmt}）",
        "first_name": "Mei",
        "last_name": "Wang",
        "phone": "13800138000",
        "media_url": "https://photos.example.com/hole.jpg",
        "attribute[area_m2]": "1.5",
        "attribute[blocks_traffic]": "true",
    }
    response = requests.post(f"{served.root}/requests.{fmt}", data=form, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    if fmt == "json":
        (created,) = response.json()
        request_id = created["service_request_id"]
    else:
        root = ElementTree.fromstring(response.content)
        assert root.tag == "service_requests" and [child.tag for child in root] == ["request"]
        request_id = root.find("request/service_request_id").text
        assert root.find("request/token") is None  # realtime: an id, never a token
    case = Case.objects.get(code=request_id)
    assert case.source == Source.OPEN311 and case.extra == {"area_m2": 1.5, "blocks_traffic": True}
    assert case.media_url == "https://photos.example.com/hole.jpg"

    one = client.get_service_request(request_id)
    listed = as_list(client.get_service_requests(service_request_id=request_id))
    recent = as_list(client.get_service_requests())
    assert [r["service_request_id"] for r in listed] == [request_id]
    assert request_id in [r["service_request_id"] for r in recent]
    for request in (one, listed[0]):
        assert all(name in request for name in REQUIRED), request
        assert request["status"] == "open"
        assert request["service_code"] == "02001" and request["service_name"] == "道路塌陷与破损"
        assert request["description"] == f"路面塌陷（{fmt}）"
        assert request["address"] == "一网格 幸福路 3 号"
        assert float(request["lat"]) == 32.605 and float(request["long"]) == 117.005
        assert request["media_url"] == "https://photos.example.com/hole.jpg"
        for name in ("requested_datetime", "updated_datetime", "expected_datetime"):
            assert W3.match(request[name]), (name, request[name])
        assert "Wang" not in str(request) and "13800138000" not in str(request)


def test_every_xml_document_is_well_formed(served):
    response = requests.post(
        f"{served.root}/requests.xml",
        data={"api_key": served.key, "service_code": "01001", "lat": "32.605", "long": "117.005"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 200, response.text
    case = Case.objects.get()
    assert strict_xml(f"{served.root}/discovery.xml").tag == "discovery"
    assert strict_xml(f"{served.root}/services.xml").tag == "services"
    assert strict_xml(f"{served.root}/services/02001.xml").tag == "service_definition"
    assert strict_xml(f"{served.root}/requests.xml").tag == "service_requests"
    assert strict_xml(f"{served.root}/requests/{case.code}.xml").find("request/service_request_id").text == case.code
    token = strict_xml(f"{served.root}/tokens/{case.tracking_code}.xml")
    assert token.find("request/service_request_id").text == case.code
    refused = requests.post(f"{served.root}/requests.xml", data={"service_code": "01001"}, timeout=TIMEOUT)
    assert refused.status_code == 403
    errors = ElementTree.fromstring(refused.content)
    assert errors.tag == "errors" and errors.find("error/code").text == "403"
    assert Case.objects.count() == 1
