"""Strict input and output: control characters refused with 422 naming the field, unknown JSON fields refused,
JSON errors on the API for every status, and an OpenAPI document that says how to authenticate and what each
staff action takes."""

from __future__ import annotations

import pytest

from portal.roles import Role
from tests.helpers import PASSWORD, csrf_token, make_staff
from tests.portal.cases.conftest import staff_bureau
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import application_json


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


def bearer(client, username: str) -> dict:
    response = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['token']}"}


# --- Control characters -------------------------------------------------------------------------------------------


def test_nul_in_a_path_segment_is_422_json_naming_it(client):
    response = client.get("/api/v1/applications/FC2026-%00AB")
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["number"]


@pytest.mark.parametrize(
    ("path", "form_page", "fields"),
    [
        ("/track", "/track", {"number": "FC2026\x00", "code": "ABCD"}),
        ("/staff/login", "/staff/login", {"username": "clerk\x00", "password": "x"}),
        ("/account/login", "/account/login", {"login": "a\x00b", "password": "x"}),
    ],
)
def test_nul_in_a_form_is_a_422_page_naming_the_field(client, path, form_page, fields):
    token = csrf_token(client, form_page + "?lang=en")
    response = client.post(path, data={"csrf_token": token, **fields})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    bad = next(name for name, value in fields.items() if "\x00" in value)
    assert "characters that are not allowed" in page and bad in page


def test_nul_in_the_token_request_and_the_queue_search(client, dbs):
    make_staff(dbs, "220100", Role.petition_clerk, username="cc_strict")
    response = client.post("/api/v1/auth/token", json={"username": "cc_strict\x00", "password": PASSWORD})
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["username"]
    headers = bearer(client, "cc_strict")
    assert client.get("/api/v1/staff/cases?q=%00", headers=headers).status_code == 422
    browser = client.application.test_client()
    browser.post(
        "/staff/login",
        data={"csrf_token": csrf_token(browser, "/staff/login"), "username": "cc_strict", "password": PASSWORD},
    )
    assert browser.get("/staff/cases?q=%00").status_code == 422


@pytest.mark.parametrize("character", ["\x01", "\x1b", "\x7f", "\x85", "\x0b"])
def test_other_control_characters_are_refused_too(client, dbs, character):
    body = application_json(dbs, facts_and_reasons=f"facts{character}more")
    response = client.post("/api/v1/applications", json=body)
    assert response.status_code == 422
    assert list(response.get_json()["errors"]) == ["facts_and_reasons"]


def test_line_breaks_and_tabs_are_fine_in_long_text_but_not_in_a_query(client, dbs):
    body = application_json(dbs, facts_and_reasons="first line\nsecond line\r\n\tindented")
    assert client.post("/api/v1/applications", json=body).status_code == 201
    response = client.get("/api/v1/bureaus?level=city%0A")
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["level"]


def test_nested_json_fields_are_named(client, dbs):
    body = application_json(dbs)
    body["petitioner"]["name"] = "张\x00三"
    response = client.post("/api/v1/applications", json=body)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["petitioner.name"]


# --- Unknown JSON fields -----------------------------------------------------------------------------------------


def test_a_submission_naming_an_unknown_field_is_422_and_stores_nothing(client, dbs):
    body = application_json(dbs)
    body["upload_ids"] = ["00000000-0000-0000-0000-000000000000"]
    body["petitioner"]["nickname"] = "x"
    response = client.post("/api/v1/applications", json=body)
    assert response.status_code == 422
    assert set(response.get_json()["errors"]) == {"upload_ids", "petitioner.nickname"}
    from sqlalchemy import func, select

    from portal.cases.models import Case

    assert dbs.scalar(select(func.count()).select_from(Case)) == 0


def test_unknown_fields_on_the_staff_api_and_the_token_request(client, dbs):
    city = staff_bureau(dbs, "220100", "cc")
    response = client.post(
        "/api/v1/auth/token", json={"username": city.clerk.username, "password": PASSWORD, "otp": "1"}
    )
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["otp"]
    headers = bearer(client, city.clerk.username)
    response = client.post("/api/v1/staff/cases/1/actions", json={"action": "accept", "notes": "x"}, headers=headers)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["notes"]
    response = client.post("/api/v1/staff/cases/1/personal-data", json={"reason": "x", "why": "y"}, headers=headers)
    assert response.status_code == 422 and list(response.get_json()["errors"]) == ["why"]


# --- JSON for every error on the API -------------------------------------------------------------------------------


def test_api_errors_are_json(client, app, monkeypatch):
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing.is_json and missing.get_json()["error"]["code"] == 404
    wrong_method = client.delete("/api/v1/bureaus")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    not_json = client.post("/api/v1/auth/token", data="{", content_type="application/json")
    assert not_json.is_json

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("public_site.api.bureaus.list_bureaus", broken)
    monkeypatch.setitem(app.config, "PROPAGATE_EXCEPTIONS", False)
    failed = client.get("/api/v1/bureaus")
    assert failed.status_code == 500 and failed.is_json
    assert "boom" not in failed.get_data(as_text=True)
    page = client.get("/no-such-page")
    assert page.status_code == 404 and not page.is_json


# --- The OpenAPI document ---------------------------------------------------------------------------------------


def test_openapi_says_how_to_authenticate_and_what_each_action_takes(client):
    from portal.cases.actions import ACTION_FIELDS

    document = client.get("/api/v1/openapi.json").get_json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    queue = document["paths"]["/staff/cases"]["get"]
    assert {"bearer": []} in queue["security"]
    body = document["paths"]["/staff/cases/{case_id}/actions"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["discriminator"]["propertyName"] == "action"
    assert len(body["schema"]["oneOf"]) == len(ACTION_FIELDS)
    for action, fields in ACTION_FIELDS.items():
        variant = document["components"]["schemas"][f"Action_{action}"]
        assert variant["additionalProperties"] is False
        assert variant["properties"]["action"]["const"] == str(action)
        assert set(fields) <= set(variant["properties"])
    for operations in document["paths"].values():
        for operation in operations.values():
            assert "429" in operation["responses"] and "503" in operation["responses"]
