"""Delivering the outbox: one row right after its commit, and every due row periodically."""

from __future__ import annotations

from datetime import UTC, datetime

from portal.extensions import db
from portal.outbox import deliver_one, dispatch_due
from portal.sweeps import china_today, record_run
from worker.jobs import job
from worker.queues import get_transports


@job
def deliver_outbox(tenant_id: int, row_id: int) -> str:
    """Deliver one outbox row if it is still due (a no-op once it is sent or failed)."""
    return deliver_one(db.session, get_transports(), tenant_id, row_id)


@job
def dispatch_outbox() -> dict[str, int]:
    """Deliver every due row: rows whose enqueue failed, retries after backoff, rows of a worker that died.

    Commits once per row (inside ``portal.outbox``): the 'sent' mark must be committed right after each send.
    """
    started = datetime.now(UTC)
    counts = dispatch_due(db.session, get_transports())
    record_run(db.session, "outbox", started_at=started, for_date=china_today(started), result=counts)
    return counts
