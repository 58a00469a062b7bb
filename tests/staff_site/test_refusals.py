"""Every action refused to a role that may not take it (403, pages and API), stale versions (409), bad input (422),
and another bureau's case (404): the refusal changes nothing."""

from __future__ import annotations

import pytest

from portal.cases.context import actor_of
from portal.cases.operations import submit_application
from portal.cases.queries import local_today
from portal.workflow import CaseState, IntakePath
from tests.portal.cases.conftest import act, application
from tests.portal.test_api_staff import Api
from tests.staff_site.conftest import alert, case_row, post_action, sign_in, submit_case

_SESSIONS: dict = {}


def _sessions(app, user):
    """One browser and one API client per person for the whole test (sign-ins are rate-limited)."""
    key = (id(app), user.id, user.username)
    if key not in _SESSIONS:
        _SESSIONS.clear() if len(_SESSIONS) > 50 else None
        _SESSIONS[key] = (sign_in(app, user), Api(app, user))
    return _SESSIONS[key]


@pytest.fixture(autouse=True)
def _fresh_sessions():
    _SESSIONS.clear()
    yield
    _SESSIONS.clear()


def _today():
    return local_today()


def _refused_everywhere(app, dbs, case_id, user, action, data, status=403):
    """The page and the API both refuse ``user`` with ``status``, and the case stays as it was."""
    before = case_row(dbs, case_id)
    state, version, events = before.state, before.version, before.event_count
    browser, api_client = _sessions(app, user)
    page = post_action(browser, case_id, action, data, version)
    assert page.status_code == status, (action, user.username, page.status_code, alert(page))
    assert alert(page), "the page says why"
    shown = browser.get(f"/staff/cases/{case_id}/actions/{action}")
    assert shown.status_code == status, (action, "GET", shown.status_code)
    api = api_client.post(f"/staff/cases/{case_id}/actions", {"action": action, **data})
    assert api.status_code == status, (action, user.username, api.get_json())
    after = case_row(dbs, case_id)
    assert (after.state, after.version, after.event_count) == (state, version, events), action


def test_each_action_is_refused_to_a_role_that_may_not_take_it(app, dbs, pii, city, county):
    today = _today()
    case = submit_case(dbs, pii)
    cid = case.id

    def run(user, action, **payload):
        act(dbs, pii, user, cid, action, today=today, **payload)

    _refused_everywhere(app, dbs, cid, city.division, "accept", {})
    _refused_everywhere(
        app, dbs, cid, city.petitions_leader, "reject", {"reason": "litigation", "explanation": "x", "remedy": "y"}
    )
    _refused_everywhere(app, dbs, cid, city.division, "withdraw", {"reason": "x", "document_note": "y"})
    run(city.clerk, "accept")
    slip = {"proposal": "建议。", "complexity": "complex", "lead_unit_id": str(city.pension_unit)}
    _refused_everywhere(app, dbs, cid, city.division, "submit_slip", slip)
    _refused_everywhere(
        app,
        dbs,
        cid,
        city.division,
        "record_contact",
        {"party": "petitioner", "contacted_on": today.isoformat(), "summary": "x"},
    )
    run(city.clerk, "submit_slip", proposal="建议。", complexity="complex", lead_unit_id=city.pension_unit)
    _refused_everywhere(app, dbs, cid, city.clerk, "instruct", {"instruction": "同意。"})
    _refused_everywhere(app, dbs, cid, city.business_leader, "instruct", {"instruction": "同意。"})
    run(city.petitions_leader, "instruct", instruction="同意。")
    _refused_everywhere(app, dbs, cid, city.division, "dispatch", {"note": "已交办。"})
    run(city.clerk, "dispatch", note="已交办。")
    _refused_everywhere(app, dbs, cid, city.clerk, "submit_opinion", {"opinion": "x", "needs_approval": "yes"})
    _refused_everywhere(app, dbs, cid, city.business_leader, "request_extension", {"days": "10", "reason": "x"})
    _refused_everywhere(
        app,
        dbs,
        cid,
        city.principal,
        "request_materials",
        {
            "target": "lower_bureau",
            "target_bureau_id": str(county.bureau_id),
            "content": "x",
            "due_on": today.isoformat(),
        },
    )
    run(city.clerk, "request_extension", days=10, reason="x")
    _refused_everywhere(app, dbs, cid, city.clerk, "approve_extension", {"days": "10"})
    _refused_everywhere(app, dbs, cid, city.division, "deny_extension", {"reason": "x"})
    run(city.petitions_leader, "deny_extension", reason="不必延期。")
    run(
        city.division,
        "request_materials",
        target="lower_bureau",
        target_bureau_id=county.bureau_id,
        content="请提供。",
        due_on=today.isoformat(),
    )
    request_id = case_row(dbs, cid) and _open_request(dbs, cid)
    _refused_everywhere(
        app, dbs, cid, city.division, "provide_materials", {"request_id": str(request_id), "content": "x"}
    )
    run(city.division, "submit_opinion", opinion="意见。", needs_approval=True)
    _refused_everywhere(app, dbs, cid, city.clerk, "approve_opinion", {})
    _refused_everywhere(app, dbs, cid, city.petitions_leader, "approve_opinion", {})
    _refused_everywhere(app, dbs, cid, city.division, "return_opinion", {"reason": "x"})
    run(city.business_leader, "approve_opinion")
    _refused_everywhere(app, dbs, cid, city.division, "submit_reply", {"text": "x", "outcome": "upheld"})
    run(city.clerk, "submit_reply", text="维持。", outcome="upheld")
    _refused_everywhere(app, dbs, cid, city.clerk, "return_reply", {"reason": "x"})
    _refused_everywhere(app, dbs, cid, city.business_leader, "sign_reply", {})
    _refused_everywhere(app, dbs, cid, city.principal, "sign_reply", {})
    assert case_row(dbs, cid).state is CaseState.awaiting_signature


