"""A leader declares their own absence and stand-ins at /staff/absences (§四.4, issue 14 rule 5)."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.accounts.absences import add_absence
from portal.audit import AuditEntry
from portal.cases.models import StaffAbsence
from portal.cases.queries import local_today
from portal.workflow import CaseState
from tenants.scoping import scope_for_bureau, scoped, system_scope
from tests.helpers import csrf_token
from tests.staff_site.conftest import act_page, alert, case_row, sign_in, submit_case

PAGE = "/staff/absences"


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _rows(dbs, **where) -> list[StaffAbsence]:
    with system_scope(dbs):
        dbs.expire_all()
        query = select(StaffAbsence).order_by(StaffAbsence.id)
        for key, value in where.items():
            query = query.where(getattr(StaffAbsence, key) == value)
        return list(dbs.scalars(query))


def _audit(dbs, action: str) -> list[AuditEntry]:
    with system_scope(dbs):
        dbs.expire_all()
        return list(dbs.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)))


def _declare(browser, **fields):
    today = local_today()
    data = {
        "starts_on": today.isoformat(),
        "ends_on": (today + timedelta(days=2)).isoformat(),
        "stand_in_id": "",
        **fields,
    }
    return browser.post(PAGE, data={"csrf_token": csrf_token(browser, PAGE), **data})


def _record(dbs, city, leader, start, end, stand_in=None, **powers) -> StaffAbsence:
    """A period recorded behind the page (e.g. by the administrator, or one that began before today)."""
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        row = add_absence(
            dbs,
            city.bureau_id,
            user_id=leader.id,
            starts_on=start,
            ends_on=end,
            stand_in_id=stand_in.id if stand_in else None,
            **powers,
        )
        dbs.commit()
        return row


def test_a_leader_declares_their_absence_and_the_stand_in_approves_the_slip(app, dbs, pii, city):
    """As a user would: the petitions leader declares today away with the principal for the slip; the slip goes to
    the principal, who instructs it; the audit log and the stand-in's own page say so."""
    leader = sign_in(app, city.petitions_leader)
    home = _text(leader.get("/staff/"))
    assert f'href="{PAGE}"' in home and "我的外出" in home
    response = _declare(leader, stand_in_id=str(city.principal.id), stand_in_powers=["slip"], note="赴京开会")
    assert response.status_code == 302, alert(response)
    [row] = _rows(dbs)
    assert (row.user_id, row.stand_in_id, row.stand_in_slip, row.stand_in_signing, row.note) == (
        city.petitions_leader.id,
        city.principal.id,
        True,
        False,
        "赴京开会",
    )
    page = _text(leader.get(PAGE))
    assert "赴京开会" in page and city.principal.display_name in page and "外出中" in page
    [entry] = _audit(dbs, "absence_recorded")
    assert (entry.actor_username, entry.target, entry.tenant_id) == ("cc_pl", "cc_pl", city.bureau_id)
    assert entry.after["stand_in"] == "cc_principal" and entry.after["slip"] is True

    principal = sign_in(app, city.principal)
    standing_in = _text(principal.get(PAGE)).split("您代理的领导")[1]
    assert city.petitions_leader.display_name in standing_in and "代签" not in standing_in.split("</section>")[0]

    case = submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    assert act_page(clerk, case.id, "accept", {"note": "材料齐全。"}).status_code == 302
    slip = {"proposal": "建议交养老保险处审查。", "complexity": "complex", "lead_unit_id": str(city.pension_unit)}
    assert act_page(clerk, case.id, "submit_slip", {**slip, "approver_id": ""}).status_code == 302
    assert case_row(dbs, case.id).approver_id == city.principal.id
    done = act_page(principal, case.id, "instruct", {"instruction": "同意，请养老保险处审查。"})
    assert done.status_code == 302, alert(done)
    assert case_row(dbs, case.id).state is CaseState.instructed


def test_different_stand_ins_for_the_slip_and_for_signing_over_the_same_days(app, dbs, city):
    leader = sign_in(app, city.petitions_leader)
    first = _declare(leader, stand_in_id=str(city.principal.id), stand_in_powers=["slip"])
    assert first.status_code == 302
    second = _declare(leader, stand_in_id=str(city.business_leader.id), stand_in_powers=["signing"])
    assert second.status_code == 302, alert(second)
    from portal.approvers import acting_for, signing_for
    from portal.cases.context import BureauStaff

    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        views = BureauStaff(dbs, city.bureau_id).leader_views
    today = local_today()
    assert acting_for(city.principal.id, today, views) == {city.petitions_leader.id}
    assert signing_for(city.principal.id, today, views) == frozenset()
    assert signing_for(city.business_leader.id, today, views) == {city.petitions_leader.id}
    # A second stand-in for a power already given on those days is refused: who acts is never a matter of order.
    third = _declare(
        leader,
        starts_on=(today + timedelta(days=1)).isoformat(),
        stand_in_id=str(city.business_leader.id),
        stand_in_powers=["slip"],
    )
    assert third.status_code == 400 and "已指定了相同代理事项的代理人" in _text(third)
    assert len(_rows(dbs)) == 2


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ends_on": "YESTERDAY"}, "结束日期不能早于开始日期"),
        ({"starts_on": "YESTERDAY"}, "外出开始日期不能早于今天"),
        ({"stand_in_id": "SELF"}, "不是有效的选择"),  # the form offers the other leaders only
        ({"stand_in_id": "CLERK"}, "不是有效的选择"),  # not a leader
        ({"stand_in_id": "COUNTY"}, "不是有效的选择"),  # another bureau's leader
        ({"stand_in_id": "PRINCIPAL", "stand_in_powers": []}, "请选择代理人的代理事项"),
        ({"ends_on": "FAR"}, "366"),
        ({"starts_on": "soon"}, "不是有效的日期值"),
        ({"note": "x" * 201}, "200"),
    ],
)
def test_a_bad_declaration_says_why_and_changes_nothing(app, dbs, city, county, change, message):
    today = local_today()
    values = {
        "YESTERDAY": (today - timedelta(days=1)).isoformat(),
        "FAR": (today + timedelta(days=400)).isoformat(),
        "SELF": str(city.petitions_leader.id),
        "CLERK": str(city.clerk.id),
        "COUNTY": str(county.business_leader.id),
        "PRINCIPAL": str(city.principal.id),
    }
    leader = sign_in(app, city.petitions_leader)
    response = _declare(leader, **{k: values.get(v, v) if isinstance(v, str) else v for k, v in change.items()})
    assert response.status_code == 400
    assert message in _text(response)
    assert _rows(dbs) == [] and _audit(dbs, "absence_recorded") == []


