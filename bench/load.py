"""Load runs with wrk: write a request file, run wrk with ``bench/wrk/requests.lua``, read its JSON summary."""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

LUA = Path(__file__).with_name("wrk") / "requests.lua"
MARKER = "WRK_JSON "
SEPARATOR = "\x1f"


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""  # inline text, or "@/path/to/file"

    def line(self) -> str:
        headers = SEPARATOR.join(f"{k}: {v}" for k, v in self.headers.items())
        for part in (self.path, headers, self.body):
            if "\t" in part or "\n" in part:
                raise ValueError(f"tab or newline in a request of the load file: {part[:60]!r}")
        return f"{self.method}\t{self.path}\t{headers}\t{self.body}"


@dataclass(frozen=True)
class Result:
    name: str
    requests: int
    seconds: float
    rps: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # non-2xx/3xx answers, connect/read errors and timeouts
    alone_p50_ms: float | None = None  # the same requests from one connection: what one person waits
    alone_p95_ms: float | None = None
    # CPU time the server side spent (web workers, PostgreSQL, Redis, S3) per request of the loaded run: a figure
    # that a busy shared machine disturbs far less than requests per second.
    cpu_ms_per_request: float | None = None
    draws_rps: tuple[float, ...] = ()  # requests per second of each loaded draw (``bench.run.DRAWS``)

    def as_dict(self) -> dict:
        return asdict(self)


def wrk_path() -> str:
    found = shutil.which("wrk")
    if not found:
        raise SystemExit("wrk is not installed: apt-get install -y wrk (Debian's package)")
    return found


def write_requests(path: Path, requests: list[Request]) -> Path:
    if not requests:
        raise ValueError(f"no requests for {path.name}")
    path.write_text("\n".join(r.line() for r in requests) + "\n", encoding="utf-8")
    return path


def run_wrk(
    name: str, base_url: str, request_file: Path, *, seconds: int, connections: int, threads: int = 1
) -> Result:
    """Run wrk for ``seconds`` with ``connections`` keep-alive connections; latencies are per request."""
    argv = [
        wrk_path(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA),
        base_url,
        "--",
        str(request_file),
    ]
    completed = subprocess.run(argv, capture_output=True, text=True, check=True)
    lines = [line for line in completed.stdout.splitlines() if line.startswith(MARKER)]
    if not lines:
        raise RuntimeError(f"wrk printed no summary for {name}:\n{completed.stdout}\n{completed.stderr}")
    data = json.loads(lines[-1][len(MARKER) :])
    seconds_run = data["duration_us"] / 1e6
    errors = data["non_2xx_3xx"] + data["connect_errors"] + data["read_errors"] + data["timeouts"]
    return Result(
        name=name,
        requests=data["requests"],
        seconds=round(seconds_run, 2),
        rps=round(data["requests"] / seconds_run, 1),
        p50_ms=round(data["p50_us"] / 1000, 1),
        p95_ms=round(data["p95_us"] / 1000, 1),
        p99_ms=round(data["p99_us"] / 1000, 1),
        max_ms=round(data["max_us"] / 1000, 1),
        errors=errors,
    )
