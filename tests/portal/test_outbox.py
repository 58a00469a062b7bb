"""Outbox delivery against real PostgreSQL, a real SMTP server and Redis: fan-out, exactly-once, retries, failure."""

from __future__ import annotations

import dataclasses
import json
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import select, text, update

from portal import create_app
from portal.cases.models import CaseParty, Outbox
from portal.cases.operations import PartyInput
from portal.extensions import db, limiter
from portal.notify.email import SmtpMailer, parse_smtp_url
from portal.notify.models import StaffNotification
from portal.outbox import (
    OutboxError,
    OutboxRowNotFound,
    Transports,
    backoff,
    claim,
    deliver_one,
    dispatch_due,
    retry_failed,
    scrub,
)
from portal.roles import Role
from tenants.scoping import system_scope
from tests.helpers import make_staff
from tests.mail_server import MailServer, free_port
from tests.portal.cases.conftest import VALID_ID, act, staff_bureau, submit


class RecordingGateway:
    """Stands in for an SMS provider: records what it was asked to send."""

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def describe(self) -> str:
        return "recording"

    def send(self, phone: str, text: str, *, key: str) -> None:
        self.sent.append((phone, text, key))


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


@pytest.fixture
def city(dbs):
    return staff_bureau(dbs, "220100", "cc")


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture
def sms():
    return RecordingGateway()


def transports(pii, mail_url: str, sms, **overrides) -> Transports:
    values = {
        "pii": pii,
        "mailer": SmtpMailer(parse_smtp_url(mail_url + "?timeout=5")),
        "sms": sms,
        "mail_from": "吉林社保信访 <noreply@bureau.example>",
        "public_base_url": "https://portal.example",
        "max_attempts": 3,
        "retry_seconds": 1,
    }
    values.update(overrides)
    return Transports(**values)


def rows_of(dbs, case_id: int) -> list[Outbox]:
    with system_scope(dbs):
        return list(
            dbs.scalars(
                select(Outbox)
                .where(Outbox.case_id == case_id)
                .order_by(Outbox.id)
                .execution_options(populate_existing=True)
            )
        )


def by_kind(dbs, case_id: int) -> dict[str, Outbox]:
    return {r.kind: r for r in rows_of(dbs, case_id)}