def _open_request(dbs, case_id):
    from sqlalchemy import select

    from portal.cases.models import MaterialRequest
    from tenants.scoping import system_scope

    with system_scope(dbs):
        return dbs.scalar(select(MaterialRequest.id).where(MaterialRequest.case_id == case_id))


def test_withdraw_on_paper_is_the_offices_but_not_on_an_online_case(app, dbs, pii, city):
    online = submit_case(dbs, pii)
    _refused_everywhere(app, dbs, online.id, city.clerk, "withdraw", {"reason": "x", "document_note": "y"})
    paper = submit_application(
        dbs, pii, application(dbs, intake=IntakePath.paper), actor=actor_of(city.clerk), today=_today()
    ).case
    dbs.commit()
    browser = sign_in(app, city.clerk)
    response = post_action(
        browser,
        paper.id,
        "withdraw",
        {"reason": "信访人书面撤回。", "document_note": "撤回申请书1页"},
        case_row(dbs, paper.id).version,
    )
    assert response.status_code == 302, alert(response)
    assert case_row(dbs, paper.id).state is CaseState.withdrawn


def test_a_stale_form_gets_409_and_changes_nothing(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    seen = case.version
    clerk = sign_in(app, city.clerk)
    form = clerk.get(f"/staff/cases/{case.id}/actions/accept").get_data(as_text=True)
    assert f'value="{seen}"' in form
    # Meanwhile a colleague records a contact: the case changes.
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "record_contact",
        today=_today(),
        party="petitioner",
        contacted_on=_today().isoformat(),
        summary="电话。",
    )
    response = post_action(clerk, case.id, "accept", {}, seen)
    assert response.status_code == 409
    assert "该案件已被他人更新" in alert(response)
    assert case_row(dbs, case.id).state is CaseState.submitted


@pytest.mark.parametrize(
    ("action", "data", "field"),
    [
        ("reject", {"reason": "bogus", "explanation": "x", "remedy": "y"}, "reason"),
        ("reject", {"reason": "litigation", "explanation": "", "remedy": "y"}, "explanation"),
        ("accept", {"note": "长" * 10_001}, "note"),
        ("request_materials", {"target": "lower_bureau", "content": "x", "due_on": "2020-01-01"}, "due_on"),
        ("request_materials", {"target": "lower_bureau", "content": "x", "due_on": "not a date"}, "due_on"),
    ],
)
def test_bad_input_is_422_with_the_fields_message(app, dbs, pii, city, action, data, field):
    case = submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    response = post_action(clerk, case.id, action, data, case.version)
    assert response.status_code == 422, alert(response)
    html = response.get_data(as_text=True)
    assert 'aria-invalid="true"' in html or 'class="error"' in html
    after = case_row(dbs, case.id)
    assert after.state is CaseState.submitted and after.version == case.version


def test_script_in_text_is_shown_as_text(app, dbs, pii, city):
    case = submit_case(dbs, pii, request="<script>alert(1)</script>请求")
    clerk = sign_in(app, city.clerk)
    response = post_action(clerk, case.id, "accept", {"note": "<img src=x onerror=alert(1)>"}, case.version)
    assert response.status_code == 302
    page = clerk.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "<img src=x" not in page


def test_wrong_state_page_says_why_with_409(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    response = clerk.get(f"/staff/cases/{case.id}/actions/dispatch")
    assert response.status_code == 409 and "不能交办" in alert(response)
    assert clerk.get(f"/staff/cases/{case.id}/actions/escalate").status_code == 404
    assert clerk.get(f"/staff/cases/{case.id}/actions/nonsense").status_code == 404
