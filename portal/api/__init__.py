"""The JSON API at ``/api/v1``: the same rules as the pages, documented in ``/api/v1/openapi.json``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__)

from portal.api import applications, auth, bureaus, meetings, meta, notifications, staff, uploads  # noqa: E402,F401  (routes register on import)
