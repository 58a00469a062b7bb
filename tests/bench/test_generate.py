"""The benchmark data generator: what it writes must be what the app would have written, and the app must go on.

Each test generates a few hundred cases into the test database (seeded bureaus plus the demo accounts, as
``portal.devserver.setup_database`` leaves a database); the ``app`` fixture empties it again afterwards.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from itertools import pairwise

import pytest
from sqlalchemy import func, select

from bench.generate import bench_access_code, generate
from portal.accounts.models import StaffUser
from portal.cases.context import actor_of
from portal.cases.history import verify_all
from portal.cases.models import Case, CaseEvent, CaseNumber, CaseParty, Deadline
from portal.cases.operations import perform_action
from portal.cases.queries import local_today
from portal.demo import DEMO_PASSWORD, seed_demo_accounts
from portal.idnumber import validate_id_number
from portal.petitioners.tracking import find_by_code
from portal.workflow import FINAL_STATES, CaseAction, CaseKind, CaseState, IntakePath, Step
from tenants.models import Bureau
from tenants.scoping import scope_for_bureau, set_scope, system_scope
from tenants.tree import get_bureau
from tests.helpers import csrf_token
from tests.public_site.helpers import application_json, fill
from tests.staff_site.conftest import Browser

N = 400

# The clocks each open state runs (DOMAIN.md "The workflow the product implements"), besides materials requests.
OPEN_CLOCKS = {
    CaseState.submitted: {Step.acceptance},
    CaseState.accepted: {Step.whole_review, Step.slip},
    CaseState.awaiting_instruction: {Step.whole_review, Step.instruction},
    CaseState.instructed: {Step.whole_review, Step.dispatch},
    CaseState.in_review: {Step.whole_review, Step.division_review},
    CaseState.awaiting_approval: {Step.whole_review, Step.approval},
    CaseState.in_revision: {Step.whole_review, Step.revision},
    CaseState.drafting_reply: {Step.whole_review, Step.reply},
    CaseState.awaiting_signature: {Step.whole_review, Step.signature},  # issue 14: the signature is its own step
}


@pytest.fixture(autouse=True)
def _one_password_hash(monkeypatch):
    """Hash the demo password once: argon2 costs a quarter of a second per account, and there are 22."""
    from portal.accounts import operations
    from portal.accounts.passwords import hash_password

    monkeypatch.setattr(operations, "hash_password", functools.cache(hash_password))


@pytest.fixture
def generated(app, dbs, database, settings):
    """The demo accounts and N generated cases; returns the generator's report."""
    with system_scope(dbs):
        seed_demo_accounts(dbs)
    dbs.commit()  # the generator truncates: nothing may hold a lock on the case tables meanwhile
    report = generate(database["owner_url"], N, settings.pii_key, progress=lambda _: None)
    dbs.expire_all()
    return report


def cases(dbs) -> list[Case]:
    return list(dbs.scalars(select(Case).order_by(Case.id)))


def test_counts_and_spread(generated, dbs):
    counts = generated["counts"]
    assert counts["cases"] == N and dbs.scalar(select(func.count()).select_from(Case)) == N
    registered = set(dbs.execute(select(CaseNumber.number, CaseNumber.tenant_id, CaseNumber.case_id)).all())
    assert registered == {(c.number, c.tenant_id, c.id) for c in cases(dbs)}
    without_events = select(Case.id).where(~select(CaseEvent.id).where(CaseEvent.case_id == Case.id).exists())
    assert dbs.scalars(without_events).all() == []
    petitioners = Counter(dbs.scalars(select(CaseParty.case_id).where(CaseParty.role == "petitioner")))
    assert set(petitioners) == {c.id for c in cases(dbs)} and set(petitioners.values()) == {1}
    # Handled where the routing sends them (every city with counties, and the province), about disputed opinions
    # of bureaus all over the province; most are closed, spread over two years.
    levels = Counter(dbs.scalar(select(Bureau.level).where(Bureau.id == c.tenant_id)) for c in cases(dbs))
    assert set(levels) == {"province", "city"} and levels["city"] > levels["province"] > N // 10
    assert len({c.tenant_id for c in cases(dbs)}) >= 8
    assert len({c.disputed_bureau_id for c in cases(dbs)}) >= 40
    closed = [c for c in cases(dbs) if c.state in FINAL_STATES]
    assert 0.6 * N <= len(closed) <= 0.8 * N
    assert min(c.received_on for c in closed) < local_today().replace(year=local_today().year - 1)
    assert all(c.kind is CaseKind.re_review for c in cases(dbs) if c.earlier_case_id is not None)
    assert any(c.earlier_case_id is not None for c in cases(dbs))


