"""Issue 14 through the database: receipt and filing dates (§四.1), delivery (送达) and the 30-day window, the
``late`` reason, repeats and duplicates by matter (§四.14), and the re-review citing the opinion's 文号.

Dates sit around National Day 2026, New Year 2027 and Spring Festival 2027 (2027 not loaded: the statutory
holidays count, provisionally).
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from portal.cases.context import actor_of
from portal.cases.models import Case, CaseEvent
from portal.cases.operations import DuplicateOpenCase, PartyInput, submit_application
from portal.petitioners.operations import record_online_delivery
from portal.petitioners.tracking import tracking_view
from portal.routing import OpinionKind
from portal.workflow import ActionRefused, CaseKind, CaseState, IntakePath, RejectReason, Step
from tenants.scoping import TenantScope, scope_for_bureau, set_scope, system_scope
from tests.portal.cases.conftest import (
    PETITIONER,
    act,
    application,
    case_deadlines,
    case_events,
    drive,
    load_case,
    open_deadline,
    perform,
    submit,
)


def _count(dbs, model) -> int:
    with system_scope(dbs):
        return dbs.scalar(select(func.count()).select_from(model))


def _paper(dbs, pii, city, today, **overrides):
    """Register a paper application at the city, as its clerk; commit."""
    set_scope(dbs, scope_for_bureau(dbs, city.bureau_id))
    data = application(dbs, intake=IntakePath.paper, **overrides)
    result = submit_application(dbs, pii, data, actor=actor_of(city.clerk), today=today)
    dbs.commit()
    return result


def _refused_paper(dbs, pii, city, today, field, **overrides) -> ActionRefused:
    before = (_count(dbs, Case), _count(dbs, CaseEvent))
    set_scope(dbs, scope_for_bureau(dbs, city.bureau_id))
    with pytest.raises(ActionRefused) as info:
        submit_application(
            dbs, pii, application(dbs, intake=IntakePath.paper, **overrides), actor=actor_of(city.clerk), today=today
        )
    dbs.rollback()
    assert (info.value.code, info.value.field) == ("invalid", field), info.value
    assert info.value.message_zh and info.value.message_en
    assert (_count(dbs, Case), _count(dbs, CaseEvent)) == before  # nothing written
    return info.value


# --- 1. Paper: the clock starts at receipt; lateness is judged on filing ------------------------------------


def test_a_paper_application_counts_from_receipt_and_is_late_by_its_filing_date(dbs, pii, city):
    # The opinion reached the petitioner Tue 09-01: its 30th day is Thu 10-01 (National Day), so the window ends
    # on the first working day after the holiday, Thu 10-08.
    common = {"issued_on": date(2026, 8, 28), "received_on": date(2026, 9, 1)}
    # Posted Thu 10-08 (postmark), received by the bureau Sat 10-10 (a make-up working day), registered Tue 10-20.
    result = _paper(
        dbs,
        pii,
        city,
        date(2026, 10, 20),
        application_received_on=date(2026, 10, 10),
        filed_on=date(2026, 10, 8),
        **common,
    )
    case = load_case(dbs, result.case.id)
    assert (case.received_on, case.filed_on, case.late_application) == (date(2026, 10, 10), date(2026, 10, 8), False)
    assert "late" not in result.warnings
    # 15 working days from Sat 10-10: 10-12..16, 10-19..23, 10-26..30: Fri 10-30 (from 10-20 it would be 11-10).
    acceptance = open_deadline(dbs, case.id, "acceptance")
    assert (acceptance.started_on, acceptance.due_on) == (date(2026, 10, 10), date(2026, 10, 30))
    assert result.acceptance_due == date(2026, 10, 30)
    submitted = case_events(dbs, case.id)[0].fields
    assert (submitted["received_on"], submitted["filed_on"], submitted["late"]) == ("2026-10-10", "2026-10-08", False)

    # Posted a day later, Fri 10-09: late, and the staff are told.
    late = _paper(
        dbs,
        pii,
        city,
        date(2026, 10, 20),
        application_received_on=date(2026, 10, 12),
        filed_on=date(2026, 10, 9),
        **common,
    )
    assert load_case(dbs, late.case.id).late_application is True and "late" in late.warnings

    # Without the dates the clerk gave: received and filed on the day of registration.
    plain = _paper(dbs, pii, city, date(2026, 9, 14))
    plain_case = load_case(dbs, plain.case.id)
    assert (plain_case.received_on, plain_case.filed_on) == (date(2026, 9, 14), date(2026, 9, 14))
    # Given only the receipt date, the filing date is the same day.
    received_only = _paper(dbs, pii, city, date(2026, 9, 14), application_received_on=date(2026, 9, 11))
    assert load_case(dbs, received_only.case.id).filed_on == date(2026, 9, 11)


def test_bad_receipt_and_filing_dates_are_refused_and_change_nothing(dbs, pii, city):
    today = date(2026, 9, 14)  # the disputed opinion reached the petitioner on 09-03
    error = _refused_paper(dbs, pii, city, today, "application_received_on", application_received_on=date(2026, 9, 15))
    assert "不能晚于今天" in error.message_zh
    error = _refused_paper(dbs, pii, city, today, "application_received_on", application_received_on=date(2026, 9, 2))
    assert "收到原意见书" in error.message_zh and "2026-09-03" in error.message_zh
    _refused_paper(
        dbs, pii, city, today, "filed_on", application_received_on=date(2026, 9, 10), filed_on=date(2026, 9, 2)
    )
    _refused_paper(
        dbs, pii, city, today, "filed_on", application_received_on=date(2026, 9, 10), filed_on=date(2026, 9, 12)
    )
    _refused_paper(dbs, pii, city, today, "filed_on", filed_on=date(2026, 9, 15))


def test_an_online_application_is_judged_late_with_the_holiday_rule(dbs, pii, city):
    """§3: the intake uses the escalation window's rule: a 30th day on 元旦 2027 moves to Mon 2027-01-04."""
    in_time = submit(dbs, pii, today=date(2027, 1, 4), issued_on=date(2026, 12, 1), received_on=date(2026, 12, 2))
    assert load_case(dbs, in_time.case.id).late_application is False
    late = submit(dbs, pii, today=date(2027, 1, 5), issued_on=date(2026, 12, 1), received_on=date(2026, 12, 2))
    assert load_case(dbs, late.case.id).late_application is True and "late" in late.warnings


