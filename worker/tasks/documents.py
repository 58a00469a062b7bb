"""Rendering the documents that the workflow's outbox asks for (queue "documents").

``render_pending_documents`` is the periodic sweep: it renders every due "render_document" row, each in its own
transaction, so one bad row never holds back the others. ``render_document`` does one row (for a dispatcher that
enqueues rows as they appear). Both lock the row with SKIP LOCKED, so a sweep and a dispatcher never render the
same row at once, and ``render_outbox_row`` finds a document that already exists and creates nothing.

A template that cannot be filled fails the row at once (``render_outbox_row`` marks it). Any other error (storage
or database unavailable) rolls the work back and leaves the row pending with ``last_error`` and a later
``next_attempt_at``; after ``MAX_ATTEMPTS`` it is marked failed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.models import Outbox
from portal.documents.service import RENDER_KIND, RenderResult, render_outbox_row
from portal.extensions import db
from portal.pii import PersonalData
from portal.storage import Storage
from tenants.scoping import system_scope
from worker.jobs import job

log = logging.getLogger(__name__)

BATCH = 200
MAX_ATTEMPTS = 8
ERROR_MAX = 2000


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, at most an hour."""
    return timedelta(minutes=min(2 ** max(attempts - 1, 0), 60))


def due_rows(session: Session, limit: int = BATCH) -> list[tuple[int, int]]:
    """(bureau, id) of the pending "render_document" rows whose time has come, oldest first."""
    with system_scope(session):
        ids = session.execute(
            select(Outbox.tenant_id, Outbox.id)
            .where(
                Outbox.kind == RENDER_KIND,
                Outbox.status == "pending",
                Outbox.next_attempt_at <= datetime.now(UTC),
            )
            .order_by(Outbox.id)
            .limit(limit)
        ).all()
    session.commit()
    return [(tenant_id, row_id) for tenant_id, row_id in ids]


def process_row(
    session: Session, storage: Storage, pii: PersonalData, tenant_id: int, outbox_id: int
) -> RenderResult | None:
    """Render one outbox row in its own transaction and commit; None when it is locked, gone or done."""
    with system_scope(session):
        row = session.scalar(
            select(Outbox)
            .where(
                Outbox.tenant_id == tenant_id,
                Outbox.id == outbox_id,
                Outbox.kind == RENDER_KIND,
                Outbox.status == "pending",
            )
            .with_for_update(skip_locked=True)
        )
        if row is None:
            session.rollback()
            return None
        row.attempts = (row.attempts or 0) + 1
        try:
            result = render_outbox_row(session, storage, pii, row)
            session.commit()
        except Exception as exc:
            session.rollback()
            log.exception("cannot render document", extra={"outbox_id": outbox_id})
            _record_failure(session, tenant_id, outbox_id, exc)
            return RenderResult("retry", None, _describe(exc))
    if result.status == "failed":
        log.warning("document not rendered", extra={"outbox_id": outbox_id, "error": result.error})
    return result


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:ERROR_MAX]


def _record_failure(session: Session, tenant_id: int, outbox_id: int, exc: Exception) -> None:
    """Count a failed attempt in a fresh transaction; give up after MAX_ATTEMPTS."""
    row = session.scalar(select(Outbox).where(Outbox.tenant_id == tenant_id, Outbox.id == outbox_id).with_for_update())
    if row is None or row.status != "pending":
        session.rollback()
        return
    row.attempts = (row.attempts or 0) + 1  # the attempt counted with the work was rolled back with it
    row.last_error = _describe(exc)
    if row.attempts >= MAX_ATTEMPTS:
        row.status = "failed"
    else:
        row.next_attempt_at = datetime.now(UTC) + retry_delay(row.attempts)
    session.commit()


def run_pending(session: Session, storage: Storage, pii: PersonalData, limit: int = BATCH) -> dict[str, int]:
    """Render every due row (up to ``limit``); returns how many rows ended in each status."""
    counts: dict[str, int] = {}
    for tenant_id, outbox_id in due_rows(session, limit):
        result = process_row(session, storage, pii, tenant_id, outbox_id)
        status = result.status if result else "skipped"
        counts[status] = counts.get(status, 0) + 1
    return counts


def _services() -> tuple[Storage, PersonalData]:
    return current_app.extensions["portal.storage"], current_app.extensions["portal.pii"]


@job
def render_pending_documents(limit: int = BATCH) -> dict[str, int]:
    """Periodic: render every due "render_document" outbox row, one transaction each."""
    counts = run_pending(db.session, *_services(), limit=limit)
    if counts:
        log.info("documents rendered", extra={"counts": counts})
    return counts


@job
def render_document(tenant_id: int, outbox_id: int) -> str:
    """Render one "render_document" outbox row (idempotent)."""
    result = process_row(db.session, *_services(), tenant_id, outbox_id)
    return result.status if result else "skipped"
