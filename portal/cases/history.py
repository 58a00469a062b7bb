"""The append-only, hash-chained history of a case.

Each event's hash covers its content and the previous event's hash, so editing, removing or reordering any
entry breaks every hash after it. The database also refuses UPDATE and DELETE on ``case_events`` (a trigger);
``verify_case`` finds what a privileged editor could still do.

The hashes are HMAC-SHA256 under ``HISTORY_KEY``, a key that is not in the database: whoever owns the database can
rewrite an event, but not compute the hashes that would hide it. Signed anchors of every case's head, written to
object storage (``portal.cases.anchors``), also catch entries cut off the end of a history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.models import Case, CaseEvent


@dataclass(frozen=True)
class Actor:
    """Who acts: a staff member, the petitioner of the case, or the system."""

    kind: str  # staff | petitioner | system | committee
    id: int | None
    name: str
    bureau_id: int | None = None


def _canonical(event: CaseEvent) -> bytes:
    content = {
        "case_id": event.case_id,
        "tenant_id": event.tenant_id,
        "seq": event.seq,
        "action": event.action,
        "actor_kind": event.actor_kind,
        "actor_id": event.actor_id,
        "actor_name": event.actor_name,
        "actor_bureau_id": event.actor_bureau_id,
        # Always UTC: PostgreSQL returns timestamptz in the session's time zone (+08:00 on a server set to China
        # time), and the hash must not depend on where it is read.
        "at": event.at.astimezone(UTC).isoformat(),
        "state_before": event.state_before,
        "state_after": event.state_after,
        "fields": event.fields,
        "public": event.public,
        "prev_hash": event.prev_hash,
    }
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


_HISTORY_KEY: bytes | None = None


def configure_history_key(key: str) -> None:
    """Set the key of the hash chains (``create_app`` does, from ``HISTORY_KEY``)."""
    global _HISTORY_KEY
    _HISTORY_KEY = key.encode()


def history_key() -> bytes:
    if _HISTORY_KEY is None:
        raise RuntimeError("The history key is not configured (HISTORY_KEY, portal.create_app).")
    return _HISTORY_KEY


def event_hash(event: CaseEvent, key: bytes | None = None) -> str:
    """HMAC-SHA256 of the event's canonical content (which includes the previous event's hash)."""
    return hmac.new(key or history_key(), _canonical(event), hashlib.sha256).hexdigest()


def append_event(
    session: Session,
    case: Case,
    *,
    action: str,
    actor: Actor,
    at: datetime,
    state_before: str | None,
    state_after: str,
    fields: dict,
    public: bool,
) -> CaseEvent:
    """Add the next event of ``case`` (the caller holds the case row lock); flushes."""
    # Round-trip through JSON so that the stored JSONB and the hashed content are the same values.
    clean_fields = json.loads(json.dumps(fields, ensure_ascii=False, default=str))
    event = CaseEvent(
        tenant_id=case.tenant_id,
        case_id=case.id,
        seq=case.event_count + 1,
        action=action,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_name=actor.name,
        actor_bureau_id=actor.bureau_id,
        at=at,
        state_before=state_before,
        state_after=state_after,
        fields=clean_fields,
        public=public,
        prev_hash=case.last_event_hash,
    )
    event.hash = event_hash(event)
    case.event_count = event.seq
    case.last_event_hash = event.hash
    session.add(event)
    session.flush()
    return event


def list_events(session: Session, case: Case, *, public_only: bool = False) -> list[CaseEvent]:
    query = select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.tenant_id == case.tenant_id)
    if public_only:
        query = query.where(CaseEvent.public.is_(True))
    return list(session.scalars(query.order_by(CaseEvent.seq)))


@dataclass(frozen=True)
class ChainProblem:
    case_id: int
    case_number: str
    seq: int
    problem: str


def verify_case(session: Session, case: Case) -> ChainProblem | None:
    """Recompute the chain of one case; return the first broken entry, or None when it is intact."""
    previous = None
    expected_seq = 1
    for event in list_events(session, case):
        if event.seq != expected_seq:
            return ChainProblem(case.id, case.number, expected_seq, f"entry {expected_seq} is missing")
        if event.prev_hash != previous:
            return ChainProblem(case.id, case.number, event.seq, "does not link to the entry before it")
        if event_hash(event) != event.hash:
            return ChainProblem(case.id, case.number, event.seq, "content changed after it was written")
        previous = event.hash
        expected_seq += 1
    if expected_seq - 1 != case.event_count or previous != case.last_event_hash:
        return ChainProblem(case.id, case.number, expected_seq, "the latest entries are missing")
    return None


def verify_all(session: Session) -> list[ChainProblem]:
    """Verify every case visible in the session's scope; return one problem per broken case."""
    problems = []
    for case in session.scalars(select(Case).order_by(Case.id)):
        if problem := verify_case(session, case):
            problems.append(problem)
    return problems
