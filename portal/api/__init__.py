"""The JSON API at ``/api/v1``: the same rules as the pages, documented in ``/api/v1/openapi.json``."""

from __future__ import annotations

import re

from flask import Blueprint, jsonify, request

bp = Blueprint("api", __name__)


@bp.before_request
def _refuse_unknown_fields():
    """A JSON body may hold only the fields its route documents (``openapi.json``): anything else answers 422."""
    from portal.api.openapi import PATHS, SCHEMAS
    from portal.inputguard import unknown_fields
    from portal.web import is_english

    if request.url_rule is None or not request.is_json:
        return None
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", request.url_rule.rule.removeprefix("/api/v1"))
    spec = PATHS.get(path, {}).get(request.method.lower()) or {}
    schema = (((spec.get("requestBody") or {}).get("content") or {}).get("application/json") or {}).get("schema")
    body = request.get_json(silent=True)
    if schema is None or body is None:
        return None
    unknown = unknown_fields(body, schema, SCHEMAS)
    if not unknown:
        return None
    text = "Unknown field: this request takes no such field." if is_english() else "未知字段：该请求没有这一项。"
    return jsonify(errors=dict.fromkeys(unknown, text)), 422


from portal.api import applications, auth, bureaus, meetings, meta, notifications, staff, uploads  # noqa: E402,F401  (routes register on import)
