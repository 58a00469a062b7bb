"""The background-work pages at /staff/ops: notifications, failed messages, queues, the holiday calendar."""

from __future__ import annotations

import io
import re
from datetime import date

from sqlalchemy import select, update

from portal.cases.models import CalendarYear, Outbox
from portal.notify.models import StaffNotification
from portal.roles import Role
from portal.sweeps import SweepConfig, missing_calendar_year, run_sweep
from tenants.scoping import system_scope
from tests.helpers import csrf_token, make_staff
from tests.portal.cases.conftest import submit
from tests.staff_site.conftest import sign_in

RECEIVED = date(2026, 9, 10)  # acceptance due 8 October 2026 (after National Day)
YEAR_2027 = (
    '{"year": 2027, "source": "国务院办公厅通知<script>alert(1)</script>",'
    ' "holidays": [{"date": "2027-01-01", "name": "元旦"}], "workdays": []}'
).encode()


def sweep(dbs, on: date) -> None:
    with system_scope(dbs):
        run_sweep(dbs, on, SweepConfig())
        dbs.commit()


def token(browser, path: str = "/staff/ops/notifications") -> str:
    return csrf_token(browser, path)


def test_my_notifications_show_reminders_and_escalations_and_can_be_marked_read(app, dbs, pii, city):
    case = submit(dbs, pii, today=RECEIVED).case
    sweep(dbs, date(2026, 9, 28))
    sweep(dbs, date(2026, 10, 9))

    clerk = sign_in(app, city.clerk)
    page = clerk.get("/staff/ops/notifications")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"案件{case.number}“决定是否受理”将于2026-10-08到期，还有3个工作日。" in html
    assert "已逾期1个工作日，请尽快办理" in html
    # The reminder and digest of 28 September, the overdue alert and digest of 9 October.
    assert "4 unread" in clerk.get("/staff/ops/notifications?lang=en").get_data(as_text=True)
    assert f'href="/staff/cases/{case.id}"' in html

    leader = sign_in(app, city.petitions_leader)
    html = leader.get("/staff/ops/notifications?lang=en").get_data(as_text=True)
    assert f"For follow-up: case {case.number}" in html and "1 working day overdue" in html

    with system_scope(dbs):
        mine = dbs.scalars(select(StaffNotification).where(StaffNotification.user_id == city.clerk.id)).all()
        theirs = dbs.scalar(select(StaffNotification).where(StaffNotification.user_id == city.petitions_leader.id))
    csrf = token(clerk)
    assert clerk.post(f"/staff/ops/notifications/{theirs.id}/read", data={"csrf_token": csrf}).status_code == 404
    assert clerk.post(f"/staff/ops/notifications/{mine[0].id}/read", data={}).status_code == 400  # no CSRF token
    assert clerk.post(f"/staff/ops/notifications/{mine[0].id}/read", data={"csrf_token": csrf}).status_code == 302
    assert clerk.post("/staff/ops/notifications/read-all", data={"csrf_token": csrf}).status_code == 302
    with system_scope(dbs):
        dbs.expire_all()
        assert all(
            n.read_at for n in dbs.scalars(select(StaffNotification).where(StaffNotification.user_id == city.clerk.id))
        )
        assert dbs.scalar(select(StaffNotification.read_at).where(StaffNotification.id == theirs.id)) is None


def test_a_days_alerts_of_one_kind_are_one_notification_with_a_line_and_link_per_case(app, dbs, pii, city):
    cases = [submit(dbs, pii, today=RECEIVED).case for _ in range(3)]  # listed by due date, then oldest first
    sweep(dbs, date(2026, 10, 9))
    clerk = sign_in(app, city.clerk)
    html = clerk.get("/staff/ops/notifications").get_data(as_text=True)
    assert html.count("3项期限已逾期，请尽快办理。") == 1
    for case in cases:
        assert (
            f'<a href="/staff/cases/{case.id}">{case.number} 决定是否受理：2026-10-08到期，已逾期1个工作日</a>' in html
        )
    api = clerk.get("/api/v1/staff/notifications?lang=en").get_json()
    [overdue] = [n for n in api["notifications"] if n["kind"] == "overdue"]
    assert overdue["text"] == "3 time limits are overdue. Please act now." and overdue["case"] is None
    assert overdue["items"] == [f"{c.number} Acceptance decision: due 2026-10-08, 1 working day overdue" for c in cases]


