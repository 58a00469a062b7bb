"""Profile a submission in-process: ``python -m bench.profile_submission --pairs 200``.

Starts the embedded services under ``--root`` (or uses DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL), migrates and
seeds, then sends ``--pairs`` uploads (``POST /api/v1/uploads``, the benchmark's 100 KB PDF) followed by as many
applications naming them (``POST /api/v1/applications``) through the Flask test client, under cProfile. It
prints, per request kind, the CPU time of this process (the web side, without the HTTP server) and of the
embedded services (PostgreSQL backends, Redis, SeaweedFS), then the top functions by cumulative time.

No wrk, no gunicorn: a figure that another process on the machine barely moves, and a profile of the same run.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import random
import tempfile
import time
from pathlib import Path

import psutil

from bench.run import GENEROUS, application_body, cpu_seconds, multipart_body, pdf_file, positive_int

ROOT = Path("var/profile-submission")
BASE_PORT = 30500  # embedded services (`portal dev` uses 24000, the benchmark 25000, the tests 20000-22700)


def service_processes(root: Path, ports: set[int]) -> list[psutil.Process]:
    """The embedded services (and their children: PostgreSQL's backends), found as ``bench.run`` finds them."""
    marker, own = str(root.resolve()), os.getpid()  # this process names the root too: it is the web side, not a service
    listening = {
        c.pid for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    }
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid != own and (proc.pid in listening or any(marker in part for part in proc.info["cmdline"] or ())):
            for p in (proc, *proc.children(recursive=True)):
                found[p.pid] = p
    return list(found.values())


def _backend_cpu_ns(pid: int) -> int:
    """CPU time of one PostgreSQL backend so far, in nanoseconds (the scheduler's count, not 10 ms ticks)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def statements_of(app, send) -> list[str]:
    """The SQL statements one request sends, each with the CPU its PostgreSQL backend spent on it and the time
    the call took (the COMMIT's too); the first 140 characters of each statement."""
    from sqlalchemy import event

    from portal.extensions import db

    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    started: dict[int, int] = {}

    def before(conn, cursor, statement, parameters, context, executemany):
        pid = conn.connection.dbapi_connection.info.backend_pid
        started[id(conn)] = (_backend_cpu_ns(pid), time.perf_counter_ns())

    def after(conn, cursor, statement, parameters, context, executemany):
        pid = conn.connection.dbapi_connection.info.backend_pid
        cpu, wall = started.pop(id(conn))
        spent, waited = (_backend_cpu_ns(pid) - cpu) / 1000, (time.perf_counter_ns() - wall) / 1000
        line = " ".join(statement.split())
        seen.append(f"{spent:>6.0f} us CPU {waited:>6.0f} us wall  " + ("many: " if executemany else "") + line[:140])

    hooks = (("before_cursor_execute", before), ("after_cursor_execute", after))
    for name, hook in hooks:
        event.listen(engine, name, hook)
    original = engine.dialect.do_commit  # the COMMIT is no cursor execute: time it by wrapping the dialect's call

    def do_commit(dbapi_connection):
        pid = getattr(dbapi_connection, "dbapi_connection", dbapi_connection).info.backend_pid  # behind the pool
        cpu, wall = _backend_cpu_ns(pid), time.perf_counter_ns()
        original(dbapi_connection)
        spent, waited = (_backend_cpu_ns(pid) - cpu) / 1000, (time.perf_counter_ns() - wall) / 1000
        seen.append(f"{spent:>6.0f} us CPU {waited:>6.0f} us wall  COMMIT")

    engine.dialect.do_commit = do_commit
    try:
        send(0)
    finally:
        for name, hook in hooks:
            event.remove(engine, name, hook)
        engine.dialect.do_commit = original
    return seen


def _by_name(procs: list[psutil.Process]) -> dict[str, list[psutil.Process]]:
    groups: dict[str, list[psutil.Process]] = {}
    for proc in procs:
        try:
            groups.setdefault(proc.name(), []).append(proc)
        except psutil.Error:
            continue
    return groups


def measure(label: str, send, count: int, services: list[psutil.Process], profile=None) -> dict:
    """Send ``count`` requests; return CPU ms per request of this process and of the services."""
    by_name_before = {name: cpu_seconds(ps) for name, ps in _by_name(services).items()}
    services_before, own_before, started = cpu_seconds(services), time.process_time(), time.perf_counter()
    if profile is not None:
        profile.start() if hasattr(profile, "start") else profile.enable()
    for i in range(count):
        send(i)
    if profile is not None:
        profile.stop() if hasattr(profile, "stop") else profile.disable()
    own = time.process_time() - own_before
    other = cpu_seconds(services) - services_before
    figures = {
        "web_ms": round(own * 1000 / count, 2),
        "services_ms": round(other * 1000 / count, 2),
        "wall_ms": round((time.perf_counter() - started) * 1000 / count, 2),
    }
    each = ", ".join(
        f"{name} {(cpu_seconds(ps) - by_name_before[name]) * 1000 / count:.2f}"
        for name, ps in _by_name(services).items()
    )
    print(
        f"  {label:<12} web {figures['web_ms']:>6.2f} ms + services {figures['services_ms']:>6.2f} ms CPU per request"
        f" ({each}; wall {figures['wall_ms']:.1f} ms)",
        flush=True,
    )
    return figures


def cprofile_profiles(args, upload, apply, procs) -> None:
    print(f"{args.pairs} more under cProfile:", flush=True)
    # CPU time, not wall time: waits on the services are theirs, counted above.
    profiles = {name: cProfile.Profile(time.process_time) for name in ("upload", "application")}
    measure("upload", upload, args.pairs, procs, profiles["upload"])
    measure("application", apply, args.pairs, procs, profiles["application"])
    for name, profile in profiles.items():
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out)
        print(f"\n--- {name}: cProfile CPU {stats.total_tt * 1000 / args.pairs:.1f} ms per request ---")
        stats.sort_stats("cumulative").print_stats(args.top)
        print(out.getvalue())
        if args.save:
            stats.dump_stats(f"{args.save}.{name}")


def pyinstrument_profiles(args, upload, apply, procs) -> None:
    """A sampling profile (wall time: waits on the services show as such); pyinstrument is not a dependency."""
    from pyinstrument import Profiler

    for name, send in (("upload", upload), ("application", apply)):
        profiler = Profiler(interval=0.0005)
        print(f"\n--- {name}: {args.pairs} more under pyinstrument ---", flush=True)
        measure(name, send, args.pairs, procs, profiler)
        print(profiler.output_text(show_all=False, short_mode=False), flush=True)
        if args.save:
            Path(f"{args.save}.{name}.html").write_text(profiler.output_html())


def embedded_app(root: Path, base_port: int):
    """The embedded services under ``root`` (started, migrated, seeded) and the portal's app in the production
    shape with generous rate limits, as the benchmark serves it; the caller stops the services (None if external)."""
    from portal import create_app
    from portal.config import load_settings
    from portal.devserver import prepare_environment, setup_database

    root.mkdir(parents=True, exist_ok=True)
    env, services = prepare_environment(root.resolve(), 5150, base_port)  # no server listens
    env.update(PORTAL_ENV="production", LOG_FORMAT="json", LOG_LEVEL="WARNING")
    for name in ("RATELIMIT_SUBMIT", "RATELIMIT_UPLOAD", "RATELIMIT_TRACK", "RATELIMIT_TRACK_NUMBER"):
        env[name] = GENEROUS
    try:
        setup_database(env)
        return create_app(load_settings(env)), services
    except BaseException:
        if services is not None:
            services.stop()
        raise


def county_ids(app) -> list[int]:
    from sqlalchemy import select

    from portal.extensions import db
    from tenants.models import Bureau, BureauLevel
    from tenants.scoping import system_scope

    with app.app_context():
        with system_scope(db.session):
            counties = db.session.scalars(select(Bureau.id).where(Bureau.level == BureauLevel.county)).all()
        db.session.remove()
    return list(counties)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=positive_int, default=200, help="uploads + applications measured (200)")
    parser.add_argument("--warmup", type=int, default=20, help="pairs sent before measuring (20)")
    parser.add_argument("--root", type=Path, default=ROOT, help=f"data of the embedded services (default {ROOT})")
    parser.add_argument("--base-port", type=int, default=BASE_PORT, help=f"ports of the services ({BASE_PORT}+)")
    parser.add_argument("--top", type=int, default=40, help="functions listed per profile (40)")
    parser.add_argument("--pyinstrument", action="store_true", help="a sampling profile instead (pip install it)")
    parser.add_argument("--save", type=Path, help="write the two profiles here (<path>.upload, <path>.application)")
    args = parser.parse_args(argv)

    from portal.devservices import port_layout

    app, services = embedded_app(args.root, args.base_port)
    try:
        client = app.test_client()
        rng = random.Random()  # fresh ID numbers: a database kept from an earlier run holds the last ones
        with tempfile.TemporaryDirectory() as work:
            body_path, content_type = multipart_body(Path(work), pdf_file(Path(work)))
            upload_body = body_path.read_bytes()
        counties = county_ids(app)
        https = {"base_url": "https://localhost"}  # production cookies are Secure
        uploaded: list[str] = []

        def upload(_i: int) -> None:
            answer = client.post("/api/v1/uploads", data=upload_body, headers={"Content-Type": content_type}, **https)
            if answer.status_code != 201:
                raise RuntimeError(f"upload answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
            uploaded.append(answer.get_json()["upload_id"])

        def apply(_i: int) -> None:
            body = application_body(uploaded.pop(), rng.choice(counties), rng)
            answer = client.post(
                "/api/v1/applications", data=body.encode(), headers={"Content-Type": "application/json"}, **https
            )
            if answer.status_code != 201:
                raise RuntimeError(f"application answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")

        for i in range(args.warmup):
            upload(i)
            apply(i)
        print("Statements of one submission:", flush=True)
        for name, send in (("upload", upload), ("application", apply)):
            for statement in statements_of(app, send):
                print(f"  {name:<12} {statement}", flush=True)
        procs = service_processes(args.root, set(port_layout(args.base_port).values()))
        print(f"{args.pairs} submissions in-process ({len(procs)} service processes watched):", flush=True)
        figures = {
            "upload": measure("upload", upload, args.pairs, procs, None),
            "application": measure("application", apply, args.pairs, procs, None),
        }
        total = sum(f["web_ms"] + f["services_ms"] for f in figures.values())
        print(f"  a submission (upload + application): {total:.1f} ms CPU", flush=True)
        # Profiled separately: the profiler's own overhead stays out of the figures above.
        if args.pyinstrument:
            pyinstrument_profiles(args, upload, apply, procs)
        else:
            cprofile_profiles(args, upload, apply, procs)
    finally:
        if services is not None:
            services.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