def test_a_late_application_is_refused_with_its_own_reason(dbs, pii, city):
    late = submit(dbs, pii, today=date(2026, 10, 9), issued_on=date(2026, 8, 28), received_on=date(2026, 9, 1))
    act(
        dbs,
        pii,
        city.clerk,
        late.case.id,
        "reject",
        date(2026, 10, 12),
        reason="late",
        explanation="超过申请期限。",
        remedy="如有正当理由，可书面说明。",
    )
    case = load_case(dbs, late.case.id)
    assert (case.state, case.reject_reason) == (CaseState.not_accepted, RejectReason.late)


# --- 2. Delivery starts the window --------------------------------------------------------------------------


def _replied(dbs, pii, city, today=date(2026, 8, 25), **overrides) -> Case:
    case_id = submit(dbs, pii, today=today, issued_on=date(2026, 8, 1), received_on=date(2026, 8, 3), **overrides)
    return drive(dbs, pii, city, case_id.case.id, CaseState.replied, today=today)


def test_the_window_has_not_started_until_the_delivery_is_recorded(dbs, pii, city):
    case = _replied(dbs, pii, city)
    assert [d for d in case_deadlines(dbs, case.id) if d.step == Step.escalation_window] == []
    set_scope(dbs, TenantScope.single(case.tenant_id))
    view = tracking_view(dbs, case.tenant_id, case.id, today=date(2026, 12, 6))
    # Not started: open, with no last day, long after signing.
    assert (view.escalation.possible, view.escalation.last_day) == (True, None)


def test_a_delivery_by_post_starts_the_window_over_national_day(dbs, pii, city):
    case = _replied(dbs, pii, city)  # signed Tue 2026-08-25
    # The return receipt is dated Tue 09-01: 30 days end on Thu 10-01, National Day: the window ends Thu 10-08.
    act(dbs, pii, city.clerk, case.id, "record_delivery", date(2026, 9, 7), method="post", delivered_on="2026-09-01")
    window = open_deadline(dbs, case.id, "escalation_window")
    assert (window.started_on, window.due_on, window.provisional) == (date(2026, 9, 1), date(2026, 10, 8), False)
    assert window.explanation["shifted_from"] == "2026-10-01"
    loaded = load_case(dbs, case.id)
    assert (loaded.delivered_on, loaded.delivery_method) == (date(2026, 9, 1), "post")
    event = case_events(dbs, case.id)[-1]
    assert (event.action, event.public, event.fields["delivered_on"]) == ("record_delivery", True, "2026-09-01")
    # Escalation online: in time on Thu 10-08, not on Fri 10-09.
    with pytest.raises(ActionRefused) as info:
        perform(dbs, pii, PETITIONER, case.id, "escalate", date(2026, 10, 9), reason="不服复查意见。")
    assert info.value.code == "wrong_state"
    dbs.rollback()
    result = act(dbs, pii, PETITIONER, case.id, "escalate", date(2026, 10, 8), reason="不服复查意见。")
    assert load_case(dbs, result.new_case.id).disputed_received_on == date(2026, 9, 1)


