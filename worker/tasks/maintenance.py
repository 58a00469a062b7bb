"""Keeping the deployment healthy."""

from __future__ import annotations

import logging

from sqlalchemy import text

from portal.extensions import db
from worker.queues import job

log = logging.getLogger(__name__)


@job
def heartbeat() -> str:
    """Prove that cron enqueues and a worker runs jobs against the database."""
    now = db.session.execute(text("SELECT now()")).scalar_one()
    log.info("worker heartbeat", extra={"db_time": now.isoformat()})
    return now.isoformat()
