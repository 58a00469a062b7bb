"""Issue 14 through the API: paper receipt and filing dates, delivery and the window, duplicates (409)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from portal.cases.models import Case, Deadline
from portal.cases.queries import local_today
from portal.workflow import CaseState, Step
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.portal.cases.conftest import drive, staff_bureau
from tests.portal.test_api_staff import Api, _upload
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import application_json, case_by_number
from tests.staff_site.conftest import case_row, submit_case


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


@pytest.fixture
def city(dbs):
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def _cases(dbs) -> int:
    with system_scope(dbs):
        return dbs.scalar(select(func.count()).select_from(Case))


def _paper_body(dbs, upload_id: str, **changes) -> dict:
    today = local_today()
    body = {
        "intake": "paper",
        "petitioner": {"name": "王五", "id_number": "11010519491231002X", "phone": "13800138000"},
        "disputed_bureau_id": get_bureau(dbs, "220102").id,
        "opinion_kind": "handling",
        "document_number": "南社保信〔2026〕21号",
        "issued_on": (today - timedelta(days=20)).isoformat(),
        "received_on": (today - timedelta(days=18)).isoformat(),
        "request": "请求重新核定。",
        "facts_and_reasons": "事实不清。",
        "upload_ids": [upload_id],
    }
    body.update(changes)
    return body


def test_paper_intake_takes_the_receipt_and_filing_dates(app, dbs, city):
    clerk = Api(app, city.clerk)
    today = local_today()
    received = today - timedelta(days=5)
    filed = today - timedelta(days=7)
    body = _paper_body(
        dbs, _upload(clerk, "申请书.pdf"), application_received_on=received.isoformat(), filed_on=filed.isoformat()
    )
    response = clerk.post("/staff/applications", body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()["case"]
    assert created["received_on"] == received.isoformat()
    case = case_row(dbs, created["id"])
    assert (case.received_on, case.filed_on) == (received, filed)
    with system_scope(dbs):
        acceptance = dbs.scalar(select(Deadline).where(Deadline.case_id == case.id, Deadline.step == Step.acceptance))
    assert acceptance.started_on == received  # §四.1: from receipt, not from registration
    assert "本局收到书面申请之日" in str(acceptance.explanation["basis"])


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"application_received_on": "FUTURE"}, "application_received_on"),
        ({"application_received_on": "BEFORE_OPINION"}, "application_received_on"),
        ({"application_received_on": "2026-13-01"}, "application_received_on"),
        ({"filed_on": "FUTURE"}, "filed_on"),
        ({"application_received_on": "TODAY", "filed_on": "BEFORE_OPINION"}, "filed_on"),
    ],
)
def test_paper_intake_refuses_bad_receipt_dates_and_changes_nothing(app, dbs, city, changes, field):
    clerk = Api(app, city.clerk)
    today = local_today()
    words = {
        "FUTURE": (today + timedelta(days=1)).isoformat(),
        "BEFORE_OPINION": (today - timedelta(days=19)).isoformat(),  # the opinion reached the petitioner day -18
        "TODAY": today.isoformat(),
    }
    body = _paper_body(dbs, _upload(clerk, "申请书.pdf"), **{k: words.get(v, v) for k, v in changes.items()})
    before = _cases(dbs)
    response = clerk.post("/staff/applications", body)
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["errors"]) == {field}
    assert _cases(dbs) == before


def test_delivery_through_the_staff_api_starts_the_window(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    today = local_today()
    drive(dbs, pii, city, case.id, CaseState.replied, today=today)
    clerk = Api(app, city.clerk)
    detail = clerk.get(f"/staff/cases/{case.id}").get_json()
    assert "record_delivery" in [a["action"] for a in detail["allowed_actions"]]
    # Before the signing date: refused with the field, and nothing changes.
    early = clerk.act(
        case.id, "record_delivery", expect=422, method="post", delivered_on=(today - timedelta(days=1)).isoformat()
    )
    assert "delivered_on" in early["errors"]
    assert case_row(dbs, case.id).delivered_on is None
    done = clerk.act(case.id, "record_delivery", method="in_person", delivered_on=today.isoformat())
    assert done["state"] == "replied"
    row = case_row(dbs, case.id)
    assert (row.delivered_on, row.delivery_method) == (today, "in_person")
    with system_scope(dbs):
        window = dbs.scalar(
            select(Deadline).where(Deadline.case_id == case.id, Deadline.step == Step.escalation_window)
        )
    assert window.started_on == today and window.closed_at is None


def test_a_duplicate_application_is_refused_with_409_unless_confirmed(app, client, dbs):
    first = client.post("/api/v1/applications", json=application_json(dbs, confirm_duplicate=False))
    assert first.status_code == 201
    number = first.get_json()["number"]
    before = _cases(dbs)
    second = client.post(
        "/api/v1/applications",
        json=application_json(dbs, confirm_duplicate=False, disputed__document_number="南社保信[2026]3号"),
    )
    assert second.status_code == 409
    error = second.get_json()["error"]
    assert (error["code"], error["case_number"]) == ("duplicate_open_case", number)
    assert "access_code" not in second.get_json() and first.get_json()["access_code"] not in second.get_data(
        as_text=True
    )
    assert _cases(dbs) == before
    confirmed = client.post("/api/v1/applications", json={**application_json(dbs), "confirm_duplicate": True})
    assert confirmed.status_code == 201
    assert case_by_number(dbs, confirmed.get_json()["number"]).duplicate_of_case_number == number


def test_the_tracking_api_records_the_first_opening_and_shows_the_window(app, client, dbs, pii, city):
    body = client.post("/api/v1/applications", json=application_json(dbs)).get_json()
    case = case_by_number(dbs, body["number"])
    today = local_today()
    drive(dbs, pii, city, case.id, CaseState.replied, today=today)
    assert case_row(dbs, case.id).delivered_on is None
    view = client.get(f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": body["access_code"]})
    escalation = view.get_json()["escalation"]
    assert (escalation["started"], escalation["delivered_on"], escalation["delivery_method"]) == (
        True,
        today.isoformat(),
        "online",
    )
    assert date.fromisoformat(escalation["last_day"]) >= today + timedelta(days=30)
    row = case_row(dbs, case.id)
    assert (row.delivered_on, row.delivery_method) == (today, "online")


def test_the_staff_queue_marks_duplicates_and_repeats(app, dbs, pii, city):
    first = submit_case(dbs, pii)
    second = submit_case(dbs, pii, confirm_duplicate=True)
    rows = {c["number"]: c for c in Api(app, city.clerk).get("/staff/cases").get_json()["cases"]}
    assert rows[second.number]["duplicate_of_case_number"] == first.number
    assert rows[first.number]["duplicate_of_case_number"] is None
    detail = Api(app, city.clerk).get(f"/staff/cases/{second.id}").get_json()
    assert [m["number"] for m in detail["same_matter"]] == [first.number]


def test_openapi_documents_the_new_intake_escalation_and_delivery_fields(client):
    """The unknown-field guard takes only what ``openapi.json`` declares: every field issue 14 added is there."""
    document = client.get("/api/v1/openapi.json").get_json()
    schemas = document["components"]["schemas"]

    def body(path: str) -> dict:
        schema = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
        return schemas[schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in schema else schema

    paper = body("/staff/applications")["properties"]
    for name in ("application_received_on", "filed_on"):
        assert paper[name]["type"] == "string" and paper[name]["format"] == "date" and paper[name]["description"]
    assert body("/applications")["properties"]["confirm_duplicate"]["type"] == "boolean"
    assert {"request", "facts_and_reasons"} <= set(body("/applications/{number}/escalate")["properties"])
    assert {"method", "delivered_on"} <= set(schemas["Action_record_delivery"]["properties"])
