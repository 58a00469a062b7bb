"""The staff API gives a client everything it needs: each allowed action's choices, defaults, subject and returned
work (``portal.cases.choices``), and the notifications of work that lands on someone (``portal.notify.work``)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from portal.cases.models import Outbox
from portal.cases.queries import local_today
from portal.cases.refusal_texts import DEFAULT_TEXTS, save_standard_text, standard_texts
from portal.notify.email import mailer_from_url
from portal.notify.models import StaffNotification
from portal.notify.sms import gateway_from_settings
from portal.outbox import Transports, deliver_one
from portal.sweeps import send_digests
from tenants.scoping import TenantScope, scoped, system_scope
from tests.portal.cases.conftest import Staffed, staff_bureau
from tests.portal.test_api_staff import Api, _upload
from tests.staff_site.conftest import case_row, submit_case


@pytest.fixture
def city(dbs) -> Staffed:
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def county(dbs) -> Staffed:
    return staff_bureau(dbs, "220102", "ng")


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def entry(api: Api, case_id: int, action: str) -> dict:
    """The caller's allowed action of that name, as the API lists it."""
    actions = api.get(f"/staff/cases/{case_id}").get_json()["allowed_actions"]
    found = [a for a in actions if a["action"] == action]
    assert found, (action, [a["action"] for a in actions])
    return found[0]


def by_label(choices: list[dict], label: str):
    """The id (or value) of the choice with that label: a client finds ids by what people read."""
    hit = [c for c in choices if c["label"] == label]
    assert len(hit) == 1, (label, choices)
    return hit[0].get("id", hit[0].get("value"))


def act_from(api: Api, case_id: int, action: str, **texts) -> dict:
    """Take an action with its defaults plus the free texts given; ids and enums only from what the API said."""
    e = entry(api, case_id, action)
    body = {**e["defaults"], **texts}
    assert set(body) - {"upload_ids"} <= set(e["fields"]), (action, set(body) - set(e["fields"]))
    assert "upload_ids" not in body or e["files"]
    return api.act(case_id, action, **body)


