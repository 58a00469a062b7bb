"""The framework's floor: a bare Flask endpoint doing one indexed PostgreSQL lookup, served like the portal.

``gunicorn 'bench.baseline:create_app()'`` with the same gunicorn settings as the portal; one psycopg
connection per thread (no ORM, no pool, no sessions, no templates), looking a case number up by primary key.
"""

from __future__ import annotations

import os
import threading

import psycopg
from flask import Flask, abort, jsonify

_local = threading.local()


def _connection() -> psycopg.Connection:
    conn = getattr(_local, "conn", None)
    if conn is None or conn.closed:
        url = os.environ["DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://", 1)
        conn = _local.conn = psycopg.connect(url, autocommit=True)
    return conn


def create_app() -> Flask:
    app = Flask(__name__)

    @app.get("/lookup/<number>")
    def lookup(number: str):
        row = (
            _connection().execute("SELECT tenant_id, case_id FROM case_numbers WHERE number = %s", (number,)).fetchone()
        )
        if row is None:
            abort(404)
        return jsonify(tenant_id=row[0], case_id=row[1])

    return app
