"""The staff case page and queue read the reference tables (time limits, calendar, bureau subtree) once."""

from __future__ import annotations

from portal.cases.queries import local_today
from portal.workflow import CaseState
from tests.portal.cases.conftest import drive
from tests.public_site.test_tracking_queries import reads, statements_of
from tests.staff_site.conftest import sign_in, submit_case


def test_the_case_page_reads_each_reference_table_once(app, dbs, pii, city):
    case = submit_case(dbs, pii)
    drive(dbs, pii, city, case.id, CaseState.replied, today=local_today())
    clerk = sign_in(app, city.clerk)
    statements = statements_of(app, clerk, f"/staff/cases/{case.id}")
    # The session's scope and the case's rules view share one subtree read (two before).
    assert reads(statements, "bureaus.path LIKE") == 1
    assert reads(statements, "FROM step_rules") == 1
    assert reads(statements, "FROM calendar_years") == 1
    # 27 before issue 9, 26 after; then the header's unread count, the other cases on the same disputed document,
    # the meetings that name the case and the signing stand-ins came with issues 14 and 15.
    assert len(statements) <= 30, "\n".join(statements)


def test_the_queue_reads_the_subtree_and_the_own_bureau_once(app, dbs, pii, city):
    submit_case(dbs, pii)
    clerk = sign_in(app, city.clerk)
    statements = statements_of(app, clerk, "/staff/cases?view=all")
    assert reads(statements, "bureaus.path LIKE") == 1
    assert reads(statements, "SELECT bureaus.name FROM bureaus") == 0  # named from the subtree already loaded
    # 17 before issue 9, 15 after; the header's unread count (issue 15) is one more.
    assert len(statements) <= 16, "\n".join(statements)
