"""The app of a worker process and the one decorator every job uses."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)

_app = None


def get_app():
    """The Flask app of this worker process, created once (jobs need its settings and database)."""
    global _app
    if _app is None:
        from portal import create_app

        _app = create_app()
    return _app


def job(func: Callable) -> Callable:
    """Run a job inside the app context with one commit at the end and a rollback on any error."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        from portal.extensions import db

        with get_app().app_context():
            try:
                result = func(*args, **kwargs)
                db.session.commit()
                return result
            except Exception:
                db.session.rollback()
                log.exception("job %s failed", func.__name__)
                raise
            finally:
                db.session.remove()

    return wrapper
