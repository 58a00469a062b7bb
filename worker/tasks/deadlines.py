"""Deadline work: the sweep (reminders, escalation, digests, calendar warning) and provisional recomputation."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time

from flask import current_app

from portal.cases.operations import recompute_provisional_deadlines
from portal.extensions import db
from portal.sweeps import SweepConfig, china_now, record_run, run_sweep
from worker.jobs import job

log = logging.getLogger(__name__)

DIGEST_FROM = time(7, 0)  # China time: digests go out with the first sweep from 07:00


def sweep_config() -> SweepConfig:
    return SweepConfig(reminder_days=current_app.config["PORTAL_SETTINGS"].reminder_working_days)


@job
def sweep_deadlines() -> dict:
    """Today's reminders, overdue alerts, escalations, digests (from 07:00) and calendar warning; idempotent."""
    started = datetime.now(UTC)
    now = china_now(started)
    try:
        return run_sweep(db.session, now.date(), sweep_config(), digest=now.time() >= DIGEST_FROM, started_at=started)
    except Exception as exc:
        db.session.rollback()
        record_run(
            db.session, "deadlines", started_at=started, for_date=now.date(), error=f"{type(exc).__name__}: {exc}"
        )
        db.session.commit()
        raise


@job
def recompute_provisional() -> int:
    """Recompute provisional deadlines with the calendar as loaded now (after a year is loaded, and daily)."""
    started = datetime.now(UTC)
    changed = recompute_provisional_deadlines(db.session)
    record_run(
        db.session, "recompute", started_at=started, for_date=china_now(started).date(), result={"changed": changed}
    )
    return changed