def test_failed_messages_are_shown_to_administrators_who_can_retry_them(app, dbs, pii, city):
    admin_user = make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_ops")
    case = submit(dbs, pii, today=RECEIVED).case
    with system_scope(dbs):
        dbs.execute(
            update(Outbox)
            .where(Outbox.case_id == case.id)
            .values(status="failed", attempts=8, last_error="ConnectionRefusedError: [Errno 111] Connection refused")
        )
        row_id = dbs.scalar(select(Outbox.id).where(Outbox.case_id == case.id))
        dbs.commit()

    assert sign_in(app, city.clerk).get("/staff/ops/messages").status_code == 403
    admin = sign_in(app, admin_user)
    html = admin.get("/staff/ops/messages").get_data(as_text=True)
    assert "Connection refused" in html and f"/staff/ops/messages/{row_id}/retry" in html
    response = admin.post(
        f"/staff/ops/messages/{row_id}/retry", data={"csrf_token": token(admin, "/staff/ops/messages")}
    )
    assert response.status_code == 302
    with system_scope(dbs):
        dbs.expire_all()
        row = dbs.scalar(select(Outbox).where(Outbox.id == row_id))
    assert (row.status, row.attempts) == ("pending", 0)
    # A second retry of a row that is no longer failed changes nothing and says why.
    again = admin.post(f"/staff/ops/messages/{row_id}/retry", data={"csrf_token": token(admin, "/staff/ops/messages")})
    assert again.status_code == 302
    assert "只有发送失败的消息才能重试" in admin.get("/staff/ops/messages").get_data(as_text=True)
    assert admin.post("/staff/ops/messages/999999/retry", data={"csrf_token": token(admin)}).status_code == 404
    huge = admin.post(f"/staff/ops/messages/{2**70}/retry", data={"csrf_token": token(admin)})
    assert huge.status_code == 404


def test_queue_monitoring_for_administrators(app, dbs, pii, city):
    admin_user = make_staff(dbs, "220000", Role.province_admin, username="pv_admin_q")
    city_admin = make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_q")
    submit(dbs, pii, today=RECEIVED)  # one delivery job waits in the notifications queue
    sweep(dbs, date(2026, 9, 28))
    assert sign_in(app, city.clerk).get("/staff/ops/queues").status_code == 403
    # The workers, the gateway and failed jobs are the deployment's: not a city's (or a county's) administrator's.
    assert sign_in(app, city_admin).get("/staff/ops/queues").status_code == 403
    html = sign_in(app, admin_user).get("/staff/ops/queues?lang=en").get_data(as_text=True)
    assert re.search(r"<td>notifications</td><td>1</td>", html)
    assert "<td>deadlines</td>" in html and "2026-09-28" in html  # the last sweep, from PostgreSQL
    assert "log (SMTP_URL not set)" in html


def test_calendar_administration(app, dbs, city):
    province_admin = make_staff(dbs, "220000", Role.province_admin, username="pv_padmin")
    assert sign_in(app, city.clerk).get("/staff/ops/calendar").status_code == 403
    browser = sign_in(app, province_admin)
    page = browser.get("/staff/ops/calendar?lang=en").get_data(as_text=True)
    assert "2026" in page and "chinese_calendar" in page
    if missing_calendar_year(dbs, date.today()):  # from 1 November on, until next year is loaded
        assert "holiday calendar is not loaded" in page

    csrf = token(browser, "/staff/ops/calendar")
    bad = browser.post(
        "/staff/ops/calendar?lang=en",
        data={"csrf_token": csrf, "file": (io.BytesIO(b'{"year": 2027}'), "2027.json")},
        content_type="multipart/form-data",
    )
    assert bad.status_code == 400 and "Missing keys" in bad.get_data(as_text=True)
    with system_scope(dbs):
        assert dbs.get(CalendarYear, 2027) is None

    ok = browser.post(
        "/staff/ops/calendar",
        data={"csrf_token": csrf, "file": (io.BytesIO(YEAR_2027), "2027.json")},
        content_type="multipart/form-data",
    )
    assert ok.status_code == 302
    page = browser.get("/staff/ops/calendar").get_data(as_text=True)
    assert "<td>2027</td>" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "not loaded" not in browser.get("/staff/ops/calendar?lang=en").get_data(as_text=True)
