"""The work queue: who sees what, filters, search (ID numbers through their keyed hash), marks, pages of 50,
supervision of the bureaus below, and a bounded number of SQL statements whatever the number of rows."""

from __future__ import annotations

import re
from datetime import date

from sqlalchemy import event

from portal.cases.operations import PartyInput
from portal.cases.queries import local_today
from portal.extensions import db
from tests.portal.cases.conftest import act
from tests.staff_site.conftest import sign_in, submit_case

LI_ID = "220102198001011234"
JOINT_ID = "220102199002024568"


def numbers(html: str) -> list[str]:
    """The case numbers listed, in order."""
    return re.findall(r'class="number" href="/staff/cases/\d+">([^<]+)</a>', html)


def listing(browser, query: str = "") -> list[str]:
    response = browser.get("/staff/cases" + query)
    assert response.status_code == 200
    return numbers(response.get_data(as_text=True))


def test_each_person_sees_what_waits_for_them(app, dbs, pii, city):
    today = local_today()
    waiting_acceptance = submit_case(dbs, pii)
    with_leader = submit_case(dbs, pii, petitioner=PartyInput(name="李四", id_number=LI_ID), request="工伤认定有误。")
    act(dbs, pii, city.clerk, with_leader.id, "accept", today=today)
    act(
        dbs,
        pii,
        city.clerk,
        with_leader.id,
        "submit_slip",
        today=today,
        proposal="建议。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
    )
    clerk, leader, division, business = (
        sign_in(app, city.clerk),
        sign_in(app, city.petitions_leader),
        sign_in(app, city.division),
        sign_in(app, city.business_leader),
    )
    assert listing(clerk) == [waiting_acceptance.number]
    assert listing(leader) == [with_leader.number]
    assert listing(division) == []
    assert listing(division, "?view=unit") == [with_leader.number]  # the pension division leads it
    assert listing(business) == []
    assert sorted(listing(clerk, "?view=all")) == sorted([waiting_acceptance.number, with_leader.number])
    # After the instruction and hand-over the case waits for the division; after its opinion, for the approver.
    act(dbs, pii, city.petitions_leader, with_leader.id, "instruct", today=today, instruction="同意。")
    act(dbs, pii, city.clerk, with_leader.id, "dispatch", today=today, note="已交办。")
    assert listing(division) == [with_leader.number]
    act(dbs, pii, city.division, with_leader.id, "submit_opinion", today=today, opinion="意见。", needs_approval=True)
    assert listing(business) == [with_leader.number] and listing(division) == []


def test_filters_and_search(app, dbs, pii, city):
    today = local_today()
    plain = submit_case(dbs, pii)
    li = submit_case(
        dbs,
        pii,
        petitioner=PartyInput(name="李四", id_number=LI_ID),
        joint_petitioners=(PartyInput(name="王五", id_number=JOINT_ID),),
        request="工伤认定有误，请求重新认定。",
    )
    act(dbs, pii, city.clerk, li.id, "accept", today=today)
    act(
        dbs, pii, city.clerk, li.id, "submit_slip", today=today, proposal="建议。", complexity="complex",
        lead_unit_id=city.pension_unit, assisting_unit_ids=[city.audit_unit],
    )  # fmt: skip
    clerk = sign_in(app, city.clerk)
    all_ = "?view=all"
    assert listing(clerk, all_ + "&state=awaiting_instruction") == [li.number]
    assert listing(clerk, all_ + "&state=submitted") == [plain.number]
    assert listing(clerk, all_ + "&complexity=complex") == [li.number]
    assert listing(clerk, all_ + f"&unit={city.audit_unit}") == [li.number]  # an assisting unit counts
    assert listing(clerk, all_ + "&kind=re_review") == []
    assert listing(clerk, all_ + "&intake=paper") == []
    assert sorted(listing(clerk, all_ + "&intake=online")) == sorted([plain.number, li.number])
    assert sorted(listing(clerk, all_ + "&state=bogus&kind=<script>")) == sorted([plain.number, li.number])
    # Search: case number (any spacing and case), name, ID number (keyed hash, not stored in clear), words.
    assert listing(clerk, all_ + "&q=" + li.number.lower()) == [li.number]
    assert listing(clerk, all_ + "&q=李四") == [li.number]
    assert listing(clerk, all_ + f"&q={LI_ID}") == [li.number]
    assert listing(clerk, all_ + f"&q={JOINT_ID}") == [li.number]  # a joint petitioner's ID number
    assert listing(clerk, all_ + "&q=１１０１０５１９４９１２３１００２ｘ") == [
        plain.number
    ]  # full-width, lower-case x
    assert listing(clerk, all_ + "&q=工伤认定") == [li.number]
    assert listing(clerk, all_ + "&q=%25") == [] and listing(clerk, all_ + "&q=_") == []


