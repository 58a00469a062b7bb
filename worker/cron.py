"""The periodic jobs, declared once; ``rq cron worker.cron`` registers and enqueues them."""

from __future__ import annotations

from rq import cron

from worker.queues import DEFAULT
from worker.tasks import maintenance

# (function, queue, seconds between runs, job timeout in seconds)
PERIODIC_JOBS = ((maintenance.heartbeat, DEFAULT, 300, 60),)

for func, queue, interval, timeout in PERIODIC_JOBS:
    cron.register(func, queue_name=queue, interval=interval, job_timeout=timeout)
