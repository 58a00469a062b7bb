"""Profile the tracking page and API in-process: ``python -m bench.profile_tracking --requests 2000``.

Starts the embedded services under ``--root`` (or uses DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL), migrates and
seeds, submits one application, then reads its tracking page (a browser that proved the code, the kept page) and
its API answer (``X-Access-Code``) through the Flask test client. It prints the CPU time per request of this
process (the web side, without the HTTP server) and of the embedded services, then the top functions of a
cProfile run. The figure to hold against the baseline's (``bench/baseline.py``: about 0.5 ms in this process).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import re
import tempfile
import time
from pathlib import Path

from bench.profile_submission import county_ids, embedded_app, measure, service_processes, statements_of
from bench.run import application_body, multipart_body, pdf_file, positive_int

ROOT = Path("var/profile-tracking")
BASE_PORT = 30600


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=positive_int, default=2000, help="requests measured per kind (2000)")
    parser.add_argument("--root", type=Path, default=ROOT, help=f"data of the embedded services (default {ROOT})")
    parser.add_argument("--base-port", type=int, default=BASE_PORT, help=f"ports of the services ({BASE_PORT}+)")
    parser.add_argument("--top", type=int, default=45, help="functions listed per profile (45)")
    parser.add_argument("--fresh", action="store_true", help="forget the kept page and answer before each request")
    parser.add_argument("--save", type=Path, help="write the profiles here (<path>.page, <path>.api)")
    args = parser.parse_args(argv)

    from portal.devservices import port_layout

    app, services = embedded_app(args.root, args.base_port)
    try:
        https = {"base_url": "https://localhost"}  # production cookies are Secure
        client = app.test_client()
        county = county_ids(app)[0]
        with tempfile.TemporaryDirectory() as work:
            body_path, content_type = multipart_body(Path(work), pdf_file(Path(work)))
            sent = client.post(
                "/api/v1/uploads", data=body_path.read_bytes(), headers={"Content-Type": content_type}, **https
            )
        body = application_body(sent.get_json()["upload_id"], county, random.Random()).encode()
        answer = client.post("/api/v1/applications", data=body, headers={"Content-Type": "application/json"}, **https)
        if answer.status_code != 201:
            raise RuntimeError(f"application answered {answer.status_code}: {answer.get_data(as_text=True)[:300]}")
        number, code = answer.get_json()["number"], answer.get_json()["access_code"]
        lookup = client.get("/track", **https).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', lookup).group(1)
        granted = client.post(
            "/track",
            data={"csrf_token": token, "number": number, "code": code},
            headers={"Referer": "https://localhost/track"},
            **https,
        )
        assert granted.status_code == 302, granted.status_code

        from public_site.api.applications import ANSWERS
        from public_site.track import PAGES

        def page(_i: int) -> None:
            if args.fresh:
                PAGES.clear()
            got = client.get(f"/track/{number}", **https)
            assert got.status_code == 200, got.status_code

        def api(_i: int) -> None:
            if args.fresh:
                ANSWERS.clear()
            got = client.get(f"/api/v1/applications/{number}", headers={"X-Access-Code": code}, **https)
            assert got.status_code == 200, got.status_code

        for send in (page, api):
            for i in range(50):
                send(i)
        print("Statements of one kept page, then one API answer:", flush=True)
        for name, send in (("page", page), ("api", api)):
            for statement in statements_of(app, send):
                print(f"  {name:<5} {statement}", flush=True)
        procs = service_processes(args.root, set(port_layout(args.base_port).values()))
        for name, send in (("page", page), ("api", api)):
            measure(name, send, args.requests, procs, None)
        for name, send in (("page", page), ("api", api)):
            profile = cProfile.Profile(time.process_time)
            measure(name, send, args.requests, procs, profile)
            out = io.StringIO()
            stats = pstats.Stats(profile, stream=out)
            print(f"\n--- {name}: cProfile CPU {stats.total_tt * 1000 / args.requests:.2f} ms per request ---")
            stats.sort_stats("cumulative").print_stats(args.top)
            print(out.getvalue())
            if args.save:
                stats.dump_stats(f"{args.save}.{name}")
    finally:
        if services is not None:
            services.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
