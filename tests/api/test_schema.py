"""The OpenAPI document and its browser, served from this server alone."""

from __future__ import annotations

import re

import pytest
import yaml


def test_schema_as_json(admin_client):
    response = admin_client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert document["info"]["title"] == "gridgov API"
    paths = document["paths"]
    for path in (
        "/api/v1/areas/",
        "/api/v1/areas/{id}/",
        "/api/v1/areas/locate/",
        "/api/v1/units/",
        "/api/v1/party-branches/",
        "/api/v1/auth/token/",
        "/api/v1/auth/me/",
    ):
        assert path in paths, path


def test_schema_describes_locate_and_the_filters(admin_client):
    paths = admin_client.get("/api/v1/schema/", {"format": "json"}).json()["paths"]
    locate = {p["name"]: p for p in paths["/api/v1/areas/locate/"]["get"]["parameters"]}
    assert locate["lat"]["required"] is True
    assert locate["lng"]["required"] is True
    listed = {p["name"] for p in paths["/api/v1/areas/"]["get"]["parameters"]}
    assert {"level", "parent", "page", "page_size"} <= listed
    assert set(paths["/api/v1/areas/"]) == {"get"}, "the area API is read-only"


def test_schema_as_yaml_by_default(admin_client):
    response = admin_client.get("/api/v1/schema/")
    assert response.status_code == 200
    document = yaml.safe_load(response.content)
    assert "openapi" in document
    assert "/api/v1/areas/locate/" in document["paths"]


def test_docs_page_uses_local_assets_only(admin_client):
    response = admin_client.get("/api/v1/docs/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, "the page loads Swagger UI"
    assert all(url.startswith("/static/") for url in assets), assets
    assert "swagger-ui-bundle.js" in html
    assert "http://" not in html
    assert "https://" not in html
    assert "/api/v1/schema/" in html


@pytest.mark.parametrize(
    "path",
    [
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
        "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui.css",
    ],
)
def test_docs_assets_are_served(client, db, path):
    response = client.get(path)
    assert response.status_code == 200
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert len(body) > 10_000


def test_schema_and_docs_need_a_signed_in_user(client, db):
    response = client.get("/api/v1/schema/", {"format": "json"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert client.get("/api/v1/docs/").status_code == 401
