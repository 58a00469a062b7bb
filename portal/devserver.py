"""``portal dev``: everything ``make run`` needs, in one process tree that Ctrl-C stops.

1. Start the embedded PostgreSQL, Redis and S3 for whichever of DATABASE_URL, REDIS_URL, S3_ENDPOINT_URL is unset.
2. Create the ``portal`` database and a login role that cannot bypass row-level security.
3. Migrate, create the bucket, seed the Jilin bureaus and the demo accounts, and print them.
4. Serve web (gunicorn), an RQ worker and cron (``portal cron``); stop them all, and the services, on Ctrl-C or
   SIGTERM, and only then.

Supervision: a child (web, worker, cron) or an embedded service that exits is started again, after 1 s, then 2, 4 ...
at most 30 s while it keeps failing (a child that ran for a minute starts again at 1 s), and the terminal says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

# Embedded services of `make run` use this block of ports; the test suite picks another block at random.
DEV_BASE_PORT = 24000
_PR_SET_PDEATHSIG = 1
# The app is built once per worker (not per job); the scheduler runs RQ's own retries of failed jobs.
WORKER_OPTIONS = ("-w", "worker.rq_worker.AppWorker", "--with-scheduler")
_BIN = Path(sys.executable).parent
RESTART_FIRST = 1.0
RESTART_MAX = 30.0
STABLE_AFTER = 60.0  # seconds: a child that ran this long starts again after RESTART_FIRST


@dataclass
class _Child:
    """A supervised process: its command, the running process (None while waiting to restart), its backoff."""

    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started: float = 0.0
    backoff: float = RESTART_FIRST
    restart_at: float = 0.0


def _die_with_parent() -> None:
    """Have the kernel stop this child if ``portal dev`` dies, even by SIGKILL (Linux)."""
    with contextlib.suppress(OSError):  # not Linux: children are still stopped on Ctrl-C and by pid files
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _load_secrets(path: Path) -> dict[str, str]:
    fresh = {
        "SECRET_KEY": secrets.token_hex(32),
        "PII_KEY": secrets.token_hex(32),
        "HISTORY_KEY": secrets.token_hex(32),
        "DB_PASSWORD": secrets.token_urlsafe(18),
    }
    values = json.loads(path.read_text()) if path.exists() else {}
    if set(fresh) <= set(values):
        return values
    values = {**fresh, **values}  # a file from before a secret existed gains it
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    path.chmod(0o600)
    return values


def _stop_leftovers(run_dir: Path) -> None:
    """Stop web/worker/cron processes recorded by an earlier ``portal dev`` that was killed."""
    for pid_file in run_dir.glob("app-*.pid"):
        try:
            proc = psutil.Process(int(pid_file.read_text().strip()))
            if proc.environ().get("PORTAL_DEV_ROOT") == str(run_dir.parent):
                proc.terminate()
                proc.wait(10)
        except (ValueError, psutil.Error):
            pass
        pid_file.unlink(missing_ok=True)


def prepare_environment(root: Path, port: int, base_port: int = DEV_BASE_PORT) -> tuple[dict[str, str], object | None]:
    """Start what is missing and return the environment for the portal's processes (and the services)."""
    from portal.dbsetup import ensure_database, ensure_login_role
    from portal.devservices import EmbeddedServices

    env = dict(os.environ)
    stored = _load_secrets(root / "secrets.json")
    env.setdefault("SECRET_KEY", stored["SECRET_KEY"])
    env.setdefault("PII_KEY", stored["PII_KEY"])
    env.setdefault("HISTORY_KEY", stored["HISTORY_KEY"])
    env.setdefault("PORTAL_ENV", "development")
    env.setdefault("LOG_FORMAT", "text")
    # glibc gives each thread that allocates a malloc arena of its own, which a threaded worker keeps resident:
    # one arena for the whole process (the GIL serialises most allocations anyway; bench/README.md, memory: 2 -> 1
    # saved 2.5-4 MB a worker at 10k with no loss of throughput). As in the Dockerfile.
    env.setdefault("MALLOC_ARENA_MAX", "1")
    env["PORT"] = str(port)
    env.setdefault("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")  # links in the (logged) e-mails and SMS
    env["PORTAL_DEV_ROOT"] = str(root)

    missing = {name: not env.get(name) for name in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    services = None
    if any(missing.values()):
        services = EmbeddedServices(
            root,
            base_port,
            start_postgres=missing["DATABASE_URL"],
            start_redis=missing["REDIS_URL"],
            start_s3=missing["S3_ENDPOINT_URL"],
        )
        print("Starting embedded services under", root, flush=True)
        urls = services.start(bucket=env.get("S3_BUCKET", "petition-portal"))
        if missing["DATABASE_URL"]:
            owner_url = ensure_database(urls.database_url, "portal")
            env["DATABASE_ADMIN_URL"] = owner_url
            env["DATABASE_URL"] = ensure_login_role(owner_url, "portal_web", stored["DB_PASSWORD"])
        if missing["REDIS_URL"]:
            env["REDIS_URL"] = urls.redis_url
        if missing["S3_ENDPOINT_URL"]:
            env["S3_ENDPOINT_URL"] = urls.s3_endpoint_url
            env["S3_ACCESS_KEY_ID"] = urls.s3_access_key
            env["S3_SECRET_ACCESS_KEY"] = urls.s3_secret_key
            env["S3_REGION"] = urls.s3_region
    return env, services


def setup_database(env: dict[str, str]) -> str:
    """Migrate, create the bucket and seed; return the printed list of demo accounts."""
    from portal import create_app
    from portal.config import load_settings
    from portal.demo import format_accounts, seed_demo_accounts
    from portal.extensions import db
    from portal.migrate import upgrade_and_install_key
    from tenants.scoping import system_scope
    from tenants.seed import seed_bureaus

    settings = load_settings(env)
    upgrade_and_install_key(settings.database_admin_url, settings.secret_key)
    app = create_app(settings)
    with app.app_context():
        app.extensions["portal.storage"].ensure_bucket()
        with system_scope(db.session):
            seed_bureaus(db.session)
            accounts = seed_demo_accounts(db.session)
        db.session.commit()
    return format_accounts(accounts)


_SHARED_ENV = (
    "PORTAL_ENV",
    "SECRET_KEY",
    "PII_KEY",
    "HISTORY_KEY",
    "DATABASE_URL",
    "DATABASE_ADMIN_URL",
    "REDIS_URL",
    "S3_ENDPOINT_URL",
    "S3_ACCESS_KEY_ID",
    "S3_SECRET_ACCESS_KEY",
    "S3_REGION",
    "PUBLIC_BASE_URL",
    "LOG_FORMAT",
)


def _write_env_file(path: Path, env: dict[str, str]) -> None:
    """Let other terminals run ``portal`` commands against this instance: ``set -a; . var/dev/run/env; set +a``."""
    lines = [f"{name}={shlex.quote(env[name])}" for name in _SHARED_ENV if env.get(name)]
    path.unlink(missing_ok=True)
    with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as handle:
        handle.write("\n".join(lines) + "\n")


def _spawn(name: str, argv: list[str], env: dict[str, str], run_dir: Path) -> subprocess.Popen:
    proc = subprocess.Popen(argv, env=env, start_new_session=True, preexec_fn=_die_with_parent)
    # Written whole, then renamed: a reader never sees an empty file.
    partial = run_dir / f".app-{name}.pid.tmp"
    partial.write_text(str(proc.pid))
    partial.replace(run_dir / f"app-{name}.pid")
    return proc


def run_dev(port: int = 5000, root: str = "var/dev") -> int:
    """Run the whole portal until Ctrl-C; return the exit code."""
    root_path = Path(root).resolve()
    run_dir = root_path / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    _stop_leftovers(run_dir)

    stopping = False

    def _request_stop(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _request_stop)
    signal.signal(signal.SIGTERM, _request_stop)

    # A second instance on one machine (another checkout) needs its own block of service ports.
    base_port = int(os.environ.get("PORTAL_DEV_BASE_PORT", DEV_BASE_PORT))
    env, services = prepare_environment(root_path, port, base_port)
    children: dict[str, _Child] = {}
    service_retry: dict[str, tuple[float, float]] = {}  # embedded service -> (next try, backoff)
    code = 0
    try:
        accounts = setup_database(env)
        _write_env_file(run_dir / "env", env)
        queues = ["notifications", "documents", "default"]
        commands = {
            "web": [
                str(_BIN / "gunicorn"),
                "-c",
                "python:portal.gunicorn_conf",
                "-w",
                "2",
                "--threads",
                "4",
                "-b",
                f"127.0.0.1:{port}",
                "portal:create_app()",
            ],
            "worker": [str(_BIN / "rq"), "worker", *queues, *WORKER_OPTIONS, "--url", env["REDIS_URL"]],
            "cron": [str(_BIN / "portal"), "cron", "--url", env["REDIS_URL"]],
        }
        for name, argv in commands.items():
            children[name] = _Child(name, argv, _spawn(name, argv, env, run_dir), time.monotonic())
        print(f"\n{accounts}\n", flush=True)
        print(f"Portal:  http://127.0.0.1:{port}/   Staff: http://127.0.0.1:{port}/staff/", flush=True)
        print(f"Ready:   http://127.0.0.1:{port}/readyz   (Ctrl-C stops everything)\n", flush=True)
        while not stopping:
            _supervise_children(children, env, run_dir)
            if services is not None:
                _supervise_services(services, service_retry, lambda: stopping)
            time.sleep(0.5)
    finally:
        print("Stopping web, worker and cron...", flush=True)
        _stop_children({name: child.proc for name, child in children.items() if child.proc is not None})
        for pid_file in run_dir.glob("app-*.pid"):
            pid_file.unlink(missing_ok=True)
        (run_dir / "env").unlink(missing_ok=True)
        if services is not None:
            print("Stopping embedded services...", flush=True)
            services.stop()
        print("Stopped.", flush=True)
    return code


def _supervise_children(children: dict[str, _Child], env: dict[str, str], run_dir: Path) -> None:
    """Start again, with backoff, every child that has exited; say so."""
    now = time.monotonic()
    for child in children.values():
        if child.proc is not None and child.proc.poll() is not None:
            returncode = child.proc.returncode
            # Its own process group: whatever it left behind (gunicorn workers, a work horse) goes with it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.proc.pid, signal.SIGKILL)
            if now - child.started >= STABLE_AFTER:
                child.backoff = RESTART_FIRST
            print(f"{child.name} exited with code {returncode}; restarting it in {child.backoff:.0f} s.", flush=True)
            child.proc = None
            child.restart_at = now + child.backoff
            child.backoff = min(child.backoff * 2, RESTART_MAX)
        if child.proc is None and now >= child.restart_at:
            child.proc = _spawn(child.name, child.argv, env, run_dir)
            child.started = now
            print(f"{child.name} restarted (pid {child.proc.pid}).", flush=True)


def _supervise_services(services, retry: dict[str, tuple[float, float]], stopping) -> None:
    """Start again an embedded service whose process has exited (its data stays), with backoff; say so."""
    from portal.devservices import EmbeddedServiceError

    for key, returncode in services.exited().items():
        label = services.label(key)
        next_try, backoff = retry.get(key, (0.0, RESTART_FIRST))
        if time.monotonic() < next_try or stopping():
            continue
        if key not in retry:
            print(f"{label} exited with code {returncode}; restarting it.", flush=True)
        try:
            services.restart(key)
        except EmbeddedServiceError as exc:
            print(f"{label} could not be restarted ({exc}); trying again in {backoff:.0f} s.", flush=True)
            retry[key] = (time.monotonic() + backoff, min(backoff * 2, RESTART_MAX))
            continue
        retry.pop(key, None)
        print(f"{label} restarted.", flush=True)


def _stop_children(children: dict[str, subprocess.Popen], timeout: float = 10.0) -> None:
    for proc in children.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + timeout
    for proc in children.values():
        try:
            proc.wait(max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def running_instance_env(candidates: list[Path]) -> tuple[Path, dict[str, str]] | None:
    """The environment a running ``portal dev`` wrote (``<root>/run/env``), from the first root that has one.

    A file left behind by an instance that was killed (its web process is gone) is skipped.
    """
    for root in candidates:
        env_file = root / "run" / "env"
        if not env_file.is_file():
            continue
        pid_file = root / "run" / "app-web.pid"
        try:
            alive = psutil.pid_exists(int(pid_file.read_text().strip()))
        except (OSError, ValueError):
            alive = False
        if not alive:
            continue
        values: dict[str, str] = {}
        for line in env_file.read_text().splitlines():
            name, sep, raw = line.partition("=")
            if sep and name.isidentifier():
                parts = shlex.split(raw)
                values[name] = parts[0] if parts else ""
        return root, values
    return None


def dev_roots(cwd: Path) -> list[Path]:
    """Where ``portal dev`` keeps its data: ``$PORTAL_DEV_ROOT``, else ``var/dev`` here and in the checkout."""
    if os.environ.get("PORTAL_DEV_ROOT"):
        return [Path(os.environ["PORTAL_DEV_ROOT"])]
    checkout = Path(__file__).resolve().parent.parent
    return list(dict.fromkeys([cwd / "var" / "dev", checkout / "var" / "dev"]))


def use_running_instance(environ: dict[str, str] | None = None, cwd: Path | None = None) -> Path | None:
    """With no ``DATABASE_URL`` set, take the running dev instance's environment (unset variables only).

    Returns the instance's root (the caller says which instance it uses), or None when nothing was taken.
    """
    environ = os.environ if environ is None else environ
    if environ.get("DATABASE_URL"):
        return None
    found = running_instance_env(dev_roots(cwd or Path.cwd()))
    if found is None:
        return None
    root, values = found
    for name, value in values.items():
        environ.setdefault(name, value)
    return root
