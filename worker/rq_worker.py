"""The RQ worker class of this project: ``rq worker -w worker.rq_worker.AppWorker ...``."""

from __future__ import annotations

import contextlib
import time

from rq import Worker
from rq.exceptions import StopRequested

from worker.queues import get_app
from worker.resilient import REDIS_ERRORS, wait_for_redis


class AppWorker(Worker):
    """Build the Flask app once in the worker, before it forks a work horse per job.

    Without this each horse builds the app itself (about 2-3 s per job). The parent never opens a database
    connection (``create_app`` connects to nothing), so the horses share no connection: each opens its own.
    """

    # RQ waits this long at most between two attempts to reach Redis while dequeuing (its default: 60 s).
    max_connection_wait_time = 10.0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        get_app()

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        """RQ's work loop, resumed after it ended on an error (Redis gone, most often) instead of exiting.

        It ends for good on a stop request (SIGTERM, Ctrl-C), in burst mode, or at ``max_jobs`` /
        ``max_idle_time``. Otherwise it waits for Redis with backoff (worker.resilient) and starts over.
        """
        worked = False
        while True:
            began = time.monotonic()
            try:
                worked = super().work(burst, *args, **kwargs) or worked
            except REDIS_ERRORS as exc:  # the teardown could not reach Redis either
                self.log.warning("Worker %s: lost Redis (%s)", self.name, type(exc).__name__)
            if burst or self._stop_requested or kwargs.get("max_jobs") or kwargs.get("max_idle_time"):
                return worked
            self.log.warning("Worker %s: work loop ended unexpectedly; resuming when Redis answers", self.name)
            try:  # SIGTERM / Ctrl-C while waiting: RQ's handlers raise StopRequested (or set the flag)
                if time.monotonic() - began < 5:
                    time.sleep(1)  # a loop that fails at once is not retried hot
                if not wait_for_redis(self.connection, f"Worker {self.name}", lambda: self._stop_requested):
                    return worked
            except StopRequested:
                return worked
            with contextlib.suppress(*REDIS_ERRORS):
                self.register_death()  # so that registering again is not refused as a duplicate
            self.log.info("Worker %s: Redis answers again; resuming", self.name)
