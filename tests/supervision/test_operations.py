"""Supervision orders round trip, the sensitive flag and the satisfaction rating: records, history and walls."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from portal.cases.history import verify_case
from portal.cases.operations import CaseNotFound
from portal.roles import Role
from portal.supervision.models import Satisfaction, SatisfactionRating, SupervisionOrder
from portal.supervision.operations import (
    ANSWER_EVENT,
    FLAG_EVENT,
    ORDER_EVENT,
    RATE_EVENT,
    UNFLAG_EVENT,
    OrderNotFound,
    answer_order,
    get_rating,
    issue_order,
    may_rate,
    parse_rating,
    rate_case,
    rating_json,
    set_sensitive,
)
from portal.supervision.queries import count_open_orders, list_case_orders, list_inbox, list_issued
from portal.workflow import ActionRefused, CaseState
from tenants.scoping import TenantScope, apply_scope, get_scope, scope_for_bureau, scoped, set_scope, system_scope
from tests.helpers import EVERY_ROLE, app_role_engine, make_staff
from tests.portal.cases.conftest import act, case_events, drive, load_case, submit
from tests.supervision.helpers import CHANGCHUN, CHAOYANG, NANGUAN, PROVINCE, Spec, insert

TODAY = date(2026, 9, 11)


@pytest.fixture
def people(dbs):
    return {
        "cc": make_staff(dbs, CHANGCHUN, Role.petitions_leader, username="sv_cc_leader"),
        "cc_div": make_staff(dbs, CHANGCHUN, Role.division_staff, unit="pension", username="sv_cc_div"),
        "ng": make_staff(dbs, NANGUAN, Role.petition_office_head, unit="petition_office", username="sv_ng_head"),
        "ng_admin": make_staff(dbs, NANGUAN, Role.bureau_admin, username="sv_ng_admin"),
        "cy": make_staff(
            dbs,
            CHAOYANG,
            *EVERY_ROLE,
            username="sv_cy_all",
        ),
        "pv": make_staff(dbs, PROVINCE, Role.petition_office_head, unit="petition_office", username="sv_pv_head"),
    }


def as_user(dbs, user):
    return scoped(dbs, scope_for_bureau(dbs, user.tenant_id))


def test_order_round_trip_city_to_county(dbs, ids, people):
    [case_id] = insert(dbs, [Spec(NANGUAN, state=CaseState.in_review)])
    with as_user(dbs, people["cc"]):
        before = get_scope(dbs)
        order = issue_order(dbs, case_id, people["cc"], "请于九月底前报告办理进展。", date(2026, 9, 30), today=TODAY)
        assert get_scope(dbs) is before, "the issuer's scope comes back at once"
        dbs.commit()
    order_id = order.id
    assert order.tenant_id == ids[NANGUAN] and order.issuer_bureau_id == ids[CHANGCHUN]

    # 南关区 sees it in its inbox and answers it.
    with as_user(dbs, people["ng"]):
        inbox = list_inbox(dbs, ids[NANGUAN], TODAY)
        assert [r.order.id for r in inbox] == [order_id]
        assert inbox[0].issuer_name.startswith("长春市") and not inbox[0].overdue
        assert count_open_orders(dbs, ids[NANGUAN]) == 1
        answer_order(dbs, order_id, people["ng"], "已督促承办部门，预计九月二十五日办结。")
        dbs.commit()
        assert count_open_orders(dbs, ids[NANGUAN]) == 0
        with pytest.raises(ActionRefused) as again:
            answer_order(dbs, order_id, people["ng"], "再次答复")
        assert again.value.code == "wrong_state"
        dbs.rollback()

    # 长春市 reads the answer among the orders it issued.
    with as_user(dbs, people["cc"]):
        issued = list_issued(dbs, ids[CHANGCHUN], TODAY)
        assert [(r.order.id, r.order.answer) for r in issued] == [(order_id, "已督促承办部门，预计九月二十五日办结。")]
        assert [r.order.id for r in list_case_orders(dbs, load_case(dbs, case_id), TODAY)] == [order_id]

    # Both are in the case's hash-chained history, attributed to their bureaus, and the chain is intact.
    events = case_events(dbs, case_id)
    assert [e.action for e in events] == [ORDER_EVENT, ANSWER_EVENT]
    assert events[0].actor_bureau_id == ids[CHANGCHUN] and events[0].fields["instruction"].startswith("请于九月底")
    assert events[0].fields["due_on"] == "2026-09-30" and events[0].fields["order_id"] == order_id
    assert events[1].actor_bureau_id == ids[NANGUAN] and events[1].fields["order_id"] == order_id
    assert all(e.tenant_id == ids[NANGUAN] and e.state_before == e.state_after == "in_review" for e in events)
    with system_scope(dbs):
        assert verify_case(dbs, load_case(dbs, case_id)) is None

    # 朝阳区 (the sibling) sees nothing: ORM scope, the read helpers, and row-level security.
    with as_user(dbs, people["cy"]):
        assert dbs.scalars(select(SupervisionOrder)).all() == []
        assert list_inbox(dbs, ids[CHAOYANG], TODAY) == [] and list_issued(dbs, ids[CHAOYANG], TODAY) == []
        with pytest.raises(OrderNotFound):
            answer_order(dbs, order_id, people["cy"], "越权答复")
        with pytest.raises(CaseNotFound):
            issue_order(dbs, case_id, people["cy"], "越权督办", date(2026, 9, 30), today=TODAY)
        dbs.rollback()


def test_order_rows_are_walled_by_row_level_security(dbs, settings, ids, people):
    [case_id] = insert(dbs, [Spec(NANGUAN)])
    with as_user(dbs, people["cc"]):
        issue_order(dbs, case_id, people["cc"], "督办", date(2026, 9, 30), today=TODAY)
        dbs.commit()
    engine = app_role_engine(settings)
    try:
        for reader, expected in ((CHAOYANG, 0), (NANGUAN, 1), (CHANGCHUN, 1)):
            with engine.begin() as conn:
                scope = TenantScope(acting=ids[reader], readable=frozenset(_subtree(dbs, ids[reader])))
                apply_scope(conn, scope)
                assert conn.scalar(text("SELECT count(*) FROM supervision_orders")) == expected, reader
                # Only the case's bureau may change the row: the issuing city cannot rewrite it afterwards.
                changed = conn.execute(text("UPDATE supervision_orders SET instruction = 'x'")).rowcount
                assert changed == (1 if reader == NANGUAN else 0), reader
                conn.rollback()
    finally:
        engine.dispose()


def _subtree(dbs, bureau_id):
    from tenants.scoping import subtree_ids

    return subtree_ids(dbs, bureau_id)


def test_order_refusals(dbs, ids, people):
    [case_id] = insert(dbs, [Spec(NANGUAN)])
    [cc_case] = insert(dbs, [Spec(CHANGCHUN)])

    def refused(user, case, instruction="督办", due=date(2026, 9, 30)):
        with as_user(dbs, user):
            try:
                with pytest.raises(ActionRefused) as exc:
                    issue_order(dbs, case, user, instruction, due, today=TODAY)
                return exc.value
            finally:
                dbs.rollback()

    assert refused(people["cc_div"], case_id).code == "forbidden"  # division staff do not supervise
    assert refused(people["ng"], case_id).code == "forbidden"  # not a bureau below: its own case
    assert refused(people["cc"], cc_case).code == "forbidden"  # the city's own case
    assert refused(people["cc"], case_id, instruction="   ").field == "instruction"
    assert refused(people["cc"], case_id, instruction="长" * 2001).field == "instruction"
    assert refused(people["cc"], case_id, instruction="a\x00b").field == "instruction"
    assert refused(people["cc"], case_id, instruction=["not", "text"]).field == "instruction"
    assert refused(people["cc"], case_id, due=date(2026, 9, 10)).field == "due_on"
    assert refused(people["cc"], case_id, due=date(2027, 9, 12)).field == "due_on"
    assert refused(people["cc"], case_id, due="2026-09-30").field == "due_on"
    with system_scope(dbs):
        assert dbs.scalars(select(SupervisionOrder)).all() == []
    assert case_events(dbs, case_id) == []
    # The province, two levels up, may supervise the county too.
    with as_user(dbs, people["pv"]):
        assert issue_order(dbs, case_id, people["pv"], "省局督办", date(2026, 9, 30), today=TODAY).id
        dbs.commit()
    # The city between them reads the province's order but cannot answer it: only 南关区 answers.
    with as_user(dbs, people["cc"]):
        [row] = list_case_orders(dbs, load_case(dbs, case_id), TODAY)
        assert row.issuer_name.startswith("吉林省")
        with pytest.raises(OrderNotFound):
            answer_order(dbs, row.order.id, people["cc"], "代答")
        dbs.rollback()


def test_province_supervises_a_city_case_driven_by_the_workflow(dbs, pii, city, people, ids):
    case_id = submit(dbs, pii).case.id
    drive(dbs, pii, city, case_id, CaseState.in_review)
    with as_user(dbs, people["pv"]):
        issue_order(dbs, case_id, people["pv"], "请加快办理。", date(2026, 9, 20), today=TODAY)
        dbs.commit()
    # The workflow goes on: the order changed no state, and the next action is accepted.
    act(dbs, pii, city.division, case_id, "submit_opinion", TODAY, opinion="原意见正确。", needs_approval=True)
    events = case_events(dbs, case_id)
    assert [e.action for e in events][-2:] == [ORDER_EVENT, "submit_opinion"]
    assert load_case(dbs, case_id).state is CaseState.awaiting_approval
    with system_scope(dbs):
        assert verify_case(dbs, load_case(dbs, case_id)) is None


def test_sensitive_flag(dbs, ids, people):
    [case_id] = insert(dbs, [Spec(NANGUAN)])
    with as_user(dbs, people["ng"]):
        set_sensitive(dbs, case_id, people["ng"], True, "信访人情绪激动，多次到访。")
        dbs.commit()
        with pytest.raises(ActionRefused) as twice:
            set_sensitive(dbs, case_id, people["ng"], True, "再次标记")
        assert twice.value.code == "wrong_state"
        dbs.rollback()
        for bad in ("", "   ", "理" * 201):
            with pytest.raises(ActionRefused) as exc:
                set_sensitive(dbs, case_id, people["ng"], False, bad)
            assert exc.value.field == "reason"
            dbs.rollback()
        with pytest.raises(ActionRefused) as admin:
            set_sensitive(dbs, case_id, people["ng_admin"], False, "管理员")
        assert admin.value.code == "forbidden"
        dbs.rollback()
    assert load_case(dbs, case_id).sensitive is True
    with as_user(dbs, people["cc"]), pytest.raises(CaseNotFound):  # an ancestor reads, never writes
        set_sensitive(dbs, case_id, people["cc"], False, "上级取消")
    dbs.rollback()
    with as_user(dbs, people["ng"]):
        set_sensitive(dbs, case_id, people["ng"], False, "情况已平稳。")
        dbs.commit()
    events = case_events(dbs, case_id)
    assert [(e.action, e.fields["reason"]) for e in events] == [
        (FLAG_EVENT, "信访人情绪激动，多次到访。"),
        (UNFLAG_EVENT, "情况已平稳。"),
    ]
    assert load_case(dbs, case_id).sensitive is False


def test_satisfaction_once_per_replied_case(dbs, pii, city):
    case_id = submit(dbs, pii).case.id
    drive(dbs, pii, city, case_id, CaseState.drafting_reply)
    case = load_case(dbs, case_id)
    set_scope(dbs, TenantScope.single(case.tenant_id))  # what the tracking page holds
    try:
        assert not may_rate(dbs, case)
        with pytest.raises(ActionRefused) as early:
            rate_case(dbs, case, "satisfied")
        assert early.value.code == "wrong_state"
        dbs.rollback()
    finally:
        set_scope(dbs, TenantScope.system_wide())
    drive(dbs, pii, city, case_id, CaseState.replied)
    case = load_case(dbs, case_id)
    set_scope(dbs, TenantScope.single(case.tenant_id))
    try:
        assert may_rate(dbs, case)
        assert rating_json(None, can_rate=True) == {
            "rated": False,
            "can_rate": True,
            "rating": None,
            "comment": None,
            "rated_at": None,
        }
        for rating, comment, field in (
            ("very", None, "rating"),
            (None, None, "rating"),
            (["satisfied"], None, "rating"),
            ("satisfied", "长" * 501, "comment"),
            ("satisfied", "a\x00", "comment"),
        ):
            with pytest.raises(ActionRefused) as bad:
                rate_case(dbs, case, rating, comment)
            assert (bad.value.code, bad.value.field) == ("invalid", field)
            dbs.rollback()
        row = rate_case(dbs, case, "dissatisfied", "  <script>alert(1)</script>  ", account_id=None)
        dbs.commit()
        assert row.rating is Satisfaction.dissatisfied and row.comment == "<script>alert(1)</script>"
        assert rating_json(get_rating(dbs, case))["rating"] == "dissatisfied"
        assert not may_rate(dbs, case)
        with pytest.raises(ActionRefused) as twice:
            rate_case(dbs, case, "satisfied")
        assert twice.value.code == "wrong_state"
        dbs.rollback()
        # The database backs the rule on its own.
        dbs.add(SatisfactionRating(tenant_id=case.tenant_id, case_id=case.id, rating=Satisfaction.satisfied))
        with pytest.raises(IntegrityError):
            dbs.flush()
        dbs.rollback()
    finally:
        set_scope(dbs, TenantScope.system_wide())
    [event] = [e for e in case_events(dbs, case_id) if e.action == RATE_EVENT]
    assert event.public and event.actor_kind == "petitioner" and event.fields["rating"] == "dissatisfied"
    assert parse_rating("basically_satisfied", "") == (Satisfaction.basically_satisfied, None)
