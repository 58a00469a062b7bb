"""What administrators and health checks need to know about the queues, the workers and cron (from Redis)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from redis import Redis
from rq import Queue, Worker
from rq.cron import CronScheduler
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from worker.queues import QUEUES

HEARTBEAT_MAX_AGE = timedelta(seconds=60)


@dataclass
class QueueStats:
    name: str
    queued: int
    started: int
    scheduled: int
    failed: int


@dataclass
class WorkerInfo:
    name: str
    hostname: str | None
    pid: int | None
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None


@dataclass
class FailedJob:
    id: str
    queue: str
    description: str
    ended_at: datetime | None
    error: str


@dataclass
class Snapshot:
    queues: list[QueueStats] = field(default_factory=list)
    workers: list[WorkerInfo] = field(default_factory=list)
    cron: list[tuple[str, datetime | None]] = field(default_factory=list)
    failed_jobs: list[FailedJob] = field(default_factory=list)
    error: str | None = None


def _last_line(text: str | None) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def snapshot(redis: Redis, *, failed_limit: int = 20) -> Snapshot:
    """Queue depths, workers, cron schedulers and recent failed jobs; ``error`` set when Redis is unreachable."""
    result = Snapshot()
    try:
        for name in QUEUES:
            queue = Queue(name, connection=redis)
            failed = FailedJobRegistry(queue=queue)
            result.queues.append(
                QueueStats(
                    name=name,
                    queued=queue.count,
                    started=StartedJobRegistry(queue=queue).count,
                    scheduled=ScheduledJobRegistry(queue=queue).count,
                    failed=failed.count,
                )
            )
            for job in queue.job_class.fetch_many(failed.get_job_ids(0, failed_limit - 1), connection=redis):
                if job is None:
                    continue
                result.failed_jobs.append(
                    FailedJob(job.id, name, job.description or job.func_name, job.ended_at, _last_line(job.exc_info))
                )
        for worker in Worker.all(connection=redis):
            result.workers.append(
                WorkerInfo(
                    name=worker.name,
                    hostname=worker.hostname,
                    pid=worker.pid,
                    state=str(worker.get_state()),
                    queues=worker.queue_names(),
                    current_job=worker.get_current_job_id(),
                    last_heartbeat=worker.last_heartbeat,
                )
            )
        result.cron = [(s.name, s.last_heartbeat) for s in CronScheduler.all(redis)]
    except Exception as exc:  # monitoring must render even when Redis is down
        result.error = f"{type(exc).__name__}: {exc}"[:300]
    result.failed_jobs.sort(key=lambda j: j.ended_at or datetime.min.replace(tzinfo=UTC), reverse=True)
    del result.failed_jobs[failed_limit:]
    return result


def worker_health(redis: Redis, *, hostname: str | None = None, now: datetime | None = None) -> tuple[bool, list[str]]:
    """Redash's worker check: healthy when a worker of this host is busy, was seen in the last 60 s, or has
    nothing to do (its queues are empty). Returns (healthy, one line per worker)."""
    hostname = hostname if hostname is not None else socket.gethostname()
    now = now or datetime.now(UTC)
    lines, healthy = [], False
    workers = [w for w in Worker.all(connection=redis) if not hostname or w.hostname == hostname]
    if not workers:
        return False, [f"no RQ worker registered on {hostname or 'any host'}"]
    for worker in workers:
        busy = worker.get_state() == "busy"
        age = (now - worker.last_heartbeat) if worker.last_heartbeat else None
        seen = age is not None and age < HEARTBEAT_MAX_AGE
        idle = sum(Queue(q, connection=redis).count for q in worker.queue_names()) == 0
        ok = busy or seen or idle
        healthy = healthy or ok
        seconds = f"{age.total_seconds():.0f} s ago" if age is not None else "never"
        lines.append(
            f"{'ok ' if ok else 'BAD'} {worker.name} pid={worker.pid} state={worker.get_state()}"
            f" heartbeat={seconds} queues_empty={idle}"
        )
    return healthy, lines
