"""Coordination meetings (§四.13): proposed by the petition office, decided by the leader, held, minuted.

Through the database (the operations), the staff API and the staff pages.
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from portal.accounts.absences import add_absence
from portal.cases.meetings import decide_meeting, propose_meeting, record_minutes
from portal.cases.models import CaseEvent, Meeting
from portal.cases.queries import local_today
from portal.workflow import ActionRefused, CaseState
from tenants.scoping import TenantScope, scope_for_bureau, scoped, set_scope, system_scope
from tests.helpers import csrf_token
from tests.portal.cases.conftest import case_events, drive, load_case, submit
from tests.portal.test_api_staff import Api
from tests.staff_site.conftest import sign_in

TODAY = date(2026, 9, 14)  # Monday


def _as(dbs, user):
    set_scope(dbs, scope_for_bureau(dbs, user.tenant_id))


def _counts(dbs) -> tuple[int, int]:
    with system_scope(dbs):
        return dbs.scalar(select(func.count(Meeting.id))), dbs.scalar(select(func.count(CaseEvent.id)))


def _refused(dbs, code, call, *args, **kwargs) -> ActionRefused:
    before = _counts(dbs)
    with pytest.raises(ActionRefused) as info:
        call(dbs, *args, **kwargs)
    assert info.value.code == code, info.value
    assert info.value.message_zh and info.value.message_en
    dbs.rollback()
    set_scope(dbs, TenantScope.system_wide())
    assert _counts(dbs) == before  # nothing changed
    return info.value


def _propose(dbs, city, **overrides):
    values = {
        "topic": "养老金核定共性问题",
        "meeting_on": date(2026, 9, 17),
        "unit_ids": [city.pension_unit, city.audit_unit],
        "case_numbers": [],
        "reason": "多名信访人反映同一问题。",
        "today": TODAY,
    }
    values.update(overrides)
    return values


def test_a_meeting_is_proposed_approved_held_and_appears_in_each_linked_case(dbs, pii, city):
    first = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review)
    second = submit(dbs, pii).case  # still awaiting acceptance: a linked case need not be in review
    _as(dbs, city.clerk)
    meeting = propose_meeting(
        dbs, city.clerk, **_propose(dbs, city, case_numbers=[first.number, second.number.lower()])
    )
    dbs.commit()
    assert meeting.status == "proposed" and meeting.leader_id == city.petitions_leader.id
    assert sorted(meeting.case_ids) == sorted([first.id, second.id])
    # The leader's decision is due in 2 working days (a bureau rule in step_rules): Mon 09-14 -> Wed 09-16.
    assert meeting.decision_due_on == date(2026, 9, 16)
    assert meeting.decision_explanation["ref"] == "本局规定" and meeting.decision_explanation["bureau_rule"]
    for case in (first, second):
        event = case_events(dbs, case.id)[-1]
        assert event.action == "meeting_proposed" and event.fields["meeting_id"] == meeting.id
        assert event.state_before == event.state_after == str(load_case(dbs, case.id).state)

    # Not held before it is approved.
    _as(dbs, city.clerk)
    error = _refused(dbs, "wrong_state", record_minutes, city.clerk, meeting.id, minutes="纪要。", today=TODAY)
    assert "批准" in error.message_zh
    # Only the leader in charge (or a stand-in, or the principal) decides; the office does not.
    _as(dbs, city.clerk)
    _refused(dbs, "forbidden", decide_meeting, city.clerk, meeting.id, approve=True, comment=None, today=TODAY)
    _as(dbs, city.business_leader)
    _refused(
        dbs, "forbidden", decide_meeting, city.business_leader, meeting.id, approve=True, comment=None, today=TODAY
    )
    _as(dbs, city.petitions_leader)
    decide_meeting(dbs, city.petitions_leader, meeting.id, approve=True, comment="同意召开。", today=TODAY)
    dbs.commit()
    _as(dbs, city.petitions_leader)
    _refused(
        dbs, "wrong_state", decide_meeting, city.petitions_leader, meeting.id, approve=False, comment="x", today=TODAY
    )
    # Minutes only once it has been held.
    _as(dbs, city.clerk)
    error = _refused(dbs, "invalid", record_minutes, city.clerk, meeting.id, minutes="纪要。", today=date(2026, 9, 16))
    assert error.field == "minutes" and "2026-09-17" in error.message_zh
    _as(dbs, city.clerk)
    record_minutes(dbs, city.clerk, meeting.id, minutes="会议明确由养老保险处牵头。", today=date(2026, 9, 17))
    dbs.commit()
    with system_scope(dbs):
        held = dbs.get(Meeting, (city.bureau_id, meeting.id))
        assert (held.status, held.minutes, held.minutes_by_id) == ("held", "会议明确由养老保险处牵头。", city.clerk.id)
    for case in (first, second):
        actions = [e.action for e in case_events(dbs, case.id)][-3:]
        assert actions == ["meeting_proposed", "meeting_approved", "meeting_held"]


def test_a_common_problem_needs_no_case_and_a_declined_meeting_is_never_held(dbs, pii, city):
    _as(dbs, city.clerk)
    meeting = propose_meeting(dbs, city.clerk, **_propose(dbs, city))
    dbs.commit()
    assert meeting.case_ids == []
    _as(dbs, city.principal)
    error = _refused(
        dbs, "invalid", decide_meeting, city.principal, meeting.id, approve=False, comment=" ", today=TODAY
    )
    assert error.field == "comment"
    _as(dbs, city.principal)
    decide_meeting(dbs, city.principal, meeting.id, approve=False, comment="先由处室研究。", today=TODAY)
    dbs.commit()
    _as(dbs, city.clerk)
    _refused(dbs, "wrong_state", record_minutes, city.clerk, meeting.id, minutes="纪要。", today=date(2026, 9, 18))


def test_the_stand_in_of_the_absent_leader_decides(dbs, pii, city):
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        add_absence(
            dbs,
            city.bureau_id,
            user_id=city.petitions_leader.id,
            starts_on=TODAY,
            ends_on=date(2026, 9, 18),
            stand_in_id=city.business_leader.id,
        )
        dbs.commit()
    _as(dbs, city.clerk)
    meeting = propose_meeting(dbs, city.clerk, **_propose(dbs, city))
    dbs.commit()
    _as(dbs, city.business_leader)
    decide_meeting(dbs, city.business_leader, meeting.id, approve=True, comment=None, today=TODAY)
    dbs.commit()
    assert meeting.decided_by_id == city.business_leader.id


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("unit_ids", [], "invalid"),
        ("unit_ids", None, "invalid"),
        ("unit_ids", [999_999], "invalid"),
        ("topic", "  ", "invalid"),
        ("topic", "议" * 201, "invalid"),
        ("meeting_on", date(2026, 9, 13), "invalid"),
        ("meeting_on", None, "invalid"),
        ("case_numbers", ["FC2026-NOSUCH00"], "invalid"),
    ],
)
def test_bad_proposals_are_refused_at_their_field_and_change_nothing(dbs, pii, city, field, value, code):
    _as(dbs, city.clerk)
    error = _refused(dbs, code, propose_meeting, city.clerk, **_propose(dbs, city, **{field: value}))
    assert error.field == field


def test_only_the_petition_office_proposes_and_another_bureaus_units_and_cases_are_refused(dbs, pii, city, province):
    _as(dbs, city.division)
    _refused(dbs, "forbidden", propose_meeting, city.division, **_propose(dbs, city))
    _as(dbs, city.clerk)
    error = _refused(
        dbs, "invalid", propose_meeting, city.clerk, **_propose(dbs, city, unit_ids=[province.pension_unit])
    )
    assert error.field == "unit_ids"
    other = submit(dbs, pii).case  # a case of 长春市; the province may not link it
    _as(dbs, province.clerk)
    error = _refused(
        dbs, "invalid", propose_meeting, province.clerk, **_propose(dbs, province, case_numbers=[other.number])
    )
    assert error.field == "case_numbers"


# --- API and pages ---------------------------------------------------------------------------------------


def test_the_staff_api_proposes_decides_and_minutes_a_meeting(app, dbs, pii, city, province):
    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.in_review)
    clerk, leader = Api(app, city.clerk), Api(app, city.petitions_leader)
    today = local_today()
    body = {"topic": "工伤认定共性问题", "meeting_on": today.isoformat(), "unit_ids": [], "case_numbers": [case.number]}
    response = clerk.post("/staff/meetings", body)
    assert response.status_code == 422 and "unit_ids" in response.get_json()["errors"]
    assert _counts(dbs)[0] == 0
    response = clerk.post("/staff/meetings", {**body, "unit_ids": [city.pension_unit]})
    assert response.status_code == 201, response.get_json()
    meeting = response.get_json()
    assert meeting["status"] == "proposed" and meeting["case_numbers"] == [case.number]
    assert meeting["decision_rule"] == "本局规定"
    assert clerk.post(f"/staff/meetings/{meeting['id']}/minutes", {"minutes": "纪要"}).status_code == 409
    assert clerk.post(f"/staff/meetings/{meeting['id']}/decision", {"approve": True}).status_code == 403
    assert leader.post(f"/staff/meetings/{meeting['id']}/decision", {"approve": "yes"}).status_code == 422
    response = leader.post(f"/staff/meetings/{meeting['id']}/decision", {"approve": True, "comment": "同意。"})
    assert response.status_code == 200 and response.get_json()["status"] == "approved"
    response = clerk.post(f"/staff/meetings/{meeting['id']}/minutes", {"minutes": "会议纪要。"})
    assert response.status_code == 200 and response.get_json()["status"] == "held"
    assert [m["id"] for m in clerk.get("/staff/meetings").get_json()["meetings"]] == [meeting["id"]]
    # Another bureau sees none of it.
    other = Api(app, province.clerk)
    assert other.get(f"/staff/meetings/{meeting['id']}").status_code == 404
    assert other.post(f"/staff/meetings/{meeting['id']}/minutes", {"minutes": "x"}).status_code == 404
    assert other.get("/staff/meetings").get_json()["meetings"] == []
    # The case's history and its page show the meeting.
    detail = clerk.get(f"/staff/cases/{case.id}").get_json()
    assert [m["status"] for m in detail["meetings"]] == ["held"]
    assert {"meeting_proposed", "meeting_approved", "meeting_held"} <= {e["action"] for e in detail["events"]}
    assert "/staff/meetings/{meeting_id}/decision" in clerk.get("/openapi.json").get_json()["paths"]


def test_the_staff_pages_propose_and_decide_a_meeting(app, dbs, pii, city):
    clerk = sign_in(app, city.clerk)
    page = clerk.get("/staff/meetings/new")
    assert page.status_code == 200
    token = csrf_token(clerk, "/staff/meetings/new")
    form = {"csrf_token": token, "topic": "待遇核定共性问题", "meeting_on": local_today().isoformat()}
    response = clerk.post("/staff/meetings/new", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "至少一个" in html  # no units: a clear field error, nothing stored
    assert _counts(dbs)[0] == 0
    response = clerk.post("/staff/meetings/new", data={**form, "unit_ids": [str(city.pension_unit)]})
    assert response.status_code == 302
    meeting_url = response.headers["Location"]
    assert "待领导审批" in clerk.get("/staff/meetings").get_data(as_text=True)
    # The leader decides on the meeting's page.
    leader = sign_in(app, city.petitions_leader)
    html = leader.get(meeting_url).get_data(as_text=True)
    assert "待您审批" not in html and "本局规定，非《办法》规定的时限" in html  # the decision's limit is the bureau's
    assert "待您审批" in leader.get("/staff/meetings").get_data(as_text=True)
    assert "1个协调会议待您审批" in leader.get("/staff/cases").get_data(as_text=True)  # the leader's queue says so
    assert "协调会议待您审批" not in clerk.get("/staff/cases").get_data(as_text=True)
    token = csrf_token(leader, meeting_url)
    response = leader.post(meeting_url + "/decision", data={"csrf_token": token, "decision": "decline"})
    assert response.status_code == 422 and "审批意见" in response.get_data(as_text=True)
    response = leader.post(meeting_url + "/decision", data={"csrf_token": token, "decision": "approve"})
    assert response.status_code == 302
    assert "已批准" in leader.get(meeting_url).get_data(as_text=True)
    assert "协调会议待您审批" not in leader.get("/staff/cases").get_data(as_text=True)
    # The clerk cannot decide.
    token = csrf_token(clerk, meeting_url)
    assert clerk.post(meeting_url + "/decision", data={"csrf_token": token, "decision": "approve"}).status_code == 403
