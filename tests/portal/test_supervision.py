"""``portal dev`` with real processes stays up by itself: Redis killed for 10 s, a killed worker, web or cron, an
embedded service that dies. Only SIGTERM (or Ctrl-C) stops it, and then it stops everything.

One ``portal dev`` serves the module: the test run's PostgreSQL (its database is reset afterwards) and S3, a Redis of
the test's own that it kills and starts again, and an SMTP server in the test process that shows what petitioners
are sent. The restart of an embedded server is shown on an embedded Redis with the same supervision code. Every
wait polls against a deadline.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from redis import Redis
from rq import Worker

from portal.devservices import find_free_base_port
from tests.conftest import reset_database
from tests.mail_server import MailServer, free_port
from tests.public_site.helpers import application_json
from tests.worker.test_resilience import BIN, ROOT, OwnRedis, Processes, process_env

pytestmark = pytest.mark.slow


def wait_until(predicate, timeout: float, what: str, log=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}\n{log()}")


class Dev:
    def __init__(self, proc: subprocess.Popen, port: int, log_path: Path, root: Path, redis: OwnRedis):
        self.proc, self.port, self.log_path, self.root, self.redis = proc, port, log_path, root, redis

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def get(self, path: str, timeout: float = 5) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=timeout) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")
        except OSError:
            return 0, {}

    def ready(self) -> bool:
        return self.get("/readyz")[0] == 200

    def post_json(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def child_pid(self, name: str) -> int:
        try:
            return int((self.root / "run" / f"app-{name}.pid").read_text())
        except (OSError, ValueError):
            return 0  # between two processes


@pytest.fixture(scope="module")
def mail():
    server = MailServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def dev(settings, owner_engine, mail, tmp_path_factory):
    procs = Processes(tmp_path_factory.mktemp("dev"))
    redis = OwnRedis(procs)
    redis.start()
    # Outside pytest's temp dir: the embedded services refuse it (devservices._refuse_pytest_basetemp).
    root = Path(tempfile.mkdtemp(prefix="portal-dev-supervision-")) / "var"
    port = free_port()
    env = process_env(settings, REDIS_URL=redis.url, SMTP_URL=mail.url, PORTAL_ENV="development")
    env.update(PORT=str(port), PORTAL_DEV_BASE_PORT=str(find_free_base_port()), LOG_LEVEL="INFO")
    log_path = procs.tmp_path / "portal-dev.log"
    proc = subprocess.Popen(
        [str(BIN / "portal"), "dev", "--root", str(root)],
        env=env,
        cwd=ROOT,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    started = Dev(proc, port, log_path, root, redis)
    try:
        wait_until(started.ready, 180, "portal dev to be ready", started.log)
        yield started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        procs.stop_all()
        shutil.rmtree(root.parent, ignore_errors=True)
        reset_database(owner_engine)  # portal dev seeded its demo accounts into the test run's database


def workers(redis_url: str) -> list[Worker]:
    try:
        return Worker.all(connection=Redis.from_url(redis_url, socket_connect_timeout=1))
    except Exception:
        return []


def test_a_redis_outage_of_10_s_is_ridden_out_and_a_submission_made_during_it_is_notified(dev, dbs, mail):
    pids = {name: dev.child_pid(name) for name in ("web", "worker", "cron")}
    os.kill(dev.redis.proc.pid, signal.SIGKILL)  # no goodbye: the queues are lost with it
    dev.redis.proc.wait(10)
    outage_began = time.monotonic()
    status, body = wait_until(lambda: (r := dev.get("/readyz")) and r[0] == 503 and r, 10, "readyz to see Redis down")
    assert body["down"] == ["redis"]

    status, case = dev.post_json("/api/v1/applications", application_json(dbs, petitioner__email="outage@example.com"))
    assert status == 201, case  # accepted; its notification waits in the outbox (PostgreSQL)
    time.sleep(max(0.0, 10 - (time.monotonic() - outage_began)))
    assert dev.proc.poll() is None, dev.log()

    dev.redis.start()
    back = time.monotonic()
    wait_until(dev.ready, 30, "readyz to be ready again within 30 s", dev.log)
    # The cron catches up as soon as it reaches Redis; the worker delivers the "received" e-mail.
    received = wait_until(
        lambda: [m for m in mail.messages if case["number"] in m.get_content()], 60, "the e-mail", dev.log
    )
    assert received[0]["To"] == "outage@example.com"
    assert time.monotonic() - back < 60
    # Nobody had to restart anything by hand, and portal dev is still the same process.
    assert dev.proc.poll() is None
    log = dev.log()
    assert "stopping the portal" not in log
    for name, pid in pids.items():
        if dev.child_pid(name) != pid:
            assert f"{name} exited" in log  # a restart is said, never silent


@pytest.mark.parametrize("name", ["worker", "cron", "web"])
def test_a_killed_child_is_restarted_within_30_s(dev, name):
    pid = dev.child_pid(name)
    for proc in psutil.Process(pid).children(recursive=True):
        proc.kill()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: dev.child_pid(name) not in (pid, 0), 30, f"a new {name}", dev.log)
    new = dev.child_pid(name)
    # The whole log (``log()`` shows its tail only: a restarted web's boot lines can push the line out of it).
    said = f"{name} exited with code -9; restarting it"
    wait_until(lambda: said in dev.log_path.read_text(errors="replace"), 30, f"the manager to say {said!r}", dev.log)
    assert psutil.Process(new).is_running()
    if name == "worker":
        wait_until(lambda: any(w.pid == new for w in workers(dev.redis.url)), 30, "the new worker to register")
    wait_until(dev.ready, 30, "readyz", dev.log)
    assert dev.proc.poll() is None


def test_an_embedded_service_that_dies_is_restarted(capsys):
    from portal.devserver import _supervise_services
    from portal.devservices import EmbeddedServices

    root = Path(tempfile.mkdtemp(prefix="portal-dev-supervision-")) / "var"
    services = EmbeddedServices(root, find_free_base_port(), start_postgres=False, start_s3=False)
    urls = services.start()
    try:
        client = Redis.from_url(urls.redis_url, socket_connect_timeout=1)
        os.kill(int((root / "run" / "redis.pid").read_text()), signal.SIGKILL)
        wait_until(lambda: "redis" in services.exited(), 10, "the kill to be seen")
        retry: dict = {}
        # What portal dev's loop does every half second.
        wait_until(lambda: _supervise_services(services, retry, lambda: False) or not services.exited(), 30, "restart")
        assert client.ping()
        said = capsys.readouterr().out
        assert "Redis exited with code -9; restarting it." in said
        assert "Redis restarted." in said
    finally:
        services.stop()
        shutil.rmtree(root.parent, ignore_errors=True)


def test_sigterm_stops_everything(dev):
    children = [dev.child_pid(name) for name in ("web", "worker", "cron")]
    os.killpg(dev.proc.pid, signal.SIGTERM)
    assert dev.proc.wait(60) == 0, dev.log()
    assert "Stopped." in dev.log()

    def all_gone():
        return not [p for p in children if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]

    wait_until(all_gone, 20, "every child to be gone")
