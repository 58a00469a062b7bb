"""The petitioner's API: submit, track with the access code, withdraw, escalate, answer a request; abuse protection.

Everything runs against the real PostgreSQL, Redis and S3 of the test run.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import uuid

import pytest
from sqlalchemy import select, text

from portal import create_app
from portal.attachments.models import AttachmentSource, Upload
from portal.cases.models import Outbox
from portal.cases.queries import local_today
from portal.extensions import db, limiter
from portal.workflow import CaseKind, CaseState
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.portal.cases.conftest import act, drive, staff_bureau
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import (
    COUNTY,
    api_upload,
    application_json,
    bucket_keys,
    case_by_number,
    case_files,
    counts,
    exe_bytes,
    open_requests,
    page_csrf,
    pdf_bytes,
    png_bytes,
)

CREATED_KEYS = {"number", "access_code", "kind", "handled_by", "state", "acceptance_due"}


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    """Most tests submit and look up more than a person would; the throttling tests set their own limits."""
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


@pytest.fixture
def storage(app):
    return app.extensions["portal.storage"]


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


@pytest.fixture
def city(dbs):
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def province(dbs):
    return staff_bureau(dbs, "220000", "pv")


def submit(client, dbs, attachments=(), **changes):
    return client.post("/api/v1/applications", json=application_json(dbs, attachments, **changes))


def submitted(client, dbs, attachments=()) -> dict:
    response = submit(client, dbs, attachments)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def track(client, number, code, **kw):
    return client.get(f"/api/v1/applications/{number}", headers={"X-Access-Code": code}, **kw)


# --- Submitting ---------------------------------------------------------------------------------------------------


def test_submit_with_two_attachments(client, dbs, storage):
    first = api_upload(client, pdf_bytes("opinion"), "处理意见书.pdf")
    second = api_upload(client, png_bytes(), "照片.png")
    response = submit(client, dbs, [first["upload_id"], second["upload_id"]])
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == CREATED_KEYS
    city_bureau = get_bureau(dbs, "220100")
    assert body["kind"] == "review" and body["state"] == "submitted"
    assert body["handled_by"] == {"id": city_bureau.id, "name": city_bureau.name}
    assert body["acceptance_due"] > local_today().isoformat()
    assert len(body["access_code"]) == 14 and body["number"].startswith("FC")

    case = case_by_number(dbs, body["number"])
    assert case.tenant_id == city_bureau.id and case.state is CaseState.submitted
    # Only a keyed hash of the access code is stored; never the code itself.
    assert case.access_code_hash and body["access_code"] not in case.access_code_hash
    files = case_files(dbs, case)
    assert [(f.filename, f.sha256) for f in files] == [
        ("处理意见书.pdf", first["sha256"]),
        ("照片.png", second["sha256"]),
    ]
    assert all(f.source is AttachmentSource.petitioner for f in files)
    # Each file is the very object uploaded: claiming copies nothing.
    assert [f.storage_key for f in files] == [f"uploads/{first['upload_id']}", f"uploads/{second['upload_id']}"]
    assert [storage.get(f.storage_key) for f in files] == [pdf_bytes("opinion"), png_bytes()]
    with system_scope(dbs):
        outbox = dbs.scalars(select(Outbox).where(Outbox.case_id == case.id)).all()
    assert [o.kind for o in outbox] == ["notify_petitioner"]
    assert body["access_code"] not in str(outbox[0].payload)


def test_submit_is_documented_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"post"} <= set(paths["/applications"])
    assert set(paths["/applications/{number}"]) == {"get"}
    assert {"/applications/{number}/escalate", "/applications/{number}/withdraw"} <= set(paths)
    responses = paths["/applications"]["post"]["responses"]
    assert {"201", "422", "429"} <= set(responses)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"petitioner__id_number": "110105194912310021"}, "petitioner.id_number"),
        ({"petitioner__phone": "12345"}, "petitioner.phone"),
        ({"petitioner__email": "no-at-sign"}, "petitioner.email"),
        ({"petitioner__name": ...}, "petitioner.name"),
        ({"disputed__issued_on": "2026-02-30"}, "disputed.issued_on"),
        ({"disputed__received_on": "2000-01-01"}, "disputed.received_on"),  # before issued
        ({"disputed__bureau_id": 999999}, "disputed.bureau_id"),
        ({"disputed__opinion_kind": "complaint"}, "disputed.opinion_kind"),
        ({"request": "x" * 2001}, "request"),
        ({"facts_and_reasons": 42}, "facts_and_reasons"),
        ({"attachments": "not-a-list"}, "attachments"),
    ],
)
def test_field_errors_answer_422_and_change_nothing(client, dbs, changes, field):
    response = submit(client, dbs, **changes)
    assert response.status_code == 422
    body = response.get_json()
    assert set(body) == {"errors"} and field in body["errors"]
    assert counts(dbs)["cases"] == 0


def test_field_errors_follow_the_language(client):
    """Chinese by default, English with ?lang=en (no database fixture: each request gets its own context)."""
    body = {"petitioner": {"id_number": "110105194912310021"}}
    zh = client.post("/api/v1/applications", json=body).get_json()["errors"]
    en = client.post("/api/v1/applications?lang=en", json=body).get_json()["errors"]
    assert "校验位" in zh["petitioner.id_number"] and "check character" in en["petitioner.id_number"]
    assert en["disputed.bureau_id"].startswith("Please")


@pytest.mark.parametrize(
    ("adcode", "kind", "code"),
    [("220000", "handling", "to_committee"), ("220000", "review", "to_committee"), (COUNTY, "re_review", "final")],
)
def test_routing_refusals_answer_422_with_a_code(client, dbs, adcode, kind, code):
    response = submit(client, dbs, disputed__bureau_id=get_bureau(dbs, adcode).id, disputed__opinion_kind=kind)
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    assert counts(dbs)["cases"] == 0


def test_not_json_is_400(client):
    for response in (
        client.post("/api/v1/applications", data="petitioner=x"),
        client.post("/api/v1/applications", data="[1, 2]", content_type="application/json"),
        client.post("/api/v1/applications", data="{not json", content_type="application/json"),
    ):
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_json"


def test_script_tags_are_stored_as_text(client, dbs):
    response = submit(client, dbs, request="<script>alert('x')</script>", petitioner__name="<b>张三</b>")
    assert response.status_code == 201
    case = case_by_number(dbs, response.get_json()["number"])
    assert case.request_text == "<script>alert('x')</script>" and case.petitioner_name == "<b>张三</b>"


def test_unknown_or_used_upload_ids_leave_nothing_behind(client, dbs, storage):
    good = api_upload(client, pdf_bytes(), "a.pdf")
    for ids in ([good["upload_id"], str(uuid.uuid4())], [good["upload_id"], "../../etc/passwd"]):
        response = submit(client, dbs, ids)
        assert response.status_code == 422 and "attachments" in response.get_json()["errors"]
    assert counts(dbs) == {"cases": 0, "numbers": 0, "attachments": 0, "claimed": 0}
    dbs.expire_all()
    assert dbs.get(Upload, uuid.UUID(good["upload_id"])).claimed_at is None
    submitted(client, dbs, [good["upload_id"]])
    response = submit(client, dbs, [good["upload_id"]])  # already attached to the first case
    assert response.status_code == 422 and counts(dbs)["cases"] == 1


def test_more_than_ten_attachments_are_refused(client, dbs):
    ids = [api_upload(client, pdf_bytes(str(i)), f"{i}.pdf")["upload_id"] for i in range(11)]
    response = submit(client, dbs, ids)
    assert response.status_code == 422 and "attachments" in response.get_json()["errors"]
    assert counts(dbs)["cases"] == 0


def test_an_upload_expired_mid_submission_leaves_nothing_behind(client, dbs, storage, owner_engine):
    uploads = [api_upload(client, pdf_bytes(str(i)), f"{i}.pdf") for i in range(3)]
    with owner_engine.begin() as conn:  # the third has waited more than a day: it cannot be attached any more
        conn.execute(
            text("UPDATE uploads SET created_at = now() - interval '25 hours' WHERE id = :id"),
            {"id": uploads[2]["upload_id"]},
        )
    before = bucket_keys(storage)
    response = submit(client, dbs, [u["upload_id"] for u in uploads])
    assert response.status_code == 422
    assert uploads[2]["upload_id"] in response.get_json()["errors"]["attachments"]
    assert counts(dbs) == {"cases": 0, "numbers": 0, "attachments": 0, "claimed": 0}
    assert bucket_keys(storage) == before


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def app_without_s3(settings, _app):
    other = create_app(dataclasses.replace(settings, s3_endpoint_url=f"http://127.0.0.1:{closed_port()}"))
    other.config.update(dict.fromkeys(LIMITS, GENEROUS))
    yield other
    with other.app_context():
        db.engine.dispose()
    limiter.init_app(_app)  # the limiter is shared: point it back at the test app


def test_a_submission_needs_no_storage(client, dbs, storage, app_without_s3):
    """The files were stored when uploaded; the application only names them, so S3 being down does not stop it."""
    upload = api_upload(client, pdf_bytes("kept"), "a.pdf")
    response = app_without_s3.test_client().post(
        "/api/v1/applications", json=application_json(dbs, [upload["upload_id"]])
    )
    assert response.status_code == 201
    (attached,) = case_files(dbs, case_by_number(dbs, response.get_json()["number"]))
    assert attached.sha256 == upload["sha256"] and storage.get(attached.storage_key) == pdf_bytes("kept")


def test_hostile_files_are_refused(client):
    for data, name, status in (
        (exe_bytes(), "photo.png", 415),
        (exe_bytes(), "..\\..\\windows\\system32\\evil.pdf", 415),
        (b"", "empty.pdf", 400),
    ):
        response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(data), name)})
        assert response.status_code == status
    stored = api_upload(client, pdf_bytes(), "../../etc/passwd.pdf")
    assert stored["filename"] == "passwd.pdf"


# --- Tracking -----------------------------------------------------------------------------------------------------


def test_track_with_the_access_code(client, dbs):
    upload = api_upload(client, pdf_bytes(), "证据.pdf")
    body = submitted(client, dbs, [upload["upload_id"]])
    response = track(client, body["number"], body["access_code"].lower().replace("-", " "))
    assert response.status_code == 200
    view = response.get_json()
    assert {"number", "kind", "state", "handled_by", "deadlines", "timeline", "documents", "material_requests"} <= set(
        view
    )
    assert view["state"] == "submitted" and view["state_text"].startswith("已收到您的申请")
    assert [d["step"] for d in view["deadlines"]] == ["acceptance"]
    assert view["deadlines"][0]["due_on"] == body["acceptance_due"]
    assert "15个工作日" in view["deadlines"][0]["explanation"]
    assert [e["action"] for e in view["timeline"]] == ["submit"]
    assert view["attachments"][0]["filename"] == "证据.pdf" and view["attachments"][0]["url"].startswith("http")
    assert view["can_withdraw"] is True and view["escalation"]["possible"] is False


def test_a_wrong_code_answers_exactly_like_an_unknown_number(client, dbs):
    body = submitted(client, dbs)
    wrong = track(client, body["number"], "AAAA-BBBB-CCCC")
    unknown = track(client, "FC2026-ZZZZZZZZ", body["access_code"])
    missing = client.get(f"/api/v1/applications/{body['number']}")
    assert wrong.status_code == unknown.status_code == missing.status_code == 404
    assert wrong.get_data() == unknown.get_data() == missing.get_data()


def test_the_state_changes_when_staff_accept(client, dbs, pii, city):
    body = submitted(client, dbs)
    case = case_by_number(dbs, body["number"])
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    view = track(client, body["number"], body["access_code"]).get_json()
    assert view["state"] == "accepted"
    assert [e["action"] for e in view["timeline"]] == ["submit", "accept"]
    steps = {d["step"]: d for d in view["deadlines"]}
    assert steps["acceptance"]["open"] is False and steps["whole_review"]["open"] is True
    assert "slip" not in steps  # the bureau's internal clocks are not shown


def test_brute_force_of_access_codes_is_throttled_per_client(client, dbs, app, monkeypatch):
    body = submitted(client, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK", "5 per minute")
    statuses = [track(client, body["number"], f"AAAA-BBBB-{i:04d}").status_code for i in range(5)]
    assert statuses == [404] * 5
    assert track(client, body["number"], body["access_code"]).status_code == 429
    other_client = {"REMOTE_ADDR": "10.9.8.7"}
    assert track(client, body["number"], body["access_code"], environ_base=other_client).status_code == 200


def test_brute_force_spread_over_many_addresses_is_throttled_per_case_number(client, dbs, app, monkeypatch):
    body = submitted(client, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK_NUMBER", "3 per hour")
    for i in range(3):
        response = track(client, body["number"], "AAAA-BBBB-CCCC", environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert response.status_code == 404
    response = track(client, body["number"], body["access_code"], environ_base={"REMOTE_ADDR": "10.0.1.1"})
    assert response.status_code == 429
    # Another case is not affected: the counter belongs to the number.
    other = submitted(client, dbs)
    assert track(client, other["number"], other["access_code"]).status_code == 200


def test_successful_lookups_do_not_use_up_the_per_number_allowance(client, dbs, app, monkeypatch):
    body = submitted(client, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK_NUMBER", "2 per hour")
    for _ in range(5):
        assert track(client, body["number"], body["access_code"]).status_code == 200


def test_submitting_is_throttled(client, dbs, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SUBMIT", "2 per hour")
    assert [submit(client, dbs).status_code for _ in range(3)] == [201, 201, 429]
    assert counts(dbs)["cases"] == 2


def test_uploading_is_throttled_and_shares_its_counter_with_the_pages(client, dbs, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_UPLOAD", "2 per hour")
    api_upload(client, pdf_bytes("1"), "1.pdf")
    api_upload(client, pdf_bytes("2"), "2.pdf")
    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(pdf_bytes("3")), "3.pdf")})
    assert response.status_code == 429 and response.get_json()["error"]["code"] == 429
    token = page_csrf(client.get("/apply").get_data(as_text=True))
    page = client.post("/apply/files", data={"csrf_token": token, "go": "next"})
    assert page.status_code == 429  # the page's file step counts against the same allowance


def test_a_staff_session_does_not_open_a_case(client, dbs, city):
    from tests.helpers import login

    body = submitted(client, dbs)
    assert login(client, city.clerk.username).status_code == 302
    assert client.get(f"/api/v1/applications/{body['number']}").status_code == 404


# --- Withdraw, escalate, answer -----------------------------------------------------------------------------------


def test_withdraw_with_a_reason(client, dbs):
    body = submitted(client, dbs)
    url = f"/api/v1/applications/{body['number']}/withdraw"
    headers = {"X-Access-Code": body["access_code"]}
    assert client.post(url, json={}, headers=headers).status_code == 422
    response = client.post(url, json={"reason": "问题已协商解决。"}, headers=headers)
    assert response.status_code == 200
    view = response.get_json()
    assert view["state"] == "withdrawn" and view["can_withdraw"] is False
    assert view["timeline"][-1]["action"] == "withdraw"
    again = client.post(url, json={"reason": "再次撤回"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "wrong_state"
    assert client.post(url, json={"reason": "x"}, headers={"X-Access-Code": "WRONG"}).status_code == 404


def test_escalate_a_replied_review(client, dbs, pii, city, province):
    upload = api_upload(client, pdf_bytes(), "证据.pdf")
    body = submitted(client, dbs, [upload["upload_id"]])
    headers = {"X-Access-Code": body["access_code"]}
    url = f"/api/v1/applications/{body['number']}/escalate"
    not_yet = client.post(url, json={"reason": "不服"}, headers=headers)
    assert not_yet.status_code == 409 and not_yet.get_json()["error"]["code"] == "wrong_state"

    case = case_by_number(dbs, body["number"])
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    view = track(client, body["number"], body["access_code"]).get_json()
    assert view["escalation"]["possible"] is True and view["escalation"]["remaining_days"] == 30

    more = api_upload(client, png_bytes(), "新证据.png")
    response = client.post(
        url, json={"reason": "复查意见适用政策错误。", "attachments": [more["upload_id"]]}, headers=headers
    )
    assert response.status_code == 201, response.get_json()
    new = response.get_json()
    assert new["kind"] == "re_review" and new["escalated_from"] == body["number"]
    assert new["handled_by"]["id"] == get_bureau(dbs, "220000").id and new["access_code"] != body["access_code"]
    new_case = case_by_number(dbs, new["number"])
    assert new_case.kind is CaseKind.re_review and new_case.earlier_case_id == case.id
    assert sorted(f.filename for f in case_files(dbs, new_case)) == ["新证据.png", "证据.pdf"]
    new_view = track(client, new["number"], new["access_code"]).get_json()
    assert new_view["earlier_number"] == body["number"] and new_view["state"] == "submitted"
    old_view = track(client, body["number"], body["access_code"]).get_json()
    assert old_view["escalated_to"] == new["number"] and old_view["escalation"]["possible"] is False
    assert client.post(url, json={"reason": "again"}, headers=headers).status_code == 409


def test_answer_a_material_request(client, dbs, pii, city):
    body = submitted(client, dbs)
    case = case_by_number(dbs, body["number"])
    act(dbs, pii, city.clerk, case.id, "accept", today=local_today())
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "request_materials",
        today=local_today(),
        target="petitioner",
        content="请提供2019年的工资单。",
        due_on=local_today().isoformat(),
    )
    view = track(client, body["number"], body["access_code"]).get_json()
    assert [r["content"] for r in view["material_requests"]] == ["请提供2019年的工资单。"]
    request_id = view["material_requests"][0]["id"]
    headers = {"X-Access-Code": body["access_code"]}
    url = f"/api/v1/applications/{body['number']}/materials/{request_id}"
    assert client.post(url, json={}, headers=headers).status_code == 422  # neither a note nor a file
    upload = api_upload(client, pdf_bytes(), "工资单.pdf")
    response = client.post(url, json={"content": "见附件。", "attachments": [upload["upload_id"]]}, headers=headers)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["material_requests"] == []
    assert open_requests(dbs, case) == []
    assert "工资单.pdf" in [f.filename for f in case_files(dbs, case)]
    again = client.post(url, json={"content": "again"}, headers=headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "wrong_state"


def test_escalate_with_a_request_and_facts_and_reasons(client, dbs, pii, city, province):
    body = submitted(client, dbs)
    case = case_by_number(dbs, body["number"])
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    response = client.post(
        f"/api/v1/applications/{body['number']}/escalate",
        json={"request": "请求撤销复查意见。", "facts_and_reasons": "复查意见适用政策错误。"},
        headers={"X-Access-Code": body["access_code"]},
    )
    assert response.status_code == 201, response.get_json()
    new_case = case_by_number(dbs, response.get_json()["number"])
    assert (new_case.request_text, new_case.facts_text) == ("请求撤销复查意见。", "复查意见适用政策错误。")