def test_marks_and_order_by_nearest_deadline(app, dbs, pii, city):
    today = local_today()
    fresh = submit_case(dbs, pii)  # acceptance due in 15 working days
    overdue = submit_case(dbs, pii, request="很早以前收到的申请。")
    from tests.portal.cases.conftest import submit

    old = submit(dbs, pii, today=date(2026, 9, 1), request="九月收到的申请。").case  # acceptance overdue
    act(dbs, pii, city.clerk, overdue.id, "accept", today=today)  # slip due tomorrow: due soon
    clerk = sign_in(app, city.clerk)
    html = clerk.get("/staff/cases?view=all").get_data(as_text=True)
    assert numbers(html) == [old.number, overdue.number, fresh.number]
    rows = html.split("<tbody>")[1].split("</tr>")
    assert 'class="is-overdue"' in rows[0] and "due overdue" in rows[0]
    assert 'class="is-soon"' in rows[1] and "due soon" in rows[1]
    assert "is-" not in rows[2].split(">")[0]
    assert listing(clerk, "?view=all&overdue=1") == [old.number]


def test_pages_of_fifty_and_a_bounded_number_of_queries(app, dbs, pii, city):
    for _ in range(5):
        submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    clerk.get("/staff/cases?view=all")  # the process's first look fills its copies of the reference data
    few = _statements(app, clerk, "/staff/cases?view=all")
    for _ in range(55):
        submit_case(dbs, pii)
    many = _statements(app, clerk, "/staff/cases?view=all")
    assert few == many, "one query for the page, whatever the number of rows"
    assert many <= 20
    first = clerk.get("/staff/cases?view=all").get_data(as_text=True)
    assert len(numbers(first)) == 50 and "60" in first and "cursor=" in first
    cursor = re.search(r'cursor=([^"&]+)', first).group(1)
    assert _statements(app, clerk, f"/staff/cases?view=all&cursor={cursor}") == many, "a later page costs the same"
    second = clerk.get(f"/staff/cases?view=all&cursor={cursor}").get_data(as_text=True)
    assert len(numbers(second)) == 10 and not set(numbers(second)) & set(numbers(first))
    assert "cursor=" not in second and ("First page" in second or "第一页" in second)
    assert listing(clerk, "?view=all&cursor=not-a-cursor") == numbers(first)  # a bad cursor: the first page


def test_mine_pages_and_counts_the_cases_waiting_for_me_once_each(app, dbs, pii, city):
    """The clerk answers for the petition office and for its unit: a new case waits for both, and is listed once."""
    for _ in range(55):
        submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    first = clerk.get("/staff/cases").get_data(as_text=True)
    assert len(numbers(first)) == 50 and re.search(r'class="count">\D*55(?![\d+])', first)
    cursor = re.search(r'cursor=([^"&]+)', first).group(1)
    second = clerk.get(f"/staff/cases?cursor={cursor}").get_data(as_text=True)
    assert len(numbers(second)) == 5 and not set(numbers(second)) & set(numbers(first))
    everything = listing(clerk, "?view=all") + listing(clerk, f"?view=all&cursor={cursor}")
    assert numbers(first) + numbers(second) == everything  # in the same order as the whole bureau
    few = _statements(app, clerk, "/staff/cases")
    assert _statements(app, clerk, f"/staff/cases?cursor={cursor}") == few
    assert listing(clerk, "?state=accepted") == [] and len(listing(clerk, "?state=submitted")) == 50


def test_the_total_is_exact_up_to_the_cap_then_a_lower_bound(app, dbs, pii, city, monkeypatch):
    import portal.cases.queries as queries

    monkeypatch.setattr(queries, "COUNT_CAP", 3)
    for _ in range(3):
        submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    assert re.search(r'class="count">\D*3(?![\d+])', clerk.get("/staff/cases?view=all").get_data(as_text=True))
    submit_case(dbs, pii)
    assert re.search(r'class="count">\D*3\+', clerk.get("/staff/cases?view=all").get_data(as_text=True))


def _statements(app, browser, url: str) -> int:
    with app.app_context():
        engine = db.engine
    seen = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert browser.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return len(seen)


