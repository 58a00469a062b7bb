"""Ride out a Redis outage: the worker and cron wait for Redis with backoff instead of exiting.

RQ's own loops give up on the first Redis error outside the blocking dequeue (a heartbeat, a maintenance task,
cron's enqueue): the process exits and, under ``portal dev`` or compose, would be restarted from scratch, or not
at all. Here:

- ``AppWorker`` (``rq worker -w worker.rq_worker.AppWorker``) resumes its work loop when it ended for any reason
  but a stop request, ``--burst``, ``--max-jobs`` or ``--max-idle-time``: it waits until Redis answers (1 s, 2 s,
  4 s ... at most 10 s between tries, each said in the log), then registers again and goes on;
- ``ResilientCron`` (``portal cron``, which replaces ``rq cron worker.cron``) keeps its schedule through errors:
  each failed round is retried with the same backoff. When Redis comes back, the short-interval jobs (outbox
  dispatch, documents, heartbeat: every 5 minutes or more often) are enqueued at once, since a Redis restart may
  have lost the queues. Every job is idempotent (README "Background work"), so that never does anything twice.
"""

from __future__ import annotations

import contextlib
import logging
import time

import redis
from rq.cron import CronScheduler
from rq.exceptions import StopRequested

log = logging.getLogger(__name__)

FIRST_WAIT = 1.0
MAX_WAIT = 10.0
CHECK_EVERY = 5.0  # seconds: cron's longest sleep, so that it notices an outage (and its end) soon
CATCH_UP_INTERVAL = 300  # seconds: interval jobs this frequent are enqueued at once after an outage
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, redis.exceptions.BusyLoadingError)


def wait_for_redis(connection: redis.Redis, who: str, stopping=lambda: False) -> bool:
    """Ping until Redis answers, with backoff; return False if ``stopping()`` turned true meanwhile."""
    wait = FIRST_WAIT
    while not stopping():
        try:
            connection.ping()
            return True
        except REDIS_ERRORS as exc:
            log.warning("%s: Redis unreachable (%s); retrying in %.0f s", who, type(exc).__name__, wait)
            time.sleep(wait)
            wait = min(wait * 2, MAX_WAIT)
    return False


class ResilientWorkerMixin:
    """RQ's work loop, resumed after it ended on an error (Redis gone, most often) instead of exiting.

    It ends for good on a stop request (SIGTERM, Ctrl-C), in burst mode, or at ``max_jobs`` / ``max_idle_time``.
    Otherwise it waits for Redis with backoff and starts over.
    """

    # RQ waits this long at most between two attempts to reach Redis while dequeuing (its default: 60 s).
    max_connection_wait_time = MAX_WAIT

    def unsubscribe(self):
        """RQ's, with the bounded wait it means: redis-py 8's ``PubSubWorkerThread.stop()`` waits for the thread's
        current read, which RQ lets last 60 s, so a teardown (a stop, or the loop ending on a Redis error) could
        hang for a minute."""
        if self.pubsub_thread:
            self.log.info("Worker %s: unsubscribing from channel %s", self.name, self.pubsub_channel_name)
            with contextlib.suppress(*REDIS_ERRORS):
                self.pubsub.unsubscribe()
            self.pubsub_thread.stop(timeout=1)
            with contextlib.suppress(*REDIS_ERRORS):
                self.pubsub.close()

    def _stop_was_requested(self) -> bool:
        # RQ raises StopRequested from its signal handler when idle (without setting _stop_requested) and records
        # the date of every warm shutdown request.
        return bool(self._stop_requested or getattr(self, "_shutdown_requested_date", None))

    def work(self, burst: bool = False, *args, **kwargs) -> bool:
        worked = False
        while True:
            began = time.monotonic()
            try:
                worked = super().work(burst, *args, **kwargs) or worked
            except REDIS_ERRORS as exc:  # the teardown could not reach Redis either
                self.log.warning("Worker %s: lost Redis (%s)", self.name, type(exc).__name__)
            if burst or self._stop_was_requested() or kwargs.get("max_jobs") or kwargs.get("max_idle_time"):
                return worked
            self.log.warning("Worker %s: work loop ended unexpectedly; resuming when Redis answers", self.name)
            try:  # SIGTERM / Ctrl-C while waiting: RQ's handlers raise StopRequested (or set the flag)
                if time.monotonic() - began < 5:
                    time.sleep(1)  # a loop that fails at once is not retried hot
                if not wait_for_redis(self.connection, f"Worker {self.name}", self._stop_was_requested):
                    return worked
            except StopRequested:
                return worked
            with contextlib.suppress(*REDIS_ERRORS):
                self.register_death()  # so that registering again is not refused as a duplicate
            self.log.info("Worker %s: Redis answers again; resuming", self.name)


