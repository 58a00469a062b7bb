"""The OpenAPI document."""

from __future__ import annotations

from flask import jsonify

from portal.api import bp
from portal.api.openapi import build_document


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_document())
