"""Run every benchmark at one scale: ``python -m bench.run --cases 100000`` (``make bench N=100000``).

1. Start the embedded PostgreSQL, Redis and S3 under ``var/bench`` (or use DATABASE_URL / REDIS_URL /
   S3_ENDPOINT_URL when set), migrate, seed the bureaus and demo accounts, and fill the database with N cases
   (``bench.generate``; skipped with ``--reuse`` when it already holds N).
2. Serve the portal and the bare-Flask baseline (``bench.baseline``) with the same gunicorn settings.
3. Drive each scenario with wrk (``bench/wrk/requests.lua``): a warm-up, then the measured run.
4. Time the deadline sweep (first run, which writes the alerts, then a repeat) and explain its queries.
5. Read the resident memory of the web workers after the load, and of a job worker running the sweep.

Results go to ``bench/results/<N>.json`` and a Markdown table is printed.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import itertools
import json
import os
import platform
import random
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psutil
import requests

from bench.load import Request, Result, run_wrk, write_requests
from portal.heap import HEAP_TRIM_SECONDS

ROOT = Path("var/bench")
BASE_PORT = 25000  # embedded services; `portal dev` uses 24000, the tests 20000-22700 (--base-port moves it)
WEB_OFFSET, BASELINE_OFFSET = 500, 501  # the portal's and the baseline's gunicorn, above the services' ports
RESULTS = Path(__file__).with_name("results")
# Served as the image and the compose file serve it: four sync workers, each answering one connection at a time
# and closing it (nginx's upstream connections are opened anew), portal and baseline alike. Threaded workers (as
# `portal dev` runs) keep each of wrk's keep-alive connections on the worker that accepted it: a run whose 8
# connections landed 7 to 1 measured one busy worker (one GIL) beside an idle one, 518-1959 req/s at the same load
# (bench/README.md, third pass); sync workers take the next request whichever is free.
GUNICORN = ("-c", "python:portal.gunicorn_conf", "-w", "4")
CONNECTIONS = 8
# The loaded measure is DRAWS runs of a third of the seconds each, reported by the median run (all three are kept:
# a run disturbed by the machine stands out).
DRAWS = 3
ONCE_PER_SECOND = 150  # uploads kept per second of the application runs: well above what they send
PASSWORD = "Demo-2026-review"
GENEROUS = "1000000 per minute"  # rate limits stay on (a Redis counter per request) but never refuse
SAMPLE = 2000  # distinct case numbers / ids that a scenario cycles through
KEPT_WARMUP = 30  # seconds at least: at ~400 req/s each worker sees each of SAMPLE cases about three times
# ...then on in steps until a step's throughput is within STEADY of the one before: a first rendering costs 10-20 ms
# (its links signed, on a large database more), so 4 workers x SAMPLE cases may take longer than KEPT_WARMUP.
STEADY_STEP, STEADY, KEPT_WARMUP_MAX = 5, 0.05, 180

BIN = Path(sys.executable).parent


# --- Services and processes -----------------------------------------------------------------------------------


def environment(root: Path, base_port: int = BASE_PORT) -> tuple[dict[str, str], object | None]:
    from portal.devserver import prepare_environment

    root.mkdir(parents=True, exist_ok=True)
    env, services = prepare_environment(root.resolve(), base_port + WEB_OFFSET, base_port)
    env["PORTAL_ENV"] = "production"
    env["LOG_FORMAT"] = "json"
    for name in ("RATELIMIT_SUBMIT", "RATELIMIT_UPLOAD", "RATELIMIT_TRACK", "RATELIMIT_TRACK_NUMBER"):
        env[name] = GENEROUS
    return env, services


def spawn(name: str, argv: list[str], env: dict[str, str], log_dir: Path) -> subprocess.Popen:
    log = open(log_dir / f"{name}.log", "ab")  # noqa: SIM115  (closed with the process)
    return subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def gunicorn(app: str, port: int) -> list[str]:
    return [str(BIN / "gunicorn"), *GUNICORN, "-b", f"127.0.0.1:{port}", app]


def wait_ready(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
    for proc in procs:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def server_processes(web_pid: int, root: Path, ports: set[int]) -> list[psutil.Process]:
    """The server side of a request: a gunicorn tree, and the embedded services (their command line names the data
    directory, or they listen on a port of the bench's block), each with its children (PostgreSQL's backends)."""
    marker = str(root.resolve())
    listening = {
        c.pid for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    }
    roots = [psutil.Process(web_pid)]
    for proc in psutil.process_iter(["cmdline"]):
        if proc.pid in listening or any(marker in part for part in proc.info["cmdline"] or ()):
            roots.append(proc)
    found: dict[int, psutil.Process] = {}
    for proc in roots:
        try:
            for p in (proc, *proc.children(recursive=True)):
                found[p.pid] = p
        except psutil.Error:
            continue
    return list(found.values())


def cpu_seconds(procs: list[psutil.Process]) -> float:
    """User + system CPU time used so far by ``procs`` (a process that ended meanwhile counts as 0)."""
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total


def rss_mb(proc: psutil.Process) -> float:
    return round(proc.memory_info().rss / 2**20, 1)


# --- Data and credentials ---------------------------------------------------------------------------------------


GENERATED = "generated-cases"  # in the root: "<N generated> <cases right after>", for --reuse


def generated_here(root: Path, app) -> int | None:
    """How many cases were generated in ``root``'s database, if it still holds them (the application scenario
    adds cases to it, which --reuse keeps; a database replaced or emptied since no longer matches)."""
    try:
        generated, after = (int(part) for part in (root / GENERATED).read_text().split())
    except (OSError, ValueError):
        return None
    return generated if case_count(app) >= after else None


def case_count(app) -> int:
    from sqlalchemy import func, select

    from portal.cases.models import Case
    from portal.extensions import db
    from tenants.scoping import system_scope

    with app.app_context(), system_scope(db.session):
        return db.session.scalar(select(func.count()).select_from(Case))


def staff_every_bureau(app) -> int:
    """Give each bureau without accounts a petition office and its leaders, as a deployment has (the sweep alerts
    them). The demo accounts' password hash is copied: hashing hundreds of passwords would take minutes."""
    from sqlalchemy import select

    from portal.accounts.models import StaffUser
    from portal.extensions import db
    from portal.roles import PETITION_OFFICE, ROLE_LABELS, Role
    from tenants.models import Bureau, Unit, UnitKind
    from tenants.scoping import system_scope

    roles = (Role.petition_clerk, Role.petition_office_head, Role.petitions_leader, Role.principal_leader)
    with app.app_context(), system_scope(db.session):
        session = db.session
        password_hash = session.scalar(select(StaffUser.password_hash).where(StaffUser.username == "cc_clerk"))
        staffed = set(session.scalars(select(StaffUser.tenant_id).distinct()))
        offices = {
            u.tenant_id: u.id for u in session.scalars(select(Unit).where(Unit.kind == UnitKind.petition_office))
        }
        bureaus = [b for b in session.scalars(select(Bureau)) if b.id not in staffed]
        for bureau in bureaus:
            for role in roles:
                session.add(
                    StaffUser(
                        tenant_id=bureau.id,
                        username=f"bench_{bureau.adcode or bureau.id}_{role.value}",
                        display_name=f"{bureau.division_name}·{ROLE_LABELS[role][0]}",
                        password_hash=password_hash,
                        unit_id=offices.get(bureau.id) if role in PETITION_OFFICE else None,
                        roles=[role],
                    )
                )
        session.commit()
    return len(bureaus)


