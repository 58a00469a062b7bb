"""Fixtures of the petitioner's side: staffed bureaus for the workflow, generous rate limits unless a test sets them."""

from __future__ import annotations

import pytest

from tests.portal.cases.conftest import city, pii, province  # noqa: F401  (fixtures)

GENEROUS = "10000 per minute"
LIMITS = ("RATELIMIT_SUBMIT", "RATELIMIT_UPLOAD", "RATELIMIT_TRACK", "RATELIMIT_TRACK_NUMBER", "RATELIMIT_REGISTER")


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    """Most tests submit and look up more than a person would; the throttling tests set their own limits."""
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


@pytest.fixture
def storage(app):
    return app.extensions["portal.storage"]
