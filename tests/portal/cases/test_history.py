"""The append-only, hash-chained history: the database refuses changes, the verifier finds what slips through."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from portal.cases.history import verify_all, verify_case
from portal.cases.models import Case
from portal.workflow import CaseState
from tenants.scoping import scope_for_bureau, scoped, system_scope
from tests.portal.cases.conftest import act, case_events, drive, load_case, submit


def _owner_sql(owner_engine, statement: str, *, bypass_trigger: bool = False, **params) -> None:
    """Change rows as the table owner; with ``bypass_trigger`` the append-only trigger does not fire."""
    with owner_engine.begin() as conn:
        if bypass_trigger:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement), params)


@pytest.fixture
def replied_case(dbs, pii, city):
    case = submit(dbs, pii).case
    return drive(dbs, pii, city, case.id, CaseState.replied)


def test_every_event_links_to_the_one_before(dbs, replied_case):
    events = case_events(dbs, replied_case.id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash is None and events[0].state_before is None
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
        assert after.state_before == before.state_after
    case = load_case(dbs, replied_case.id)
    assert case.event_count == len(events) and case.last_event_hash == events[-1].hash
    assert verify_case(dbs, case) is None
    assert verify_all(dbs) == []


def test_the_chain_verifies_whatever_the_session_time_zone(dbs, replied_case):
    """A server or session in China time returns the timestamps as +08:00; the hashes must not depend on it."""
    dbs.commit()
    dbs.execute(text("SET TIME ZONE 'Asia/Shanghai'"))
    try:
        events = case_events(dbs, replied_case.id)
        assert events[0].at.utcoffset().total_seconds() == 8 * 3600
        assert verify_case(dbs, load_case(dbs, replied_case.id)) is None
    finally:
        dbs.rollback()
        dbs.execute(text("RESET TIME ZONE"))  # the server's default, as on every other pooled connection
        dbs.commit()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE case_events SET fields = '{}'::jsonb WHERE case_id = :case_id",
        "DELETE FROM case_events WHERE case_id = :case_id",
        "TRUNCATE case_events CASCADE",
    ],
    ids=["update", "delete", "truncate"],
)
def test_the_app_role_cannot_change_the_log(dbs, replied_case, city, statement):
    dbs.commit()
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        with pytest.raises(DBAPIError, match="permission denied"):
            dbs.execute(text(statement), {"case_id": replied_case.id})
        dbs.rollback()
    with system_scope(dbs):
        with pytest.raises(DBAPIError, match="permission denied"):
            dbs.execute(text(statement), {"case_id": replied_case.id})
        dbs.rollback()
    assert len(case_events(dbs, replied_case.id)) == 9


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE case_events SET fields = '{}'::jsonb WHERE case_id = :case_id AND seq = 2",
        "DELETE FROM case_events WHERE case_id = :case_id AND seq = 2",
    ],
    ids=["update", "delete"],
)
def test_even_the_owner_is_refused_by_the_trigger(dbs, owner_engine, replied_case, statement):
    dbs.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        _owner_sql(owner_engine, statement, case_id=replied_case.id)
    assert len(case_events(dbs, replied_case.id)) == 9


def test_the_verifier_names_the_first_edited_entry(dbs, pii, owner_engine, city, replied_case):
    other = submit(dbs, pii).case
    act(dbs, pii, city.clerk, other.id, "accept")
    dbs.commit()
    # Someone with the owner's password edits the instruction of entry 4 and entry 6 behind the trigger's back.
    for seq in (4, 6):
        _owner_sql(
            owner_engine,
            "UPDATE case_events SET fields = jsonb_set(fields, '{instruction}', '\"不予审查\"')"
            " WHERE case_id = :case_id AND seq = :seq",
            bypass_trigger=True,
            case_id=replied_case.id,
            seq=seq,
        )

    case = load_case(dbs, replied_case.id)
    problem = verify_case(dbs, case)
    assert problem is not None
    assert (problem.case_number, problem.seq) == (case.number, 4)
    assert "changed" in problem.problem
    # Only the broken case is reported, once, at its first broken entry; the intact one passes.
    problems = verify_all(dbs)
    assert [(p.case_number, p.seq) for p in problems] == [(case.number, 4)]
    assert verify_case(dbs, load_case(dbs, other.id)) is None


def test_the_verifier_catches_a_rewritten_hash_and_removed_entries(dbs, owner_engine, replied_case):
    dbs.commit()
    number = replied_case.number
    # Edit entry 3 and recompute nothing but its own stored hash: entry 4 no longer links to it.
    _owner_sql(
        owner_engine,
        "UPDATE case_events SET actor_name = 'someone else', hash = repeat('0', 64)"
        " WHERE case_id = :case_id AND seq = 3",
        bypass_trigger=True,
        case_id=replied_case.id,
    )
    problem = verify_case(dbs, load_case(dbs, replied_case.id))
    assert (problem.case_number, problem.seq) == (number, 3)

    # Remove entry 5: the gap is named.
    _owner_sql(
        owner_engine,
        "DELETE FROM case_events WHERE case_id = :case_id AND seq >= 3 AND seq <= 5",
        bypass_trigger=True,
        case_id=replied_case.id,
    )
    problem = verify_case(dbs, load_case(dbs, replied_case.id))
    assert (problem.seq, problem.problem) == (3, "entry 3 is missing")


def test_the_verifier_notices_the_latest_entries_removed(dbs, owner_engine, replied_case):
    dbs.commit()
    _owner_sql(
        owner_engine,
        "DELETE FROM case_events WHERE case_id = :case_id AND seq = 9",
        bypass_trigger=True,
        case_id=replied_case.id,
    )
    problem = verify_case(dbs, load_case(dbs, replied_case.id))
    assert problem.seq == 9 and "latest" in problem.problem


def test_the_case_row_cannot_be_rewritten_to_hide_an_edit(dbs, owner_engine, replied_case):
    """Editing the last entry and the head hash on the case together is still caught by the chain itself."""
    dbs.commit()
    _owner_sql(
        owner_engine,
        "UPDATE case_events SET state_after = 'withdrawn' WHERE case_id = :case_id AND seq = 9",
        bypass_trigger=True,
        case_id=replied_case.id,
    )
    with system_scope(dbs):
        stored = dbs.scalar(select(Case.last_event_hash).where(Case.id == replied_case.id))
    assert stored == case_events(dbs, replied_case.id)[-1].hash
    problem = verify_case(dbs, load_case(dbs, replied_case.id))
    assert problem.seq == 9 and "changed" in problem.problem
