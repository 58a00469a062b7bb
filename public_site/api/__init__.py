"""The petitioner's JSON API at ``/api/v1``: applications (submit, track, withdraw, escalate, answer a request,
rate), uploads and the bureau tree. ``portal.api.register_api`` serves it beside the staff API, under one prefix
and one OpenAPI document; the domain's refusals are answered once for every route (``applications``)."""

from __future__ import annotations

from portal.api import api_blueprint

bp = api_blueprint("public_api", __name__)

from public_site.api import applications, bureaus, uploads  # noqa: E402,F401  (routes register on import)