def make_due(dbs, *row_ids: int) -> None:
    """Move the backoff of rows into the past (instead of sleeping through it)."""
    with system_scope(dbs):
        dbs.execute(
            update(Outbox)
            .where(Outbox.id.in_(row_ids))
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        dbs.commit()


def test_received_notice_goes_once_by_email_and_sms_without_personal_data_in_the_outbox(dbs, pii, mail, sms):
    case = submit(dbs, pii).case
    [row] = rows_of(dbs, case.id)
    assert (row.kind, row.status) == ("notify_petitioner", "pending")

    t = transports(pii, mail.url, sms)
    assert dispatch_due(dbs, t) == {"sent": 3}  # the fan-out row, then the e-mail and the SMS it wrote
    rows = by_kind(dbs, case.id)
    assert {k: r.status for k, r in rows.items()} == {
        "notify_petitioner": "sent",
        "petitioner_email": "sent",
        "petitioner_sms": "sent",
    }
    assert rows["notify_petitioner"].payload["channels"] == ["email", "sms"]
    stored = json.dumps([r.payload for r in rows.values()] + [r.dedupe_key for r in rows.values()], ensure_ascii=False)
    for personal in ("zs@example.com", "13800138000", VALID_ID, "张三", "人民大街"):
        assert personal not in stored

    [email] = mail.wait_for(1)
    assert email["To"] == "zs@example.com"
    body = email.get_payload(decode=True).decode()
    assert case.number in body
    assert "2026年10月8日前决定是否受理" in body  # 15 working days after 10 September, National Day skipped
    assert "by 2026-10-08" in body
    assert "https://portal.example/track" in body
    assert "张三" not in body
    [(phone, text, key)] = sms.sent
    assert phone == "13800138000" and text.startswith("【社保信访】") and case.number in text
    assert key == f"outbox:{case.tenant_id}:received:{case.id}:sms"

    # Nothing is sent twice: another dispatch, or the per-row job run again, finds nothing to do.
    assert dispatch_due(dbs, t) == {}
    assert deliver_one(dbs, t, case.tenant_id, rows["petitioner_email"].id) == "skipped"
    time.sleep(0.2)
    assert len(mail.messages) == 1 and len(sms.sent) == 1


def test_only_the_channels_the_petitioner_gave(dbs, pii, mail, sms):
    case = submit(dbs, pii, petitioner=PartyInput(name="李四", id_number=VALID_ID, phone="13900139000")).case
    assert dispatch_due(dbs, transports(pii, mail.url, sms)) == {"sent": 2}
    assert set(by_kind(dbs, case.id)) == {"notify_petitioner", "petitioner_sms"}
    assert mail.messages == [] and [s[0] for s in sms.sent] == ["13900139000"]


def test_the_address_is_read_when_sending_not_when_the_row_was_written(dbs, pii, mail, sms):
    case = submit(dbs, pii).case
    with system_scope(dbs):
        party = dbs.scalar(select(CaseParty).where(CaseParty.case_id == case.id))
        party.email_enc = pii.encrypt("new-address@example.com")
        dbs.commit()
    dispatch_due(dbs, transports(pii, mail.url, sms))
    assert [m["To"] for m in mail.wait_for(1)] == ["new-address@example.com"]


def test_a_staff_action_notifies_the_petitioner(dbs, pii, mail, sms, city):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    with system_scope(dbs):
        dispatch_due(dbs, transports(pii, mail.url, sms))
    subjects = sorted(m["Subject"] for m in mail.wait_for(2))
    assert subjects == sorted(
        [
            "复查申请已收到 / Your application for review was received",
            "复查申请已受理 / Your application for review was accepted",
        ]
    )


def test_smtp_down_retries_with_backoff_then_fails_visibly_and_a_retry_by_hand_delivers(dbs, pii, sms, city):
    admin = make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_x")
    server = MailServer()  # its port stays closed until start(): the mail server is down
    t = transports(pii, server.url, sms)
    case = submit(dbs, pii).case
    assert dispatch_due(dbs, t) == {"sent": 2, "retry": 1}
    email = by_kind(dbs, case.id)["petitioner_email"]
    assert (email.status, email.attempts) == ("pending", 1)
    assert "ConnectionRefused" in email.last_error
    first_wait = email.next_attempt_at - datetime.now(UTC)
    assert timedelta(0) < first_wait <= timedelta(seconds=1)
    assert dispatch_due(dbs, t) == {}  # not due before the backoff ends

    time.sleep(1.1)
    assert dispatch_due(dbs, t) == {"retry": 1}
    email = by_kind(dbs, case.id)["petitioner_email"]
    assert email.attempts == 2
    assert timedelta(seconds=1) < email.next_attempt_at - datetime.now(UTC) <= timedelta(seconds=2)  # doubled

    make_due(dbs, email.id)
    assert dispatch_due(dbs, t) == {"failed": 1}  # the third attempt was the last (OUTBOX_MAX_ATTEMPTS=3)
    email = by_kind(dbs, case.id)["petitioner_email"]
    assert email.status == "failed" and email.last_error
    with system_scope(dbs):
        notices = dbs.scalars(select(StaffNotification).where(StaffNotification.user_id == admin.id)).all()
    assert [(n.kind, n.params["channel"]) for n in notices] == [("delivery_failed", "email")]
    make_due(dbs, email.id)
    assert dispatch_due(dbs, t) == {}  # failed rows are not retried by themselves

    with system_scope(dbs):
        retry_failed(dbs, email.id)
        dbs.commit()
    server.start()
    try:
        assert dispatch_due(dbs, t) == {"sent": 1}
        assert len(server.wait_for(1)) == 1
        email = by_kind(dbs, case.id)["petitioner_email"]
        assert (email.status, email.last_error) == ("sent", None)
    finally:
        server.stop()


def test_a_refused_message_fails_at_once(dbs, pii, mail, sms):
    mail.handler.reject = "550 5.1.1 <zs@example.com>: Recipient address rejected"
    case = submit(dbs, pii).case
    dispatch_due(dbs, transports(pii, mail.url, sms, max_attempts=8))
    email = by_kind(dbs, case.id)["petitioner_email"]
    assert (email.status, email.attempts) == ("failed", 1)
    assert "550" in email.last_error and "zs@example.com" not in email.last_error


def test_a_row_locked_by_another_worker_is_skipped(dbs, pii, owner_engine, mail, sms):
    case = submit(dbs, pii).case
    [row] = rows_of(dbs, case.id)
    t = transports(pii, mail.url, sms)
    with owner_engine.connect() as other:
        other.execute(text("SELECT id FROM outbox WHERE id = :id FOR UPDATE"), {"id": row.id})
        assert claim(dbs, t) is None
        other.rollback()
    taken = claim(dbs, t)
    assert taken is not None and (taken.id, taken.attempts) == (row.id, 1)
    # The claim moved the row's next attempt past the backoff: nobody else takes it meanwhile.
    assert claim(dbs, t) is None


def test_document_rows_are_left_for_the_documents_code(dbs, pii, mail, sms, city):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    with system_scope(dbs):
        dispatch_due(dbs, transports(pii, mail.url, sms))
    documents = [r for r in rows_of(dbs, case.id) if r.kind == "render_document"]
    assert documents and all((r.status, r.attempts) == ("pending", 0) for r in documents)


def test_retry_by_hand_only_for_failed_rows_of_ones_own_bureau(dbs, pii, mail, sms):
    case = submit(dbs, pii).case
    [row] = rows_of(dbs, case.id)
    with system_scope(dbs), pytest.raises(OutboxError):
        retry_failed(dbs, row.id)
    dbs.rollback()
    with system_scope(dbs):
        dbs.execute(update(Outbox).where(Outbox.id == row.id).values(status="failed"))
        dbs.commit()
        with pytest.raises(OutboxRowNotFound):
            retry_failed(dbs, row.id, tenant_id=case.tenant_id + 1)
        assert retry_failed(dbs, row.id, tenant_id=case.tenant_id).status == "pending"
        dbs.commit()


def test_rows_are_enqueued_after_commit(app, dbs, pii, city):
    redis = app.extensions["portal.redis"]
    notifications, documents = Queue("notifications", connection=redis), Queue("documents", connection=redis)
    case = submit(dbs, pii).case
    [row] = rows_of(dbs, case.id)
    jobs = notifications.get_jobs()
    assert [(j.func_name, j.args) for j in jobs] == [
        ("worker.tasks.notifications.deliver_outbox", (case.tenant_id, row.id))
    ]
    assert jobs[0].timeout == 120
    act(dbs, pii, city.clerk, case.id, "accept")
    notice = next(r for r in rows_of(dbs, case.id) if r.kind == "render_document")
    assert [(j.func_name, j.args) for j in documents.get_jobs()] == [
        ("worker.tasks.documents.render_document", (case.tenant_id, notice.id))
    ]
    assert len(notifications.get_jobs()) == 2  # and the acceptance notice to the petitioner


def test_without_redis_the_commit_succeeds_quickly_and_the_row_waits(_app, settings, owner_engine):
    closed = f"redis://127.0.0.1:{free_port()}/0"
    app = create_app(dataclasses.replace(settings, redis_url=closed))
    try:
        with app.app_context():
            pii = app.extensions["portal.pii"]
            with system_scope(db.session):
                started = time.monotonic()
                first = submit(db.session, pii).case
                second = submit(db.session, pii, today=date(2026, 9, 11)).case
                elapsed = time.monotonic() - started
                rows = db.session.scalars(select(Outbox).where(Outbox.case_id.in_([first.id, second.id]))).all()
            assert elapsed < 3, elapsed
            assert [r.status for r in rows] == ["pending", "pending"]
            db.session.remove()
            db.engine.dispose()
    finally:
        from tests.conftest import reset_database

        reset_database(owner_engine)
        limiter.init_app(_app)  # the limiter is shared: point it back at the test app


def test_backoff_doubles_up_to_six_hours():
    assert [backoff(n, 60).total_seconds() for n in (1, 2, 3, 4)] == [60, 120, 240, 480]
    assert backoff(30, 60) == timedelta(hours=6)


def test_errors_shown_to_administrators_hold_no_addresses():
    error = scrub("550 <zhang.san@example.com> refused; call +8613800138000 or 13900139000")
    assert "example.com" not in error and "138" not in error and "139" not in error
