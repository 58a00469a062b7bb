"""Schemathesis over the whole JSON API: every operation of ``/api/v1/openapi.json``, in-process (WSGI) against the
real embedded services, with valid and invalid inputs. No answer may be a 5xx, and every answer must be one the
document declares (status code, content type and body schema).

Bounded: a few examples per operation, no shrinking, no example database (the whole file takes about two minutes
on a busy machine). Half of the generated requests name real objects (the clerk's case, its number with the right
access code, a meeting, a notification...), so that the checks reach past the "not found" answers.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

import public_site.api  # noqa: F401  (the routes document themselves on import)
import staff_site.api  # noqa: F401
from portal.api.openapi import PATHS
from portal.cases.queries import local_today
from portal.roles import Role
from tests.helpers import PASSWORD, make_staff
from tests.isolation_registry import ROUTE_PARAMS
from tests.portal.cases.conftest import submit
from tests.staff_site.conftest import Browser

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 20
OPERATIONS = sorted((method.upper(), path) for path, operations in PATHS.items() for method in operations)
LIMITS = ("RATELIMIT_LOGIN", "RATELIMIT_SUBMIT", "RATELIMIT_UPLOAD", "RATELIMIT_TRACK", "RATELIMIT_TRACK_NUMBER")
CITY = "220100"


@pytest.fixture
def world(app, dbs, monkeypatch):
    """A city clerk with a bearer token, a case of theirs and one real object for each path parameter."""
    from tenants.tree import get_bureau

    for name in LIMITS:  # generated requests come from one address, far more often than a person's would
        monkeypatch.setitem(app.config, name, "100000 per minute")
    clerk = make_staff(dbs, CITY, Role.petition_clerk, unit="petition_office", username="st_clerk")
    bureau_id = get_bureau(dbs, CITY).id
    submission = submit(dbs, app.extensions["portal.pii"], today=local_today(), confirm_duplicate=True)
    real = {name: ROUTE_PARAMS[name](dbs, bureau_id, f"st-{name}") for name in ("meeting_id", "notification_id")}
    real.update(
        case_id=submission.case.id,
        number=submission.case.number,
        attachment_id=ROUTE_PARAMS["attachment_id"](dbs, bureau_id, "st-attachment"),
        request_id=ROUTE_PARAMS["request_id"](dbs, bureau_id, "st-request"),
    )
    response = Browser(app).post("/api/v1/auth/token", json={"username": clerk.username, "password": PASSWORD})
    assert response.status_code == 200
    return {"token": response.get_json()["token"], "access_code": submission.access_code, "real": real}


def _strategy(operation, real: dict):
    """Valid and invalid requests, each also with the path naming real objects."""
    names = [p.name for p in operation.path_parameters]
    has_input = bool(names or operation.query or operation.headers or operation.body)
    modes = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if has_input else [GenerationMode.POSITIVE]
    options = [operation.as_strategy(generation_mode=mode) for mode in modes]
    if names:
        known = {name: real[name] for name in names}
        options += [operation.as_strategy(generation_mode=mode, path_parameters=known) for mode in modes]
    return st.one_of(options)


def test_every_served_operation_is_exercised(app):
    """The operations below are read from the registry at import time: they must be every one the app serves."""
    served = Browser(app).get("/api/v1/openapi.json").get_json()["paths"]
    assert sorted((method.upper(), path) for path, ops in served.items() for method in ops) == OPERATIONS
    assert len(OPERATIONS) >= 25


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation_answers_as_documented(app, world, method, path):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operation = schema[path][method]
    headers = {}
    if path.startswith("/staff/"):
        headers["Authorization"] = f"Bearer {world['token']}"
    if "{number}" in path:
        headers["X-Access-Code"] = world["access_code"]

    @given(case=_strategy(operation, world["real"]))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        case.call_and_validate(headers={**(case.headers or {}), **headers}, checks=CHECKS)

    run()
