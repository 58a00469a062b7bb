"""Staffed bureaus, a submitted case and browser-like helpers for the staff pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from portal.cases.models import Case
from portal.cases.queries import local_today
from tenants.scoping import system_scope
from tests.helpers import PASSWORD, csrf_token
from tests.portal.cases.conftest import Staffed, staff_bureau, submit

__all__ = ["Staffed", "act_page", "case_row", "pdf_bytes", "sign_in", "submit_case"]


@pytest.fixture
def city(dbs) -> Staffed:
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def province(dbs) -> Staffed:
    return staff_bureau(dbs, "220000", "pv")


@pytest.fixture
def county(dbs) -> Staffed:
    return staff_bureau(dbs, "220102", "ng")


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def pdf_bytes(text: str = "scan") -> bytes:
    return (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        f"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n% {text}\n"
        "trailer<</Root 1 0 R>>\n%%EOF\n"
    ).encode()


def submit_case(dbs, pii, **overrides) -> Case:
    """An online review application at 长春市 (against a 南关区 opinion), received today."""
    return submit(dbs, pii, today=local_today(), **overrides).case


def case_row(dbs, case_id: int) -> Case:
    with system_scope(dbs):
        dbs.expire_all()
        return dbs.scalar(select(Case).where(Case.id == case_id))


class Browser:
    """A test client whose every request runs in a fresh application context, as in production.

    Tests hold the ``dbs`` fixture's app context open; Flask would reuse it for requests, so ``g`` (the CSRF
    token, the tenant scope) and the database session would leak from one person's request into another's.
    """

    def __init__(self, app):
        self.app = app
        self.client = app.test_client()

    def open(self, *args, **kwargs):
        with self.app.app_context():
            return self.client.open(*args, **kwargs)

    def get(self, *args, **kwargs):
        return self.open(*args, method="GET", **kwargs)

    def post(self, *args, **kwargs):
        return self.open(*args, method="POST", **kwargs)

    def delete(self, *args, **kwargs):
        return self.open(*args, method="DELETE", **kwargs)


def sign_in(app, user) -> Browser:
    """A browser signed in as ``user`` (one per person)."""
    browser = Browser(app)
    token = csrf_token(browser, "/staff/login")
    response = browser.post("/staff/login", data={"csrf_token": token, "username": user.username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return browser


def form_values(html: str) -> dict:
    """The hidden inputs of a page's action form (CSRF token and case version)."""
    values = {}
    for name in ("csrf_token", "expected_version"):
        match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or re.search(
            rf'value="([^"]*)"[^>]*name="{name}"', html
        )
        if match:
            values[name] = match.group(1)
    return values


def act_page(client, case_id: int, action: str, data: dict | None = None, *, files=None, version=None):
    """Open the action's page like a browser, then post its form with ``data`` (and files)."""
    page = client.get(f"/staff/cases/{case_id}/actions/{action}")
    assert page.status_code == 200, (action, page.status_code, _alert(page))
    values = form_values(page.get_data(as_text=True))
    if version is not None:
        values["expected_version"] = str(version)
    body = {**values, **(data or {})}
    if files:
        body.update(files)
    return client.post(
        f"/staff/cases/{case_id}/actions/{action}",
        data=body,
        content_type="multipart/form-data",
    )


def _alert(response) -> str:
    match = re.search(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True), re.S)
    return match.group(1) if match else ""


def alert(response) -> str:
    return _alert(response)


def post_action(browser, case_id: int, action: str, data: dict, version: int):
    """Post an action form directly (as a stale or forged page would), with a valid CSRF token."""
    token = csrf_token(browser, "/staff/")
    return browser.post(
        f"/staff/cases/{case_id}/actions/{action}",
        data={"csrf_token": token, "expected_version": str(version), **data},
        content_type="multipart/form-data",
    )
