"""The OpenAPI 3.1 document, assembled from one entry per route so that it stays next to the code."""

from __future__ import annotations

PATHS: dict[str, dict] = {}
SCHEMAS: dict[str, dict] = {}


def document(path: str, method: str, spec: dict) -> None:
    """Record the OpenAPI operation ``spec`` for ``method path``."""
    PATHS.setdefault(path, {})[method.lower()] = spec


def build_document() -> dict:
    for path, operations in PATHS.items():
        for operation in operations.values():
            if path.startswith("/staff/"):
                operation.setdefault("security", [{"bearer": []}, {"session": []}])
            operation.setdefault("responses", {}).setdefault(
                "429", {"description": "Too many requests from this address; try again later."}
            )
            operation["responses"].setdefault("503", {"description": "A service the portal needs is down."})
            _declare_guard_answers(operation)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Petition review portal API",
            "version": "1",
            "description": "JSON, UTF-8. The same rules as the web pages.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from `POST /auth/token`: `Authorization: Bearer prt_...`.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The staff site's session cookie, with `X-CSRFToken` on unsafe methods.",
                },
            },
        },
    }


_ERROR = {"$ref": "#/components/schemas/Error"}
_FIELD_ERRORS = {"$ref": "#/components/schemas/FieldErrors"}


def _declare_guard_answers(operation: dict) -> None:
    """The answers every route may give before its own code runs (``portal.web``, ``portal.api``).

    422 ``FieldErrors``: a control character in a path segment, query parameter or body field, or an undocumented
    JSON field; 400 ``bad_json``: a JSON body that is not a JSON object.
    """
    responses = operation["responses"]
    guard = "A control character (such as NUL) in a field, or a field this request does not take."
    declared = responses.get("422")
    if declared is None:
        responses["422"] = {"description": guard, "content": {"application/json": {"schema": _FIELD_ERRORS}}}
    else:
        content = declared.setdefault("content", {}).setdefault("application/json", {})
        schema = content.get("schema")
        if schema != _FIELD_ERRORS and _FIELD_ERRORS not in (schema or {}).get("anyOf", ()):
            content["schema"] = {"anyOf": [schema, _FIELD_ERRORS]} if schema else _FIELD_ERRORS
            declared["description"] = f"{declared.get('description', '')} {guard}".strip()
    body = ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
    if body is not None:
        responses.setdefault(
            "400",
            {
                "description": "The body is not a JSON object (`bad_json`).",
                "content": {"application/json": {"schema": _ERROR}},
            },
        )
