"""The lean public read path: what the tracking page and the tracking API send to the database, statement by
statement. A kept page or answer costs the stamp's look-up (one function call outside the ORM session, on an
autocommit connection); a new one adds the case's own read in its bureau's scope, one statement."""

from __future__ import annotations

from portal.cases.queries import local_today
from portal.workflow import CaseState
from public_site.api.applications import ANSWERS
from public_site.track import PAGES
from tests.helpers import csrf_token, sql_of
from tests.portal.cases.conftest import drive
from tests.public_site.helpers import application_json, case_by_number
from tests.staff_site.conftest import Browser

SCOPE = "SELECT set_config('app.system'"  # the tenant scope of the transaction (row-level security)
CASE = "FROM cases WHERE cases.tenant_id = %(tenant_id)s::INTEGER AND cases.id = %(case_id)s"  # the case, all shown


def statements_of(app, browser, url: str, **kw) -> tuple[object, list[str]]:
    """The response to one GET of ``browser`` (its own app context, as in production), its statements through the
    ORM and, first, one "stamp" per call of the stamp reader."""
    reader = app.extensions["portal.stamps"]
    row, stamps = reader.row, []

    def counted(number):
        stamps.append("stamp")
        return row(number)

    reader.row = counted
    try:
        response, statements = sql_of(app, lambda: browser.get(url, **kw))
    finally:
        del reader.row
    return response, stamps + statements


def shape(statements: list[str]) -> list[str]:
    """Each statement named by what it reads (anything else by its first 60 characters)."""
    out = []
    for s in statements:
        if s.startswith(SCOPE):
            out.append("scope")
        elif s == "stamp":
            out.append("stamp")
        elif CASE in s:
            out.append("case")
        else:
            out.append(s[:60])
    return out


def replied_and_granted(app, dbs, pii, city) -> tuple[Browser, dict]:
    """A replied review (the longest path: the re-review window) and a browser that proved its code."""
    browser = Browser(app)
    response = browser.post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    drive(dbs, pii, city, case_by_number(dbs, body["number"]).id, CaseState.replied, today=local_today())
    token = csrf_token(browser, "/track")
    granted = browser.post("/track", data={"csrf_token": token, "number": body["number"], "code": body["access_code"]})
    assert granted.status_code == 302
    return browser, body


def test_the_tracking_page_reads_the_case_once_and_a_kept_page_only_its_stamp(app, dbs, pii, city):
    browser, body = replied_and_granted(app, dbs, pii, city)
    url = f"/track/{body['number']}"

    # The first opening records the delivery (送达, a write of its own, once) and fills the process's copies of the
    # reference data (staff, tree, time limits, contact block).
    first, statements = statements_of(app, browser, url)
    assert first.status_code == 200 and any("INSERT INTO deadlines" in s for s in statements)

    # A page not kept (another worker, or the day after): the stamp, then the case in its bureau's scope, in one
    # statement; staff, tree, time limits and contact come from memory.
    PAGES.clear()
    page, statements = statements_of(app, browser, url)
    assert page.status_code == 200 and "申请复核" in page.get_data(as_text=True)
    assert shape(statements) == ["stamp", "scope", "case"], "\n".join(statements)
    # The ORM's tenant filter is there too (prepared once per scope), beside row-level security.
    assert "cases.tenant_id IN (" in statements[2] and "case_events.tenant_id IN (" in statements[2]

    # The kept page: the stamp's look-up, nothing more.
    kept, statements = statements_of(app, browser, url)
    assert kept.status_code == 200 and kept.get_data() == page.get_data()
    assert shape(statements) == ["stamp"], "\n".join(statements)


def test_the_tracking_api_reads_the_case_once_and_a_kept_answer_only_its_stamp(app, dbs, pii, city):
    browser, body = replied_and_granted(app, dbs, pii, city)
    url, code = f"/api/v1/applications/{body['number']}", {"X-Access-Code": body["access_code"]}
    first, _ = statements_of(app, browser, url, headers=code)  # records the delivery
    assert first.status_code == 200 and first.get_json()["escalation"]["delivered_on"] is not None

    ANSWERS.clear()
    answer, statements = statements_of(app, browser, url, headers=code)
    assert answer.status_code == 200 and answer.get_json()["escalation"]["possible"] is True
    # The code is checked against the stamp's row: the same call reads the hash.
    assert shape(statements) == ["stamp", "scope", "case"], "\n".join(statements)

    kept, statements = statements_of(app, browser, url, headers=code)
    assert kept.status_code == 200 and kept.get_json() == answer.get_json()
    assert shape(statements) == ["stamp"], "\n".join(statements)


def test_a_wrong_code_and_an_unknown_number_cost_the_same_statement_and_one_comparison(
    app, dbs, pii, city, monkeypatch
):
    browser, body = replied_and_granted(app, dbs, pii, city)
    url, code = f"/api/v1/applications/{body['number']}", {"X-Access-Code": body["access_code"]}
    assert browser.get(url, headers=code).status_code == 200  # the answer is kept now
    comparisons: list[str] = []
    matches = pii.matches

    def counted(value, expected):
        comparisons.append(expected)
        return matches(value, expected)

    monkeypatch.setattr(pii, "matches", counted)
    wrong, wrong_statements = statements_of(app, browser, url, headers={"X-Access-Code": "AAAA-BBBB-CCCC"})
    unknown_url = "/api/v1/applications/FC2026-ZZZZZZZZ"
    unknown, unknown_statements = statements_of(app, browser, unknown_url, headers=code)
    assert wrong.status_code == unknown.status_code == 404 and wrong.get_json() == unknown.get_json()
    assert "ETag" not in wrong.headers and "ETag" not in unknown.headers
    assert wrong_statements == unknown_statements and shape(wrong_statements) == ["stamp"]
    assert len(comparisons) == 2  # one keyed-hash comparison each (a dummy hash for the unknown number)
