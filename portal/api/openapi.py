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
