"""The production front with real processes: Debian's nginx, configured from deploy/nginx.conf.template (the file
docker-compose.yml gives the nginx image), in front of a real gunicorn serving the test app.

- 50 clients sending an upload body a byte every 2 s do not delay a normal request beyond 1 s (and, as a control,
  four of them straight at gunicorn do);
- TLS with the generated self-signed pair; plain HTTP redirects to HTTPS;
- the app trusts exactly one hop: a forged X-Forwarded-For does not give a client a fresh rate-limit counter;
- an oversized upload is refused by nginx before it is read;
- download links signed for S3_PUBLIC_ENDPOINT_URL work through the front.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from portal.front import render_template, self_signed_pair
from portal.storage import Storage
from tests.mail_server import free_port
from tests.worker.test_resilience import Processes, process_env

pytestmark = pytest.mark.slow

NGINX = shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if Path(p).exists()), None)
BIN = Path(sys.executable).parent


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen, log: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"exited early: {log}"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port} after {timeout} s: {log}")


class Front:
    def __init__(self, workdir: Path, web_port: int, s3_upstream: str):
        self.dir = workdir
        self.cert, self.key = self_signed_pair(workdir / "tls")
        self.http, self.https, self.s3 = free_port(), free_port(), free_port()
        values = {
            "PORTAL_UPSTREAM": f"127.0.0.1:{web_port}",
            "S3_UPSTREAM": s3_upstream,
            "LISTEN_HTTP": f"127.0.0.1:{self.http}",
            "LISTEN_HTTPS": f"127.0.0.1:{self.https}",
            "LISTEN_S3": f"127.0.0.1:{self.s3}",
            "PUBLIC_HTTPS_PORT": str(self.https),
            "TLS_CERT_FILE": str(self.cert),
            "TLS_KEY_FILE": str(self.key),
            "MAX_BODY_SIZE": "220m",
        }
        (workdir / "portal.conf").write_text(render_template(values))
        temp = "\n".join(
            f"    {name}_temp_path {workdir / name};" for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        # The main file of a stand-alone nginx; the portal's part is the template, included as the image does.
        (workdir / "nginx.conf").write_text(
            f"""
{"user root root;" if os.geteuid() == 0 else ""}
worker_processes 1;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{ worker_connections 1024; }}
http {{
    access_log {workdir / "access.log"};
{temp}
    include {workdir / "portal.conf"};
}}
"""
        )
        self.context = ssl.create_default_context(cafile=str(self.cert))

    def start(self) -> subprocess.Popen:
        check = subprocess.run(
            [NGINX, "-t", "-p", str(self.dir), "-c", str(self.dir / "nginx.conf")], capture_output=True
        )
        assert check.returncode == 0, check.stderr.decode()
        proc = subprocess.Popen(
            [NGINX, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=(self.dir / "stderr.log").open("ab"),
            start_new_session=True,
        )
        wait_for_port(self.https, 20, proc)
        return proc

    def get(self, path: str, headers: dict | None = None, timeout: float = 10) -> http.client.HTTPResponse:
        conn = http.client.HTTPSConnection("127.0.0.1", self.https, context=self.context, timeout=timeout)
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        response.body = response.read()
        conn.close()
        return response


@pytest.fixture(scope="module")
def stack(settings, tmp_path_factory):
    """nginx and gunicorn, started once for this module (gunicorn takes a few seconds to build the app)."""
    if NGINX is None:
        pytest.fail("nginx is not installed: `apt-get install nginx` (.ci/run installs it)")
    tmp_path = tmp_path_factory.mktemp("front")
    procs = Processes(tmp_path)
    try:
        yield from _stack(settings, tmp_path, procs)
    finally:
        procs.stop_all()


def _stack(settings, tmp_path, procs):
    web_port = free_port()
    s3 = settings.s3_endpoint_url.removeprefix("http://").removeprefix("https://").rstrip("/")
    front = Front(tmp_path / "nginx", web_port, s3)
    (tmp_path / "nginx").mkdir(exist_ok=True)
    env = process_env(
        settings,
        PROXY_HOPS="1",
        RATELIMIT_TRACK="3 per minute",
        S3_PUBLIC_ENDPOINT_URL=f"https://127.0.0.1:{front.s3}",
        LOG_LEVEL="WARNING",
    )
    # Two sync workers: without the front, two slow clients are enough to make the portal unresponsive.
    web = procs.spawn(
        "web", ["gunicorn", "-w", "2", "-b", f"127.0.0.1:{web_port}", "--timeout", "120", "portal:create_app()"], env
    )
    wait_for_port(web_port, 60, web, procs.log("web"))
    nginx = front.start()
    front.web_port = web_port
    # gunicorn binds before its workers have built the app: wait (polling, bounded) until answers come quickly.
    deadline = time.monotonic() + 90
    quick = 0
    while quick < 4:
        assert time.monotonic() < deadline, procs.log("web")
        try:
            quick = quick + 1 if timed_get(lambda: front.get("/healthz", timeout=30)) < 0.5 else 0
        except (OSError, AssertionError):
            quick = 0
            time.sleep(0.2)
    yield front
    nginx.terminate()
    nginx.wait(10)


class SlowClients:
    """Clients that send an upload's headers, then its body one byte every ``interval`` seconds."""

    def __init__(self, port: int, count: int, context: ssl.SSLContext | None, interval: float = 2.0):
        self.port, self.count, self.context, self.interval = port, count, context, interval
        self.stop = threading.Event()
        self.connected = threading.Semaphore(0)
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]

    def _run(self) -> None:
        try:
            raw = socket.create_connection(("127.0.0.1", self.port), timeout=30)
            sock = self.context.wrap_socket(raw, server_hostname="127.0.0.1") if self.context else raw
            sock.sendall(
                b"POST /api/v1/uploads HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 100000\r\n\r\n"
            )
            self.connected.release()
            while not self.stop.wait(self.interval):
                sock.sendall(b"x")
        except OSError:
            self.connected.release()
        finally:
            with contextlib.suppress(Exception):
                sock.close()

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        for _ in self.threads:
            assert self.connected.acquire(timeout=30)
        time.sleep(self.interval + 0.5)  # every one of them is in the middle of its body
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(10)


