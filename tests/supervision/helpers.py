"""Generated cases for the supervision tests: a compact spec per case, inserted directly for volume.

``insert`` writes each case (and its step deadlines and rating) as its own bureau, exactly the rows the workflow
would leave; ``bulk_generate`` fills tens of thousands of cases with one SQL statement per table for EXPLAIN checks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select, text

from portal.cases.models import Case, Deadline
from portal.routing import OpinionKind
from portal.supervision.models import Satisfaction, SatisfactionRating
from portal.supervision.rollups import rebuild_rollups
from portal.workflow import CaseKind, CaseState, IntakePath, Outcome, Step
from tenants.models import Unit
from tenants.scoping import TenantScope, scoped, system_scope
from tenants.tree import get_bureau

_numbers = itertools.count(1)

NANGUAN, CHAOYANG, CHANGCHUN, PROVINCE = "220102", "220104", "220100", "220000"
JILIN_CITY, CHANGYI = "220200", "220202"


@dataclass
class Step_:
    step: Step
    started_on: date
    due_on: date
    closed_on: date | None = None  # China date it closed; None: still open


@dataclass
class Spec:
    adcode: str
    state: CaseState = CaseState.submitted
    kind: CaseKind = CaseKind.review
    intake: IntakePath = IntakePath.online
    received_on: date = date(2026, 3, 2)
    accepted_on: date | None = None
    replied_on: date | None = None
    outcome: Outcome | None = None
    extension_days: int | None = None
    unit: str | None = None  # unit code of the lead unit
    id_hash: str | None = None
    document: str | None = None  # None: a document number of its own
    disputed_adcode: str | None = None
    disputed_kind: OpinionKind = OpinionKind.handling
    sensitive: bool = False
    rating: Satisfaction | None = None
    steps: list[Step_] = field(default_factory=list)
    name: str = "王五"


def _closed_at(day: date) -> datetime:
    # 23:30 China time is 15:30 UTC the same day: the on-time rule must compare China dates, not UTC ones.
    return datetime.combine(day, time(15, 30), tzinfo=UTC)


def insert(dbs, specs: list[Spec]) -> list[int]:
    """Insert each spec as a case of its bureau; returns the case ids in order (committed)."""
    ids = []
    bureau_ids = {}
    units: dict[int, dict[str, int]] = {}
    for spec in specs:
        if spec.adcode not in bureau_ids:
            bureau_ids[spec.adcode] = get_bureau(dbs, spec.adcode).id
        bureau_id = bureau_ids[spec.adcode]
        disputed = get_bureau(dbs, spec.disputed_adcode).id if spec.disputed_adcode else bureau_id
        with scoped(dbs, TenantScope.single(bureau_id)):
            if bureau_id not in units:
                units[bureau_id] = {u.code: u.id for u in dbs.scalars(select(Unit).where(Unit.tenant_id == bureau_id))}
            number = f"GEN2026-{next(_numbers):07d}"
            case = Case(
                tenant_id=bureau_id,
                number=number,
                kind=spec.kind,
                intake=spec.intake,
                state=spec.state,
                outcome=spec.outcome,
                disputed_bureau_id=disputed,
                disputed_kind=spec.disputed_kind,
                disputed_document_number=spec.document or f"DOC-{number}",
                disputed_issued_on=date(2026, 1, 5),
                disputed_received_on=date(2026, 1, 6),
                petitioner_name=spec.name,
                petitioner_id_hash=spec.id_hash,
                request_text="请求",
                facts_text="事实",
                lead_unit_id=units[bureau_id][spec.unit] if spec.unit else None,
                extension_used=spec.extension_days is not None,
                extension_days=spec.extension_days,
                sensitive=spec.sensitive,
                received_on=spec.received_on,
                accepted_on=spec.accepted_on,
                replied_on=spec.replied_on,
            )
            dbs.add(case)
            dbs.flush()
            for s in spec.steps:
                dbs.add(
                    Deadline(
                        tenant_id=bureau_id,
                        case_id=case.id,
                        step=s.step,
                        started_on=s.started_on,
                        amount=1,
                        unit="days",
                        due_on=s.due_on,
                        explanation={},
                        owed_by="petition_office",
                        closed_at=_closed_at(s.closed_on) if s.closed_on else None,
                        close_reason="test" if s.closed_on else None,
                    )
                )
            if spec.rating:
                dbs.add(SatisfactionRating(tenant_id=bureau_id, case_id=case.id, rating=spec.rating))
            dbs.commit()
            ids.append(case.id)
    with system_scope(dbs):
        rebuild_rollups(dbs)  # the rows went in directly, not through the workflow that keeps the rollups
        dbs.commit()
    return ids


def bulk_generate(owner_engine, total: int, *, seed: int = 7, start: date = date(2025, 1, 1), days: int = 730) -> None:
    """Insert ``total`` cases spread over every bureau (as the table owner), with deadlines and some ratings.

    Plain ``INSERT ... SELECT generate_series``: tens of thousands of rows in a second or two, then ANALYZE.
    """
    with owner_engine.begin() as conn:
        conn.execute(text("SELECT setseed(:s)"), {"s": 1.0 / seed})
        conn.execute(
            text(
                """
                WITH b AS (SELECT array_agg(id ORDER BY id) AS ids FROM bureaus),
                g AS (
                  SELECT n, (SELECT ids FROM b)[1 + (n % (SELECT cardinality(ids) FROM b))] AS tenant_id,
                         random() AS r, random() AS r2, (:start)::date + (n % :days) AS received_on
                  FROM generate_series(1, :total) AS n
                )
                INSERT INTO cases (tenant_id, number, kind, intake, state, outcome, disputed_bureau_id, disputed_kind,
                  disputed_document_number, disputed_issued_on, disputed_received_on, petitioner_name,
                  petitioner_id_hash, request_text, facts_text, extension_used, extension_days, sensitive,
                  received_on, accepted_on, replied_on)
                SELECT tenant_id, 'BULK-' || n,
                  (CASE WHEN r < 0.8 THEN 'review' ELSE 're_review' END)::case_kind,
                  (CASE WHEN r2 < 0.7 THEN 'online' WHEN r2 < 0.95 THEN 'paper' ELSE 'committee_transfer' END)
                    ::intake_path,
                  (CASE WHEN r < 0.1 THEN 'submitted' WHEN r < 0.2 THEN 'not_accepted' WHEN r < 0.5 THEN 'in_review'
                        WHEN r < 0.95 THEN 'replied' ELSE 'withdrawn' END)::case_state,
                  (CASE WHEN r >= 0.5 AND r < 0.95 THEN (ARRAY['upheld','changed','partly_changed'])[1 + n % 3]
                        END)::outcome,
                  tenant_id, 'handling'::opinion_kind, 'DOC-' || (n % 5000), DATE '2024-12-01', DATE '2024-12-02',
                  '测试' || (n % 1000), md5((n % 40000)::text), 'x', 'y',
                  r2 < 0.1, CASE WHEN r2 < 0.1 THEN 15 END, n % 997 = 0,
                  received_on,
                  CASE WHEN r >= 0.2 AND r < 0.95 THEN received_on + 5 END,
                  CASE WHEN r >= 0.5 AND r < 0.95 THEN received_on + 20 + (n % 30) END
                FROM g
                """
            ),
            {"total": total, "start": start, "days": days},
        )
        conn.execute(
            text(
                """
                INSERT INTO deadlines (tenant_id, case_id, step, started_on, amount, unit, due_on, explanation,
                  owed_by, closed_at, close_reason)
                SELECT c.tenant_id, c.id, s.step::deadline_step, c.received_on + s.off, 5, 'days',
                  c.received_on + s.off + 5, '{}'::jsonb, 'petition_office',
                  CASE WHEN c.id % 7 = 0 THEN NULL
                       ELSE (c.received_on + s.off + (c.id % 8)::int)::timestamp AT TIME ZONE 'Asia/Shanghai' END,
                  'bulk'
                FROM cases c
                CROSS JOIN (VALUES ('acceptance', 0), ('whole_review', 5), ('slip', 5), ('instruction', 6),
                                   ('dispatch', 8), ('division_review', 9)) AS s(step, off)
                WHERE c.number LIKE 'BULK-%'
                """
            )
        )
        conn.execute(
            text(
                """
                INSERT INTO satisfaction_ratings (tenant_id, case_id, rating)
                SELECT tenant_id, id,
                  (ARRAY['satisfied','basically_satisfied','dissatisfied'])[1 + id % 3]::satisfaction
                FROM cases WHERE number LIKE 'BULK-%' AND state = 'replied' AND id % 2 = 0
                """
            )
        )
        rebuild_rollups(conn)
    with owner_engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE cases"))
        conn.execute(text("VACUUM ANALYZE deadlines"))
        conn.execute(text("VACUUM ANALYZE satisfaction_ratings"))
        # The rebuilt rollups too: otherwise their plans depend on whether autovacuum got to them yet (a seq scan
        # estimated at one row, now and then, in test_performance).
        conn.execute(text("VACUUM ANALYZE case_rollups"))
        conn.execute(text("VACUUM ANALYZE deadline_rollups"))


def day(month: int, dom: int) -> date:
    return date(2026, month, dom)


def plus(d: date, n: int) -> date:
    return d + timedelta(days=n)
