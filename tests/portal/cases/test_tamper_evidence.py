"""Tamper evidence that survives the database owner: keyed chains and signed anchors in object storage."""

from __future__ import annotations

import hashlib
import json

import pytest
from sqlalchemy import text

from portal.cases.anchors import list_anchor_keys, public_key_pem, verify
from portal.cases.history import _canonical
from portal.roles import Role
from portal.workflow import CaseState
from tests.helpers import login, make_staff
from tests.portal.cases.conftest import drive, load_case, submit


def _delete_anchors(storage) -> None:
    for key in list_anchor_keys(storage):
        storage.delete(key)


@pytest.fixture(autouse=True)
def no_anchors(app):
    """Anchors live in the bucket, which outlives each test's database: start and leave without any."""
    storage = app.extensions["portal.storage"]
    _delete_anchors(storage)
    yield
    _delete_anchors(storage)


@pytest.fixture
def replied_case(dbs, pii, city):
    case = submit(dbs, pii).case
    return drive(dbs, pii, city, case.id, CaseState.replied)


def cli(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def rechain_plainly(owner_engine, case_id: int, *, from_seq: int) -> None:
    """What a database owner without the key can do: recompute the (plain SHA-256) chain after an edit."""
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        rows = conn.execute(
            text("SELECT * FROM case_events WHERE case_id = :c ORDER BY seq"), {"c": case_id}
        ).mappings()
        previous = None
        for row in rows:
            event = type("Event", (), dict(row))()
            if row["seq"] >= from_seq:
                event.prev_hash = previous
                digest = hashlib.sha256(_canonical(event)).hexdigest()
                conn.execute(
                    text("UPDATE case_events SET prev_hash = :p, hash = :h WHERE case_id = :c AND seq = :s"),
                    {"p": previous, "h": digest, "c": case_id, "s": row["seq"]},
                )
                previous = digest
            else:
                previous = row["hash"]
        conn.execute(text("UPDATE cases SET last_event_hash = :h WHERE id = :c"), {"h": previous, "c": case_id})


def test_an_event_rewritten_by_the_owner_is_caught_and_named(app, dbs, replied_case, owner_engine):
    number = replied_case.number
    assert cli(app, "case", "anchor").exit_code == 0
    ok = cli(app, "case", "verify", number)
    assert ok.exit_code == 0 and "chain intact" in ok.output and "1 signed anchors" in ok.output

    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("UPDATE case_events SET actor_name = 'Someone else' WHERE case_id = :c AND seq = 2"),
            {"c": replied_case.id},
        )
    rechain_plainly(owner_engine, replied_case.id, from_seq=2)

    result = cli(app, "case", "verify", number)
    assert result.exit_code == 1
    assert f"BROKEN {number} entry 2: content changed after it was written" in result.output
    everything = cli(app, "case", "verify")
    assert everything.exit_code == 1 and f"BROKEN {number} entry 2" in everything.output


def test_entries_cut_off_the_end_are_caught_by_the_anchors(app, dbs, replied_case, owner_engine):
    number = replied_case.number
    with owner_engine.connect() as conn:
        count = conn.scalar(text("SELECT event_count FROM cases WHERE id = :c"), {"c": replied_case.id})
    assert cli(app, "case", "anchor").exit_code == 0
    # The owner drops the last entry and points the case at the one before: the keyed chain alone still holds.
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(
            text("DELETE FROM case_events WHERE case_id = :c AND seq = :s"), {"c": replied_case.id, "s": count}
        )
        head = conn.scalar(
            text("SELECT hash FROM case_events WHERE case_id = :c AND seq = :s"), {"c": replied_case.id, "s": count - 1}
        )
        conn.execute(
            text("UPDATE cases SET event_count = :n, last_event_hash = :h WHERE id = :c"),
            {"n": count - 1, "h": head, "c": replied_case.id},
        )
    result = cli(app, "case", "verify", number)
    assert result.exit_code == 1
    assert f"BROKEN {number} entry {count}: entry {count}, anchored at" in result.output


def test_anchors_are_signed_and_a_forged_one_is_reported(app, dbs, replied_case):
    storage = app.extensions["portal.storage"]
    assert cli(app, "case", "anchor").exit_code == 0
    [key] = list_anchor_keys(storage)
    envelope = json.loads(storage.get(key))
    document = verify(storage.get(key))
    assert [replied_case.tenant_id, replied_case.id, replied_case.number] == document["cases"][0][:3]
    # Someone with write access to the bucket changes a head: the signature no longer holds.
    envelope["anchor"]["cases"][0][4] = "0" * 64
    storage.put(key, json.dumps(envelope).encode(), "application/json")
    result = cli(app, "case", "verify")
    assert result.exit_code == 1 and f"ANCHOR {key}: the signature does not verify" in result.output
    key_out = cli(app, "case", "anchor-key")
    assert key_out.output == public_key_pem() and "BEGIN PUBLIC KEY" in key_out.output


def test_the_history_hash_is_keyed(dbs, replied_case):
    case = load_case(dbs, replied_case.id)
    from portal.cases.history import list_events

    first = list_events(dbs, case)[0]
    assert first.hash != hashlib.sha256(_canonical(first)).hexdigest()


def test_the_province_auditor_downloads_the_anchors(app, client, dbs, replied_case):
    from flask import g

    assert cli(app, "case", "anchor").exit_code == 0
    [key] = list_anchor_keys(app.extensions["portal.storage"])
    make_staff(dbs, "220000", Role.province_admin, username="pv_auditor_dl")
    make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_dl")
    login(client, "pv_auditor_dl")
    page = client.get("/staff/ops/anchors")
    assert page.status_code == 200 and key in page.get_data(as_text=True)
    assert "BEGIN PUBLIC KEY" in page.get_data(as_text=True)
    download = client.get(f"/staff/ops/anchors/{key}")
    assert download.status_code == 302 and key.rsplit("/", 1)[-1] in download.headers["Location"]
    assert client.get("/staff/ops/anchors/anchors/2020/01/01/none.json").status_code == 404
    # A city's administrator sees neither the list nor an anchor (they cover every bureau).
    g.pop("_login_user", None)  # the test's app context outlives each request
    county = app.test_client()
    login(county, "cc_admin_dl")
    for path in ("/staff/ops/anchors", f"/staff/ops/anchors/{key}"):
        response = county.get(path)
        assert response.status_code in (302, 403, 404) and key not in response.get_data(as_text=True), path
