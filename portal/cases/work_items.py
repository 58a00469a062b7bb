"""Work items: which cases wait for whom, kept beside the cases so that the queue's "mine" is an index range scan.

The queue's "mine" used to look, for every case of the bureau, for an open deadline its reader owes: its cost
followed the bureau's case count. A work item names one case and one owner as the rules name them:

- ``user``: a user who owes an open deadline of the case (``owed_user_id``), the leader a slip waits for
  (``awaiting_instruction``), the leader who coordinates a major case while it is open;
- ``unit``: a unit that owes an open deadline (``owed_unit_id``);
- ``office``: the bureau's petition office, for deadlines it owes (``owed_by == 'petition_office'``) and for answers
  of the petitioner or other bodies it records (a materials request addressed outside the bureau tree);
- ``approve``: whoever approves the opinions of the lead unit (``awaiting_approval``);
- ``sign``: the bureau's signers (``awaiting_signature``);
- ``extension``: the bureau's leaders, while an extension request is pending.

``work_item_keys`` is the rule; ``REFRESH`` writes the same in SQL (the state x action matrix test holds them equal
after every action). ``owner_keys`` says which owners a reader answers for today (their stand-ins included), so a
reader's "mine" is the union of a few index range scans of ``ix_work_items_owner_due``.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.workflow import ACTIVE_STATES, OPEN_STATES, CaseState, Step

USER, UNIT, OFFICE, APPROVE, SIGN, EXTENSION = "user", "unit", "office", "approve", "sign", "extension"
BUREAU = 0  # owner_id of the owners that are the bureau's (office, signers, leaders)

Key = tuple[str, int]


def work_item_keys(case, open_deadlines: Iterable) -> set[Key]:
    """The owners ``case`` waits for, from the case and its open deadlines (ORM objects or rows)."""
    keys: set[Key] = set()
    for d in open_deadlines:
        if d.owed_user_id is not None:
            keys.add((USER, d.owed_user_id))
        if d.owed_unit_id is not None:
            keys.add((UNIT, d.owed_unit_id))
        if d.owed_by == "petition_office" or (
            d.step == Step.material_request and d.owed_by == "addressee" and d.owed_bureau_id == case.tenant_id
        ):
            keys.add((OFFICE, BUREAU))
    state = CaseState(case.state)
    if state is CaseState.awaiting_instruction and case.approver_id is not None:
        keys.add((USER, case.approver_id))
    if case.coordinating_leader_id is not None and state in OPEN_STATES:
        keys.add((USER, case.coordinating_leader_id))
    if state is CaseState.awaiting_approval and case.lead_unit_id is not None:
        keys.add((APPROVE, case.lead_unit_id))
    if state is CaseState.awaiting_signature:
        keys.add((SIGN, BUREAU))
    if case.pending_extension_days is not None and state in ACTIVE_STATES:
        keys.add((EXTENSION, BUREAU))
    return keys


def owner_keys(duties) -> list[Key]:
    """The owners a reader answers for (``queries.Duties``): their "mine" is every case waiting for one of them.
    Never empty: the reader's own id comes first."""
    keys: list[Key] = [(USER, user_id) for user_id in sorted(duties.user_ids)]
    if duties.unit_id is not None:
        keys.append((UNIT, duties.unit_id))
    if duties.petition_office:
        keys.append((OFFICE, BUREAU))
    keys += [(APPROVE, unit_id) for unit_id in sorted(duties.approvable_unit_ids)]
    if duties.signer:
        keys.append((SIGN, BUREAU))
    if duties.decides_extensions:
        keys.append((EXTENSION, BUREAU))
    return keys


def _states(states) -> str:
    return ", ".join(f"'{s.value}'" for s in sorted(states))


