"""The staff API: tokens, the queue, the case with its allowed actions, and both complete paths, same rules as pages."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text, update

from portal.accounts.models import ApiToken, StaffUser
from portal.cases.history import Actor
from portal.cases.models import CaseEvent
from portal.cases.operations import perform_action
from portal.cases.queries import local_today
from portal.roles import Role
from portal.workflow import CaseState
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.helpers import PASSWORD, make_staff
from tests.portal.cases.conftest import Staffed, staff_bureau
from tests.staff_site.conftest import Browser, case_row, pdf_bytes, submit_case


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


class Api:
    """A client of the staff API signed in with a bearer token."""

    def __init__(self, app, user, lang: str | None = None):
        self.browser = Browser(app)
        self.lang = lang
        response = self.browser.post("/api/v1/auth/token", json={"username": user.username, "password": PASSWORD})
        assert response.status_code == 200, response.get_json()
        self.token = response.get_json()["token"]

    def _url(self, path: str) -> str:
        url = "/api/v1" + path
        if self.lang:
            url += ("&" if "?" in url else "?") + f"lang={self.lang}"
        return url

    def get(self, path: str):
        return self.browser.get(self._url(path), headers={"Authorization": f"Bearer {self.token}"})

    def post(self, path: str, body=None, **kw):
        return self.browser.post(self._url(path), json=body, headers={"Authorization": f"Bearer {self.token}"}, **kw)

    def act(self, case_id: int, action: str, expect: int = 200, **fields):
        response = self.post(f"/staff/cases/{case_id}/actions", {"action": action, **fields})
        assert response.status_code == expect, (action, response.status_code, response.get_json())
        return response.get_json()


# --- Tokens -------------------------------------------------------------------------------------------------


def test_token_for_good_credentials_only_its_hash_is_stored(app, dbs, city):
    api = Api(app, city.clerk)
    assert api.token.startswith("prt_")
    with system_scope(dbs):
        stored = dbs.scalars(select(ApiToken.token_hash)).all()
    assert api.token not in stored and len(stored) == 1 and len(stored[0]) == 64
    body = api.get("/staff/cases").get_json()
    assert body["view"] == "mine" and body["cases"] == []


def test_wrong_password_is_401_and_counts_towards_the_lockout(app, dbs, city, settings, owner_engine):
    browser = Browser(app)
    for _ in range(settings.login_max_failures - 1):
        response = browser.post("/api/v1/auth/token", json={"username": "cc_clerk", "password": "Wrong-horse-42"})
        assert response.status_code == 401
        assert response.get_json()["error"]["code"] == "bad_credentials"
    response = browser.post("/api/v1/auth/token", json={"username": "cc_clerk", "password": "Wrong-horse-42"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "locked"
    # This address waits: the right password does not help either (the web sign-in shares the wait).
    response = browser.post("/api/v1/auth/token", json={"username": "cc_clerk", "password": PASSWORD})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "locked"
    assert response.get_json()["error"]["locked_until"]
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT failed_logins FROM staff_users WHERE username = 'cc_clerk'")) == 5


def test_token_request_needs_both_fields(app, dbs, city):
    browser = Browser(app)
    response = browser.post("/api/v1/auth/token", json={"username": "cc_clerk"})
    assert response.status_code == 422 and set(response.get_json()["errors"]) == {"password"}
    assert browser.post("/api/v1/auth/token", data="x").status_code == 422


def test_missing_bad_expired_and_revoked_tokens_are_401(app, dbs, city):
    browser = Browser(app)
    assert browser.get("/api/v1/staff/cases").status_code == 401
    bad = browser.get("/api/v1/staff/cases", headers={"Authorization": "Bearer prt_nope"})
    assert bad.status_code == 401 and bad.get_json()["error"]["code"] == "invalid_token"
    api = Api(app, city.clerk)
    with system_scope(dbs):
        dbs.execute(update(ApiToken).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
        dbs.commit()
    assert api.get("/staff/cases").status_code == 401
    api = Api(app, city.clerk)
    revoked = api.browser.delete("/api/v1/auth/token", headers={"Authorization": f"Bearer {api.token}"})
    assert revoked.status_code == 204
    assert api.get("/staff/cases").status_code == 401


def test_a_session_cookie_needs_the_csrf_token_to_post(app, dbs, pii, city):
    """The API blueprint is CSRF-exempt for token clients; a browser session must still prove its origin."""
    from tests.staff_site.conftest import sign_in

    case = submit_case(dbs, pii)
    browser = sign_in(app, city.clerk)
    assert browser.get(f"/api/v1/staff/cases/{case.id}").status_code == 200
    response = browser.post(f"/api/v1/staff/cases/{case.id}/actions", json={"action": "accept"})
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "csrf"
    assert case_row(dbs, case.id).state is CaseState.submitted


# --- Reading ------------------------------------------------------------------------------------------------


def test_case_lists_allowed_actions_and_masks_for_non_handlers(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk, division = Api(app, city.clerk), Api(app, city.division)
    body = clerk.get(f"/staff/cases/{case.id}").get_json()
    assert {"accept", "reject"} <= {a["action"] for a in body["allowed_actions"]}
    assert body["parties"][0]["id_number"] == "11010519491231002X" and not body["personal_data_masked"]
    assert body["deadlines"][0]["step"] == "acceptance" and "工作日" in body["deadlines"][0]["explanation"]
    seen = division.get(f"/staff/cases/{case.id}").get_json()
    assert seen["allowed_actions"] == [] or "accept" not in {a["action"] for a in seen["allowed_actions"]}
    assert seen["personal_data_masked"] and seen["parties"][0]["id_number"] == "110***********002X"
    assert seen["parties"][0]["phone"] == "138****8000"

    revealed = division.post(f"/staff/cases/{case.id}/personal-data", {"reason": "需电话联系信访人核实情况。"})
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    assert revealed.get_json()["parties"][0]["id_number"] == "11010519491231002X"
    assert revealed.get_json()["events"][-1]["action"] == "reveal_personal_data"
    assert division.post(f"/staff/cases/{case.id}/personal-data", {}).status_code == 422


def test_english_messages_with_lang_en(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    division = Api(app, city.division, lang="en")
    response = division.post(f"/staff/cases/{case.id}/actions", {"action": "accept"})
    assert response.status_code == 403
    assert response.get_json()["error"]["message"] == "You may not 'Accept' on this case."


# --- Refusals -----------------------------------------------------------------------------------------------


def test_refusals_map_to_statuses_and_change_nothing(app, dbs, pii, city, county):
    case = submit_case(dbs, pii)
    clerk, division, ng = Api(app, city.clerk), Api(app, city.division), Api(app, county.clerk)
    version = case_row(dbs, case.id).version
    # 403: the role may not.
    division.act(case.id, "accept", expect=403)
    # 404: another bureau's case (南关区 is below 长春市: it cannot even read it).
    assert ng.get(f"/staff/cases/{case.id}").status_code == 404
    ng.act(case.id, "accept", expect=404)
    # 409: not in this state.
    assert clerk.act(case.id, "dispatch", expect=409, note="x")["error"]["code"] == "wrong_state"
    # 422: field errors, by field.
    body = clerk.act(case.id, "reject", expect=422, reason="nonsense", explanation="x", remedy="y")
    assert set(body["errors"]) == {"reason"}
    assert set(clerk.act(case.id, "accept", expect=422, today="2020-01-01")["errors"]) == {"today"}
    assert set(clerk.act(case.id, "nonsense", expect=422)["errors"]) == {"action"}
    assert set(clerk.act(case.id, "accept", expect=422, expected_version="1")["errors"]) == {"expected_version"}
    assert clerk.post(f"/staff/cases/{case.id}/actions", ["accept"]).status_code == 422
    # 409: changed meanwhile.
    body = clerk.act(case.id, "accept", expect=409, expected_version=version - 1)
    assert body["error"]["code"] == "conflict"
    assert case_row(dbs, case.id).state is CaseState.submitted and case_row(dbs, case.id).version == version
    assert clerk.act(case.id, "accept", expected_version=version)["state"] == "accepted"
    assert clerk.get("/staff/cases/999999999").status_code == 404


# --- The two complete paths ---------------------------------------------------------------------------------


def _upload(api: Api, name: str) -> str:
    response = api.browser.post(
        "/api/v1/uploads", data={"file": (io.BytesIO(pdf_bytes(name)), name)}, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["upload_id"]


def test_both_paths_through_the_api(app, dbs, pii, city, county, province):
    case = submit_case(dbs, pii)
    clerk, leader, business, division = (
        Api(app, city.clerk),
        Api(app, city.petitions_leader),
        Api(app, city.business_leader),
        Api(app, city.division),
    )
    ng = Api(app, county.clerk)
    queue = clerk.get("/staff/cases").get_json()
    assert [c["number"] for c in queue["cases"]] == [case.number]
    assert queue["cases"][0]["next_deadline"]["step"] == "acceptance"

    c = clerk.act(case.id, "accept", note="材料齐全。", expected_version=case_row(dbs, case.id).version)
    c = clerk.act(
        case.id,
        "submit_slip",
        proposal="建议交养老保险处审查。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[city.audit_unit],
        expected_version=c["version"],
    )
    assert c["approver"]["id"] == city.petitions_leader.id
    leader_actions = leader.get(f"/staff/cases/{case.id}").get_json()["allowed_actions"]
    assert leader_actions[0]["action"] == "instruct"
    c = leader.act(case.id, "instruct", instruction="请养老保险处依规审查。")
    c = clerk.act(case.id, "dispatch", note="已交养老保险处。")
    c = division.act(
        case.id,
        "submit_opinion",
        opinion="经审查，原处理意见正确。",
        needs_approval=True,
        upload_ids=[_upload(division, "意见.pdf")],
    )
    assert c["state"] == "awaiting_approval" and [a["filename"] for a in c["attachments"]] == ["意见.pdf"]
    c = business.act(case.id, "return_opinion", reason="请补充政策依据。")
    c = clerk.act(case.id, "request_extension", days=20, reason="需向下级调取材料。")
    c = leader.act(case.id, "approve_extension")
    assert c["extension"] == {  # 30 days in all (§三)
        "used": True,
        "days": 20,
        "days_left": 10,
        "pending_days": None,
        "pending_lapsed": False,
    }
    c = division.act(
        case.id,
        "request_materials",
        target="lower_bureau",
        target_bureau_id=county.bureau_id,
        content="请提供缴费记录。",
        due_on=local_today().isoformat(),
    )
    request_id = c["material_requests"][0]["id"]
    listed = ng.get("/staff/material-requests").get_json()["material_requests"]
    assert [(r["id"], r["case_number"]) for r in listed] == [(request_id, case.number)]
    done = ng.act(
        case.id,
        "provide_materials",
        request_id=request_id,
        content="见附件。",
        upload_ids=[_upload(ng, "缴费记录.pdf")],
    )
    assert done == {"id": case.id, "done": True}
    c = division.get(f"/staff/cases/{case.id}").get_json()
    assert c["material_requests"][0]["answer"] == "见附件。"
    answer_file = next(a for a in c["attachments"] if a["filename"] == "缴费记录.pdf")
    link = division.get(f"/staff/cases/{case.id}/attachments/{answer_file['id']}").get_json()
    assert "X-Amz-Signature" in link["url"]
    c = division.act(case.id, "submit_opinion", opinion="经审查，原处理意见正确，依据……", needs_approval=True)
    c = business.act(case.id, "approve_opinion")
    c = clerk.act(case.id, "submit_reply", text="维持原处理意见。", outcome="upheld")
    c = leader.act(case.id, "return_reply", reason="请写明救济途径。")
    c = clerk.act(case.id, "submit_reply", text="维持原处理意见。如不服，可申请复核。", outcome="upheld")
    c = leader.act(case.id, "sign_reply")
    assert c["state"] == "replied" and c["allowed_actions"] == []
    assert [e["action"] for e in c["events"]][-3:] == ["return_reply", "submit_reply", "sign_reply"]

    with system_scope(dbs):
        new = perform_action(
            dbs, pii, case.id, "escalate", Actor("petitioner", None, "张三"), {"reason": "不服。"}, today=local_today()
        ).new_case
        dbs.commit()
    pv_clerk, pv_leader, pv_business, pv_division = (
        Api(app, province.clerk),
        Api(app, province.petitions_leader),
        Api(app, province.business_leader),
        Api(app, province.division),
    )
    c = pv_clerk.get(f"/staff/cases/{new.id}").get_json()
    assert c["kind"] == "re_review" and c["earlier_cases"][0]["number"] == case.number
    assert c["earlier_cases"][0]["formal_opinion"] == "维持原处理意见。如不服，可申请复核。"
    supervised = pv_clerk.get(f"/staff/cases/{case.id}").get_json()
    assert supervised["supervision"] and supervised["allowed_actions"] == []
    pv_clerk.act(case.id, "record_contact", expect=404, party="petitioner", contacted_on="2026-11-01", summary="x")
    pv_clerk.act(new.id, "accept")
    pv_clerk.act(new.id, "submit_slip", proposal="复核。", complexity="simple", lead_unit_id=province.pension_unit)
    pv_leader.act(new.id, "instruct", instruction="同意。")
    pv_clerk.act(new.id, "dispatch", note="已交办。")
    pv_division.act(new.id, "submit_opinion", opinion="复查意见正确。", needs_approval=True)
    pv_business.act(new.id, "approve_opinion")
    pv_clerk.act(new.id, "submit_reply", text="维持复查意见。", outcome="upheld")
    assert pv_leader.act(new.id, "sign_reply")["state"] == "replied"


def test_committee_transfer_and_paper_intake_through_the_api(app, dbs, pii, city, province):
    # §四.3 (issue 14): the province's general office registers transfers and hands them to the petition office.
    general = make_staff(dbs, "220000", Role.division_staff, unit="general_office", username="pv_general_api")
    pv = Api(app, general)
    body = {
        "intake": "committee_transfer",
        "kind": "re_review",
        "committee_document_number": "吉信复委转〔2026〕8号",
        "petitioner": {"name": "李四", "id_number": "11010519491231002X"},
        "disputed_bureau_id": city.bureau_id,
        "opinion_kind": "review",
        "document_number": "长社保复〔2026〕1号",
        "issued_on": "2026-09-01",
        "received_on": "2026-09-03",
        "request": "请求重新核定。",
        "facts_and_reasons": "事实不清。",
    }
    response = pv.post("/staff/applications", body)
    assert response.status_code == 201, response.get_json()
    created = response.get_json()
    assert created["case"]["state"] == "accepted" and created["access_code"] is None
    assert created["case"]["committee_document_number"] == "吉信复委转〔2026〕8号"
    handed = [e for e in created["case"]["events"] if e["action"] == "register_transfer"]
    assert handed and handed[0]["actor"] == general.display_name
    # The petition office registers no transfer; a city cannot either; a paper application needs its scan.
    refused = Api(app, province.clerk).post("/staff/applications", body)
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    cc = Api(app, city.clerk)
    assert cc.post("/staff/applications", body).status_code == 403
    paper = {**body, "intake": "paper", "disputed_bureau_id": get_bureau(dbs, "220102").id, "opinion_kind": "handling"}
    missing_scan = cc.post("/staff/applications", paper)
    assert missing_scan.status_code == 422 and set(missing_scan.get_json()["errors"]) == {"upload_ids"}
    response = cc.post("/staff/applications", {**paper, "upload_ids": [_upload(cc, "申请书.pdf")]})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["access_code"] and response.get_json()["case"]["intake"] == "paper"
    assert [a["filename"] for a in response.get_json()["case"]["attachments"]] == ["申请书.pdf"]
    division = Api(app, city.division)
    assert division.post("/staff/applications", paper).status_code in (403, 422)


def test_openapi_documents_every_staff_route(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path, method in [
        ("/auth/token", "post"),
        ("/auth/token", "delete"),
        ("/staff/cases", "get"),
        ("/staff/cases/{case_id}", "get"),
        ("/staff/cases/{case_id}/actions", "post"),
        ("/staff/cases/{case_id}/personal-data", "post"),
        ("/staff/cases/{case_id}/attachments/{attachment_id}", "get"),
        ("/staff/material-requests", "get"),
        ("/staff/applications", "post"),
    ]:
        assert method in paths.get(path, {}), (path, method)


@pytest.mark.parametrize("header", ["Bearer", "Basic abc", "Bearer " + "x" * 500])
def test_malformed_authorization_is_401(app, dbs, header):
    response = Browser(app).get("/api/v1/staff/cases", headers={"Authorization": header})
    assert response.status_code == 401


def test_events_fields_are_readable(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk = Api(app, city.clerk)
    clerk.act(case.id, "accept")
    c = clerk.act(case.id, "submit_slip", proposal="建议。", complexity="complex", lead_unit_id=city.pension_unit)
    slip = next(e for e in c["events"] if e["action"] == "submit_slip")
    values = {f["label"]: f["value"] for f in slip["fields"]}
    assert values["主办单位"] == "养老保险处" and values["复杂程度"].startswith("复杂")
    assert values["审批领导"] == "cc_pl" and values["审批领导确定依据"] == "分管信访工作的局领导"
    with system_scope(dbs):
        assert (
            dbs.scalar(select(CaseEvent.fields).where(CaseEvent.action == "submit_slip"))["lead_unit_id"]
            == city.pension_unit
        )


def test_a_second_factor_is_needed_for_a_token_when_the_account_has_one(app, dbs, city):
    from portal.identity import operations as identity_ops
    from portal.identity import totp

    pii = app.extensions["portal.pii"]
    leader = city.petitions_leader
    now = datetime.now(UTC)
    with system_scope(dbs):
        secret = identity_ops.start_enrolment(dbs, pii, leader)
        # Confirm with the previous time step's code, so that the current one is still unused.
        identity_ops.confirm_enrolment(dbs, pii, leader, totp.code_at(secret, now - timedelta(seconds=30)), now=now)
        dbs.commit()
    browser = Browser(app)
    body = {"username": leader.username, "password": PASSWORD}
    response = browser.post("/api/v1/auth/token", json=body)
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "second_factor_required"
    response = browser.post("/api/v1/auth/token", json={**body, "code": "000000"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "second_factor_wrong"
    response = browser.post(
        "/api/v1/auth/token", json={**body, "code": totp.code_at(secret, now + timedelta(seconds=30))}
    )
    assert response.status_code == 200 and response.get_json()["token"]


def test_the_formal_opinion_through_the_api_preview_draft_and_signature(app, dbs, pii, city):
    """The desk, the preview (PDF), submit with the letter, the signer reads the draft, signs those bytes."""
    import hashlib
    import re

    from tests.portal.cases.conftest import drive
    from tests.portal.test_documents import pdf_text

    case = drive(dbs, pii, city, submit_case(dbs, pii).id, CaseState.drafting_reply)
    clerk, leader = Api(app, city.clerk), Api(app, city.petitions_leader)
    desk = clerk.get(f"/staff/cases/{case.id}/reply-desk").get_json()
    assert desk["kind"] == "formal_opinion" and desk["addressee"] == "张三" and desk["draft"] is None
    assert "《信访工作条例》第三十五条、第三十六条" in desk["remedy"] and "吉林省社会保险局申请复核" in desk["remedy"]
    assert set(desk["prefill"]) == {"upheld", "revoked", "changed", "partly_changed"}
    assert [r["text"] for r in desk["references"] if r["text"] == "原意见正确。"]
    letter = re.sub(r"【[^【】]*】", "经本局查明，信访人1985年参加工作。", desk["prefill"]["partly_changed"])

    preview = clerk.post(f"/staff/cases/{case.id}/reply-preview", {"text": letter})
    assert preview.status_code == 200 and preview.mimetype == "application/pdf"
    words = pdf_text(preview.data)
    assert words.count("张三：") == 1 and words.count("申请复核") == 1 and "予以部分变更" in words
    for bad, field_text in [("", "不能为空"), ("x" * 20_001, "20000"), (desk["prefill"]["upheld"], "待填写")]:
        refused = clerk.post(f"/staff/cases/{case.id}/reply-preview", {"text": bad})
        assert refused.status_code == 422 and field_text in refused.get_json()["errors"]["text"]
        refused = clerk.act(case.id, "submit_reply", expect=422, text=bad, outcome="upheld")
        assert set(refused["errors"]) == {"text"}
    english = Api(app, city.clerk, lang="en").post(f"/staff/cases/{case.id}/reply-preview", {"text": ""})
    assert english.get_json()["errors"]["text"] == "The formal opinion is empty."
    assert case_row(dbs, case.id).state is CaseState.drafting_reply
    # Supervisors above read, but neither draft nor preview in another bureau's name.
    assert Api(app, city.division).get(f"/staff/cases/{case.id}/reply-draft").status_code == 404

    clerk.act(case.id, "submit_reply", text=letter, outcome="partly_changed")
    desk = leader.get(f"/staff/cases/{case.id}/reply-desk").get_json()
    assert desk["draft"]["doc_number"] == "长社保信复〔2026〕1号" and desk["draft"]["text"] == letter.strip()
    draft = leader.get(f"/staff/cases/{case.id}/reply-draft")
    digest = hashlib.sha256(draft.data).hexdigest()
    assert (
        draft.mimetype == "application/pdf" and draft.headers["X-Content-SHA256"] == digest == desk["draft"]["sha256"]
    )
    stale = leader.act(case.id, "sign_reply", expect=422, draft_sha256="0" * 64)
    assert set(stale["errors"]) == {"draft_sha256"}
    signed = leader.act(case.id, "sign_reply", draft_sha256=digest)
    assert signed["state"] == "replied"
    sign = next(e for e in signed["events"] if e["action"] == "sign_reply")
    assert {"label": "签发稿摘要", "value": digest} in sign["fields"]


def test_a_stand_in_declared_for_signing_reads_and_signs_the_daiqian_copy_through_the_api(
    app, dbs, pii, city, monkeypatch
):
    """§四.4: `reply-desk` and `reply-draft` give the stand-in the draft with 代签 and both names; its digest is what
    `sign_reply` takes and issues; the stored draft's digest is refused."""
    import hashlib
    import re

    import worker.jobs
    from portal.accounts.absences import add_absence
    from portal.attachments.models import Attachment
    from portal.documents.models import GeneratedDocument
    from portal.workflow import DocumentKind
    from tenants.scoping import scope_for_bureau, scoped
    from tests.portal.cases.conftest import drive
    from tests.portal.test_documents import pdf_text
    from worker.tasks.documents import render_pending_documents

    case = drive(dbs, pii, city, submit_case(dbs, pii).id, CaseState.drafting_reply)
    clerk, stand_in = Api(app, city.clerk), Api(app, city.business_leader)
    desk = clerk.get(f"/staff/cases/{case.id}/reply-desk").get_json()
    letter = re.sub(r"【[^【】]*】", "经本局查明，信访人1985年参加工作。", desk["prefill"]["upheld"])
    clerk.act(case.id, "submit_reply", text=letter, outcome="upheld")
    stored = clerk.get(f"/staff/cases/{case.id}/reply-desk").get_json()["draft"]
    assert stored["signed_for"] is None
    # Before any declaration the business leader cannot sign.
    stand_in.act(case.id, "sign_reply", expect=403)
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        add_absence(
            dbs,
            city.bureau_id,
            user_id=city.petitions_leader.id,
            starts_on=local_today(),
            ends_on=local_today(),
            stand_in_id=city.business_leader.id,
            stand_in_slip=False,
            stand_in_signing=True,
        )
        dbs.commit()
    mine = stand_in.get(f"/staff/cases/{case.id}/reply-desk").get_json()["draft"]
    assert mine["signed_for"] == city.petitions_leader.display_name and mine["sha256"] != stored["sha256"]
    copy = stand_in.get(f"/staff/cases/{case.id}/reply-draft")
    digest = hashlib.sha256(copy.data).hexdigest()
    assert copy.headers["X-Content-SHA256"] == digest == mine["sha256"]
    daiqian = f"签批：{city.petitions_leader.display_name}（{city.business_leader.display_name}代签）"
    assert daiqian in pdf_text(copy.data) and mine["doc_number"] in pdf_text(copy.data)

    refused = stand_in.act(case.id, "sign_reply", expect=422, draft_sha256=stored["sha256"])
    assert set(refused["errors"]) == {"draft_sha256"} and "代签" in refused["errors"]["draft_sha256"]
    assert case_row(dbs, case.id).state is CaseState.awaiting_signature
    signed = stand_in.act(case.id, "sign_reply", draft_sha256=digest)
    assert signed["state"] == "replied"
    sign = next(e for e in signed["events"] if e["action"] == "sign_reply")
    assert {"label": "签发稿摘要", "value": digest} in sign["fields"]
    assert {"label": "代理", "value": city.petitions_leader.display_name} in sign["fields"]

    monkeypatch.setattr(worker.jobs, "_app", app)
    render_pending_documents()
    with system_scope(dbs):
        document = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case.id, GeneratedDocument.kind == DocumentKind.formal_opinion
            )
        )
        pdf = dbs.get(Attachment, (document.tenant_id, document.pdf_attachment_id))
    assert app.extensions["portal.storage"].get(pdf.storage_key) == copy.data