def test_supervision_of_the_bureaus_below_is_read_only(app, dbs, pii, city, province, county):
    case = submit_case(dbs, pii)
    pv = sign_in(app, province.clerk)
    assert listing(pv, "?view=all") == []
    assert listing(pv, "?view=supervision") == [case.number]
    assert listing(pv, f"?view=supervision&bureau={city.bureau_id}") == [case.number]
    assert listing(pv, f"?view=supervision&bureau={county.bureau_id}") == []
    page = pv.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert "/actions/" not in page and "110***********002X" in page  # masked: the province does not handle it
    # The city supervises its counties but never sees the province's own cases; a county has no supervision tab.
    cc = sign_in(app, city.clerk)
    assert "view=supervision" in cc.get("/staff/cases").get_data(as_text=True)
    ng = sign_in(app, county.clerk)
    html = ng.get("/staff/cases").get_data(as_text=True)
    assert "view=supervision" not in html
    assert listing(ng, "?view=supervision") == [] and listing(ng, "?view=all") == []


def test_the_lower_bureau_sees_requests_addressed_to_it(app, dbs, pii, city, county):
    today = local_today()
    case = submit_case(dbs, pii)
    act(dbs, pii, city.clerk, case.id, "accept", today=today)
    act(
        dbs, pii, city.clerk, case.id, "request_materials", today=today, target="lower_bureau",
        target_bureau_id=county.bureau_id, content="请提供原处理意见及依据。", due_on=today.isoformat(),
    )  # fmt: skip
    ng = sign_in(app, county.clerk)
    html = ng.get("/staff/cases").get_data(as_text=True)
    assert "请提供原处理意见及依据。" in html and case.number in html and "长春市社会保险局" in html
    assert "张三" not in html  # the request, not the petitioner
    # Another county does not see it.
    from tests.portal.cases.conftest import staff_bureau

    other = staff_bureau(dbs, "220104", "cy")
    assert "请提供原处理意见及依据。" not in sign_in(app, other.clerk).get("/staff/cases").get_data(as_text=True)


def test_walking_the_pages_by_cursor_gives_the_whole_queue_in_order_once(app, dbs, pii, city):
    """Cursor pages read each part of the order after the cursor by its own range (the rest of the day, later days,
    no deadline): walked three rows at a time they give exactly the one-page listing, ties and closed cases too."""
    from portal.cases.queries import list_queue, parse_filters
    from tests.portal.cases.conftest import submit

    today = local_today()
    for day in (date(2026, 9, 1), date(2026, 9, 1), date(2026, 10, 8), None, None):
        case = submit(dbs, pii, today=day or today).case
        if day is None:  # refused at once: closed, no deadline (the end of the order)
            refusal = {"reason": "outside_scope", "explanation": "不属于本局。", "remedy": "无。"}
            act(dbs, pii, city.clerk, case.id, "reject", **refusal)
    for _ in range(3):
        submit_case(dbs, pii)  # same day, same deadline: ordered by id
    dbs.commit()
    clerk = city.clerk

    def walk(args: dict) -> list[str]:
        walked, cursor = [], None
        for _ in range(10):  # a cursor that does not move on would page forever
            shown = list_queue(dbs, pii, clerk, parse_filters({**args, "cursor": cursor}), today, page_size=3)
            walked += [row.case.number for row in shown.rows]
            if shown.next_cursor is None:
                return walked
            cursor = shown.next_cursor
        raise AssertionError(f"still paging after 10 pages: {walked}")

    rows = list_queue(dbs, pii, clerk, parse_filters({"view": "all"}), today).rows
    whole = [row.case.number for row in rows]
    assert len(whole) == 8 and walk({"view": "all"}) == whole
    assert [row.case.next_due_on for row in rows[-2:]] == [None, None]  # the closed ones last
    # "Mine", filtered: its page comes from the filtered set of the reader's work, after the cursor too.
    waiting = [
        row.case.number for row in list_queue(dbs, pii, clerk, parse_filters({"state": "submitted"}), today).rows
    ]
    assert len(waiting) == 6 and walk({"state": "submitted"}) == waiting
    # "Mine", overdue only: a range of the reader's work items (due before today), the same cases as the filter.
    overdue = list_queue(dbs, pii, clerk, parse_filters({"view": "all", "overdue": "1"}), today)
    late = list_queue(dbs, pii, clerk, parse_filters({"overdue": "1"}), today)
    late_numbers = [row.case.number for row in late.rows]
    assert late_numbers == [row.case.number for row in overdue.rows] and len(late_numbers) >= 2  # September's
    assert late_numbers == whole[: len(late_numbers)] and late.total == len(late_numbers)
    assert walk({"overdue": "1"}) == late_numbers
