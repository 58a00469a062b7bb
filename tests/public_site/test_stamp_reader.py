"""The tracking stamp's reader: one function call on an autocommit connection of the app's role, a system scope
that ends with the call, and a connection that survives a database restart (it is replaced)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from portal.petitioners.tracking import StampReader, find_by_code, find_number
from portal.workflow import CaseState, IntakePath
from tests.helpers import app_role_engine
from tests.public_site.helpers import application_json, case_by_number
from tests.staff_site.conftest import Browser


@pytest.fixture
def submitted(app, dbs) -> dict:
    response = Browser(app).post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_the_stamp_is_the_case_as_committed(app, dbs, submitted):
    reader = app.extensions["portal.stamps"]
    case = case_by_number(dbs, submitted["number"])
    stamp = find_number(reader, submitted["number"].lower())  # numbers are normalised as typed
    assert (stamp.tenant_id, stamp.case_id, stamp.version) == (case.tenant_id, case.id, case.version)
    assert stamp.state is CaseState(case.state) and stamp.intake is IntakePath(case.intake)
    assert stamp.updated_at == case.updated_at and stamp.reference_version is not None
    assert find_number(reader, "FC2026-ZZZZZZZZ") is None and find_number(reader, "") is None
    pii = app.extensions["portal.pii"]
    assert find_by_code(reader, pii, submitted["number"], submitted["access_code"]) == stamp
    assert find_by_code(reader, pii, submitted["number"], "AAAA-BBBB-CCCC") is None


def test_the_functions_system_scope_ends_with_the_call(settings, submitted):
    """An injected call of the function must not leave its caller able to read any bureau's rows."""
    engine = app_role_engine(settings)
    try:
        with engine.begin() as conn:
            found = conn.execute(text("SELECT * FROM portal_case_stamp(:n)"), {"n": submitted["number"]}).first()
            assert found is not None and found.access_code_hash
            assert conn.scalar(text("SELECT count(*) FROM cases")) == 0
            assert conn.scalar(text("SELECT count(*) FROM deadlines")) == 0
            settings_now = conn.execute(
                text("SELECT current_setting('app.system', true), current_setting('app.scope_sig', true)")
            ).first()
            assert tuple(value or "" for value in settings_now) == ("", "")
            assert conn.scalar(text("SELECT portal_is_system()")) is False
    finally:
        engine.dispose()


def test_a_connection_the_database_dropped_is_replaced(app, owner_engine, submitted):
    reader = StampReader(app.config["SQLALCHEMY_DATABASE_URI"])
    try:
        assert find_number(reader, submitted["number"]) is not None
        (idle,) = reader._idle
        with owner_engine.begin() as conn:  # what a restart of PostgreSQL does to every open connection
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": idle.info.backend_pid})
        assert find_number(reader, submitted["number"]) is not None
        assert idle.closed and reader._idle and reader._idle[0] is not idle
    finally:
        reader.close()
    assert not reader._idle


def test_the_kept_pages_key_is_the_same_instant_whatever_the_time_zone_it_was_read_in():
    """A connection in another time zone returns the same ``updated_at`` with another tzinfo: same key, same tag."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from portal.pagecache import entity_tag
    from portal.petitioners.tracking import CaseStamp

    at = datetime(2026, 12, 6, 6, 30, 12, 345678, tzinfo=UTC)
    stamps = [
        CaseStamp("FC2026-ABCDEFGH", 3, 7, 2, at.astimezone(zone), CaseState.submitted, IntakePath.online, None, 42)
        for zone in (UTC, ZoneInfo("Etc/UTC"), ZoneInfo("Asia/Shanghai"))
    ]
    assert len({entity_tag(stamp.key) for stamp in stamps}) == 1