def samples(app, rng: random.Random, size: int = SAMPLE) -> dict:
    """Case numbers with access codes, Changchun's case ids, and county bureau ids to apply against."""
    from sqlalchemy import select

    from bench.generate import bench_access_code
    from portal.cases.models import Case
    from portal.extensions import db
    from tenants.models import Bureau, BureauLevel
    from tenants.scoping import system_scope

    with app.app_context(), system_scope(db.session):
        session = db.session
        numbers = session.scalars(
            select(Case.number).where(Case.access_code_hash.is_not(None)).order_by(Case.id).limit(size * 20)
        ).all()
        city = session.scalar(select(Bureau.id).where(Bureau.adcode == "220100"))
        ids = session.scalars(select(Case.id).where(Case.tenant_id == city).order_by(Case.id).limit(size * 20)).all()
        counties = session.scalars(select(Bureau.id).where(Bureau.level == BureauLevel.county)).all()
    numbers = rng.sample(list(numbers), min(size, len(numbers)))
    return {
        "tracked": [(n, bench_access_code(n)) for n in numbers],
        "city_case_ids": rng.sample(list(ids), min(size, len(ids))),
        "counties": list(counties),
    }


def tracking_cookie(app, number: str) -> str:
    """The signed session cookie a browser holds after proving the access code of ``number`` on /track."""
    serializer = app.session_interface.get_signing_serializer(app)
    # The lookup form's CSRF secret is in it too (the form that proved the code was CSRF-protected).
    secret = hashlib.sha1(number.encode()).hexdigest()
    value = serializer.dumps({"csrf_token": secret, "tracked": {number: int(time.time()) + 6 * 3600}})
    return f"{app.config['SESSION_COOKIE_NAME']}={value}"


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def _post_form(base: str, path: str, jar: dict[str, str], fields: dict[str, str]) -> requests.Response:
    """Post a form of the page at ``path`` with its CSRF token, carrying and updating the cookies in ``jar``."""
    page = requests.get(f"{base}{path}", headers={"Cookie": _cookie_header(jar)}, timeout=10)
    jar.update(page.cookies.get_dict())
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    if token is None:
        raise RuntimeError(f"no CSRF token on {path}")
    answer = requests.post(
        f"{base}{path}",
        data={"csrf_token": token.group(1), **fields},
        headers={"Cookie": _cookie_header(jar), "Referer": f"{base}{path}"},
        allow_redirects=False,
        timeout=10,
    )
    jar.update(answer.cookies.get_dict())
    return answer


