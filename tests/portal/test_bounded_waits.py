"""Bounded waits: a paused S3 (or every service paused) costs a request seconds, not minutes, and says so in JSON.

A "paused" server is a real listening socket that never answers: connections are accepted by the kernel and then
nothing comes back, exactly what a stopped (SIGSTOP) or hung storage server looks like to the client.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import time
from urllib.parse import urlparse

import pytest
from sqlalchemy import func, select

from portal import create_app
from portal.attachments.models import Upload
from portal.extensions import db, limiter
from tenants.scoping import system_scope
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import api_upload, application_json, counts, pdf_bytes


@pytest.fixture
def paused_port():
    """A port whose server accepts connections (in the kernel's backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(128)
        yield sock.getsockname()[1]


@pytest.fixture
def make_app(settings, _app):
    built = []

    def build(**changes):
        other = create_app(dataclasses.replace(settings, **changes))
        other.config.update(dict.fromkeys(LIMITS, GENEROUS))
        built.append(other)
        return other

    yield build
    for other in built:
        with other.app_context():
            db.engine.dispose()
    limiter.init_app(_app)  # the limiter is shared by every app: point it back at the test app


def timed(call):
    began = time.monotonic()
    result = call()
    return result, time.monotonic() - began


def test_readyz_answers_within_3_s_when_s3_is_paused_and_names_no_endpoint(make_app, paused_port):
    app = make_app(s3_endpoint_url=f"http://127.0.0.1:{paused_port}")
    response, seconds = timed(lambda: app.test_client().get("/readyz"))
    assert seconds < 3
    assert response.status_code == 503
    body = response.get_json()
    assert body["down"] == ["s3"]
    assert str(paused_port) not in response.get_data(as_text=True)
    assert "127.0.0.1" not in response.get_data(as_text=True)


def test_readyz_answers_within_3_s_when_every_service_is_paused(make_app, paused_port):
    app = make_app(
        database_url=f"postgresql+psycopg://portal:secret@127.0.0.1:{paused_port}/portal",
        redis_url=f"redis://127.0.0.1:{paused_port}/0",
        s3_endpoint_url=f"http://127.0.0.1:{paused_port}",
    )
    response, seconds = timed(lambda: app.test_client().get("/readyz"))
    assert seconds < 3
    assert response.status_code == 503
    assert response.get_json()["down"] == ["postgres", "redis", "s3"]
    text = response.get_data(as_text=True)
    assert str(paused_port) not in text and "secret" not in text


def test_upload_answers_503_json_quickly_when_s3_is_paused(make_app, paused_port, dbs):
    app = make_app(s3_endpoint_url=f"http://127.0.0.1:{paused_port}")
    response, seconds = timed(
        lambda: app.test_client().post("/api/v1/uploads", data={"file": (io.BytesIO(pdf_bytes()), "a.pdf")})
    )
    assert seconds < 15
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "storage_unavailable"
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Upload)) == 0


def test_application_with_a_file_is_received_while_s3_is_paused(client, make_app, paused_port, dbs):
    """The file was stored when uploaded; submitting only names it, so a paused S3 neither delays nor stops it."""
    upload = api_upload(client, pdf_bytes(), "a.pdf")
    app = make_app(s3_endpoint_url=f"http://127.0.0.1:{paused_port}")
    response, seconds = timed(
        lambda: app.test_client().post("/api/v1/applications", json=application_json(dbs, [upload["upload_id"]]))
    )
    assert seconds < 15
    assert response.status_code == 201
    assert counts(dbs) == {"cases": 1, "numbers": 1, "attachments": 1, "claimed": 1}


def test_the_api_answers_json_even_for_an_unexpected_error(make_app, dbs):
    # PostgreSQL unreachable is an error no view expects: the API still answers JSON, the pages an HTML page.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    app = make_app(database_url=f"postgresql+psycopg://portal@127.0.0.1:{closed}/portal")
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production (the test settings propagate)
    response = app.test_client().post("/api/v1/applications", json={"request": "x"})
    assert response.status_code == 500
    assert response.is_json
    assert response.get_json()["error"]["code"] == 500
    page = app.test_client().get("/apply")
    assert page.status_code == 500
    assert page.mimetype == "text/html"


def test_download_links_use_the_public_endpoint_and_still_work(make_app, settings, storage_key_with_content):
    key, content = storage_key_with_content
    public = f"http://localhost:{urlparse(settings.s3_endpoint_url).port}"  # the same server by another name
    assert not settings.s3_endpoint_url.startswith(public)
    app = make_app(s3_public_endpoint_url=public)
    url = app.extensions["portal.storage"].presigned_url(key, "申请书.pdf")
    assert url.startswith(public + "/")
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as answer:
        assert answer.read() == content


@pytest.fixture
def storage_key_with_content(app):
    storage = app.extensions["portal.storage"]
    key = "tests/public-endpoint.pdf"
    content = pdf_bytes("public")
    storage.put(key, content, "application/pdf")
    yield key, content
    storage.delete(key)


def proxied(app, forwarded_for: str):
    # The proxy (10.0.0.2) passes on what the client claimed and appends the address it saw.
    return app.test_client().get(
        "/api/v1/applications/NOPE",
        headers={"X-Access-Code": "x", "X-Forwarded-For": forwarded_for},
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )


@pytest.mark.parametrize("hops", [0, 1])
def test_the_rate_limit_counts_the_address_the_trusted_proxy_saw(make_app, hops):
    app = make_app(proxy_hops=hops)
    app.config["RATELIMIT_TRACK"] = "2 per minute"
    app.extensions["portal.redis"].flushdb()
    first = [proxied(app, f"6.6.6.{i}, 203.0.113.7").status_code for i in range(3)]
    other = proxied(app, "203.0.113.8").status_code
    assert first == [404, 404, 429]  # a forged left-most value never earns a fresh counter
    # With one hop the second client has its own counter; with none, every client is the proxy.
    assert other == (404 if hops == 1 else 429)
    app.extensions["portal.redis"].flushdb()  # leave no counter behind for later tests


def test_the_api_answers_json_for_every_http_error(client):
    response = client.get("/api/v1/uploads")  # POST only
    assert response.status_code == 405
    assert response.is_json and response.get_json()["error"]["code"] == 405
    assert client.get("/apply/submit").mimetype == "text/html"  # the pages keep their HTML
