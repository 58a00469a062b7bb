"""Liveness and readiness against real services, with one service pointed at a closed port at a time."""

import dataclasses
import socket

import pytest

from portal import create_app
from portal.extensions import db, limiter


def closed_port() -> int:
    """A loopback port that nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def make_app(settings, _app):
    """Build another app from the test settings with some values replaced."""
    built = []

    def build(**changes):
        app = create_app(dataclasses.replace(settings, **changes))
        built.append(app)
        return app

    yield build
    for app in built:
        with app.app_context():
            db.engine.dispose()
    # Flask-Limiter keeps one storage per Limiter object, and ours is shared by every app: init_app on another app
    # re-pointed it. Point it back at the test app's Redis so that later tests count in the right place.
    limiter.init_app(_app)


def readiness(app) -> tuple[int, dict]:
    response = app.test_client().get("/readyz")
    return response.status_code, response.get_json()


def assert_only_down(body: dict, service: str) -> str:
    assert body["status"] == "down"
    assert body["down"] == [service]
    statuses = {name: s["status"] for name, s in body["services"].items()}
    assert statuses == {"postgres": "up", "redis": "up", "s3": "up"} | {service: "down"}
    return body["services"][service]["error"]


def test_healthz_needs_no_service(make_app):
    app = make_app(
        redis_url=f"redis://127.0.0.1:{closed_port()}/0", s3_endpoint_url=f"http://127.0.0.1:{closed_port()}"
    )
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_when_everything_is_up(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ready"
    assert "down" not in body


def test_redis_down(make_app):
    status, body = readiness(make_app(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    assert status == 503
    assert "ConnectionError" in assert_only_down(body, "redis")


def test_s3_down(make_app):
    status, body = readiness(make_app(s3_endpoint_url=f"http://127.0.0.1:{closed_port()}"))
    assert status == 503
    assert assert_only_down(body, "s3")


def test_postgres_down(make_app):
    url = f"postgresql+psycopg://portal:secret@127.0.0.1:{closed_port()}/portal"
    status, body = readiness(make_app(database_url=url))
    assert status == 503
    error = assert_only_down(body, "postgres")
    assert "OperationalError" in error
    assert "secret" not in error


def test_postgres_role_that_bypasses_rls_is_not_ready(make_app, database):
    # The owner URL is a superuser: tenant isolation's second wall would be off.
    status, body = readiness(make_app(database_url=database["owner_url"]))
    assert status == 503
    error = assert_only_down(body, "postgres")
    assert "bypasses row-level security" in error


def test_everything_down(make_app):
    app = make_app(
        database_url=f"postgresql+psycopg://portal@127.0.0.1:{closed_port()}/portal",
        redis_url=f"redis://127.0.0.1:{closed_port()}/0",
        s3_endpoint_url=f"http://127.0.0.1:{closed_port()}",
    )
    status, body = readiness(app)
    assert status == 503
    assert body["down"] == ["postgres", "redis", "s3"]
