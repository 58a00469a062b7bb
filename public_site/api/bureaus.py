"""The bureau tree, public: petitioners pick the bureau that wrote the opinion they dispute."""

from __future__ import annotations

from flask import jsonify

from portal.api.openapi import SCHEMAS, document
from portal.extensions import db
from public_site.api import bp
from tenants.tree import list_bureaus, tree_order

SCHEMAS["Bureau"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "adcode": {"type": ["string", "null"]},
        "name": {"type": "string"},
        "level": {"type": "string", "enum": ["province", "city", "county"]},
        "parent_id": {"type": ["integer", "null"]},
    },
    "required": ["id", "adcode", "name", "level", "parent_id"],
}
document(
    "/bureaus",
    "get",
    {
        "summary": "List every bureau of the deployment, parents before children.",
        "responses": {
            "200": {
                "description": "The bureau tree.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "bureaus": {"type": "array", "items": {"$ref": "#/components/schemas/Bureau"}}
                            },
                        }
                    }
                },
            }
        },
    },
)


@bp.get("/bureaus")
def bureaus():
    rows = tree_order(list_bureaus(db.session))
    return jsonify(
        bureaus=[
            {"id": b.id, "adcode": b.adcode, "name": b.name, "level": str(b.level), "parent_id": b.parent_id}
            for b in rows
        ]
    )