def test_openapi_documents_the_formal_opinion_routes(app, client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "application/pdf" in paths["/staff/cases/{case_id}/reply-preview"]["post"]["responses"]["200"]["content"]
    assert "get" in paths["/staff/cases/{case_id}/reply-draft"]
    assert "committee_report" in paths["/staff/cases/{case_id}/reply-desk"]["get"]["description"]


# --- Issue 14 follow-ups: a lapsed extension request; a stand-in for two absent signers -----------------------


def _move_whole_review_due(dbs, case_id: int, due_on) -> None:
    """Let the days pass: the whole review's open deadline falls due on ``due_on`` (behind the workflow's back)."""
    from portal.cases.models import Deadline
    from portal.workflow import Step

    with system_scope(dbs):
        dbs.execute(
            update(Deadline)
            .where(Deadline.case_id == case_id, Deadline.step == Step.whole_review, Deadline.closed_at.is_(None))
            .values(due_on=due_on)
        )
        dbs.commit()


def test_an_extension_request_not_decided_by_the_deadline_lapses_through_the_api(app, dbs, pii, city):
    """§三 (issue 14, rule 4): asked for on the last day but not approved that day, it lapses; the case stays
    overdue; the API says so, refuses approval and denial alike, and no leader finds it waiting any more."""
    case = submit_case(dbs, pii)
    clerk, leader = Api(app, city.clerk), Api(app, city.principal)
    clerk.act(case.id, "accept", note="材料齐全。")
    _move_whole_review_due(dbs, case.id, local_today())
    clerk.act(case.id, "request_extension", days=10, reason="需调取材料。")
    detail = leader.get(f"/staff/cases/{case.id}").get_json()
    assert detail["extension"]["pending_days"] == 10 and detail["extension"]["pending_lapsed"] is False
    assert "approve_extension" in [a["action"] for a in detail["allowed_actions"]]
    assert [c["number"] for c in leader.get("/staff/cases").get_json()["cases"]] == [case.number]

    yesterday = local_today() - timedelta(days=1)
    _move_whole_review_due(dbs, case.id, yesterday)
    detail = leader.get(f"/staff/cases/{case.id}").get_json()
    assert detail["extension"] == {
        "used": False,
        "days": None,
        "days_left": 30,
        "pending_days": 10,
        "pending_lapsed": True,
    }
    assert not {"approve_extension", "deny_extension"} & {a["action"] for a in detail["allowed_actions"]}
    for action, fields in (("approve_extension", {}), ("deny_extension", {"reason": "不需要。"})):
        body = leader.act(case.id, action, expect=409, **fields)
        assert body["error"]["code"] == "wrong_state" and "已失效" in body["error"]["message"]
    english = Api(app, city.principal, lang="en").act(case.id, "approve_extension", expect=409)
    assert "lapsed" in english["error"]["message"] and yesterday.isoformat() in english["error"]["message"]
    # Nothing moved: the deadline is still yesterday's, the case overdue; the queue marks the request lapsed.
    detail = leader.get(f"/staff/cases/{case.id}").get_json()
    whole = next(d for d in detail["deadlines"] if d["step"] == "whole_review")
    assert whole["due_on"] == yesterday.isoformat() and whole["overdue"] is True
    assert leader.get("/staff/cases").get_json()["cases"] == []  # nothing left for a leader to decide
    (row,) = clerk.get("/staff/cases?view=all").get_json()["cases"]
    assert (row["pending_extension_days"], row["extension_lapsed"]) == (10, True)


def test_a_stand_in_for_two_absent_petitions_leaders_signs_the_report_for_the_named_signer(app, dbs, pii, province):
    """Two leaders in charge of petitions, both away, both declared the same stand-in for signing: the stand-in
    signs the report to the committee for the 签发人 it names, not for the leader with the lower id (issue 14)."""
    import re

    from portal.accounts.absences import add_absence
    from tenants.scoping import scope_for_bureau, scoped
    from tests.portal.cases.conftest import drive, transfer
    from tests.portal.test_documents import pdf_text

    first, stand_in = province.petitions_leader, province.business_leader
    second = make_staff(dbs, "220000", Role.petitions_leader, username="pv_pl2")
    assert first.id < second.id
    registered = transfer(dbs, pii, province, today=local_today()).case
    case = drive(dbs, pii, province, registered.id, CaseState.drafting_reply, today=local_today())
    # The report is drafted while the first leader is not in office: it names the second as its 签发人.
    with system_scope(dbs):
        dbs.execute(update(StaffUser).where(StaffUser.id == first.id).values(active=False))
        dbs.commit()
    clerk = Api(app, province.clerk)
    desk = clerk.get(f"/staff/cases/{case.id}/reply-desk").get_json()
    assert desk["signer"] == second.display_name
    letter = re.sub(r"【[^【】]*】", "经复查，原处理意见正确。", desk["prefill"]["upheld"])
    clerk.act(case.id, "submit_reply", text=letter, outcome="upheld")
    with system_scope(dbs):
        dbs.execute(update(StaffUser).where(StaffUser.id == first.id).values(active=True))
        dbs.commit()
    with scoped(dbs, scope_for_bureau(dbs, province.bureau_id)):
        for leader in (first, second):
            add_absence(
                dbs,
                province.bureau_id,
                user_id=leader.id,
                starts_on=local_today(),
                ends_on=local_today(),
                stand_in_id=stand_in.id,
                stand_in_slip=False,
                stand_in_signing=True,
            )
        dbs.commit()
    api = Api(app, stand_in)
    mine = api.get(f"/staff/cases/{case.id}/reply-desk").get_json()["draft"]
    assert mine["signed_for"] == second.display_name
    copy = api.get(f"/staff/cases/{case.id}/reply-draft")
    assert f"签发人：{second.display_name}（{stand_in.display_name}代签）" in pdf_text(copy.data)
    signed = api.act(case.id, "sign_reply", draft_sha256=mine["sha256"])
    assert signed["state"] == "reported"
    sign = next(e for e in signed["events"] if e["action"] == "sign_reply")
    assert {"label": "代理", "value": second.display_name} in sign["fields"]