def test_a_client_runs_the_whole_procedure_with_only_what_the_api_returns(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk, leader, business, division = (
        Api(app, city.clerk),
        Api(app, city.petitions_leader),
        Api(app, city.business_leader),
        Api(app, city.division),
    )
    act_from(clerk, case.id, "accept", note="材料齐全。")

    slip = entry(clerk, case.id, "submit_slip")
    choices = slip["choices"]
    assert set(choices) == {"complexity", "lead_unit_id", "assisting_unit_ids", "approver_id"}
    assert [c["value"] for c in choices["complexity"]] == ["simple", "complex", "major"]
    assert by_label(choices["complexity"], "复杂（涉及多个业务处室、单位）") == "complex"
    pension, audit = by_label(choices["lead_unit_id"], "养老保险处"), by_label(choices["lead_unit_id"], "稽核处")
    assert (pension, audit) == (city.pension_unit, city.audit_unit)
    assert choices["lead_unit_id"][0]["id"] == city.office_unit  # the petition office first, as on the page
    leaders = {c["id"]: c for c in choices["approver_id"]}
    assert leaders[city.petitions_leader.id]["rule"] == "petitions_leader"
    assert leaders[city.business_leader.id]["rule"] == "business_leader"
    assert leaders[city.principal.id]["rule"] == "principal_leader"
    assert "petitions_leader" in leaders[city.petitions_leader.id]["roles"]
    assert slip["defaults"] == {"complexity": "simple", "lead_unit_id": city.office_unit}
    c = act_from(
        clerk,
        case.id,
        "submit_slip",
        proposal="建议交养老保险处审查，稽核处协助。",
        complexity=by_label(choices["complexity"], "复杂（涉及多个业务处室、单位）"),
        lead_unit_id=pension,
        assisting_unit_ids=[audit],
    )
    assert c["approver"]["id"] == city.petitions_leader.id  # omitted: the rules chose

    instruct = entry(leader, case.id, "instruct")
    subject = {f["label"]: f["value"] for f in instruct["subject"]["fields"]}
    assert subject["拟办意见"] == "建议交养老保险处审查，稽核处协助。"
    assert (
        subject["复杂程度"] == "复杂（涉及多个业务处室、单位）"
        and subject["主办单位"] == "养老保险处"
        and subject["协办单位"] == "稽核处"
    )
    assert instruct["subject"]["title"] == "信访办拟办意见" and instruct["subject"]["by"] == city.clerk.display_name
    assert instruct["defaults"] == {"complexity": "complex", "lead_unit_id": pension, "assisting_unit_ids": [audit]}
    act_from(leader, case.id, "instruct", instruction="同意，请养老保险处依规审查。")

    dispatch = entry(clerk, case.id, "dispatch")
    assert [c["id"] for c in dispatch["choices"]["handed_to_unit_ids"]] == [pension, audit]
    assert [c["lead"] for c in dispatch["choices"]["handed_to_unit_ids"]] == [True, False]
    assert dispatch["defaults"] == {"handed_to_unit_ids": [pension, audit]}
    assert {f["value"] for f in dispatch["subject"]["fields"]} >= {"同意，请养老保险处依规审查。"}
    c = act_from(clerk, case.id, "dispatch")
    assert {"label": "移交单位", "value": "养老保险处、稽核处"} in c["events"][-1]["fields"]

    opinion = entry(division, case.id, "submit_opinion")
    assert [(c["value"], c["label"]) for c in opinion["choices"]["needs_approval"]] == [(True, "是"), (False, "否")]
    act_from(
        division,
        case.id,
        "submit_opinion",
        opinion="经审查，原处理意见正确。",
        upload_ids=[_upload(division, "审查意见.pdf")],
    )

    back = entry(business, case.id, "return_opinion")
    assert back["subject"]["title"] == "承办单位审查意见"
    assert {"label": "审查意见", "value": "经审查，原处理意见正确。"} in back["subject"]["fields"]
    assert [a["filename"] for a in back["subject"]["attachments"]] == ["审查意见.pdf"]
    assert entry(business, case.id, "approve_opinion")["subject"] == back["subject"]
    act_from(business, case.id, "return_opinion", reason="请补充政策依据。")

    # Returned work comes back whole: the draft, and who returned it, when and why.
    again = entry(division, case.id, "submit_opinion")
    assert again["defaults"] == {"opinion": "经审查，原处理意见正确。", "needs_approval": True}
    assert again["returned"]["by"] == city.business_leader.display_name
    assert again["returned"]["reason"] == "请补充政策依据。" and again["returned"]["action"] == "return_opinion"
    act_from(division, case.id, "submit_opinion", opinion="经审查，原处理意见正确，依据《社会保险法》第十六条。")
    act_from(business, case.id, "approve_opinion")

    act_from(clerk, case.id, "request_extension", days=20, reason="需向下级调取缴费记录。")
    decide = entry(leader, case.id, "approve_extension")
    facts = {f["label"]: f["value"] for f in decide["subject"]["fields"]}
    assert facts["理由"] == "需向下级调取缴费记录。" and facts["延期天数"] == "20"
    whole = next(
        d for d in leader.get(f"/staff/cases/{case.id}").get_json()["deadlines"] if d["step"] == "whole_review"
    )
    assert facts["复查复核办理期限（当前）"] == whole["due_on"]
    assert decide["defaults"] == {"days": 20}
    assert entry(leader, case.id, "deny_extension")["subject"] == decide["subject"]
    act_from(leader, case.id, "approve_extension")

    reply = entry(clerk, case.id, "submit_reply")
    assert [c["value"] for c in reply["choices"]["outcome"]] == ["upheld", "revoked", "changed", "partly_changed"]
    act_from(
        clerk,
        case.id,
        "submit_reply",
        text="维持原处理意见。",
        outcome=by_label(reply["choices"]["outcome"], "部分变更原意见"),
    )
    act_from(leader, case.id, "return_reply", reason="请写明复核的申请途径。")
    draft = entry(clerk, case.id, "submit_reply")
    assert draft["defaults"] == {"text": "维持原处理意见。", "outcome": "partly_changed"}  # not reset to "upheld"
    assert draft["returned"]["reason"] == "请写明复核的申请途径。"
    act_from(clerk, case.id, "submit_reply", text="维持原处理意见。如不服，可在三十日内申请复核。")
    assert act_from(leader, case.id, "sign_reply")["state"] == "replied"


def test_refusal_reasons_carry_the_bureaus_standard_texts(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    with scoped(dbs, TenantScope.single(city.bureau_id)):
        save_standard_text(dbs, city.bureau_id, "arbitration", "本局的说明。", "本局的救济途径。", updated_by="管理员")
        dbs.commit()
    reasons = {c["value"]: c for c in entry(Api(app, city.clerk), case.id, "reject")["choices"]["reason"]}
    assert reasons["arbitration"]["explanation"] == "本局的说明。"
    assert reasons["arbitration"]["remedy"] == "本局的救济途径。"
    assert (reasons["litigation"]["explanation"], reasons["litigation"]["remedy"]) == DEFAULT_TEXTS["litigation"]
    # Another bureau keeps the defaults.
    county = staff_bureau(dbs, "220102", "ng")
    with scoped(dbs, TenantScope.single(county.bureau_id)):
        theirs = standard_texts(dbs, county.bureau_id)
        dbs.rollback()
    assert (theirs["arbitration"].explanation, theirs["arbitration"].custom) == (DEFAULT_TEXTS["arbitration"][0], False)


def test_choices_follow_the_callers_role(app, dbs, pii, city, county):
    """A division asks lower bureaus only (§四.11); the office may ask anyone."""
    case = submit_case(dbs, pii)
    clerk, leader, division = Api(app, city.clerk), Api(app, city.petitions_leader), Api(app, city.division)
    act_from(clerk, case.id, "accept")
    act_from(clerk, case.id, "submit_slip", proposal="交办。", lead_unit_id=city.pension_unit)
    act_from(leader, case.id, "instruct", instruction="同意。")
    act_from(clerk, case.id, "dispatch")
    office = entry(clerk, case.id, "request_materials")["choices"]
    assert [c["value"] for c in office["target"]] == ["lower_bureau", "petitioner", "other_body"]
    assert county.bureau_id in [c["id"] for c in office["target_bureau_id"]]
    own = entry(division, case.id, "request_materials")["choices"]
    assert [c["value"] for c in own["target"]] == ["lower_bureau"]


# --- Notifications ----------------------------------------------------------------------------------------------


def deliver_staff_notices(dbs, pii) -> int:
    """Deliver the pending ``notify_staff`` outbox rows as the worker does; how many were sent."""
    transports = Transports(
        pii=pii, mailer=mailer_from_url(None), sms=gateway_from_settings("log", None, None), mail_from="x@example"
    )
    with system_scope(dbs):
        rows = dbs.execute(
            select(Outbox.tenant_id, Outbox.id).where(Outbox.kind == "notify_staff", Outbox.status == "pending")
        ).all()
        dbs.rollback()
    return sum(deliver_one(dbs, transports, t, i) == "sent" for t, i in rows)


def notices(api: Api, unread: bool = False) -> dict:
    response = api.get("/staff/notifications" + ("?unread=1" if unread else ""))
    assert response.status_code == 200
    return response.get_json()


def test_work_that_lands_on_someone_tells_them(app, dbs, pii, city, county):
    case = submit_case(dbs, pii)
    clerk, leader, business, division, ng = (
        Api(app, city.clerk),
        Api(app, city.petitions_leader),
        Api(app, city.business_leader),
        Api(app, city.division),
        Api(app, county.clerk),
    )
    clerk.act(case.id, "accept")
    clerk.act(case.id, "submit_slip", proposal="交养老保险处。", complexity="complex", lead_unit_id=city.pension_unit)
    # The outbox row was written in the action's own transaction; nothing reached anyone yet.
    with system_scope(dbs):
        row = dbs.scalar(select(Outbox).where(Outbox.kind == "notify_staff", Outbox.case_id == case.id))
        assert row.payload["event"] == "submit_slip" and row.status == "pending"
        dbs.rollback()
    assert notices(leader)["unread"] == 0
    assert deliver_staff_notices(dbs, pii) == 1
    body = notices(leader)
    assert body["unread"] == 1
    first = body["notifications"][0]
    assert first["kind"] == "awaiting_instruction" and first["unread"] and first["read_at"] is None
    assert first["case"] == {"id": case.id, "bureau_id": city.bureau_id, "number": case.number}
    assert first["text"] == f"案件{case.number}的阅办单待您批示（{city.clerk.display_name}呈报）。"
    assert notices(clerk)["notifications"] == []  # the actor hears nothing of their own action
    english = Api(app, city.petitions_leader, lang="en")
    assert notices(english)["notifications"][0]["text"].startswith(f"Case {case.number}: the reading slip awaits")

    leader.act(case.id, "instruct", instruction="同意。")
    clerk.act(case.id, "dispatch")
    division.act(case.id, "submit_opinion", opinion="原处理意见正确。", needs_approval=True)
    division.act(
        case.id,
        "request_materials",
        target="lower_bureau",
        target_bureau_id=county.bureau_id,
        content="请提供缴费记录。",
        due_on=local_today().isoformat(),
    )
    clerk.act(case.id, "request_extension", days=10, reason="需调取材料。")
    assert deliver_staff_notices(dbs, pii) == 3
    assert [n["kind"] for n in notices(business)["notifications"]] == ["awaiting_approval"]
    lower = notices(ng)["notifications"]
    assert [n["kind"] for n in lower] == ["materials_requested"] and lower[0]["material_request_id"]
    assert "长春市社会保险局请求提供案件" in lower[0]["text"]
    assert [n["kind"] for n in notices(leader)["notifications"]] == ["extension_requested", "awaiting_instruction"]

    ng.act(case.id, "provide_materials", request_id=lower[0]["material_request_id"], content="见附件。")
    business.act(case.id, "return_opinion", reason="请补充依据。")
    assert deliver_staff_notices(dbs, pii) == 2
    kinds = [n["kind"] for n in notices(division)["notifications"]]
    assert kinds == ["work_returned", "materials_answered"]  # newest first
    assert "请补充依据。" in notices(division)["notifications"][0]["text"]

    # Read one: the unread filter and the count follow; reading again changes nothing.
    unread = notices(leader, unread=True)
    assert [n["kind"] for n in unread["notifications"]] == ["extension_requested", "awaiting_instruction"]
    target = unread["notifications"][1]["id"]
    done = leader.post(f"/staff/notifications/{target}/read")
    assert done.status_code == 200 and done.get_json()["unread"] is False and done.get_json()["read_at"]
    assert leader.post(f"/staff/notifications/{target}/read").get_json()["read_at"] == done.get_json()["read_at"]
    after = notices(leader, unread=True)
    assert after["unread"] == 1 and [n["kind"] for n in after["notifications"]] == ["extension_requested"]
    assert len(notices(leader)["notifications"]) == 2
    # Someone else's notification, or none at all: 404, and nothing changes.
    assert clerk.post(f"/staff/notifications/{target + 1}/read").status_code == 404
    assert business.post(f"/staff/notifications/{after['notifications'][0]['id']}/read").status_code == 404
    assert notices(leader)["unread"] == 1
    assert leader.post("/staff/notifications/99999999999999999999/read").status_code == 404

    # Delivering twice writes nothing twice.
    with system_scope(dbs):
        count = dbs.query(StaffNotification).count()
        dbs.rollback()
    assert deliver_staff_notices(dbs, pii) == 0
    with system_scope(dbs):
        assert dbs.query(StaffNotification).count() == count
        dbs.rollback()


def test_a_letter_awaiting_signature_tells_the_signer_and_reaches_the_digest(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk, leader, division = Api(app, city.clerk), Api(app, city.petitions_leader), Api(app, city.division)
    clerk.act(case.id, "accept")
    clerk.act(case.id, "submit_slip", proposal="信访办自办。", complexity="simple", lead_unit_id=city.office_unit)
    leader.act(case.id, "instruct", instruction="同意。")
    clerk.act(case.id, "dispatch")
    clerk.act(case.id, "submit_opinion", opinion="原处理意见正确。", needs_approval=False)
    clerk.act(case.id, "submit_reply", text="维持原处理意见。", outcome="upheld")
    deliver_staff_notices(dbs, pii)
    assert notices(leader)["notifications"][0]["kind"] == "awaiting_signature"
    assert notices(division)["notifications"] == []
    # The daily digest lists the letter (it has no time limit of its own, so no deadline would).
    with system_scope(dbs):
        send_digests(dbs, local_today())
        dbs.commit()
    digest = next(n for n in notices(leader)["notifications"] if n["kind"] == "digest")
    assert any(f"案件{case.number}的正式意见待您签发" in line for line in digest["items"])
    assert "另有" in digest["text"]
    assert case_row(dbs, case.id).state.value == "awaiting_signature"


def test_an_away_leaders_stand_in_hears_of_the_letter(app, dbs, pii, city):
    """The leader in charge of petitions is away with a declared stand-in: the stand-in is told, not the away one."""
    from datetime import timedelta

    from portal.cases.models import StaffAbsence

    today = local_today()
    with scoped(dbs, TenantScope.single(city.bureau_id)):
        dbs.add(
            StaffAbsence(
                tenant_id=city.bureau_id,
                user_id=city.petitions_leader.id,
                starts_on=today,
                ends_on=today + timedelta(days=10),
                stand_in_id=city.principal.id,
            )
        )
        dbs.commit()
    case = submit_case(dbs, pii)
    clerk = Api(app, city.clerk)
    clerk.act(case.id, "accept")
    clerk.act(case.id, "request_extension", days=10, reason="需调取材料。")
    deliver_staff_notices(dbs, pii)
    assert [n["kind"] for n in notices(Api(app, city.principal))["notifications"]] == ["extension_requested"]
    assert notices(Api(app, city.petitions_leader))["notifications"] == []
