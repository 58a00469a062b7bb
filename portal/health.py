"""Liveness and readiness: ``/healthz`` says the process is up, ``/readyz`` checks each real service."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from portal.extensions import db

bp = Blueprint("health", __name__)


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
        raise PermissionError(f"database role {role!r} bypasses row-level security; use an app role")


def _check_redis() -> None:
    current_app.extensions["portal.redis"].ping()


def _check_s3() -> None:
    current_app.extensions["portal.storage"].check()


CHECKS = {"postgres": _check_postgres, "redis": _check_redis, "s3": _check_s3}


@bp.get("/readyz")
def readyz():
    services: dict[str, dict[str, str]] = {}
    for name, check in CHECKS.items():
        try:
            check()
            services[name] = {"status": "up"}
        except Exception as exc:  # any failure means "not ready"; the message says which and why
            services[name] = {"status": "down", "error": f"{type(exc).__name__}: {exc}"[:300]}
    down = [name for name, s in services.items() if s["status"] == "down"]
    body = {"status": "down" if down else "ready", "services": services}
    if down:
        body["down"] = down
    return jsonify(body), 503 if down else 200
