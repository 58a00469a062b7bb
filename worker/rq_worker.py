"""The RQ worker class of this project: ``rq worker -w worker.rq_worker.AppWorker ...``."""

from __future__ import annotations

from rq import Worker

from worker.jobs import get_app
from worker.resilient import ResilientWorkerMixin


class AppWorker(ResilientWorkerMixin, Worker):
    """Build the Flask app once in the worker, before it forks a work horse per job; ride out Redis outages.

    Without this each horse builds the app itself (about 2-3 s per job). The parent never opens a database
    connection (``create_app`` connects to nothing), so the horses share no connection: each opens its own.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        get_app()
