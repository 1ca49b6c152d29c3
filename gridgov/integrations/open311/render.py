"""Open311 documents written as XML or JSON: one tree of plain values, two serialisations.

A document is built once as Python values: a dict is an element whose children keep the dict's order
(the order the specification lists them in), a list is a run of repeated elements named by `ITEM`,
None is an empty element (JSON null). XML comes out in UTF-8 with its declaration, no namespace, as the
specification asks; JSON follows its Spark convention (the root element is dropped, repeated elements
become an array), which is what the specification's JSON examples are.
"""

from __future__ import annotations

import json
import re
from typing import Any
from xml.etree import ElementTree

from django.http import HttpResponse

XML = "xml"
JSON = "json"
CONTENT_TYPES = {XML: "text/xml; charset=utf-8", JSON: "application/json; charset=utf-8"}
MIME_TYPES = ["text/xml", "application/json"]

# The element name of each item of a list, by the list's own element name.
ITEM = {
    "services": "service",
    "attributes": "attribute",
    "values": "value",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>\n'
# Characters XML 1.0 cannot carry at all (a control character pasted into a description must not break the
# document for every client that lists it).
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return NOT_XML.sub("", str(value))


def _element(parent: ElementTree.Element | None, name: str, value: Any) -> ElementTree.Element:
    node = ElementTree.Element(name) if parent is None else ElementTree.SubElement(parent, name)
    if isinstance(value, dict):
        for key, child in value.items():
            _element(node, key, child)
    elif isinstance(value, list | tuple):
        item = ITEM[name]
        for child in value:
            _element(node, item, child)
    else:
        node.text = _text(value)
    return node


def to_xml(root: str, value: Any) -> bytes:
    """`value` as the XML document whose root element is `root`."""
    tree = _element(None, root, value)
    ElementTree.indent(tree, space="  ")  # readable with curl; whitespace between elements carries nothing
    return XML_DECLARATION + ElementTree.tostring(tree, encoding="unicode").encode("utf-8") + b"\n"


def to_json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def document(fmt: str, root: str, value: Any, *, status: int = 200) -> HttpResponse:
    """The response carrying `value` in the format the URL asked for."""
    body = to_json(value) if fmt == JSON else to_xml(root, value)
    return HttpResponse(body, status=status, content_type=CONTENT_TYPES.get(fmt, CONTENT_TYPES[XML]))


def errors(fmt: str, status: int, descriptions: list[str]) -> HttpResponse:
    """The specification's error list: one {code, description} per problem, the code being the HTTP status."""
    items = [{"code": status, "description": description} for description in descriptions]
    return document(fmt, "errors", items, status=status)
