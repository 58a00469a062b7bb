"""The periodic jobs, declared once; ``rq cron worker.cron`` registers and enqueues them.

Every job is idempotent and re-derives its work from PostgreSQL, so a missed or doubled run does no harm.
"""

from __future__ import annotations

import os

from rq import cron

from worker.queues import DEFAULT, DOCUMENTS, NOTIFICATIONS
from worker.tasks import deadlines, documents, maintenance, notifications

_ANCHOR_SECONDS = max(1, int(os.environ.get("ANCHOR_MINUTES") or "60")) * 60

# (function, queue, seconds between runs, job timeout in seconds)
PERIODIC_JOBS = (
    # Whatever the after-commit enqueue missed (Redis down, worker killed) and every retry after backoff.
    (notifications.dispatch_outbox, NOTIFICATIONS, 60, 120),
    (documents.render_pending_documents, DOCUMENTS, 60, 600),  # documents of render_document outbox rows
    # Reminders, overdue alerts and escalations for today (China time); digests from 07:00; calendar warning.
    (deadlines.sweep_deadlines, DEFAULT, 900, 600),
    # A safety net for "recompute provisional deadlines once a year is loaded" (loading also recomputes).
    (deadlines.recompute_provisional, DEFAULT, 6 * 3600, 600),
    # Unclaimed uploads older than 24 h, expired API tokens, old staff sessions.
    (maintenance.housekeeping, DEFAULT, 3600, 600),
    (maintenance.heartbeat, DEFAULT, 300, 60),
    # Signed heads of every case history, to object storage (ANCHOR_MINUTES, default hourly).
    (maintenance.write_history_anchor, DEFAULT, _ANCHOR_SECONDS, 600),
)

for func, queue, interval, timeout in PERIODIC_JOBS:
    cron.register(func, queue_name=queue, interval=interval, job_timeout=timeout)
