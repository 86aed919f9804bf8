"""The OpenAPI 3.1 document: generated from the route registry, self-contained, served as JSON,
as YAML (what the web app's docs page fetches) and as a reference page."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from importlib.resources import files
from typing import Any

import yaml

from lumi_api.openapi.routes import VIEWER_VERSION
from lumi_api.routing import ROUTES
from tests.support.api import Client


async def document(client: Client, path: str = "/api/openapi.json") -> Any:
    response = await client.get(path)
    assert response.status == 200
    assert response.content_type == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    return await response.json()


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def resolve(doc: Any, ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        node = node[part]
    return node


async def test_every_registered_route_is_documented(client: Client) -> None:
    doc = await document(client)
    assert doc["openapi"] == "3.1.0"
    assert [server["url"] for server in doc["servers"]] == ["/api/v1", "/api"]
    for spec in client.app[ROUTES].specs:
        operation = doc["paths"][spec.openapi_path][spec.method.lower()]
        assert operation["summary"] == spec.summary
        assert str(spec.status) in operation["responses"]
    ids = [op["operationId"] for item in doc["paths"].values() for op in _operations(item)]
    assert len(ids) == len(set(ids))
    assert doc["paths"]["/files/{key}"]["servers"] == [
        {"url": "/", "description": "public files, outside /api"}
    ]


async def test_the_document_is_self_contained(client: Client) -> None:
    doc = await document(client)
    found = list(refs(doc))
    assert found
    for ref in found:
        assert resolve(doc, ref) is not None


async def test_auth_bodies_and_errors_are_described(client: Client) -> None:
    doc = await document(client)
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "The token login returned; `Bearer <token>` or the bare token",
    }
    create = doc["paths"]["/tasks"]["post"]
    assert create["security"] == [{"bearer": []}]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/CreateTaskBody"
    }
    success = create["responses"]["201"]["content"]["application/json"]["schema"]
    assert success["properties"]["status"] == {"const": "success"}
    assert success["properties"]["data"] == {"$ref": "#/components/schemas/TaskOut"}
    for status in ("400", "401", "409", "413", "429", "500"):
        assert status in create["responses"], status
    fail = resolve(doc, create["responses"]["401"]["$ref"])
    assert fail["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/JSendFail"
    }
    assert "Retry-After" in resolve(doc, create["responses"]["429"]["$ref"])["headers"]
    task = doc["components"]["schemas"]["TaskOut"]
    assert {"images", "model", "updatedAt", "originalPrompt"} <= set(task["properties"])
    listing = doc["paths"]["/tasks"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {"limit", "offset", "page", "pageSize"}
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert "304" in doc["paths"]["/tasks/{task_id}/status"]["get"]["responses"]
    param = doc["paths"]["/tasks/{task_id}"]["get"]["parameters"][0]
    assert param["schema"]["pattern"] == "^[0-7][0-9A-HJKMNP-TV-Z]{25}$"


async def test_yaml_and_the_reference_page(client: Client) -> None:
    as_json = await document(client, "/api/v1/openapi.json")
    response = await client.get("/api/openapi")
    assert response.status == 200
    assert response.content_type == "application/yaml"
    assert yaml.safe_load(await response.text()) == as_json
    page = await client.get("/api/docs")
    assert page.status == 200
    assert page.content_type == "text/html"


async def test_the_reference_page_loads_nothing_from_another_origin(client: Client) -> None:
    """Issue 12, point 15: it loaded an unpinned script from a CDN (blank without internet,
    and any script the CDN served ran on the origin of the session cookie)."""
    for prefix in ("/api", "/api/v1"):
        page = await client.get(f"{prefix}/docs")
        html = await page.text()
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, html
        for source in sources:
            assert "//" not in source, source  # relative: this origin
            asset = await client.get(f"{prefix}/{source}")
            assert asset.status == 200, source
            assert asset.content_type in ("text/javascript", "text/css")
        csp = page.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "default-src 'none'" in csp
    # the starter script points the viewer at the document beside the page
    starter = await client.get("/api/docs/docs.js")
    assert 'url: "openapi.json"' in await starter.text()
    assert (await client.get("/api/docs/LICENSE")).status == 404  # only the listed files


def test_the_vendored_viewer_is_the_pinned_one() -> None:
    viewer = files("lumi_api.openapi").joinpath("viewer")
    readme = viewer.joinpath("README.md").read_text()
    for name in ("swagger-ui-bundle.js", "swagger-ui.css"):
        digest = hashlib.sha256(viewer.joinpath(name).read_bytes()).hexdigest()
        assert f"`{name}` | npm `swagger-ui-dist@{VIEWER_VERSION}` | `{digest}`" in readme
    assert "Apache License" in viewer.joinpath("LICENSE").read_text()


def _operations(item: dict[str, Any]) -> list[dict[str, Any]]:
    return [value for key, value in item.items() if key in ("get", "post", "patch", "delete")]


async def test_plain_arrays_and_optional_fields_are_documented_as_answered(client: Client) -> None:
    """A RootModel answer (the user lists) is an array of models; `isLiked` is a boolean that
    an anonymous answer leaves out, never null."""
    doc = await document(client)
    schemas = doc["components"]["schemas"]
    favorites = doc["paths"]["/users/favorites"]["get"]["responses"]["200"]
    data = favorites["content"]["application/json"]["schema"]["properties"]["data"]
    assert resolve(doc, data["$ref"]) == schemas["ModelListOut"]
    assert schemas["ModelListOut"]["type"] == "array"
    assert schemas["ModelListOut"]["items"] == {"$ref": "#/components/schemas/ModelOut"}
    interactions = schemas["InteractionsOut"]
    assert interactions["properties"]["isLiked"] == {"title": "Isliked", "type": "boolean"}
    assert set(interactions["required"]) == {"isAuthenticated", "interactions"}
    me = schemas["MeOut"]["properties"]
    assert me["status"]["enum"] == ["authenticated", "unauthenticated"]