class ResilientCron(CronScheduler):
    def start(self):
        """RQ's loop, with every round guarded: a Redis error waits and retries instead of ending the process."""
        self.log.info("CronScheduler %s: starting (rides out Redis outages)...", self.name)
        self._install_signal_handlers()
        registered = False
        wait = FIRST_WAIT
        try:
            while True:
                try:
                    if not registered:
                        self.register_birth()
                        registered = True
                    enqueued = self.enqueue_jobs()
                    if enqueued:
                        self.save()
                    self.heartbeat()
                except REDIS_ERRORS as exc:
                    self.log.warning(
                        "CronScheduler %s: Redis unreachable (%s); retrying in %.0f s",
                        self.name,
                        type(exc).__name__,
                        wait,
                    )
                    time.sleep(wait)
                    if wait == FIRST_WAIT:
                        self._catch_up_after_outage()
                    wait = min(wait * 2, MAX_WAIT)
                    registered = False
                    continue
                if wait != FIRST_WAIT:
                    self.log.info("CronScheduler %s: Redis is back", self.name)
                    wait = FIRST_WAIT
                sleep_time = min(self.calculate_sleep_interval(), CHECK_EVERY)
                if sleep_time > 0:
                    time.sleep(sleep_time)
        except KeyboardInterrupt:
            self.log.info("CronScheduler %s: received KeyboardInterrupt", self.name)
        except StopRequested:
            self.log.info("CronScheduler %s: stop requested", self.name)
        finally:
            with contextlib.suppress(*REDIS_ERRORS):
                self.register_death()
            self.log.info("CronScheduler %s: shutdown complete", self.name)

    def _catch_up_after_outage(self) -> None:
        """Make the frequent interval jobs due at once: the first round that reaches Redis enqueues them."""
        for job in self._cron_jobs:
            if job.interval and job.interval <= CATCH_UP_INTERVAL:
                job.latest_enqueue_time = None
                job.next_enqueue_time = None


def run_cron(redis_url: str, config: str = "worker.cron", logging_level: str = "INFO") -> None:
    from rq.logutils import setup_loghandlers

    setup_loghandlers(logging_level, name="rq.cron")
    scheduler = ResilientCron(connection=redis.Redis.from_url(redis_url), logging_level=logging_level)
    scheduler.load_config_from_file(config)
    scheduler.start()


def cron_is_healthy(redis_url: str, *, any_host: bool = False, within: float = 60.0) -> tuple[bool, str]:
    """Whether a cron scheduler (of this host) sent a heartbeat in the last ``within`` seconds, and why."""
    import socket
    from datetime import UTC, datetime

    try:
        schedulers = ResilientCron.all(redis.Redis.from_url(redis_url, socket_connect_timeout=3, socket_timeout=3))
    except REDIS_ERRORS as exc:
        return False, f"Redis unreachable ({type(exc).__name__})"
    host = socket.gethostname()
    now = datetime.now(UTC)
    for scheduler in schedulers:
        beat = scheduler.last_heartbeat
        if (any_host or scheduler.hostname == host) and beat and (now - beat).total_seconds() <= within:
            return True, f"cron scheduler {scheduler.name} alive (heartbeat {beat:%H:%M:%S} UTC)"
    return False, "no cron scheduler of this host sent a heartbeat in the last minute"
