"""The ``portal`` command finds the running ``portal dev`` instance when no DATABASE_URL is set (a real process)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from portal.devserver import use_running_instance

PORTAL = Path(sys.executable).parent / "portal"


def _write_instance(root: Path, settings, web_pid: int) -> None:
    run = root / "run"
    run.mkdir(parents=True)
    values = {
        "PORTAL_ENV": "test",
        "SECRET_KEY": settings.secret_key,
        "PII_KEY": settings.pii_key,
        "DATABASE_URL": settings.database_url,
        "DATABASE_ADMIN_URL": settings.database_admin_url,
        "REDIS_URL": settings.redis_url,
        "S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
        "S3_BUCKET": settings.s3_bucket,
        "S3_ACCESS_KEY_ID": settings.s3_access_key_id or "",
        "S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key or "",
    }
    (run / "env").write_text("".join(f"{k}={shlex.quote(v)}\n" for k, v in values.items() if v))
    (run / "app-web.pid").write_text(str(web_pid))


def _clean_env() -> dict[str, str]:
    drop = {"DATABASE_URL", "DATABASE_ADMIN_URL", "REDIS_URL", "S3_ENDPOINT_URL", "SECRET_KEY", "PII_KEY"}
    return {k: v for k, v in os.environ.items() if k not in drop and k != "PORTAL_DEV_ROOT"}


def test_second_terminal_uses_the_running_instance(app, settings, owner_engine, tmp_path):
    # A running instance (its web process is this test's own, alive) under ./var/dev of the second terminal.
    _write_instance(tmp_path / "var" / "dev", settings, os.getpid())
    result = subprocess.run(
        [
            *(str(PORTAL), "users", "create", "--bureau", "220100", "--role", "petition_clerk"),
            *("--username", "second_term", "--password", "Second-terminal-2026"),
        ],
        cwd=tmp_path,
        env=_clean_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert f"using the running dev instance in {tmp_path / 'var' / 'dev'}" in result.stderr
    assert "using the running" not in result.stdout
    with owner_engine.connect() as conn:
        assert conn.scalar(text("SELECT count(*) FROM staff_users WHERE username = 'second_term'")) == 1


def test_a_dead_instance_or_a_set_url_is_not_used(settings, tmp_path):
    root = tmp_path / "var" / "dev"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    _write_instance(root, settings, dead.pid)
    environ: dict[str, str] = {}
    assert use_running_instance(environ, cwd=tmp_path) is None  # killed: its env file is stale
    assert environ == {}
    (root / "run" / "app-web.pid").write_text(str(os.getpid()))
    environ = {"DATABASE_URL": "postgresql://elsewhere/db"}
    assert use_running_instance(environ, cwd=tmp_path) is None  # the caller's own URL wins
    assert environ == {"DATABASE_URL": "postgresql://elsewhere/db"}
    environ = {"REDIS_URL": "redis://mine"}
    assert use_running_instance(environ, cwd=tmp_path) == root
    assert environ["DATABASE_URL"] == settings.database_url
    assert environ["REDIS_URL"] == "redis://mine"  # only unset variables are taken
