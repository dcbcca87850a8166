"""`GET /openapi.json`: an OpenAPI 3.1 document naming every route, body, parameter and GoTrue's error shapes."""

from __future__ import annotations

import ast
import inspect
from typing import Any

from pytrue.entrypoints.http import openapi
from pytrue.entrypoints.http.routes import admin, auth, email, external, mfa, user


async def test_the_document_is_served_and_lists_every_route(api: Any) -> None:
    response = await api.client.get("/openapi.json")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    document = response.json()
    assert document["openapi"] == "3.1.0"
    served = {
        (method, route.path_format)
        for route in api.client.app.routes
        for method in getattr(route, "methods", ())
        if method not in ("OPTIONS", "HEAD")
    }
    listed = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert listed == served


def _decoded_bodies() -> dict[str, str]:
    """Handler function name -> the struct its `decode_body(..., Struct)` call reads."""
    found = {}
    for module in (admin, auth, email, external, mfa, user):
        for node in ast.walk(ast.parse(inspect.getsource(module))):
            if isinstance(node, ast.AsyncFunctionDef):
                for call in ast.walk(node):
                    if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "decode_body":
                        found.setdefault(node.name, set()).add(call.args[1].id)  # type: ignore[attr-defined]
    return found


def test_every_body_a_handler_decodes_is_declared() -> None:
    declared = {op.summary: {kind.__name__ for kind in op.body} for op in openapi.OPERATIONS.values()}
    used = set().union(*_decoded_bodies().values())
    assert used == set().union(*declared.values())


def test_errors_reference_both_gotrue_shapes() -> None:
    document = openapi.build_document()
    error = document["components"]["schemas"]["Error"]
    assert {ref["$ref"].rsplit("/", 1)[1] for ref in error["oneOf"]} == {"LegacyError", "Error2024"}
    assert document["components"]["schemas"]["LegacyError"]["required"] == ["code", "error_code", "msg"]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            errors = [status for status in operation["responses"] if status >= "400"]
            assert errors, (method, path)
            for status in errors:
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/Error"
                }


def test_pagination_caps_are_documented() -> None:
    params = {p["name"]: p for p in openapi.build_document()["paths"]["/admin/users"]["get"]["parameters"]}
    assert params["per_page"]["schema"]["maximum"] == 1000
    assert params["page"]["schema"]["maximum"] == 2**31 - 1
