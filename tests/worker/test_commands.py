"""The commands of background work, the periodic job list and the worker health check (with a real worker)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from rq import Queue, Worker
from sqlalchemy import select, update

from portal.cases.models import CalendarYear, Outbox
from portal.notify.models import DeadlineAlert, StaffNotification, SweepRun
from tenants.scoping import system_scope
from tests.portal.cases.conftest import staff_bureau, submit
from tests.worker.test_resilience import BIN, ROOT, kill_tree, process_env


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


def run(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args), catch_exceptions=False)


def test_sweep_run_for_a_given_date_moves_the_clock_forward(app, dbs, pii):
    city = staff_bureau(dbs, "220100", "cc")
    case = submit(dbs, pii, today=date(2026, 9, 10)).case
    result = run(app, "sweep", "run", "--date", "2026-10-09")
    assert result.exit_code == 0, result.output
    assert "Sweep for 2026-10-09" in result.output and "overdue 1, escalation 1" in result.output
    with system_scope(dbs):
        kinds = sorted(a.kind for a in dbs.scalars(select(DeadlineAlert).where(DeadlineAlert.case_id == case.id)))
        told = sorted(
            (n.kind, i["case_id"])
            for n in dbs.scalars(select(StaffNotification).where(StaffNotification.kind != "digest"))
            for i in n.params["items"]
        )
        assert dbs.get(SweepRun, "deadlines").last_for_date == date(2026, 10, 9)
    assert kinds == ["escalation", "overdue"] and told == [("escalation", case.id), ("overdue", case.id)]
    assert city.clerk.id
    again = run(app, "sweep", "run", "--date", "2026-10-09")
    assert "overdue 0, escalation 0" in again.output
    bad = app.test_cli_runner().invoke(args=["sweep", "run", "--date", "9/10/2026"])
    assert bad.exit_code == 2 and "9/10/2026" in bad.output


def test_outbox_list_and_retry(app, dbs, pii):
    case = submit(dbs, pii).case
    listed = run(app, "outbox", "list")
    assert "notify_petitioner" in listed.output and "pending" in listed.output
    assert "zs@example.com" not in listed.output
    with system_scope(dbs):
        row_id = dbs.scalar(select(Outbox.id).where(Outbox.case_id == case.id))
    refused = app.test_cli_runner().invoke(args=["outbox", "retry", str(row_id)])
    assert refused.exit_code == 1 and "Only failed messages" in refused.output
    with system_scope(dbs):
        dbs.execute(update(Outbox).where(Outbox.id == row_id).values(status="failed", last_error="boom"))
        dbs.commit()
    assert "boom" in run(app, "outbox", "list", "--status", "failed").output
    assert run(app, "outbox", "retry", str(row_id)).exit_code == 0
    with system_scope(dbs):
        dbs.expire_all()
        assert dbs.scalar(select(Outbox.status).where(Outbox.id == row_id)) == "pending"
    missing = app.test_cli_runner().invoke(args=["outbox", "retry", "987654"])
    assert missing.exit_code == 1 and "No outbox row" in missing.output


def test_calendar_load_and_list(app, dbs, tmp_path):
    path = tmp_path / "2027.csv"
    path.write_text("# source: 国务院办公厅通知（测试）\ndate,kind,name\n2027-01-01,holiday,元旦\n", encoding="utf-8")
    loaded = run(app, "calendar", "load", str(path))
    assert loaded.exit_code == 0 and "Loaded 2027: 1 holidays" in loaded.output
    with system_scope(dbs):
        assert dbs.get(CalendarYear, 2027).source == "国务院办公厅通知（测试）"
    assert "2027  loaded" in run(app, "calendar", "list").output
    example = app.test_cli_runner().invoke(
        args=["calendar", "load", str(ROOT / "portal" / "holidays" / "example-2027.json")]
    )
    assert example.exit_code == 1 and "example file" in example.output


def test_every_periodic_job_is_registered_with_a_timeout():
    from rq import cron as rq_cron

    from worker import cron

    registered = {d["func"]: d for d in rq_cron._job_data_registry}
    names = {f.__name__ for f, *_ in cron.PERIODIC_JOBS}
    assert {"dispatch_outbox", "sweep_deadlines", "housekeeping", "recompute_provisional", "heartbeat"} <= names
    for func, queue, interval, timeout in cron.PERIODIC_JOBS:
        assert registered[func]["queue_name"] == queue
        assert registered[func]["interval"] == interval and registered[func]["job_timeout"] == timeout
        assert timeout and interval > 0


def test_housekeeping_purges_stale_uploads_old_tokens_and_sessions(app, dbs, owner_engine):
    from sqlalchemy import text

    from portal.roles import Role
    from tests.helpers import make_staff
    from worker.tasks.maintenance import housekeeping

    user = make_staff(dbs, "220100", Role.petition_clerk, username="hk_user")
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO uploads (id, filename, size, content_type, sha256, storage_key, created_at) VALUES"
                " (gen_random_uuid(), 'old.pdf', 1, 'application/pdf', repeat('0', 64), 'uploads/old',"
                "  now() - interval '26 hours'),"
                " (gen_random_uuid(), 'new.pdf', 1, 'application/pdf', repeat('1', 64), 'uploads/new', now())"
            )
        )
        values = {"t": user.tenant_id, "u": user.id}
        conn.execute(
            text(
                "INSERT INTO api_tokens (tenant_id, user_id, token_hash, expires_at) VALUES"
                " (:t, :u, repeat('a', 64), now() - interval '2 days'),"
                " (:t, :u, repeat('b', 64), now() + interval '1 day')"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO staff_sessions (tenant_id, user_id, key_hash, method, created_at, last_seen_at) VALUES"
                " (:t, :u, repeat('c', 64), 'password', now() - interval '40 days', now() - interval '40 days'),"
                " (:t, :u, repeat('d', 64), 'password', now(), now())"
            ),
            values,
        )
        conn.execute(
            text(
                "INSERT INTO idempotency_keys (scope, key_hash, request_hash, created_at) VALUES"
                " ('upload', repeat('e', 64), repeat('0', 64), now() - interval '26 hours'),"
                " ('upload', repeat('f', 64), repeat('0', 64), now() - interval '23 hours')"
            )
        )
        # Application drafts: one left for a day and more, one changed an hour ago.
        conn.execute(
            text(
                "INSERT INTO application_drafts (id, sealed, updated_at) VALUES"
                " (gen_random_uuid(), '\\x00', now() - interval '25 hours'),"
                " (gen_random_uuid(), '\\x00', now() - interval '1 hour')"
            )
        )
    result = housekeeping.__wrapped__()
    dbs.commit()
    assert result == {
        "audit_entries_purged": 0,
        "uploads_purged": 1,
        "tokens_cleared": 1,
        "sessions_cleared": 1,
        "idempotency_keys_purged": 1,
        "drafts_purged": 1,
    }
    tables = ("uploads", "api_tokens", "staff_sessions", "idempotency_keys", "application_drafts")
    with owner_engine.connect() as conn:
        left = [conn.scalar(text(f"SELECT count(*) FROM {t}")) for t in tables]
    assert left == [1, 1, 1, 1, 1]
    with system_scope(dbs):
        assert dbs.get(SweepRun, "housekeeping").last_result["uploads_purged"] == 1


def test_worker_health_check_with_a_real_worker(app, settings, tmp_path):
    redis = app.extensions["portal.redis"]
    down = app.test_cli_runner().invoke(args=["worker", "health"])
    assert down.exit_code == 1 and "no RQ worker" in down.output

    env = process_env(settings)
    log = (tmp_path / "worker.log").open("ab")
    worker = subprocess.Popen(
        [str(BIN / "rq"), "worker", "default", "--url", settings.redis_url, "--name", f"health-{os.getpid()}"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not Worker.all(connection=redis) and time.monotonic() < deadline:
            time.sleep(0.1)
        up = app.test_cli_runner().invoke(args=["worker", "health", "--any-host"])
        assert up.exit_code == 0, up.output
        assert "ok" in up.output and f"health-{os.getpid()}" in up.output

        # A stuck worker: stopped (SIGSTOP), work waiting, heartbeat a minute old -> unhealthy.
        from worker.monitor import worker_health

        os.kill(worker.pid, signal.SIGSTOP)
        for _ in range(2):  # the first one goes to the stopped worker's pending BLPOP; the second one waits
            Queue("default", connection=redis).enqueue("worker.tasks.maintenance.heartbeat")
        healthy, lines = worker_health(redis, hostname="", now=datetime.now(UTC) + timedelta(seconds=90))
        assert not healthy and lines[0].startswith("BAD"), lines
        healthy, _ = worker_health(redis, hostname="")  # heartbeat still fresh
        assert healthy
        os.kill(worker.pid, signal.SIGCONT)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker.pid, signal.SIGCONT)  # a stopped process would ignore the termination below
        kill_tree(worker)
        worker.wait(20)