def test_a_delivery_date_before_the_signing_date_is_refused_and_changes_nothing(dbs, pii, city):
    case = _replied(dbs, pii, city)
    events = len(case_events(dbs, case.id))
    with pytest.raises(ActionRefused) as info:
        perform(
            dbs, pii, city.clerk, case.id, "record_delivery", date(2026, 9, 7), method="post", delivered_on="2026-08-24"
        )
    assert "签发日期（2026-08-25）" in info.value.message_zh
    dbs.rollback()
    for payload in (
        {"method": "in_person", "delivered_on": "2026-08-24"},  # the day before signing
        {"method": "post", "delivered_on": "2026-09-08"},  # after today
        {"method": "post"},  # no date
    ):
        with pytest.raises(ActionRefused) as info:
            perform(dbs, pii, city.clerk, case.id, "record_delivery", date(2026, 9, 7), **payload)
        assert (info.value.code, info.value.field) == ("invalid", "delivered_on")
        assert info.value.message_zh and info.value.message_en
        dbs.rollback()
    loaded = load_case(dbs, case.id)
    assert (loaded.delivered_on, loaded.delivery_method) == (None, None)
    assert len(case_events(dbs, case.id)) == events
    assert [d for d in case_deadlines(dbs, case.id) if d.step == Step.escalation_window] == []
    # Once recorded, it cannot be recorded again.
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "record_delivery",
        date(2026, 9, 7),
        method="in_person",
        delivered_on="2026-08-25",
    )
    with pytest.raises(ActionRefused) as info:
        perform(
            dbs, pii, city.clerk, case.id, "record_delivery", date(2026, 9, 7), method="post", delivered_on="2026-09-01"
        )
    assert info.value.code == "wrong_state"
    dbs.rollback()


def test_opening_the_reply_online_records_the_delivery_around_new_year_2027(dbs, pii, city):
    case = _replied(dbs, pii, city, today=date(2026, 11, 30))
    set_scope(dbs, TenantScope.single(case.tenant_id))
    # First opened Wed 2026-12-02: the 30th day is Fri 2027-01-01 (元旦, 2027 not loaded: provisional): Mon 01-04.
    assert record_online_delivery(dbs, pii, load_case(dbs, case.id), today=date(2026, 12, 2)) is True
    dbs.commit()
    set_scope(dbs, TenantScope.single(case.tenant_id))
    assert record_online_delivery(dbs, pii, load_case(dbs, case.id), today=date(2026, 12, 5)) is False  # once
    loaded = load_case(dbs, case.id)
    assert (loaded.delivered_on, loaded.delivery_method) == (date(2026, 12, 2), "online")
    window = open_deadline(dbs, case.id, "escalation_window")
    assert (window.due_on, window.provisional) == (date(2027, 1, 4), True)
    set_scope(dbs, TenantScope.single(case.tenant_id))
    view = tracking_view(dbs, loaded.tenant_id, loaded.id, today=date(2027, 1, 4))
    assert (view.escalation.possible, view.escalation.last_day, view.escalation.remaining_days) == (
        True,
        date(2027, 1, 4),
        0,
    )
    view = tracking_view(dbs, loaded.tenant_id, loaded.id, today=date(2027, 1, 5))
    assert view.escalation.possible is False


def test_electronic_delivery_counts_from_the_day_the_notice_is_sent_over_spring_festival_2027(dbs, pii, city):
    # Signed and sent Wed 2027-01-06 to a petitioner who chose electronic delivery: the 30th day is Fri 02-05
    # (除夕; 春节 02-05..08 by the statutory rule): the window ends Tue 02-09, provisionally.
    case = _replied(dbs, pii, city, today=date(2027, 1, 6), electronic_delivery=True)
    loaded = load_case(dbs, case.id)
    assert (loaded.delivered_on, loaded.delivery_method) == (date(2027, 1, 6), "electronic")
    window = open_deadline(dbs, case.id, "escalation_window")
    assert (window.started_on, window.due_on, window.provisional) == (date(2027, 1, 6), date(2027, 2, 9), True)
    assert [n["reason"] for n in window.explanation["skipped"]] == ["春节", "春节", "春节", "春节"]


# --- 10. Duplicates and repeats by matter ----------------------------------------------------------------------


