"""Liveness and readiness: ``/healthz`` says the process is up, ``/readyz`` checks each real service."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)

# /readyz answers within this many seconds whatever is down: a check still running then counts as down.
READY_DEADLINE = 2.5
# A bounded pool: checks stuck on a paused server hold a thread until their own timeouts end, and a pool full of
# them makes later checks time out (down), never piles up threads.
_pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="readyz")


class NotReady(Exception):
    """A service answered but is not fit for use; the message names no address or secret."""


@bp.get("/healthz")
def healthz():
    return jsonify(status="ok")


def _check_postgres() -> None:
    with db.engine.connect() as conn:
        role, bypass = conn.execute(
            text("SELECT current_user, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
        ).one()
    if bypass:
        # Tenant isolation's second wall would be silently off: refuse to call this ready.
        raise NotReady(f"database role {role!r} bypasses row-level security; use an app role")


def _check_redis() -> None:
    current_app.extensions["portal.redis"].ping()


def _check_s3() -> None:
    current_app.extensions["portal.storage"].check()


CHECKS = {"postgres": _check_postgres, "redis": _check_redis, "s3": _check_s3}


def _run(app, check) -> None:
    with app.app_context():
        check()


def _public_error(exc: BaseException) -> str:
    """What the public body says: the kind of failure, never an endpoint, a URL or a credential."""
    if isinstance(exc, NotReady):
        return f"NotReady: {exc}"
    if isinstance(exc, FutureTimeout):
        return f"Timeout: no answer within {READY_DEADLINE} s"
    return type(exc).__name__


@bp.get("/readyz")
def readyz():
    """Check every service at once; answer within ``READY_DEADLINE`` seconds, naming services only."""
    app = current_app._get_current_object()
    futures = {name: _pool.submit(_run, app, check) for name, check in CHECKS.items()}
    services: dict[str, dict[str, str]] = {}
    deadline = time.monotonic() + READY_DEADLINE
    for name, future in futures.items():
        try:
            future.result(timeout=max(deadline - time.monotonic(), 0))
            services[name] = {"status": "up"}
        except Exception as exc:  # any failure means "not ready"; the log has the details
            log.warning("readyz: %s is down: %s: %s", name, type(exc).__name__, exc)
            services[name] = {"status": "down", "error": _public_error(exc)}
    down = [name for name, s in services.items() if s["status"] == "down"]
    body = {"status": "down" if down else "ready", "services": services}
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200
