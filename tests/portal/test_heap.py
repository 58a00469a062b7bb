"""The web workers give their heap's free pages back to the system (``portal.heap``, issue 16: worker memory)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import requests

from portal.heap import start_trimming, trim_heap
from tests.mail_server import free_port

ROOT = Path(__file__).resolve().parents[2]
CHUNK = 32 * 1024  # above Python's small-object sizes: malloc's heap, below its mmap threshold (128 KB)


def resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def holes(megabytes: int) -> list[bytes]:
    """Fill ``megabytes`` of heap with written chunks, then free every other one: free holes between live chunks,
    which glibc keeps resident (only a free top of the heap goes back by itself)."""
    chunks = [b"x" * CHUNK for _ in range(megabytes * 1024 * 1024 // CHUNK)]
    del chunks[::2]
    return chunks


def test_trimming_gives_the_free_holes_of_the_heap_back():
    kept = holes(64)
    before = resident_mb()
    assert trim_heap()
    assert before - resident_mb() > 20  # about 32 MB of holes, each but its edges in whole pages
    assert len(kept) == 1024  # the live half stays


def test_the_trimming_thread_trims_without_being_asked():
    stop = threading.Event()
    thread = start_trimming(every=0.05, stop=stop)
    assert thread is not None and thread.daemon and thread.name == "heap-trim"
    try:
        kept = holes(64)
        before = resident_mb()
        deadline = time.monotonic() + 5
        while before - resident_mb() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert before - resident_mb() > 20
        assert thread.is_alive() and kept
    finally:
        stop.set()
        thread.join(5)
    assert not thread.is_alive()


def thread_names(environ, start_response):
    """A WSGI app answering with the names of its process's threads."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [",".join(sorted(t.name for t in threading.enumerate())).encode()]


def test_a_gunicorn_worker_under_the_portals_settings_trims_its_heap():
    port = free_port()
    argv = [
        str(Path(sys.executable).with_name("gunicorn")),
        "-c",
        "python:portal.gunicorn_conf",
        "-w",
        "1",
        "-b",
        f"127.0.0.1:{port}",
        "tests.portal.test_heap:thread_names",
    ]
    server = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read().decode()[-2000:]
                time.sleep(0.2)
        assert "heap-trim" in answer.text.split(",")
    finally:
        server.terminate()
        server.wait(10)


def test_every_command_line_of_the_web_workers_uses_the_portals_gunicorn_settings():
    from bench.run import GUNICORN

    assert GUNICORN[:2] == ("-c", "python:portal.gunicorn_conf")
    for path in ("Dockerfile", "docker-compose.yml", "portal/devserver.py"):
        text = (ROOT / path).read_text()
        assert text.count("gunicorn") and "python:portal.gunicorn_conf" in text, path
