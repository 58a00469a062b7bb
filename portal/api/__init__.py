"""The JSON API at ``/api/v1``: the same rules as the pages, one document at ``/api/v1/openapi.json``.

Its routes live with the site they serve: ``public_site.api`` (applications, uploads, the bureau tree: what a
petitioner's program calls) and ``staff_site.api`` (tokens, cases, meetings, notifications), each a blueprint of
its own made by ``api_blueprint`` that answers the domain's refusals with error handlers of its own. What they
share stays here: the OpenAPI registry (``portal.api.openapi``), the guard against undocumented body fields, the
document's route, and ``register_api``, with which the app factory serves them all under one prefix.
"""

from __future__ import annotations

import re

from flask import Blueprint, Flask, jsonify, request

API_PREFIX = "/api/v1"


def api_blueprint(name: str, import_name: str) -> Blueprint:
    """A blueprint of API routes: every JSON body may hold only the fields its route documents."""
    blueprint = Blueprint(name, import_name)
    blueprint.before_request(_refuse_unknown_fields)
    return blueprint


def register_api(app: Flask, *site_blueprints: Blueprint) -> None:
    """Serve this package's routes and the sites' API blueprints at ``/api/v1``, without the pages' CSRF check
    (the API takes a bearer token, or the session cookie with an ``X-CSRFToken`` header: ``staff_site.api``)."""
    from portal.extensions import csrf

    for blueprint in (bp, *site_blueprints):
        app.register_blueprint(blueprint, url_prefix=API_PREFIX)
        csrf.exempt(blueprint)


def _refuse_unknown_fields():
    """A JSON body may hold only the fields its route documents (``openapi.json``): anything else answers 422."""
    from portal.api.openapi import PATHS, SCHEMAS
    from portal.inputguard import unknown_fields
    from portal.web import is_english

    if request.url_rule is None or not request.is_json:
        return None
    path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", request.url_rule.rule.removeprefix(API_PREFIX))
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


#: The core's own routes: the OpenAPI document.
bp = api_blueprint("api", __name__)

from portal.api import meta  # noqa: E402,F401  (routes register on import)
