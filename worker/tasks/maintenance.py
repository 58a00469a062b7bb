"""Keeping the deployment healthy: heartbeat and housekeeping."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import text

from portal.extensions import db
from portal.idempotency import purge_expired
from portal.sweeps import china_today, clear_expired_tokens, record_run
from worker.jobs import job

log = logging.getLogger(__name__)


@job
def heartbeat() -> str:
    """Prove that cron enqueues and a worker runs jobs against the database."""
    now = db.session.execute(text("SELECT now()")).scalar_one()
    log.info("worker heartbeat", extra={"db_time": now.isoformat()})
    return now.isoformat()


def _purge_uploads() -> int:
    try:
        from portal.attachments.operations import purge_stale_uploads
    except ImportError:
        return 0
    return purge_stale_uploads(db.session, current_app.extensions["portal.storage"])


@job
def housekeeping() -> dict:
    """Remove uploads never attached to a case and application drafts unchanged for 24 hours; clear expired API
    tokens, old staff sessions and idempotency keys older than 24 hours; remove audit-log entries past
    ``AUDIT_RETENTION_DAYS`` (never younger than 180 days)."""
    started = datetime.now(UTC)
    cleared = clear_expired_tokens(db.session)
    from portal.audit import purge_expired as purge_audit
    from portal.petitioners.drafts import purge_expired_drafts

    settings = current_app.config["PORTAL_SETTINGS"]
    audit_purged = purge_audit(db.session, now=started, retention_days=settings.audit_retention_days)
    result = {
        "audit_entries_purged": audit_purged,
        "uploads_purged": _purge_uploads(),
        "tokens_cleared": cleared["api_tokens"],
        "sessions_cleared": cleared["staff_sessions"],
        "idempotency_keys_purged": purge_expired(db.session, now=started),
        "drafts_purged": purge_expired_drafts(db.session, now=started),
    }
    record_run(db.session, "housekeeping", started_at=started, for_date=china_today(started), result=result)
    log.info("housekeeping", extra=result)
    return result


@job
def write_history_anchor() -> dict:
    """Sign the heads of every case history and store them in object storage (``portal.cases.anchors``)."""
    from portal.cases.anchors import write_anchor

    key, cases = write_anchor(db.session, current_app.extensions["portal.storage"])
    db.session.rollback()  # read only
    log.info("history anchor", extra={"key": key, "cases": cases})
    return {"key": key, "cases": cases}