def test_every_history_verifies_with_the_projects_verifier(generated, dbs, app):
    assert verify_all(dbs) == []
    runner = app.test_cli_runner()
    with app.app_context():
        result = runner.invoke(args=["case", "verify"])
    assert result.exit_code == 0 and result.output.strip() == (
        f"OK: {N} case histories, every chain intact. Agrees with 0 signed anchors."
    )


def test_states_and_clocks_agree_with_the_workflow(generated, dbs):
    open_clocks: dict[int, set[Step]] = {}
    for case_id, step in dbs.execute(select(Deadline.case_id, Deadline.step).where(Deadline.closed_at.is_(None))):
        open_clocks.setdefault(case_id, set()).add(step)
    for case in cases(dbs):
        clocks = open_clocks.get(case.id, set()) - {Step.material_request}
        if case.state in FINAL_STATES:
            # Only a replied review keeps the petitioner's window to escalate, until it is used.
            window = case.state is CaseState.replied and case.kind is CaseKind.review and not case.escalated
            assert clocks == ({Step.escalation_window} if window else set()), (case.number, case.state, clocks)
            assert case.closed_at is not None
        else:
            assert clocks == OPEN_CLOCKS[case.state], (case.number, case.state, clocks)
            assert case.closed_at is None
        events = dbs.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq)).all()
        assert events[-1].state_after == case.state and case.event_count == len(events)
        assert all(a.state_after == b.state_before for a, b in pairwise(events) if b.state_before)
    # Open cases have work due: some overdue, some due soon, most later.
    today = local_today()
    # (The petitioner's windows to escalate belong to replied cases and are nobody's work: left out.)
    due = [
        d.due_on
        for d in dbs.scalars(select(Deadline).where(Deadline.closed_at.is_(None), Deadline.owed_by != "petitioner"))
    ]
    assert any(d < today for d in due) and sum(d > today for d in due) > len(due) // 2


def test_next_due_work_items_and_dashboard_rollups_agree_with_the_generated_rows(generated, dbs):
    from tests.portal.cases.test_matrix import (
        assert_next_due_is_nearest_open_deadline,
        assert_work_items_follow_the_rules,
    )
    from tests.supervision.test_rollups import assert_rollups_match

    for case in cases(dbs):
        assert_next_due_is_nearest_open_deadline(dbs, case)
        assert_work_items_follow_the_rules(dbs, case)
    assert assert_rollups_match(dbs, ["220000", "220100", "220102"], today=local_today()) > 0


def test_people_are_encrypted_and_their_id_numbers_valid(generated, dbs, app):
    pii = app.extensions["portal.pii"]
    for party in dbs.scalars(select(CaseParty).limit(50)):
        id_number = pii.decrypt(party.id_number_enc)
        assert validate_id_number(id_number) == id_number and pii.hash(id_number) == party.id_number_hash
        assert re.fullmatch(r"1\d{10}", pii.decrypt(party.phone_enc))


def test_tracking_finds_a_case_by_its_access_code_only(generated, dbs, app):
    pii, stamps = app.extensions["portal.pii"], app.extensions["portal.stamps"]
    tracked = [c for c in cases(dbs) if c.intake is not IntakePath.committee_transfer]
    assert all(c.access_code_hash for c in tracked)
    for case in tracked[:20]:
        found = find_by_code(stamps, pii, case.number, bench_access_code(case.number))
        assert found is not None and (found.tenant_id, found.case_id) == (case.tenant_id, case.id)
        assert find_by_code(stamps, pii, case.number, bench_access_code(case.number + "X")) is None
    # On the public page too.
    case = tracked[0]
    client = app.test_client()
    page = client.get("/track").get_data(as_text=True)
    looked_up = fill(client, page, {"number": case.number, "code": bench_access_code(case.number)}, go=None)
    assert looked_up.status_code == 302
    assert client.get(f"/track/{case.number}").status_code == 200


