"""The tracking page reads each thing once: a bounded number of SQL statements per request."""

from __future__ import annotations

from sqlalchemy import event

from portal.cases.queries import local_today
from portal.extensions import db
from portal.workflow import CaseState
from tests.helpers import csrf_token
from tests.portal.cases.conftest import drive
from tests.public_site.helpers import application_json, case_by_number
from tests.staff_site.conftest import Browser

# 28 when the case's rules view was built twice and the time-limit table read three times; 19 since; 21 with the
# petitioner's rating and the bureau's contact block (one statement each).
MAX_STATEMENTS = 22


def statements_of(app, browser, url: str) -> list[str]:
    """The SQL statements one request of ``browser`` (its own app context, as in production) sends."""
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        response = browser.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200, url
    return seen


def reads(statements: list[str], fragment: str) -> int:
    return sum(fragment in " ".join(s.split()) for s in statements)


def test_the_tracking_page_of_a_replied_case_runs_a_bounded_number_of_statements(app, dbs, pii, city):
    browser = Browser(app)
    response = browser.post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    drive(dbs, pii, city, case_by_number(dbs, body["number"]).id, CaseState.replied, today=local_today())
    token = csrf_token(browser, "/track")
    granted = browser.post("/track", data={"csrf_token": token, "number": body["number"], "code": body["access_code"]})
    assert granted.status_code == 302

    # The first opening records the delivery (送达, a write of its own, once); every later view is the read below.
    first = statements_of(app, browser, f"/track/{body['number']}")
    assert any("INSERT INTO deadlines" in " ".join(x.split()) for x in first)
    statements = statements_of(app, browser, f"/track/{body['number']}")
    # A replied case takes the longest path (the re-review window); its rules view is built once.
    assert reads(statements, "FROM step_rules") == 1
    assert reads(statements, "FROM units") == 1
    assert reads(statements, "FROM meetings") == 0  # meetings are the office's records; petitioners see none
    assert reads(statements, "bureaus.path LIKE") == 1  # the subtree
    assert reads(statements, "FROM satisfaction_ratings") == 1 and reads(statements, "FROM bureau_contacts") == 1
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)