def test_a_second_online_application_on_the_same_document_is_a_duplicate_unless_confirmed(dbs, pii, city):
    first = submit(dbs, pii, confirm_duplicate=False).case
    before = _count(dbs, Case)
    with pytest.raises(DuplicateOpenCase) as info:
        submit(dbs, pii, confirm_duplicate=False, document_number="南社保信 [2026] 3 号")
    dbs.rollback()
    assert info.value.case_number == first.number and info.value.code == "duplicate_open_case"
    assert first.number in info.value.message_zh
    assert _count(dbs, Case) == before
    # Another person, or another document: no duplicate.
    other = PartyInput(name="李四", id_number="110105194912310054", phone="13800138001")
    assert submit(dbs, pii, confirm_duplicate=False, petitioner=other).case.duplicate_of_case_number is None
    assert submit(dbs, pii, confirm_duplicate=False, document_number="南社保信〔2026〕4号").case
    # Confirmed: registered, and the staff see the pair linked.
    second = submit(dbs, pii, confirm_duplicate=True)
    assert load_case(dbs, second.case.id).duplicate_of_case_number == first.number
    assert "duplicate_open_case" in second.warnings
    assert case_events(dbs, second.case.id)[0].fields["duplicate_of"] == first.number
    # Once the first is closed, a new application is no duplicate.
    act(dbs, pii, PETITIONER, first.id, "withdraw", reason="撤回。")
    act(dbs, pii, PETITIONER, second.case.id, "withdraw", reason="撤回。")
    assert submit(dbs, pii, confirm_duplicate=False).case.duplicate_of_case_number is None


def test_a_paper_duplicate_is_registered_and_linked(dbs, pii, city):
    first = submit(dbs, pii, confirm_duplicate=False).case
    paper = _paper(dbs, pii, city, date(2026, 9, 14))
    assert load_case(dbs, paper.case.id).duplicate_of_case_number == first.number


def test_a_repeat_after_a_final_re_review_is_found_up_the_chain(dbs, pii, city, province):
    """The review of 南关's opinion, escalated to the province and answered: the same document again is a repeat."""
    review = _replied(dbs, pii, city, today=date(2026, 9, 1))
    act(
        dbs,
        pii,
        city.clerk,
        review.id,
        "record_delivery",
        date(2026, 9, 2),
        method="in_person",
        delivered_on="2026-09-02",
    )
    escalated = act(dbs, pii, PETITIONER, review.id, "escalate", date(2026, 9, 10), reason="不服复查意见。").new_case
    assert load_case(dbs, escalated.id).kind is CaseKind.re_review
    # While the re-review is open: the same matter is neither a repeat nor (a different document) a duplicate.
    assert submit(dbs, pii, today=date(2026, 9, 15)).case.repeat_of_case_number is None
    drive(dbs, pii, province, escalated.id, CaseState.replied, today=date(2026, 9, 20))
    # The 南关 handling opinion again, at the city: flagged with the province's re-review.
    again = submit(dbs, pii, today=date(2026, 10, 8))
    assert load_case(dbs, again.case.id).repeat_of_case_number == escalated.number
    assert "repeat_after_re_review" in again.warnings
    # The city's review opinion again, at the province (the re-review's own disputed document): flagged too.
    number = load_case(dbs, escalated.id).disputed_document_number
    assert number.startswith("长社保信复〔2026〕")
    at_province = submit(
        dbs,
        pii,
        today=date(2026, 10, 8),
        disputed_bureau_id=city.bureau_id,
        opinion_kind=OpinionKind.review,
        document_number=number,
    )
    assert load_case(dbs, at_province.case.id).repeat_of_case_number == escalated.number


# --- The history explains each new clock -----------------------------------------------------------------------


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str):
        with app.app_context():  # a fresh app context and session, like a separate process
            return runner.invoke(args=list(args), catch_exceptions=False)

    return invoke


def test_case_history_explains_the_receipt_and_delivery_clocks(run, dbs, pii, city):
    paper = _paper(
        dbs,
        pii,
        city,
        date(2026, 12, 21),
        application_received_on=date(2026, 12, 18),
        filed_on=date(2026, 12, 16),
        issued_on=date(2026, 12, 1),
        received_on=date(2026, 12, 2),
    ).case
    drive(dbs, pii, city, paper.id, CaseState.replied, today=date(2026, 12, 21))
    act(dbs, pii, city.clerk, paper.id, "record_delivery", date(2026, 12, 28), method="post", delivered_on="2026-12-23")
    out = run("case", "history", paper.number).output
    assert "Filed by the petitioner (postmark or hand-in): 2026-12-16" in out
    assert "Formal opinion delivered: 2026-12-23 (post)" in out
    # The acceptance clock: from the bureau's receipt (Fri 12-18), 15 working days over 元旦 2027 (provisional).
    assert "起算：本局收到书面申请之日（§四.1）。" in out
    assert "Start: the day this bureau received the written application (§四.1)." in out
    assert "自2026年12月18日起算15个工作日" in out and "节假日（元旦）1天" in out
    # The window: 30 days from the return receipt (Wed 12-23) end on Fri 2027-01-22; provisional (2027 not loaded).
    assert "Window to apply for re-review: due 2027-01-22 PROVISIONAL, open" in out
    assert "30 days from 2026-12-23: due 2027-01-22." in out
    assert "Start: the day the review opinion was delivered (by post (date on the return receipt))." in out
    assert "counted with the statutory public holidays and weekends for now" in out
