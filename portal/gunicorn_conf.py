"""gunicorn's hooks for the portal's web workers: ``gunicorn -c python:portal.gunicorn_conf ...``.

The worker count, threads and address stay on each command line (``portal dev``, the image, the compose file,
the benchmark); this module holds what a command line cannot say.
"""

from __future__ import annotations

from portal.heap import start_trimming


def post_worker_init(worker) -> None:
    start_trimming()  # the heap's free pages back to the system every few seconds (portal.heap)
