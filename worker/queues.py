"""The named queues and enqueueing that never fails a request (the web side: it never imports a job or the app).

Jobs are enqueued by their dotted name, so that the web process needs nothing of ``worker.tasks``; the app of a
worker process and the decorator every job uses are ``worker.jobs``'.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)

NOTIFICATIONS = "notifications"
DOCUMENTS = "documents"
DEFAULT = "default"
QUEUES = (NOTIFICATIONS, DOCUMENTS, DEFAULT)


class Enqueuer:
    """Put jobs on a queue from the request path: short timeouts, errors swallowed, a pause after a failure.

    Redis carries the queues but is never the source of truth: a job that could not be enqueued is re-derived
    from the database by a periodic job (the outbox dispatch, the sweeps). So when Redis is down a request must
    neither fail nor wait; after one failure further attempts are skipped for ``pause`` seconds.
    """

    def __init__(self, redis_url: str, *, pause: float = 10.0):
        from redis import Redis

        self.redis = Redis.from_url(redis_url, socket_connect_timeout=0.5, socket_timeout=1.0)
        self.pause = pause
        self._down_until = 0.0
        self._lock = threading.Lock()

    def enqueue(self, func: Callable | str, *args, queue: str = DEFAULT, **options) -> bool:
        """Enqueue ``func(*args)`` (a function or its dotted name); return False (and log) instead of raising when
        Redis is unavailable."""
        from redis.exceptions import RedisError
        from rq import Queue

        with self._lock:
            if time.monotonic() < self._down_until:
                return False
        try:
            Queue(queue, connection=self.redis).enqueue(func, *args, **options)
            return True
        except (RedisError, OSError) as exc:
            with self._lock:
                self._down_until = time.monotonic() + self.pause
            name = func if isinstance(func, str) else func.__name__
            log.warning("could not enqueue %s (%s); the periodic jobs will catch up", name, exc)
            return False


def install(app) -> None:
    """Enqueue a delivery job for every outbox row right after the transaction that wrote it commits."""
    from portal import outbox

    settings = app.config["PORTAL_SETTINGS"]
    app.extensions["portal.enqueuer"] = Enqueuer(settings.redis_url)
    outbox.set_after_commit(_enqueue_outbox_rows)


def _enqueue_outbox_rows(rows: list[tuple[int, int, str]]) -> None:
    """Messages go to ``deliver_outbox``; documents to the documents code's ``render_document`` job."""
    from flask import current_app, has_app_context
    from rq import Retry

    from portal.outbox import OWN_KINDS

    if not has_app_context():
        return
    enqueuer: Enqueuer | None = current_app.extensions.get("portal.enqueuer")
    if enqueuer is None:
        return
    for tenant_id, row_id, kind in rows:
        if kind in OWN_KINDS:
            func, queue = "worker.tasks.notifications.deliver_outbox", NOTIFICATIONS
        elif kind == "render_document":
            func, queue = "worker.tasks.documents.render_document", DOCUMENTS
        else:
            continue
        if not enqueuer.enqueue(
            func,
            tenant_id,
            row_id,
            queue=queue,
            job_timeout=120 if queue == NOTIFICATIONS else 600,
            retry=Retry(max=2, interval=[60, 300]),
            description=f"{kind} {tenant_id}/{row_id}",
        ):
            return  # Redis is down: the rest wait for the periodic jobs as well


def get_transports():
    """The senders of this process, built once from the settings (inside an app context)."""
    from flask import current_app

    from portal.outbox import transports_from_settings

    transports = current_app.extensions.get("portal.transports")
    if transports is None:
        settings, pii = current_app.config["PORTAL_SETTINGS"], current_app.extensions["portal.pii"]
        transports = transports_from_settings(settings, pii)
        current_app.extensions["portal.transports"] = transports
    return transports