def staff_cookie(base: str, username: str, second_factor: str | None = None) -> str:
    """Sign in through the login page (and the second step, with the authenticator secret ``second_factor``); the
    cookies are Secure (production), so they are carried by hand."""
    from portal.identity.totp import code_at

    jar: dict[str, str] = {}
    answer = _post_form(base, "/staff/login", jar, {"username": username, "password": PASSWORD})
    if answer.status_code == 302 and answer.headers["Location"].endswith("/staff/2fa/verify") and second_factor:
        answer = _post_form(base, "/staff/2fa/verify", jar, {"code": code_at(second_factor, datetime.now(UTC))})
    if answer.status_code != 302 or "/staff/2fa/" in answer.headers["Location"]:
        raise RuntimeError(f"login of {username} answered {answer.status_code} {answer.headers.get('Location')}")
    return _cookie_header(jar)


def enrol_second_factor(app, username: str) -> str:
    """Give ``username`` a new authenticator (a leader must sign in with one in production); return its secret.
    Confirmed with the code of a minute ago, so that the sign-in's code (of now) is not one already used."""
    from sqlalchemy import select

    from portal.accounts.models import StaffUser
    from portal.extensions import db
    from portal.identity import operations as ops
    from portal.identity.totp import code_at
    from tenants.scoping import system_scope

    pii = app.extensions["portal.pii"]
    with app.app_context(), system_scope(db.session):
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
        ops.remove_second_factor(db.session, user)
        secret = ops.start_enrolment(db.session, pii, user)
        earlier = datetime.now(UTC) - timedelta(seconds=60)
        ops.confirm_enrolment(db.session, pii, user, code_at(secret, earlier), now=earlier)
        db.session.commit()
        db.session.remove()
    return secret


