"""Two staff act on the same case at once: one wins, the other gets a clear refusal, nothing is applied twice."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import select

from portal.cases.context import actor_of
from portal.cases.history import verify_case
from portal.cases.models import Case
from portal.cases.operations import CaseConflict, perform_action
from portal.extensions import db
from portal.workflow import ActionRefused, CaseState
from tenants.scoping import scope_for_bureau, set_scope
from tests.helpers import make_staff
from tests.portal.cases.conftest import case_deadlines, case_events, load_case, outbox_rows, submit


def _race(app, pii, case_id: int, users, action: str, payloads, *, preload: bool, expected_version: int | None):
    """Run ``action`` in one thread per user, each with its own app context and database session."""
    barrier = threading.Barrier(len(users), timeout=30)
    outcomes: list[object] = [None] * len(users)

    def worker(index: int, user) -> None:
        with app.app_context():
            session = db.session
            try:
                set_scope(session, scope_for_bureau(session, user.tenant_id))
                if preload:
                    # What a view does first: load the case (404) and authorize, in the same session.
                    seen = session.scalar(select(Case).where(Case.id == case_id))
                    assert seen.state is CaseState.submitted
                barrier.wait()
                perform_action(
                    session,
                    pii,
                    case_id,
                    action,
                    actor_of(user),
                    payloads[index],
                    expected_version=expected_version,
                    today=date(2026, 9, 11),
                )
                session.commit()
                outcomes[index] = "ok"
            except Exception as exc:
                session.rollback()
                outcomes[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=worker, args=(i, u)) for i, u in enumerate(users)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    return outcomes


@pytest.mark.parametrize("preload", [False, True], ids=["fresh-session", "case-loaded-first"])
def test_two_clerks_accept_the_same_version_at_once(app, dbs, pii, city, preload):
    other_clerk = make_staff(dbs, "220100", city.clerk.roles[0], unit="petition_office", username="cc_clerk2")
    case_id = submit(dbs, pii).case.id
    version = load_case(dbs, case_id).version

    outcomes = _race(
        app, pii, case_id, [city.clerk, other_clerk], "accept", [{}, {}], preload=preload, expected_version=version
    )

    assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
    loser = next(o for o in outcomes if o != "ok")
    # The loser read the case after the winner committed: a clear conflict (409), not a database error.
    assert isinstance(loser, CaseConflict), repr(loser)
    assert loser.message_zh and loser.message_en
    case = load_case(dbs, case_id)
    assert case.state is CaseState.accepted and case.version > version
    assert [e.action for e in case_events(dbs, case_id)] == ["submit", "accept"]
    assert sorted(d.step for d in case_deadlines(dbs, case_id, open_only=True)) == ["slip", "whole_review"]
    notices = [o for o in outbox_rows(dbs, case_id) if o.payload.get("document") == "acceptance_notice"]
    assert len(notices) == 1
    assert verify_case(dbs, case) is None


@pytest.mark.parametrize("preload", [False, True], ids=["fresh-session", "case-loaded-first"])
def test_accept_and_reject_at_once_without_a_version(app, dbs, pii, city, preload):
    """Without the version the actor saw, the loser is judged on the new state: wrong_state, nothing applied."""
    other_clerk = make_staff(dbs, "220100", city.clerk.roles[0], unit="petition_office", username="cc_clerk2")
    case_id = submit(dbs, pii).case.id
    reject = {"reason": "litigation", "explanation": "已起诉。", "remedy": "请通过诉讼途径解决。"}

    outcomes = _race(
        app, pii, case_id, [city.clerk, other_clerk], "accept", [{}, {}], preload=preload, expected_version=None
    )
    assert sorted(o == "ok" for o in outcomes) == [False, True], outcomes
    loser = next(o for o in outcomes if o != "ok")
    assert isinstance(loser, ActionRefused) and loser.code == "wrong_state", repr(loser)

    # And two different actions racing: exactly one of them happens.
    case_id = submit(dbs, pii).case.id
    actions = _race(
        app,
        pii,
        case_id,
        [city.clerk, other_clerk],
        "reject",
        [reject, reject],
        preload=preload,
        expected_version=None,
    )
    assert sorted(o == "ok" for o in actions) == [False, True], actions
    assert [e.action for e in case_events(dbs, case_id)] == ["submit", "reject"]
    assert load_case(dbs, case_id).state is CaseState.not_accepted
