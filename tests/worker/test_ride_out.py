"""The worker's and cron's loops ride out Redis trouble (worker/resilient.py), against a real Redis of the test's own
that is killed and started again (empty, as after a crash). The loops run in the test's main thread, where RQ
installs its signal handlers; SIGTERM ends them as it does in production.
"""

from __future__ import annotations

import logging
import operator
import os
import signal
import threading
import time

import pytest
import redis
from redis import Redis
from rq import Queue, SimpleWorker

from tests.worker.test_resilience import OwnRedis, Processes
from worker.resilient import ResilientCron, ResilientWorkerMixin

pytestmark = pytest.mark.slow


class Worker(ResilientWorkerMixin, SimpleWorker):
    """The resilient loop on RQ's in-process worker (no fork, no app)."""


@pytest.fixture
def own_redis(tmp_path):
    procs = Processes(tmp_path)
    server = OwnRedis(procs)
    server.start()
    yield server
    procs.stop_all()


@pytest.fixture(autouse=True)
def keep_signal_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def in_background(steps) -> threading.Thread:
    """Run ``steps`` beside the loop; whatever happens, end with SIGTERM to this process (the loop's stop)."""
    failures: list[BaseException] = []

    def run():
        try:
            steps()
        except BaseException as exc:  # reported by the test after the loop returned
            failures.append(exc)
        finally:
            os.kill(os.getpid(), signal.SIGTERM)

    thread = threading.Thread(target=run, daemon=True)
    thread.failures = failures  # type: ignore[attr-defined]
    thread.start()
    return thread


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except redis.exceptions.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_an_idle_worker_stops_on_sigterm(own_redis):
    worker = Worker(["q"], connection=Redis.from_url(own_redis.url))
    helper = in_background(lambda: time.sleep(1))
    began = time.monotonic()
    worker.work()
    assert time.monotonic() - began < 10
    helper.join(5)


def test_a_worker_whose_loop_ends_on_a_redis_error_resumes_and_runs_the_next_job(own_redis, caplog):
    connection = Redis.from_url(own_redis.url)
    worker = Worker(["q"], connection=connection)
    original = worker.dequeue_job_and_maintain_ttl
    calls = []

    def first_times_out(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise redis.exceptions.TimeoutError("Timeout reading from socket")  # RQ's loop quits on this
        return original(*args, **kwargs)

    worker.dequeue_job_and_maintain_ttl = first_times_out
    job = Queue("q", connection=Redis.from_url(own_redis.url)).enqueue(operator.add, 2, 3)
    helper = in_background(lambda: wait_until(lambda: job.get_status(refresh=True) == "finished", 30, "the job"))
    worker.work()
    helper.join(5)
    assert not helper.failures, helper.failures
    assert job.return_value() == 5
    assert "work loop ended unexpectedly; resuming" in caplog.text


def test_cron_keeps_its_schedule_through_a_redis_outage_and_catches_up(own_redis, caplog):
    caplog.set_level(logging.INFO, logger="rq.cron")
    connection = Redis.from_url(own_redis.url, socket_connect_timeout=1, socket_timeout=2)
    cron = ResilientCron(connection=connection)
    cron.register(operator.add, queue_name="q", args=(1, 1), interval=60)
    check = Redis.from_url(own_redis.url, socket_connect_timeout=1)

    def outage():
        wait_until(lambda: Queue("q", connection=check).count == 1, 20, "the first enqueue")
        os.kill(own_redis.proc.pid, signal.SIGKILL)  # the queue is lost with it
        own_redis.proc.wait(10)
        wait_until(lambda: "Redis unreachable" in caplog.text, 20, "cron to notice the outage")
        own_redis.start()  # empty
        # Not a minute later: as soon as cron reaches Redis again, the frequent job is enqueued anew.
        wait_until(lambda: Queue("q", connection=check).count == 1, 30, "the catch-up enqueue")
        wait_until(lambda: "Redis is back" in caplog.text, 10, "cron to say so")

    helper = in_background(outage)
    cron.start()  # returns on the SIGTERM at the end of `outage`
    helper.join(5)
    assert not helper.failures, helper.failures
    assert "Redis is back" in caplog.text
