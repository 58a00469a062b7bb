"""The staff's JSON API at ``/api/v1``: tokens (``/auth/token``), cases (``/staff/cases``, ``/staff/applications``),
meetings and notifications. ``portal.api.register_api`` serves it beside the petitioner's API, under one prefix and
one OpenAPI document; the domain's refusals are answered once for every route (``staff``)."""

from __future__ import annotations

from portal.api import api_blueprint

bp = api_blueprint("staff_api", __name__)

from staff_site.api import auth, meetings, notifications, staff  # noqa: E402,F401  (routes register on import)