def test_a_leader_declares_for_themself_only(app, dbs, city):
    """There is no "who" on the form: a forged user_id is ignored; another leader's periods are not theirs to end."""
    leader = sign_in(app, city.petitions_leader)
    response = _declare(leader, user_id=str(city.business_leader.id))
    assert response.status_code == 302
    [row] = _rows(dbs)
    assert row.user_id == city.petitions_leader.id
    today = local_today()
    others = _record(dbs, city, city.business_leader, today, today, note="业务领导的外出")
    assert "业务领导的外出" not in _text(leader.get(PAGE))
    token = csrf_token(leader, PAGE)
    assert leader.post(f"{PAGE}/{others.id}/end", data={"csrf_token": token}).status_code == 404
    assert leader.post(f"{PAGE}/999999999/end", data={"csrf_token": token}).status_code == 404
    assert _rows(dbs, id=others.id)[0].ends_on == today


def test_staff_who_are_not_leaders_have_no_absence_page(app, dbs, city):
    clerk = sign_in(app, city.clerk)
    assert clerk.get(PAGE).status_code == 403
    assert f'href="{PAGE}"' not in _text(clerk.get("/staff/"))
    token = csrf_token(clerk, "/staff/")
    assert clerk.post(PAGE, data={"csrf_token": token, "starts_on": local_today().isoformat()}).status_code == 403
    assert _rows(dbs) == []


def test_end_a_current_period_cancel_a_coming_one_and_keep_a_past_one(app, dbs, city):
    today = local_today()
    leader = sign_in(app, city.petitions_leader)
    current = _record(dbs, city, city.petitions_leader, today - timedelta(days=3), today + timedelta(days=3))
    coming = _record(dbs, city, city.petitions_leader, today + timedelta(days=10), today + timedelta(days=12))
    past = _record(dbs, city, city.petitions_leader, today - timedelta(days=20), today - timedelta(days=18))
    page = _text(leader.get(PAGE))
    assert f"{PAGE}/{current.id}/end" in page and f"{PAGE}/{coming.id}/end" in page
    assert f"{PAGE}/{past.id}/end" not in page  # nothing to do with a period that is over

    token = csrf_token(leader, PAGE)
    assert leader.post(f"{PAGE}/{current.id}/end", data={"csrf_token": token}).status_code == 302
    assert _rows(dbs, id=current.id)[0].ends_on == today - timedelta(days=1)  # back today: the past days stay
    [ended] = _audit(dbs, "absence_ended")
    assert ended.before["ends_on"] == (today + timedelta(days=3)).isoformat()
    assert ended.after["ends_on"] == (today - timedelta(days=1)).isoformat()

    assert leader.post(f"{PAGE}/{coming.id}/end", data={"csrf_token": token}).status_code == 302
    assert _rows(dbs, id=coming.id) == []
    [cancelled] = _audit(dbs, "absence_cancelled")
    assert cancelled.before["starts_on"] == (today + timedelta(days=10)).isoformat()

    refused = leader.post(f"{PAGE}/{past.id}/end", data={"csrf_token": token}, follow_redirects=True)
    assert "该外出期间已结束" in _text(refused)
    assert _rows(dbs, id=past.id)[0].ends_on == today - timedelta(days=18)
    # Without the form's token nothing happens.
    assert leader.post(f"{PAGE}/{current.id}/end", data={}).status_code == 400


def test_the_administrators_changes_to_absences_are_audited_too(app, dbs, city):
    from portal.roles import Role
    from tests.helpers import make_staff

    admin = sign_in(app, make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_abs"))
    today = local_today()
    data = {
        "user_id": str(city.petitions_leader.id),
        "starts_on": today.isoformat(),
        "ends_on": today.isoformat(),
        "stand_in_id": str(city.principal.id),
        "stand_in_powers": ["signing"],
    }
    path = "/staff/admin/absences"
    assert admin.post(path, data={"csrf_token": csrf_token(admin, path), **data}).status_code == 302
    [row] = _rows(dbs)
    [recorded] = _audit(dbs, "absence_recorded")
    assert (recorded.actor_username, recorded.target, recorded.after["signing"]) == ("cc_admin_abs", "cc_pl", True)
    token = csrf_token(admin, path)
    assert admin.post(f"{path}/{row.id}/delete", data={"csrf_token": token}).status_code == 302
    [removed] = _audit(dbs, "absence_removed")
    assert removed.before["stand_in"] == "cc_principal"
