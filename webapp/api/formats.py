"""GeoReport v2's two formats: JSON, and XML built by the spec's mapping (the Spark convention:
a list is an element of its plural name holding one element per item).

Nothing here knows the campaign: views hand in plain dicts and lists.
"""

import json
from xml.etree import ElementTree as ET  # noqa: S405 - we only *write* XML here, never parse it

from flask import Response

JSON = "json"
XML = "xml"
FORMATS = (JSON, XML)
MIME = {JSON: "application/json; charset=utf-8", XML: "text/xml; charset=utf-8"}

# How the items of each list are named in XML.
ITEM_NAMES = {
    "services": "service",
    "service_requests": "request",
    "attributes": "attribute",
    "values": "value",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
}


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _fill(element: ET.Element, value) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        item_name = ITEM_NAMES[element.tag]
        for item in value:
            _fill(ET.SubElement(element, item_name), item)
    else:
        element.text = _text(value)


def to_xml(root: str, value) -> str:
    """``<?xml …?>`` and ``value`` under an element named ``root``."""
    element = ET.Element(root)
    _fill(element, value)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")


def respond(fmt: str, root: str, value, status: int = 200) -> Response:
    """The answer in the requested format; ``root`` names the XML root (the JSON is ``value``)."""
    if fmt == XML:
        body = to_xml(root, value)
    else:
        body = json.dumps(value, ensure_ascii=False)
    return Response(body, status=status, content_type=MIME[fmt])


def errors(fmt: str, status: int, *descriptions: str) -> Response:
    """The spec's error answer: a list of ``{code, description}`` with the HTTP status as code."""
    return respond(fmt, "errors", [{"code": status, "description": str(d)} for d in descriptions], status)