def timed_get(call) -> float:
    began = time.monotonic()
    response = call()
    assert response.status == 200
    return time.monotonic() - began


def test_fifty_slow_clients_do_not_delay_a_normal_request(stack):
    assert timed_get(lambda: stack.get("/healthz")) < 1
    with SlowClients(stack.https, 50, stack.context):
        for path in ("/healthz", "/", "/api/v1/openapi.json", "/healthz", "/"):
            seconds = timed_get(lambda p=path: stack.get(p, timeout=5))
            assert seconds < 1, f"{path} took {seconds:.2f} s behind 50 slow clients"

    # Control: straight at gunicorn (what the old compose file published), two slow clients already block it.
    with SlowClients(stack.web_port, 4, None):
        conn = http.client.HTTPConnection("127.0.0.1", stack.web_port, timeout=1)
        with pytest.raises((TimeoutError, socket.timeout)):
            conn.request("GET", "/healthz")
            conn.getresponse().read()
        conn.close()


def test_tls_and_the_redirect_from_plain_http(stack):
    response = stack.get("/healthz")
    assert response.status == 200 and b'"ok"' in response.body
    plain = http.client.HTTPConnection("127.0.0.1", stack.http, timeout=5)
    plain.request("GET", "/track?x=1")
    redirect = plain.getresponse()
    assert redirect.status == 301
    assert redirect.getheader("Location") == f"https://127.0.0.1:{stack.https}/track?x=1"
    # Behind the front the app knows the request was secure: HSTS is set.
    assert "max-age" in stack.get("/").getheader("Strict-Transport-Security", "")


def test_a_forged_forwarded_for_does_not_reset_the_rate_limit(stack):
    # RATELIMIT_TRACK is 3 per minute here; each request claims to come from a different address.
    statuses = [
        stack.get("/api/v1/applications/NOPE", {"X-Access-Code": "x", "X-Forwarded-For": f"203.0.113.{i}"}).status
        for i in range(4)
    ]
    assert statuses == [404, 404, 404, 429]


def test_an_oversized_upload_is_refused_by_the_front_before_it_is_read(stack):
    conn = http.client.HTTPSConnection("127.0.0.1", stack.https, context=stack.context, timeout=5)
    conn.putrequest("POST", "/api/v1/uploads")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(30 * 1024 * 1024))
    conn.endheaders()
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("Content-Type") == "application/json"  # the API answers JSON, even from the front
    assert json.loads(response.read())["error"]["code"] == "too_large"
    conn.close()


def test_download_links_signed_for_the_public_endpoint_work_through_the_front(stack, settings):

    public = f"https://127.0.0.1:{stack.s3}"
    storage = Storage(dataclasses.replace(settings, s3_public_endpoint_url=public))
    storage.put("tests/front.txt", b"through the front", "text/plain")
    try:
        url = storage.presigned_url("tests/front.txt", "front.txt")
        assert url.startswith(public + "/")
        with urllib.request.urlopen(url, context=stack.context, timeout=10) as answer:
            assert answer.read() == b"through the front"
        # Only reads pass: the link's address cannot be used to write.
        request = urllib.request.Request(public + f"/{settings.s3_bucket}/tests/x.txt", data=b"x", method="PUT")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, context=stack.context, timeout=10)
        assert refused.value.code == 403
    finally:
        storage.delete("tests/front.txt")
