"""Idempotency keys on the public API: a retry returns the first result and never creates a second case or upload.

Real PostgreSQL (the unique constraint does the work), real S3.
"""

from __future__ import annotations

import io
import threading
import uuid

import pytest
from sqlalchemy import func, select, text

from portal.attachments.models import Upload
from portal.idempotency import IdempotencyRecord
from tenants.scoping import system_scope
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import application_json, counts, pdf_bytes


@pytest.fixture(autouse=True)
def generous_limits(app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


def apply(client, body, key):
    return client.post("/api/v1/applications", json=body, headers={"Idempotency-Key": key})


def upload(client, data, name, key):
    return client.post(
        "/api/v1/uploads",
        data={"file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
        headers={"Idempotency-Key": key},
    )


def rows(dbs) -> list[IdempotencyRecord]:
    with system_scope(dbs):
        return list(dbs.scalars(select(IdempotencyRecord).execution_options(populate_existing=True)))


def test_a_retried_application_returns_the_first_number_and_access_code_and_makes_no_second_case(client, dbs):
    key = str(uuid.uuid4())
    body = application_json(dbs)
    first = apply(client, body, key)  # the client gave up before reading this answer (a timeout)
    assert first.status_code == 201
    again = apply(client, body, key)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert counts(dbs)["cases"] == 1
    # The replayed access code is the real one: tracking with it works.
    number, code = again.get_json()["number"], again.get_json()["access_code"]
    assert client.get(f"/api/v1/applications/{number}", headers={"X-Access-Code": code}).status_code == 200


def test_nothing_of_the_key_or_the_access_code_is_stored_in_clear(client, dbs, owner_engine):
    key = "retry-" + uuid.uuid4().hex
    answer = apply(client, application_json(dbs), key).get_json()
    with owner_engine.connect() as conn:
        dumped = conn.execute(text("SELECT row_to_json(k)::text FROM idempotency_keys k")).scalars().all()
        sealed = conn.execute(text("SELECT sealed_response FROM idempotency_keys")).scalar_one()
    assert len(dumped) == 1
    assert key not in dumped[0]
    assert answer["access_code"] not in dumped[0]
    assert answer["access_code"].encode() not in bytes(sealed)
    assert answer["number"].encode() not in bytes(sealed)


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(client, dbs):
    key = str(uuid.uuid4())
    assert apply(client, application_json(dbs), key).status_code == 201
    other = application_json(dbs, request="请求重新核定缴费年限。")
    response = apply(client, other, key)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "idempotency_key_reused"
    assert "Idempotency-Key" in response.get_json()["error"]["message"]
    assert counts(dbs)["cases"] == 1


def test_different_keys_are_different_submissions(client, dbs):
    body = application_json(dbs)
    one, two = apply(client, body, "key-one").get_json(), apply(client, body, "key-two").get_json()
    assert one["number"] != two["number"]
    assert counts(dbs)["cases"] == 2


@pytest.mark.parametrize("key", ["", "x" * 201, "两个字"])
def test_an_invalid_key_is_refused(client, dbs, key):
    response = client.post(
        "/api/v1/applications", json=application_json(dbs), headers={"Idempotency-Key": key.encode().decode("latin-1")}
    )
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "idempotency_key_invalid"
    assert counts(dbs)["cases"] == 0


def test_a_failed_attempt_leaves_the_key_free_for_the_retry(client, dbs):
    key = str(uuid.uuid4())
    missing = application_json(dbs, [str(uuid.uuid4())])  # an unknown upload: refused, rolled back
    assert apply(client, missing, key).status_code == 422
    assert rows(dbs) == []
    assert apply(client, missing, key).status_code == 422  # refused again, not "reused"


def test_a_key_older_than_24_hours_is_forgotten(client, dbs, owner_engine):
    key = str(uuid.uuid4())
    body = application_json(dbs)
    first = apply(client, body, key).get_json()
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE idempotency_keys SET created_at = now() - interval '25 hours'"))
    second = apply(client, body, key).get_json()
    assert second["number"] != first["number"]
    assert counts(dbs)["cases"] == 2


def test_two_simultaneous_requests_with_one_key_make_one_case(app, dbs):
    key = str(uuid.uuid4())
    body = application_json(dbs)
    answers = []
    start = threading.Barrier(2)

    def send():
        start.wait()
        answers.append(apply(app.test_client(), body, key))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(a.status_code for a in answers) == [201, 201]
    assert answers[0].get_json() == answers[1].get_json()
    assert counts(dbs)["cases"] == 1


def test_a_retried_upload_returns_the_first_upload(client, dbs):
    key = str(uuid.uuid4())
    first = upload(client, pdf_bytes("a"), "a.pdf", key)
    again = upload(client, pdf_bytes("a"), "a.pdf", key)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Upload)) == 1
    other = upload(client, pdf_bytes("b"), "a.pdf", key)
    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "idempotency_key_reused"
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Upload)) == 1


def test_the_header_is_documented(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    for path in ("/applications", "/uploads"):
        names = [p["name"] for p in spec["paths"][path]["post"].get("parameters", [])]
        assert "Idempotency-Key" in names