def api_token(base: str, username: str) -> str:
    answer = requests.post(f"{base}/api/v1/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    answer.raise_for_status()
    return answer.json()["token"]


def check(base: str, request: Request) -> None:
    """Each scenario's first request must succeed, or its numbers would measure an error page."""
    body = request.body
    if body.startswith("@"):
        body = Path(body[1:]).read_bytes()
    answer = requests.request(
        request.method, base + request.path, headers=request.headers, data=body or None, allow_redirects=False
    )
    if answer.status_code >= 300:
        raise RuntimeError(f"{request.method} {request.path} answered {answer.status_code}: {answer.text[:300]}")


# --- Scenarios ------------------------------------------------------------------------------------------------


def pdf_file(work: Path, size: int = 100 * 1024) -> Path:
    """A valid PDF of about ``size`` bytes (a scanned page's order of magnitude)."""
    head = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    page = b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]>>endobj\n"
    padding = b"% " + b"x" * 76 + b"\n"
    body = head + page + padding * max(size // len(padding), 1) + b"trailer<</Root 1 0 R>>\n%%EOF\n"
    path = work / "scan.pdf"
    path.write_bytes(body)
    return path


def multipart_body(work: Path, pdf: Path) -> tuple[Path, str]:
    boundary = "----bench7d3f2a"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="scan.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    path = work / "upload.body"
    path.write_bytes(body)
    return path, f"multipart/form-data; boundary={boundary}"


def application_body(upload_id: str, county: int, rng: random.Random) -> str:
    from bench.generate import random_id_number
    from portal.cases.queries import local_today

    today = local_today()
    body = {
        "petitioner": {
            "name": "王秀英",
            "id_number": random_id_number(rng, "220102"),
            "phone": f"139{rng.randint(0, 99999999):08d}",
            "address": "长春市南关区人民大街1号",
        },
        "disputed": {
            "bureau_id": county,
            "opinion_kind": "handling",
            "document_number": f"社保信〔{today.year}〕{rng.randint(1, 999)}号",
            "issued_on": (today - timedelta(days=6)).isoformat(),
            "received_on": (today - timedelta(days=4)).isoformat(),
        },
        "request": "请求撤销处理意见，重新核定养老金。",
        "facts_and_reasons": "处理意见认定的缴费年限与档案记载不符。",
        "attachments": [upload_id],
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def unclaimed_uploads(app) -> list[str]:
    from sqlalchemy import select

    from portal.attachments.models import Upload
    from portal.extensions import db

    with app.app_context():
        return [str(u) for u in db.session.scalars(select(Upload.id).where(Upload.claimed_at.is_(None))).all()]


class Bench:
    def __init__(
        self,
        app,
        base: str,
        baseline: str,
        work: Path,
        seconds: int,
        warmup: int,
        rng: random.Random,
        only: frozenset[str] = frozenset(),
    ):
        self.app, self.base, self.baseline, self.work = app, base, baseline, work
        self.seconds, self.warmup, self.rng = seconds, warmup, rng
        self.only = only  # the scenarios to run besides the baseline (empty: all)
        self.results: list[Result] = []
        self.servers: dict[str, list[psutil.Process]] = {}  # base URL -> its server-side processes

    def run(
        self, name: str, requests_: list[Request], *, base: str | None = None, once: bool = False, kept: bool = False
    ) -> Result | None:
        """Check the first request (each, in a short list of distinct ones: a redirect to a sign-in step would
        otherwise be measured as a page), warm up, measure with CONNECTIONS connections, then with one (what one person
        waits on an idle server). ``once``: each request works once (an upload is claimed once): no warm-up, and
        the two runs get separate requests. ``kept``: the answers are kept per worker (the tracking page and API):
        the warm-up lasts at least KEPT_WARMUP seconds and goes on until the throughput is steady, so that each worker
        has kept nearly every sampled case
        (the steady state the target is about; a page's first rendering is measured by bench/profile_tracking.py)."""
        if not self.wanted(name):
            return None
        base = base or self.base
        for request in requests_[: 1 if once or len(requests_) > 20 else None]:
            check(base, request)
        loaded = alone = requests_
        alone_seconds = max(self.seconds // 3, 1)
        if once:  # shared by time: one connection on an idle server goes about as fast as eight on a busy one
            split = len(requests_) * self.seconds // (self.seconds + alone_seconds)
            loaded, alone = requests_[1:split], requests_[split:]
        path = write_requests(self.work / f"{name}.requests", loaded)
        alone_path = write_requests(self.work / f"{name}.alone.requests", alone)
        if self.warmup and not once:
            if kept:
                self.warm_until_steady(name, base, path)
            else:
                run_wrk(name, base, path, seconds=self.warmup, connections=CONNECTIONS)
        servers = self.servers.get(base, [])
        draws = 1 if once else DRAWS  # a request that works once cannot be sent again in a second draw
        cpu_before = cpu_seconds(servers)
        runs = [
            run_wrk(name, base, path, seconds=max(self.seconds // draws, 1), connections=CONNECTIONS)
            for _ in range(draws)
        ]
        cpu = cpu_seconds(servers) - cpu_before
        sent = sum(r.requests for r in runs)
        one = run_wrk(name, base, alone_path, seconds=alone_seconds, connections=1)
        result = dataclasses.replace(
            sorted(runs, key=lambda r: r.rps)[draws // 2],  # the median draw
            errors=sum(r.errors for r in runs) + one.errors,
            alone_p50_ms=one.p50_ms,
            alone_p95_ms=one.p95_ms,
            cpu_ms_per_request=round(cpu * 1000 / sent, 2) if servers and sent else None,
            draws_rps=tuple(r.rps for r in runs),
        )
        print(
            f"  {name:<14} {result.rps:>7.1f} req/s  p50 {result.p50_ms:>6.1f}  p95 {result.p95_ms:>6.1f}  "
            f"p99 {result.p99_ms:>6.1f} ms | alone p50 {one.p50_ms:>5.1f} p95 {one.p95_ms:>5.1f} ms | "
            f"server CPU {result.cpu_ms_per_request} ms/req | errors {result.errors} | draws {result.draws_rps}",
            flush=True,
        )
        self.results.append(result)
        return result

    def warm_until_steady(self, name: str, base: str, path: Path) -> None:
        """KEPT_WARMUP seconds, then STEADY_STEP-second steps until two steps running are each within STEADY of the
        step before (a warm-up still climbing slowly may pass one such test, rarely two)."""
        run_wrk(name, base, path, seconds=max(self.warmup, KEPT_WARMUP), connections=CONNECTIONS)
        rates = [run_wrk(name, base, path, seconds=STEADY_STEP, connections=CONNECTIONS).rps]
        for _ in range((KEPT_WARMUP_MAX - KEPT_WARMUP) // STEADY_STEP):
            rates.append(run_wrk(name, base, path, seconds=STEADY_STEP, connections=CONNECTIONS).rps)
            last = rates[-3:]
            if len(last) == 3 and all(abs(b - a) <= STEADY * a for a, b in itertools.pairwise(last)):
                break
        else:
            print(f"  {name}: not steady after {KEPT_WARMUP_MAX} s of warm-up", flush=True)
        print(f"  {name}: warm-up steps after {KEPT_WARMUP} s, req/s: {rates}", flush=True)

    def wanted(self, name: str) -> bool:
        return not self.only or name == "baseline" or name in self.only

    def all(self, data: dict) -> None:
        tracked, case_ids = data["tracked"], data["city_case_ids"]
        self.run(
            "baseline",
            [Request("GET", f"/lookup/{n}", {}) for n, _ in tracked],
            base=self.baseline,
        )
        self.run(
            "tracking_page",
            [Request("GET", f"/track/{n}", {"Cookie": tracking_cookie(self.app, n)}) for n, _ in tracked],
            kept=True,
        )
        self.run(
            "tracking_api",
            [Request("GET", f"/api/v1/applications/{n}", {"X-Access-Code": code}) for n, code in tracked],
            kept=True,
        )
        body, content_type = multipart_body(self.work, pdf_file(self.work))
        # The check's upload and the warm-up's would be claimed by the application run too: all are unclaimed.
        self.run("upload", [Request("POST", "/api/v1/uploads", {"Content-Type": content_type}, f"@{body}")])
        # Each application claims one upload and wrk cycles through its list: keep more than a run can send
        # (a fast application would otherwise reuse claimed uploads and count refusals as errors).
        wanted = ONCE_PER_SECOND * (self.seconds + max(self.seconds // 3, 1)) if self.wanted("application") else 0
        for _ in range(wanted - len(unclaimed_uploads(self.app))):
            check(self.base, Request("POST", "/api/v1/uploads", {"Content-Type": content_type}, f"@{body}"))
        uploads = unclaimed_uploads(self.app)
        self.rng.shuffle(uploads)
        json_type = {"Content-Type": "application/json"}
        self.run(
            "application",
            [
                Request(
                    "POST",
                    "/api/v1/applications",
                    json_type,
                    application_body(u, self.rng.choice(data["counties"]), self.rng),
                )
                for u in uploads
            ],
            once=True,  # an upload is claimed once
        )
        clerk = {"Cookie": staff_cookie(self.base, "cc_clerk")}
        queue_paths = [
            "/staff/cases",
            "/staff/cases?view=all",
            "/staff/cases?view=all&cursor=2026-12-31.999999999",  # a page deep in the queue
            "/staff/cases?view=all&overdue=1",
            "/staff/cases?view=all&kind=review&state=accepted",
            "/staff/cases?view=supervision",
        ]
        self.run("staff_queue", [Request("GET", p, clerk) for p in queue_paths])
        # "Mine" alone (the work items): the clerk's first page, a filtered one, and the petitions leader's.
        leader_factor = enrol_second_factor(self.app, "cc_petitions_leader")
        leader = {"Cookie": staff_cookie(self.base, "cc_petitions_leader", leader_factor)}
        mine = [
            Request("GET", p, clerk) for p in ("/staff/cases", "/staff/cases?overdue=1", "/staff/cases?state=submitted")
        ]
        self.run("staff_queue_mine", [*mine, Request("GET", "/staff/cases", leader)])
        self.run("case_page", [Request("GET", f"/staff/cases/{i}", clerk) for i in case_ids])
        bearer = {"Authorization": f"Bearer {api_token(self.base, 'cc_clerk')}"}
        api_paths = [
            "/api/v1/staff/cases",
            "/api/v1/staff/cases?view=all",
            "/api/v1/staff/cases?view=all&cursor=2026-12-31.999999999",
        ]
        self.run("api_case_list", [Request("GET", p, bearer) for p in api_paths])
        head = {"Cookie": staff_cookie(self.base, "prov_office_head")}
        self.run("dashboard", [Request("GET", "/staff/supervision/", head)])


# --- The deadline sweep -----------------------------------------------------------------------------------------


def explain_sweep(app) -> dict:
    """EXPLAIN ANALYZE of the day's first sweep's read of the deadlines owing an alert, as the app's role runs it."""
    from sqlalchemy import text

    from portal.extensions import db
    from portal.sweep_sql import OPEN_STAFF, pending_alerts_count
    from portal.sweeps import SweepConfig, china_today, pending_alert_params
    from tenants.scoping import system_scope

    with app.app_context(), system_scope(db.session):
        session = db.session
        params, in_horizon = pending_alert_params(session, china_today(), SweepConfig())
        explained = session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + pending_alerts_count(OPEN_STAFF)), params)
        plan = "\n".join(row[0] for row in explained)
        session.rollback()
    return {
        "pending_alerts": plan,
        "deadlines_in_horizon": in_horizon,
        "seq_scan_on_cases": "Seq Scan on cases" in plan,
    }


def time_sweep(app, owner_url: str | None) -> dict:
    """The sweep for today twice (the first catches up with the generated backlog, the second finds nothing new),
    then for the next working day: the daily increment of a deployment that sweeps every day.

    Between today and the next working day a deployment's autovacuum has a day to clear what the catch-up left
    (it closes every expired window: hundreds of thousands of dead rows at 1M, which the next day's partial
    indexes would otherwise still list): the bench vacuums the swept tables there, untimed.
    """
    from portal.cases.calendar import get_calendar
    from portal.extensions import db
    from portal.sweeps import china_today, run_sweep

    timings = {}
    with app.app_context():
        today = china_today()
        next_day = get_calendar(db.session).add(today, 1, "working_days").due
        for label, day in (("first", today), ("repeat", today), ("next_day", next_day)):
            if label == "next_day" and owner_url:
                vacuum(owner_url, ("deadlines", "deadline_alerts", "cases", "staff_notifications"))
            started = time.perf_counter()
            result = run_sweep(db.session, day)
            db.session.commit()
            timings[label] = {"date": day.isoformat(), "seconds": round(time.perf_counter() - started, 2)}
            timings[label]["result"] = result
            print(f"  sweep {label} ({day}): {timings[label]['seconds']} s  {result['alerts']}", flush=True)
        db.session.remove()
    return timings


def vacuum(owner_url: str, tables: tuple[str, ...]) -> None:
    import psycopg

    with psycopg.connect(owner_url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as conn:
        for table in tables:
            conn.execute(f"VACUUM (ANALYZE) {table}")


def job_worker_memory(env: dict[str, str], log_dir: Path) -> dict:
    """Run the sweep job in an RQ worker; sample the worker's and its work horse's resident memory meanwhile."""
    from redis import Redis
    from rq import Queue

    from portal.devserver import WORKER_OPTIONS

    redis = Redis.from_url(env["REDIS_URL"])
    job = Queue("default", connection=redis).enqueue("worker.tasks.deadlines.sweep_deadlines", job_timeout=600)
    argv = [str(BIN / "rq"), "worker", "default", *WORKER_OPTIONS, "--burst", "--url", env["REDIS_URL"]]
    proc = spawn("job-worker", argv, env, log_dir)
    worker = psutil.Process(proc.pid)
    peak_worker = peak_horse = 0.0
    while proc.poll() is None:
        try:
            peak_worker = max(peak_worker, rss_mb(worker))
            for child in worker.children(recursive=True):
                peak_horse = max(peak_horse, rss_mb(child))
        except psutil.Error:
            pass
        time.sleep(0.05)
    job.refresh()
    seconds = (job.ended_at - job.started_at).total_seconds() if job.ended_at and job.started_at else None
    status = job.get_status()
    status = getattr(status, "value", status)  # RQ 2's JobStatus enum prints as "JobStatus.FINISHED"
    return {"status": status, "job_seconds": seconds, "worker_mb": peak_worker, "horse_mb": peak_horse}


# --- Report -------------------------------------------------------------------------------------------------------


def machine() -> dict:
    lines = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "?")
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.splitlines()[0],
    }


def table(report: dict) -> str:
    baseline = next(r for r in report["scenarios"] if r["name"] == "baseline")
    lines = [
        f"N = {report['cases']:,} cases ({report['when']})",
        "",
        "| scenario | req/s | x baseline | p50 ms | p95 ms | p99 ms | errors | alone p50 | alone p95 | CPU ms/req |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["scenarios"]:
        ratio = r["rps"] / baseline["rps"] if baseline["rps"] else 0
        cells = [r["name"], f"{r['rps']:.1f}", f"{ratio:.2f}", r["p50_ms"], r["p95_ms"], r["p99_ms"], r["errors"]]
        cells += [r["alone_p50_ms"], r["alone_p95_ms"], r.get("cpu_ms_per_request")]
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    lines.append("")
    if "sweep" in report:  # not with --only
        sweep = report["sweep"]
        lines.append(
            f"Sweep: first {sweep['first']['seconds']} s, repeat {sweep['repeat']['seconds']} s, "
            f"next working day {sweep['next_day']['seconds']} s; "
            f"{report['plans']['deadlines_in_horizon']} open deadlines in the horizon; "
            f"seq scan on cases: {report['plans']['seq_scan_on_cases']}"
        )
    memory = f"Memory: web workers {report['memory']['web_workers_mb']} MB right after the load"
    if "web_workers_at_rest_mb" in report["memory"]:
        memory += f", {report['memory']['web_workers_at_rest_mb']} MB at rest"
    if "job" in report["memory"]:
        job = report["memory"]["job"]
        memory += f"; job worker {job['worker_mb']} MB, work horse {job['horse_mb']} MB"
    lines.append(memory)
    return "\n".join(lines)


# The scenarios of Bench.all besides the baseline.
SCENARIOS = frozenset(
    [
        "tracking_page",
        "tracking_api",
        "upload",
        "application",
        "staff_queue",
        "staff_queue_mine",
        "case_page",
        "api_case_list",
        "dashboard",
    ]
)


def scenario_names(raw: str) -> frozenset[str]:
    """An argparse type: known scenario names, comma-separated."""
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = names - SCENARIOS
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown scenarios {sorted(unknown)}; known: {', '.join(sorted(SCENARIOS))}")
    return names


def positive_int(raw: str) -> int:
    """An argparse type: refuse 0, negatives and non-numbers before any service starts."""
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {raw!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=positive_int, default=10_000, help="how many cases to generate (default 10000)")
    parser.add_argument("--reuse", action="store_true", help="keep the generated cases when there are N already")
    parser.add_argument("--seconds", type=positive_int, default=15, help="measured seconds per scenario (default 15)")
    parser.add_argument("--warmup", type=int, default=3, help="warm-up seconds per scenario (default 3)")
    parser.add_argument("--root", type=Path, default=ROOT, help=f"data of the embedded services (default {ROOT})")
    parser.add_argument("--results", type=Path, default=RESULTS, help="where <N>.json goes (default bench/results)")
    parser.add_argument(
        "--sample",
        type=positive_int,
        default=SAMPLE,
        help=f"distinct cases a scenario cycles through (default {SAMPLE}); a few hundred keep the tracking pages warm",
    )
    parser.add_argument(
        "--base-port",
        type=positive_int,
        default=BASE_PORT,
        help=f"first port of the embedded services; the portal listens 500 above it (default {BASE_PORT})",
    )
    parser.add_argument(
        "--only",
        type=scenario_names,
        default=frozenset(),
        help="run only these scenarios (comma-separated) besides the baseline, and no sweep: a quick re-measure",
    )
    args = parser.parse_args(argv)

    from portal import create_app
    from portal.config import load_settings
    from portal.devserver import setup_database
    from portal.devservices import port_layout

    rng = random.Random(args.cases)
    env, services = environment(args.root, args.base_port)
    web_port, baseline_port = args.base_port + WEB_OFFSET, args.base_port + BASELINE_OFFSET
    work = args.root / "run" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    procs: list[subprocess.Popen] = []
    try:
        setup_database(env)
        app = create_app(load_settings(env))
        staff_every_bureau(app)
        report: dict = {"cases": args.cases, "when": time.strftime("%Y-%m-%d %H:%M"), "machine": machine()}
        if not (args.reuse and generated_here(args.root, app) == args.cases):
            from bench.generate import generate

            print(f"Generating {args.cases:,} cases...", flush=True)
            admin_url = env.get("DATABASE_ADMIN_URL") or env["DATABASE_URL"]
            report["generated"] = generate(admin_url, args.cases, env["PII_KEY"])
            (args.root / GENERATED).write_text(f"{args.cases} {case_count(app)}\n")
        data = samples(app, rng, args.sample)
        procs.append(spawn("web", gunicorn("portal:create_app()", web_port), env, work))
        procs.append(spawn("baseline", gunicorn("bench.baseline:create_app()", baseline_port), env, work))
        base, baseline = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{baseline_port}"
        wait_ready(f"{base}/healthz")
        wait_ready(f"{baseline}/lookup/none")
        print(f"Load: wrk, {CONNECTIONS} connections, {args.seconds} s per scenario", flush=True)
        # The applications' people and decisions differ from run to run: --reuse keeps earlier runs' cases, and a
        # second open application of one person against one decision is refused.
        bench = Bench(app, base, baseline, work, args.seconds, args.warmup, random.Random(), args.only)
        ports = set(port_layout(args.base_port).values())
        bench.servers = {
            base: server_processes(procs[0].pid, args.root, ports),
            baseline: server_processes(procs[1].pid, args.root, ports),
        }
        bench.all(data)
        report["scenarios"] = [r.as_dict() for r in bench.results]
        web = psutil.Process(procs[0].pid)
        report["memory"] = {"web_workers_mb": [rss_mb(c) for c in web.children()]}
        # At rest: once each worker's heap trim (portal.heap) has run after the last request.
        time.sleep(HEAP_TRIM_SECONDS + 2)
        report["memory"]["web_workers_at_rest_mb"] = [rss_mb(c) for c in web.children()]
        stop(procs)
        procs.clear()
        if not args.only:
            print("Deadline sweep:", flush=True)
            report["plans"] = explain_sweep(app)
            report["sweep"] = time_sweep(app, env.get("DATABASE_ADMIN_URL"))
            report["memory"]["job"] = job_worker_memory(env, work)
    finally:
        stop(procs)
        if services is not None:
            services.stop()
    args.results.mkdir(parents=True, exist_ok=True)
    output = args.results / f"{args.cases}.json"
    output.write_text(json.dumps(report, ensure_ascii=False, indent=2, default=str) + "\n")
    print("\n" + table(report) + f"\n\nWritten to {output}")
    failed = [r["name"] for r in report["scenarios"] if r["errors"]]
    if failed or report["memory"].get("job", {"status": "finished"})["status"] != "finished":
        print(f"Errors in: {', '.join(failed) or 'the sweep job'}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