# The items of the cases in ``targets`` (a relation of tenant_id, id), as ``work_item_keys`` says.
_ITEMS = f"""
SELECT d.tenant_id, d.case_id, '{USER}' AS owner_kind, d.owed_user_id AS owner_id
FROM deadlines d JOIN targets t ON t.tenant_id = d.tenant_id AND t.id = d.case_id
WHERE d.closed_at IS NULL AND d.owed_user_id IS NOT NULL
UNION
SELECT d.tenant_id, d.case_id, '{UNIT}', d.owed_unit_id
FROM deadlines d JOIN targets t ON t.tenant_id = d.tenant_id AND t.id = d.case_id
WHERE d.closed_at IS NULL AND d.owed_unit_id IS NOT NULL
UNION
SELECT d.tenant_id, d.case_id, '{OFFICE}', {BUREAU}
FROM deadlines d JOIN targets t ON t.tenant_id = d.tenant_id AND t.id = d.case_id
WHERE d.closed_at IS NULL
  AND (d.owed_by = 'petition_office'
       OR (d.step = 'material_request' AND d.owed_by = 'addressee' AND d.owed_bureau_id = d.tenant_id))
UNION
SELECT c.tenant_id, c.id, '{USER}', c.approver_id
FROM cases c JOIN targets t ON t.tenant_id = c.tenant_id AND t.id = c.id
WHERE c.state = 'awaiting_instruction' AND c.approver_id IS NOT NULL
UNION
SELECT c.tenant_id, c.id, '{USER}', c.coordinating_leader_id
FROM cases c JOIN targets t ON t.tenant_id = c.tenant_id AND t.id = c.id
WHERE c.coordinating_leader_id IS NOT NULL AND c.state IN ({_states(OPEN_STATES)})
UNION
SELECT c.tenant_id, c.id, '{APPROVE}', c.lead_unit_id
FROM cases c JOIN targets t ON t.tenant_id = c.tenant_id AND t.id = c.id
WHERE c.state = 'awaiting_approval' AND c.lead_unit_id IS NOT NULL
UNION
SELECT c.tenant_id, c.id, '{SIGN}', {BUREAU}
FROM cases c JOIN targets t ON t.tenant_id = c.tenant_id AND t.id = c.id
WHERE c.state = 'awaiting_signature'
UNION
SELECT c.tenant_id, c.id, '{EXTENSION}', {BUREAU}
FROM cases c JOIN targets t ON t.tenant_id = c.tenant_id AND t.id = c.id
WHERE c.pending_extension_days IS NOT NULL AND c.state IN ({_states(ACTIVE_STATES)})
"""

_INSERT = f"""
INSERT INTO work_items (tenant_id, case_id, owner_kind, owner_id, due_on)
SELECT i.tenant_id, i.case_id, i.owner_kind, i.owner_id, c.next_due_on
FROM ({_ITEMS}) i
JOIN cases c ON c.tenant_id = i.tenant_id AND c.id = i.case_id
"""

# Rewrite the items of the cases ``:tenant_ids`` / ``:case_ids`` (pairs), from the cases as flushed.
REFRESH = [
    """DELETE FROM work_items w
       USING unnest(CAST(:tenant_ids AS int[]), CAST(:case_ids AS bigint[])) AS t (tenant_id, id)
       WHERE w.tenant_id = t.tenant_id AND w.case_id = t.id""",
    "WITH targets AS (SELECT * FROM unnest(CAST(:tenant_ids AS int[]), CAST(:case_ids AS bigint[]))"
    " AS t (tenant_id, id))" + _INSERT,
]

# Every case's items again (the migration that introduced them, the benchmark's generated data, a check).
REBUILD = ["DELETE FROM work_items", "WITH targets AS (SELECT tenant_id, id FROM cases)" + _INSERT]


def refresh_work_items(session: Session, case_keys: Iterable[tuple[int, int]]) -> None:
    """Rewrite the work items of the cases ``case_keys`` ((tenant_id, case_id)) from the cases and deadlines as
    they are now; flushes first. Every writer of cases and deadlines calls it (through ``_refresh_next_due``)."""
    keys = sorted(set(case_keys))
    if not keys:
        return
    session.flush()
    params = {"tenant_ids": [k[0] for k in keys], "case_ids": [k[1] for k in keys]}
    for statement in REFRESH:
        session.execute(text(statement), params)


def rebuild_work_items(session) -> None:
    """Rewrite every case's work items (a session in system scope, or the owner's connection)."""
    for statement in REBUILD:
        session.execute(text(statement))