def test_the_app_goes_on_inserting_and_acting(generated, dbs, app, client):
    largest = dbs.scalar(select(func.max(Case.id)))
    response = client.post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    with system_scope(dbs):  # the request left the session without a scope
        dbs.expire_all()
        new = dbs.scalar(select(Case).where(Case.number == response.get_json()["number"]))
        assert new.id > largest and dbs.scalar(select(func.count()).select_from(Case)) == N + 1
        # A generated case takes its next step: its chain goes on from the generated history.
        city = get_bureau(dbs, "220100")
        clerk = dbs.scalar(select(StaffUser).where(StaffUser.username == "cc_clerk"))
        waiting = dbs.scalar(
            select(Case).where(Case.tenant_id == city.id, Case.state.not_in(FINAL_STATES), Case.id != new.id)
        )
        assert waiting is not None
        seq = waiting.event_count
        dbs.commit()
    pii = app.extensions["portal.pii"]
    set_scope(dbs, scope_for_bureau(dbs, city.id))
    contact = {"party": "petitioner", "contacted_on": local_today(), "summary": "电话告知办理进度。"}
    result = perform_action(dbs, pii, waiting.id, CaseAction.record_contact, actor_of(clerk), contact)
    dbs.commit()
    assert result.event_seq == seq + 1 == result.case.event_count
    with system_scope(dbs):
        assert verify_all(dbs) == []


def test_the_changchun_clerk_sees_generated_work(generated, dbs, app):
    with system_scope(dbs):
        city = get_bureau(dbs, "220100")
        numbers = set(dbs.scalars(select(Case.number).where(Case.tenant_id == city.id)))
    dbs.commit()
    browser = Browser(app)
    token = csrf_token(browser, "/staff/login")
    login = {"csrf_token": token, "username": "cc_clerk", "password": DEMO_PASSWORD}
    assert browser.post("/staff/login", data=login).status_code == 302
    mine = browser.get("/staff/cases")
    assert mine.status_code == 200
    assert re.findall(r'class="number" href="/staff/cases/\d+">', mine.get_data(as_text=True))  # the office's work
    everything = browser.get("/staff/cases?view=all")
    assert everything.status_code == 200
    listed = re.findall(r'class="number" href="/staff/cases/(\d+)">([^<]+)</a>', everything.get_data(as_text=True))
    assert listed and {number for _, number in listed} <= numbers
    assert browser.get(f"/staff/cases/{listed[0][0]}").status_code == 200


def test_running_twice_replaces_the_cases(generated, dbs, database, settings):
    dbs.commit()
    again = generate(database["owner_url"], N, settings.pii_key, seed=7, progress=lambda _: None)
    dbs.expire_all()
    assert again["counts"]["cases"] == N
    assert dbs.scalar(select(func.count()).select_from(Case)) == N
    assert dbs.scalar(select(func.count()).select_from(CaseNumber)) == N
    assert verify_all(dbs) == []


def test_worker_processes_make_the_same_cases(generated, dbs, database, settings, monkeypatch):
    monkeypatch.setattr("bench.generate.CHUNK_CASES", 150)  # three chunks, made by two forked workers
    dbs.commit()
    made: list[set] = []
    for workers in (1, 2):
        report = generate(database["owner_url"], N, settings.pii_key, workers=workers, progress=lambda _: None)
        assert report["workers"] == workers
        dbs.expire_all()
        made.append(set(dbs.execute(select(Case.number, Case.state, Case.last_event_hash)).all()))
        dbs.commit()
    assert len(made[0]) == N and made[0] == made[1]
    assert verify_all(dbs) == []
