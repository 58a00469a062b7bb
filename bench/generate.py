"""Fill the database with N realistic cases across all bureaus, fast, for benchmarks (issue #9).

``python -m bench.generate --cases 100000`` reads ``DATABASE_ADMIN_URL`` (else ``DATABASE_URL``), ``PII_KEY`` and
``HISTORY_KEY`` from the environment; ``generate(url, n, pii_key)`` does the same from Python (the history key
being the one ``portal.create_app`` configured, unless given). The database must be migrated and seeded
(bureaus and demo staff), as ``portal.devserver.setup_database`` leaves it.

What it does:
- Replaces earlier data: every case-related table is truncated (``CASE_TABLES``); bureaus, units, staff, the
  calendar and the time-limit table stay. Everything happens in one transaction, so a failed run leaves the old
  data, and readers never see half a load.
- Rows go in with ``COPY`` (psycopg's ``cursor.copy``), chunk by chunk, with explicit ids; the identity sequences
  are moved past them afterwards, so the app inserts new cases, events, deadlines... as usual. Forked worker
  processes make the chunks and format them as COPY text themselves (``write_row``'s work, done in parallel), while
  the main process streams them in. Foreign keys and secondary indexes of the loaded tables are dropped for the
  load and rebuilt at the end, in the same transaction (one validating join and one sorted build each are several
  times cheaper than checking and inserting row by row); ``COPY FREEZE`` spares the first readers the hint bits.
- Routing is the real one (``portal.routing.route``): reviews of county opinions at the city above, of city
  opinions and re-reviews at the province; some re-reviews continue an earlier review as an escalation does.
- Each case follows a path of actions that ``portal.workflow.decide`` accepted once on a model case (``_Paths``);
  states, events (action, before/after, fields, public), deadlines opened and closed, and side records are those
  of the decisions, replayed with each case's own dates, units and people. About 70% of the cases are closed,
  spread over the two years before ``today``; the others are open, received in the last months, with their
  current clock overdue, due within three working days or later. Events are hash-chained with
  ``portal.cases.history.event_hash``, so ``portal case verify`` finds every chain intact.
- Due dates come from the deployment's working-day calendar and time-limit table, computed once per start day.
- Personal data: a pool of people is encrypted once with ``portal.pii.PersonalData`` and reused (petitioners do
  file repeatedly). Every case with an access code gets ``bench_access_code(number)``: deterministic, so a load
  run can track any case. Benchmark data only.
- Attachments: petitioner uploads, paper scans and the final documents (non-acceptance notice, formal opinion) as
  rows, with plausible keys, sizes and digests. The objects are NOT in S3: downloading one answers 404.

Known simplifications:
- Bureaus (and units) without staff accounts, which is all but the three demo bureaus after seeding, record their
  staff by name only (``actor_id`` NULL), and their cases have no ``approver_id``: the app itself could not move
  such a case past the reading slip, as no leader could be chosen.
- ``repeat_of_case_number`` is never set, the outbox and notifications stay empty (pending outbox rows would make
  the worker render a million documents), and there are no supervision orders, ratings or petitioner accounts.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import cached_property
from types import SimpleNamespace
from typing import ClassVar

import psycopg
from sqlalchemy import create_engine, pool, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

import portal.models  # noqa: F401  (every mapper, so that the ORM can load the reference data)
from portal.accounts.models import StaffUser
from portal.approvers import LeaderView, NoApproverAvailable, choose_approver
from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.history import event_hash
from portal.cases.matter import document_key
from portal.cases.numbers import ALPHABET, new_case_number
from portal.cases.operations import _owner
from portal.cases.queries import local_today
from portal.cases.work_items import REBUILD as REBUILD_WORK_ITEMS
from portal.documents.numbering import default_prefix, format_number, series_for
from portal.documents.service import DOCX_TYPE, GENERATED_BY, PDF_TYPE
from portal.idnumber import check_char
from portal.pii import PersonalData
from portal.roles import LEADERS, PETITION_OFFICE, Role
from portal.routing import BureauRef, OpinionKind, Route, is_late, route
from portal.supervision.rollups import rebuild_statements
from portal.workdays import WorkdayCalendar
from portal.workflow import (
    FINAL_STATES,
    INITIAL_STATES,
    INITIAL_STEPS,
    ActorView,
    CaseAction,
    CaseKind,
    CaseState,
    CaseView,
    Complexity,
    Decision,
    DocumentKind,
    IntakePath,
    MaterialRequestView,
    MaterialTarget,
    Step,
    StepRule,
    decide,
    document_title,
)
from tenants.models import Bureau, Unit, UnitKind
from tenants.scoping import system_scope

# Every table that holds cases or refers to them; all are emptied before generating. A table that refers to
# these and is missing here makes the TRUNCATE fail, rather than being emptied unnoticed.
ROLLUP_TABLES = ("case_rollups", "deadline_rollups", "work_items")  # rebuilt from the loaded rows
CASE_TABLES = (
    "cases",
    "work_items",
    "case_numbers",
    "case_parties",
    "case_events",
    "deadlines",
    "material_requests",
    "meetings",
    "contact_records",
    "attachments",
    "uploads",
    "generated_documents",
    "document_sequences",
    "outbox",
    "deadline_alerts",
    "staff_notifications",
    "supervision_orders",
    "satisfaction_ratings",
    "petitioner_cases",
    "sweep_runs",  # the sweep's record of the old data: kept, the next run's catch-up would pass for a repeat
)

# The columns written, per table (in the order of the rows' values), in load order: parents first.
COLUMNS: dict[str, str] = {
    "cases": (
        "tenant_id, id, number, kind, intake, state, complexity, outcome, reject_reason, disputed_bureau_id, "
        "disputed_kind, disputed_document_number, disputed_issued_on, disputed_received_on, petitioner_name, "
        "petitioner_id_hash, request_text, facts_text, committee_document_number, lead_unit_id, "
        "assisting_unit_ids, approver_id, opinion_needs_approval, extension_used, extension_days, "
        "pending_extension_days, escalated, sensitive, late_application, earlier_tenant_id, earlier_case_id, "
        "access_code_hash, received_on, accepted_on, replied_on, closed_at, created_at, updated_at, "
        "event_count, last_event_hash, version, next_due_on, next_due_step, disputed_document_key, delivered_on, "
        "delivery_method"
    ),
    "case_numbers": "number, tenant_id, case_id",
    "case_parties": (
        "tenant_id, id, case_id, role, name, id_number_enc, id_number_hash, phone_enc, address_enc, created_at"
    ),
    "case_events": (
        "tenant_id, id, case_id, seq, action, actor_kind, actor_id, actor_name, actor_bureau_id, at, "
        "state_before, state_after, fields, public, prev_hash, hash"
    ),
    "deadlines": (
        "tenant_id, id, case_id, step, started_on, amount, unit, extended_days, due_on, provisional, "
        "explanation, owed_by, owed_unit_id, owed_user_id, owed_bureau_id, material_request_id, opened_at, "
        "closed_at, close_reason, due_set_at"
    ),
    "material_requests": (
        "tenant_id, id, case_id, target, target_bureau_id, body_name, content, due_on, requested_by_id, "
        "answered_at, answer_text, answered_by, created_at"
    ),
    "contact_records": (
        "tenant_id, id, case_id, party, body_name, contacted_on, channel, summary, recorded_by_id, created_at"
    ),
    "uploads": "id, filename, size, content_type, sha256, storage_key, created_at, claimed_at",
    "attachments": (
        "tenant_id, id, case_id, filename, size, content_type, sha256, storage_key, source, uploaded_by, created_at"
    ),
    "generated_documents": (
        "tenant_id, id, case_id, kind, event_seq, doc_number, title, public, pdf_attachment_id, "
        "docx_attachment_id, created_at"
    ),
    "document_sequences": "tenant_id, id, year, series, last_number, created_at, updated_at",
}
# Tables whose ``id`` is an identity column that the generator fills explicitly.
IDENTITY_TABLES = tuple(t for t, cols in COLUMNS.items() if "id" in cols.split(", ") and t != "uploads")

CHUNK_CASES = 5_000
MAX_PEOPLE = 20_000
CLOSED_SHARE = 0.70
HISTORY_DAYS = 730  # closed cases were received over the two years before today
SOON_WORKING_DAYS = 3  # portal.cases.queries.DUE_SOON_WORKING_DAYS
_CHINA = timedelta(hours=8)  # China has kept UTC+8 all year since 1991
_A = CaseAction
_S = CaseState


def bench_access_code(number: str) -> str:
    """The access code of a generated case: derived from its number, so that a load run can track any case.

    Same format as ``portal.cases.numbers.new_access_code`` (12 characters of its alphabet, grouped by four);
    anyone who knows this function can track every generated case, so it is for benchmark data only.
    """
    value = int.from_bytes(hashlib.sha256(f"bench-access:{number}".encode()).digest()[:8], "big")
    raw = "".join(ALPHABET[(value >> (5 * i)) & 31] for i in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


_NUMBER_HEADS: dict[tuple[CaseKind, int], str] = {}


def _case_number(kind: CaseKind, on: date, index: int, key: int) -> str:
    """``new_case_number``'s format, its 40 bits a bijection of the case index: unique without a look-up."""
    v = (index ^ key) & (2**40 - 1)
    for multiplier in (0x9E3779B97F, 0xC2B2AE3D27):  # odd, so each round is a permutation of the 40-bit values
        v ^= v >> 19
        v = (v * multiplier) & (2**40 - 1)
    v ^= v >> 21
    head = _NUMBER_HEADS.get((kind, on.year))
    if head is None:  # "FC2026-": kind and year exactly as the app writes them
        head = _NUMBER_HEADS[(kind, on.year)] = new_case_number(kind, on)[:-8]
    return head + "".join(ALPHABET[(v >> (5 * i)) & 31] for i in range(7, -1, -1))


# --- The bureaus, their units and staff ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Actor:
    """Who acts in an event: a real staff account, or (in a bureau without accounts) a name only."""

    kind: str
    id: int | None
    name: str
    bureau_id: int | None

    @cached_property
    def columns(self) -> str:
        """actor_kind, actor_id, actor_name, actor_bureau_id as COPY text."""
        return "\t".join((self.kind, _num(self.id), _text(self.name), _num(self.bureau_id)))


@dataclass
class _Bureau:
    id: int
    ref: BureauRef
    adcode: str | None
    division_name: str
    doc_prefix: str
    office_unit: int
    divisions: list[int]  # business divisions, the common ones first
    unit_names: dict[int, str]
    lower_ids: tuple[int, ...] = ()
    clerks: list[_Actor] = field(default_factory=list)
    division_staff: dict[int, list[_Actor]] = field(default_factory=dict)
    by_id: dict[int, _Actor] = field(default_factory=dict)
    leaders: list[LeaderView] = field(default_factory=list)
    overseers: dict[int, frozenset[int]] = field(default_factory=dict)
    named: dict[str, _Actor] = field(default_factory=dict)

    # What ``portal.cases.operations._owner`` asks of ``BureauStaff``.
    @property
    def petition_office_id(self) -> int:
        return self.office_unit

    def overseers_of(self, unit_id: int | None) -> frozenset[int]:
        return self.overseers.get(unit_id, frozenset())

    def leaders_with(self, role: Role) -> list[LeaderView]:
        return [v for v in self.leaders if role in v.roles]

    def by_name(self, what: str) -> _Actor:
        actor = self.named.get(what)
        if actor is None:
            actor = self.named[what] = _Actor("staff", None, f"{self.ref.name}{what}", self.id)
        return actor

    def office(self, rng: random.Random) -> _Actor:
        return rng.choice(self.clerks) if self.clerks else self.by_name("信访办工作人员")

    def handler(self, rng: random.Random, unit: int | None) -> _Actor:
        if unit == self.office_unit:
            return self.office(rng)
        people = self.division_staff.get(unit)
        return rng.choice(people) if people else self.by_name(f"{self.unit_names.get(unit, '')}工作人员")

    def leader(self, role: Role, prefer: Iterable[int] = ()) -> _Actor:
        for user_id in prefer:
            if user_id in self.by_id:
                return self.by_id[user_id]
        views = self.leaders_with(role)
        if views:
            return self.by_id[views[0].user_id]
        return self.by_name({Role.petitions_leader: "分管信访工作的局领导"}.get(role, "局领导"))


_DIVISION_WEIGHTS = {"pension": 40, "work_injury": 25, "unemployment": 15, "fund_finance": 10, "audit": 10}


def _load_bureaus(session: Session) -> dict[int, _Bureau]:
    rows = list(session.scalars(select(Bureau)))
    refs = {b.id: BureauRef(id=b.id, level=str(b.level), parent_id=b.parent_id, name=b.name) for b in rows}
    units: dict[int, list[Unit]] = {}
    for unit in session.scalars(select(Unit).order_by(Unit.id)):
        units.setdefault(unit.tenant_id, []).append(unit)
    bureaus = {}
    for b in rows:
        own = units.get(b.id, [])
        office = next((u.id for u in own if u.kind == UnitKind.petition_office), None)
        divisions = [u for u in own if u.kind == UnitKind.division]
        if office is None or not divisions:
            raise RuntimeError(f"Bureau {b.name} has no petition office or no division: seed the units first.")
        divisions.sort(key=lambda u: -_DIVISION_WEIGHTS.get(u.code, 1))
        bureaus[b.id] = _Bureau(
            id=b.id,
            ref=refs[b.id],
            adcode=b.adcode,
            division_name=b.division_name,
            doc_prefix=default_prefix(b),
            office_unit=office,
            divisions=[u.id for u in divisions],
            unit_names={u.id: u.name for u in own},
        )
    for b in rows:
        ancestors = [int(p) for p in b.path.strip("/").split("/")[:-1]]
        for ancestor in ancestors:
            bureaus[ancestor].lower_ids += (b.id,)
    staff = session.scalars(select(StaffUser).where(StaffUser.active.is_(True)).order_by(StaffUser.id))
    for user in staff:
        bureau = bureaus[user.tenant_id]
        actor = _Actor("staff", user.id, user.display_name, user.tenant_id)
        roles = set(user.roles)
        bureau.by_id[user.id] = actor
        if roles & PETITION_OFFICE:
            bureau.clerks.append(actor)
        if Role.division_staff in roles and user.unit_id is not None:
            bureau.division_staff.setdefault(user.unit_id, []).append(actor)
        if roles & LEADERS:
            bureau.leaders.append(LeaderView(user.id, frozenset(roles)))  # absences are not modelled
            if Role.business_leader in roles:
                for unit_id in user.oversees_unit_ids or ():
                    bureau.overseers[unit_id] = bureau.overseers.get(unit_id, frozenset()) | {user.id}
    return bureaus


# --- Paths through the workflow -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PathSpec:
    """The shape of one case's history; ``_Paths`` turns it into steps the workflow accepted."""

    intake: IntakePath
    kind: CaseKind
    fate: str = "reply"  # reply | reject | withdraw
    withdraw_after: int = 0  # actions taken before the withdrawal
    complexity: Complexity = Complexity.complex
    needs_approval: bool = True
    return_opinion: bool = False
    return_reply: bool = False
    extension: str | None = None  # approve | deny
    materials: MaterialTarget | None = None
    contact: bool = False
    meeting: bool = False
    escalate: bool = False


@dataclass(frozen=True)
class PathStep:
    """One accepted action: who takes it (a role of the case), how long after the step before, what it did."""

    action: str
    role: str
    gap: tuple[int, int, bool]  # (least, most, in working days) after the previous step
    decision: Decision
    fields: dict  # the event fields of the model case, JSON-ready
    stored: str | None  # the fields as COPY text when no case has fields of its own here


# Ids of the model case that ``_Paths`` validates on, mapped to each case's own when replayed.
_M_BUREAU, _M_LOWER = 1, 2
_M_OFFICE, _M_LEAD, _M_ASSIST1, _M_ASSIST2 = 11, 12, 13, 14
_M_CLERK, _M_PETITIONS, _M_BUSINESS, _M_PRINCIPAL, _M_DIVISION, _M_LOWER_CLERK = 101, 102, 103, 104, 105, 201
_M_DAY = date(2026, 3, 2)
_MODEL_ACTORS = {
    "office": ActorView(
        kind="staff",
        user_id=_M_CLERK,
        bureau_id=_M_BUREAU,
        unit_id=_M_OFFICE,
        roles=frozenset({Role.petition_clerk}),
        is_petition_office_unit=True,
    ),
    "approver": ActorView(
        kind="staff", user_id=_M_PETITIONS, bureau_id=_M_BUREAU, roles=frozenset({Role.petitions_leader})
    ),
    "signer": ActorView(
        kind="staff", user_id=_M_PETITIONS, bureau_id=_M_BUREAU, roles=frozenset({Role.petitions_leader})
    ),
    "business": ActorView(
        kind="staff", user_id=_M_BUSINESS, bureau_id=_M_BUREAU, roles=frozenset({Role.business_leader})
    ),
    "division": ActorView(
        kind="staff",
        user_id=_M_DIVISION,
        bureau_id=_M_BUREAU,
        unit_id=_M_LEAD,
        roles=frozenset({Role.division_staff}),
    ),
    "lower": ActorView(
        kind="staff",
        user_id=_M_LOWER_CLERK,
        bureau_id=_M_LOWER,
        unit_id=21,
        roles=frozenset({Role.petition_clerk}),
        is_petition_office_unit=True,
    ),
    "petitioner": ActorView(kind="petitioner", user_id=0),
}

_TEXT = {
    "accept": {"note": "申请材料齐全，符合受理条件，予以受理。"},
    "reject": {
        "reason": "litigation",
        "explanation": "该事项已由人民法院作出生效判决。",
        "remedy": "如对判决不服，可依法申请再审。",
    },
    "instruct": {"instruction": "同意拟办意见，请承办单位依规审查，按期办结。"},
    "dispatch": {"note": "阅办单及申请材料已交承办单位，已登记。"},
    "submit_opinion": {"opinion": "经审查，原处理意见认定事实清楚，适用政策正确，建议维持。"},
    "approve_opinion": {"comment": "同意。"},
    "return_opinion": {"reason": "请补充核实缴费年限的计算依据。"},
    "submit_reply": {"text": "经复查，原处理意见认定事实清楚，适用政策正确，予以维持。", "outcome": "upheld"},
    "return_reply": {"reason": "请完善救济途径的表述。"},
    "sign_reply": {},
    "request_extension": {"days": 30, "reason": "案情复杂，需调取历史档案核实。"},
    "approve_extension": {"days": 30},
    "deny_extension": {"reason": "现有材料足以作出结论，请按期办结。"},
    "record_contact": {"party": "petitioner", "channel": "电话", "summary": "向信访人了解诉求，信访人补充说明了情况。"},
    "provide_materials": {"content": "相关材料已提供。"},
    "withdraw": {"reason": "问题已协商解决，申请撤回。", "document_note": "信访人提交的书面撤回申请。"},
    "escalate": {"reason": "对复查意见不服，申请复核。"},
}
_PROPOSAL = {
    Complexity.simple: "情况清楚、政策明确，建议由信访办直接办理。",
    Complexity.complex: "涉及多个业务处室，建议由养老保险处主办。",
    Complexity.major: "重大复杂疑难事项，建议召开协调会议研究。",
}
_UNITS = {
    Complexity.simple: (_M_OFFICE, ()),
    Complexity.complex: (_M_LEAD, (_M_ASSIST1,)),
    Complexity.major: (_M_LEAD, (_M_ASSIST1, _M_ASSIST2)),
}


def _wd(lo: int, hi: int) -> tuple[int, int, bool]:
    return (lo, hi, True)


def _days(lo: int, hi: int) -> tuple[int, int, bool]:
    return (lo, hi, False)


class _Paths:
    """Turn ``PathSpec``s into steps, each judged once by ``portal.workflow.decide`` on a model case."""

    def __init__(self, rules: dict[Step, StepRule]):
        self.rules = rules
        self._cache: dict[PathSpec, tuple[PathStep, ...]] = {}

    def get(self, spec: PathSpec) -> tuple[PathStep, ...]:
        steps = self._cache.get(spec)
        if steps is None:
            steps = self._cache[spec] = self._validate(spec)
        return steps

    def _plan(self, spec: PathSpec) -> list[tuple[str, str, tuple[int, int, bool], dict]]:
        """The actions of the path: (action, role, gap, payload), the model case's ids in the payload."""
        handler = "office" if spec.complexity is Complexity.simple else "division"
        lead, assisting = _UNITS[spec.complexity]
        plan: list[tuple[str, str, tuple[int, int, bool], dict]] = []
        if spec.intake is not IntakePath.committee_transfer:
            if spec.fate == "reject":
                return [("reject", "office", _wd(1, 12), _TEXT["reject"])]
            plan.append(("accept", "office", _wd(1, 12), _TEXT["accept"]))
        slip = {
            "proposal": _PROPOSAL[spec.complexity],
            "complexity": str(spec.complexity),
            "lead_unit_id": lead,
            "assisting_unit_ids": list(assisting),
            # What ``_choose_slip_approver`` puts in the payload; replaced by each bureau's own choice.
            "approver_id": _M_PETITIONS,
            "approver_rule": "petitions_leader",
        }
        plan += [
            ("submit_slip", "office", _days(0, 1), slip),
            ("instruct", "approver", _days(0, 4), _TEXT["instruct"]),
            ("dispatch", "office", _days(0, 1), _TEXT["dispatch"]),
        ]
        first = _wd(2, 6)  # the first side action after the hand-over
        if spec.contact:
            contact = {**_TEXT["record_contact"], "contacted_on": _M_DAY}
            plan.append(("record_contact", "office", first, contact))
            first = _wd(1, 3)
        if spec.materials is not None:
            request = {"target": str(spec.materials), "content": "请提供该事项的原始档案及处理依据。"}
            request["due_on"] = _M_DAY + timedelta(days=10)
            if spec.materials is MaterialTarget.lower_bureau:
                request["target_bureau_id"] = _M_LOWER
            elif spec.materials is MaterialTarget.other_body:
                request["body_name"] = "市公安局户政管理部门"
            asker = "office" if spec.materials is not MaterialTarget.lower_bureau else handler
            plan.append(("request_materials", asker, first, request))
            first = _wd(1, 3)
        if spec.extension:
            plan.append(("request_extension", handler, first, _TEXT["request_extension"]))
            decision = "approve_extension" if spec.extension == "approve" else "deny_extension"
            plan.append((decision, "signer", _wd(0, 2), _TEXT[decision]))
            first = _wd(1, 3)
        if spec.materials is not None:
            answerer = {
                MaterialTarget.lower_bureau: "lower",
                MaterialTarget.petitioner: "petitioner" if spec.intake is IntakePath.online else "office",
                MaterialTarget.other_body: "office",
            }[spec.materials]
            provide = {**_TEXT["provide_materials"], "request_id": 1}
            plan.append(("provide_materials", answerer, _days(2, 9), provide))
        opinion = {**_TEXT["submit_opinion"], "needs_approval": spec.needs_approval}
        plan.append(("submit_opinion", handler, _wd(3, 13) if len(plan) <= 3 else _wd(1, 6), opinion))
        if spec.needs_approval:
            if spec.return_opinion:
                plan.append(("return_opinion", "business", _wd(0, 2), _TEXT["return_opinion"]))
                plan.append(("submit_opinion", handler, _wd(1, 5), opinion))
            plan.append(("approve_opinion", "business", _wd(0, 2), _TEXT["approve_opinion"]))
        plan.append(("submit_reply", "office", _wd(0, 1), _TEXT["submit_reply"]))
        if spec.return_reply:
            plan.append(("return_reply", "signer", _days(0, 1), _TEXT["return_reply"]))
            plan.append(("submit_reply", "office", _days(0, 1), _TEXT["submit_reply"]))
        plan.append(("sign_reply", "signer", _days(0, 1), _TEXT["sign_reply"]))
        if spec.intake is not IntakePath.committee_transfer:
            # 送达: the petitioner opens the reply online within a few days; the window to escalate runs from then.
            plan.append(("record_delivery", "petitioner", _days(0, 3), {}))
        if spec.fate == "withdraw":
            by = "petitioner" if spec.intake is IntakePath.online else "office"
            withdraw = dict(_TEXT["withdraw"])
            if by == "petitioner":
                withdraw.pop("document_note")
            plan = [*plan[: spec.withdraw_after], ("withdraw", by, _days(1, 10), withdraw)]
        elif spec.escalate:
            plan.append(("escalate", "petitioner", _days(1, 25), _TEXT["escalate"]))
        return plan

    def _validate(self, spec: PathSpec) -> tuple[PathStep, ...]:
        view = CaseView(
            state=INITIAL_STATES[spec.intake],
            kind=spec.kind,
            intake=spec.intake,
            bureau_id=_M_BUREAU,
            signer_ids=frozenset({_M_PETITIONS}),
            bureau_level="city",
            lower_bureau_ids=frozenset({_M_LOWER}),
        )
        on = _M_DAY
        steps = []
        for action, role, gap, payload in self._plan(spec):
            payload = {**payload, "today": on}
            if action == "escalate":
                payload["today"] = on = view.replied_on + timedelta(days=1)
            decision = decide(view, action, _MODEL_ACTORS[role], payload, rules=self.rules)
            fields = json.loads(json.dumps(decision.event_fields, ensure_ascii=False, default=str))
            if action == "request_materials":
                fields["request_id"] = 1  # added by ``_side_records``
            own = set(fields) & _CASE_FIELDS or action in ("reject", "submit_reply")  # reason, outcome vary
            steps.append(PathStep(action, role, gap, decision, fields, None if own else _json(fields)))
            view = _advance(view, decision, on)
        return tuple(steps)


def _advance(view: CaseView, decision: Decision, on: date) -> CaseView:
    """The model case after ``decision``, as ``portal.cases.operations._apply`` would leave it."""
    changes: dict = {"state": decision.state_after}
    for name, value in decision.case_changes.items():
        if name == "assisting_unit_ids":
            changes[name] = frozenset(value)
        elif name in CaseView.__dataclass_fields__ and name != "pending_extension":
            changes[name] = value
    if "pending_extension_days" in changes:
        changes["pending_extension"] = changes["pending_extension_days"] is not None
    lead = changes.get("lead_unit_id", view.lead_unit_id)
    changes["lead_unit_is_petition_office"] = lead == _M_OFFICE
    changes["opinion_approver_ids"] = frozenset({_M_BUSINESS}) if lead not in (None, _M_OFFICE) else frozenset()
    action = decision.action
    if action is _A.sign_reply:
        changes["replied_on"] = on
    elif action is _A.request_materials:
        target = MaterialTarget(decision.event_fields["target"])
        bureau = decision.event_fields.get("target_bureau_id")
        changes["material_requests"] = (MaterialRequestView(id=1, target=target, target_bureau_id=bureau),)
    elif action is _A.provide_materials:
        changes["material_requests"] = ()
    return replace(view, **changes)


# --- COPY text ---------------------------------------------------------------------------------------------
# Workers format their rows as COPY text themselves (what ``Copy.write_row`` would send), so that the process that
# holds the connection only streams bytes: formatting is most of the client's work and it runs in parallel.

NULL = "\\N"
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(value: str | None) -> str:
    if value is None:
        return NULL
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(_ESCAPES)
    return value  # the common case, without translate's per-character work


def _num(value: int | None) -> str:
    return NULL if value is None else str(value)


def _bool(value: bool | None) -> str:
    return NULL if value is None else ("t" if value else "f")


def _day(value: date | None) -> str:
    return NULL if value is None else value.isoformat()


_MOMENTS: dict[datetime, str] = {}


def _moment(value: datetime | None) -> str:
    """An instant as text; cached, as events fall on the same office-hour minutes again and again."""
    if value is None:
        return NULL
    text = _MOMENTS.get(value)
    if text is None:
        if len(_MOMENTS) > 1_000_000:
            _MOMENTS.clear()
        text = _MOMENTS[value] = value.isoformat()
    return text


def _ids(values: Iterable[int]) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _json(value: dict) -> str:
    return _text(json.dumps(value, ensure_ascii=False))


def _bytea(value: bytes) -> str:
    return "\\\\x" + value.hex()


# --- Per-case randomness ------------------------------------------------------------------------------------


_SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡"
    "贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段"
)
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华玉萍红娥玲芬燕彬鹏辉建国志庆春梅淑珍凤海波宏亮"
_STREETS = ("人民大街", "解放大路", "自由大路", "亚泰大街", "重庆路", "吉林大路", "长江路", "西安大路", "普阳街")
_REQUESTS = (
    ("请求撤销原处理意见，重新核定基本养老金。", "原处理意见未将本人1978年至1985年的工作年限认定为视同缴费年限。"),
    ("请求认定本人所受伤害为工伤。", "本人在上班途中发生交通事故，原处理意见认定不属于工伤，认定事实错误。"),
    ("请求补发失业保险金。", "原单位已依法解除劳动合同，本人符合领取条件，但经办机构未予发放。"),
    ("请求纠正个人账户记账错误。", "2015年至2017年的个人账户记账金额与单位实际缴费不符。"),
    ("请求恢复领取遗属待遇。", "原处理意见以再婚为由停发遗属待遇，适用政策错误。"),
    ("请求退还重复缴纳的社会保险费。", "本人在两地重复参保缴费，原处理意见不予退还，理由不成立。"),
    ("请求重新核定工伤保险待遇。", "原处理意见核定的一次性伤残补助金计算基数有误。"),
)
_REQUEST_TEXTS = tuple(_text(a) + "\t" + _text(b) for a, b in _REQUESTS)
_UPLOADS = (("处理意见书.pdf", "application/pdf"), ("身份证.jpg", "image/jpeg"), ("证明材料.pdf", "application/pdf"))
_REJECT_REASONS = ("litigation", "arbitration", "reconsideration", "outside_scope", "other")
_OUTCOMES = ("upheld", "upheld", "upheld", "changed", "partly_changed")
# Event fields that differ from case to case; the others are the model case's, serialised once per step.
_CASE_FIELDS = frozenset(
    {
        "lead_unit_id",
        "assisting_unit_ids",
        "unit_ids",
        "approver_id",
        "approver_rule",
        "approved_by_id",
        "target_bureau_id",
        "request_id",
        "meeting_id",
        "due_on",
        "contacted_on",
        "meeting_on",
        "applied_on",
        "replied_on",
        "new_case_number",
        "delivered_on",
    }
)


@dataclass(frozen=True)
class _Person:
    name: str
    id_hash: str
    columns: str  # name, id_number_enc, id_number_hash, phone_enc, address_enc as COPY text


FIRST_BORN, LAST_BORN = date(1940, 1, 1), date(2002, 12, 31)


def random_id_number(rng: random.Random, adcode: str) -> str:
    """A valid citizen ID number (check character included) of someone registered in ``adcode``."""
    born = FIRST_BORN + timedelta(days=rng.randrange((LAST_BORN - FIRST_BORN).days))
    body = f"{adcode}{born:%Y%m%d}{rng.randrange(1000):03d}"
    return body + check_char(body)


def _people(rng: random.Random, pii: PersonalData, count: int, bureaus: list[_Bureau]) -> list[_Person]:
    """A pool of petitioners with valid-looking ID numbers, encrypted once (encryption is the slow part)."""
    counties = [b for b in bureaus if b.adcode and b.ref.level == "county"]
    people = []
    for _ in range(count):
        home = rng.choice(counties)
        id_number = random_id_number(rng, home.adcode)
        name = rng.choice(_SURNAMES) + "".join(rng.choice(_GIVEN) for _ in range(rng.choice((1, 2, 2))))
        phone = f"1{rng.choice('3456789')}{rng.randrange(10**9):09d}"
        address = f"{home.division_name}{rng.choice(_STREETS)}{rng.randrange(1, 3000)}号"
        id_hash = pii.hash(id_number)
        encrypted = [_bytea(pii.encrypt(v)) for v in (id_number, phone, address)]
        columns = "\t".join((_text(name), encrypted[0], id_hash, encrypted[1], encrypted[2]))
        people.append(_Person(name, id_hash, columns))
    return people


def _china_day(moment: datetime) -> date:
    return (moment + _CHINA).date()


# --- The generator ------------------------------------------------------------------------------------------

# How far each table's ids may run per case: chunk ``k`` takes ids from ``k * CHUNK_CASES * stride + 1`` on,
# so that chunks made in parallel never share an id (the gaps cost nothing).
ID_STRIDES = {
    "cases": 1,
    "case_parties": 2,
    "case_events": 32,
    "deadlines": 32,
    "material_requests": 1,
    "contact_records": 1,
    "attachments": 4,
    "generated_documents": 1,
}


@dataclass
class _Chunk:
    """The rows of one chunk: COPY text per table, documents still to be numbered, the last id per table."""

    lines: dict[str, list]  # while it is made; then ``text`` (one string per table: cheap to send back)
    documents: list[tuple] = field(default_factory=list)
    last_ids: dict[str, int] = field(default_factory=dict)
    text: dict[str, tuple[int, bytes]] = field(default_factory=dict)  # rows, COPY text

    def close(self) -> _Chunk:
        for table, lines in self.lines.items():
            if lines:
                rows = (line if isinstance(line, str) else "\t".join(line) for line in lines)
                self.text[table] = (len(lines), ("\n".join(rows) + "\n").encode())  # encoded here, not in the main
        self.lines = {}
        return self


@dataclass
class _Clock:
    """A deadline being replayed: closed and extended by later steps, written at the end of the case."""

    id: int
    step: Step
    head: str  # step, started_on, amount, unit as COPY text
    due: date
    provisional: bool
    explanation: dict
    body: str  # extended_days, due_on, provisional, explanation as COPY text
    owner: str  # owed_by, owed_unit_id, owed_user_id, owed_bureau_id as COPY text
    request_id: int | None
    opened_at: datetime
    extended: int = 0
    closed_at: datetime | None = None
    close_reason: str | None = None


class _Generator:
    """Make the rows of the cases chunk by chunk; a chunk depends only on the seed and its number."""

    def __init__(self, session: Session, pii: PersonalData, n_cases: int, seed: int, today: date):
        self.pii, self.n_cases, self.seed, self.today = pii, n_cases, seed, today
        # Today's office hours may lie ahead in real time: no clock's due date may look set after the load (the
        # sweep's repeat of the day reads the clocks set since its previous run).
        self.started = datetime.now(UTC)
        rng = random.Random(seed)
        self.number_key = rng.getrandbits(40)
        self.calendar: WorkdayCalendar = get_calendar(session)
        self.rules = get_step_rules(session)
        self.bureaus = _load_bureaus(session)
        self.paths = _Paths(self.rules)
        bureaus = sorted(self.bureaus.values(), key=lambda b: b.id)
        self.people = _people(rng, pii, max(1, min(n_cases, MAX_PEOPLE)), bureaus)
        self.province = next(b for b in bureaus if b.ref.level == "province")
        # Issuers of disputed opinions: cities issue more (and bigger cities more still).
        self.issuers = [b for b in bureaus if b.ref.level != "province"]
        self.issuer_weights = [rng.lognormvariate(0, 0.5) * (3.0 if b.ref.level == "city" else 1.0) for b in bureaus]
        self.issuer_weights = [w for w, b in zip(self.issuer_weights, bureaus, strict=True) if b in self.issuers]
        self.cities = [b for b in self.issuers if b.ref.level == "city"]
        self.routes: dict[tuple[int, OpinionKind], Route] = {}
        self.approvers: dict[tuple[int, Complexity, tuple[int, ...]], tuple[int | None, str | None]] = {}
        self.owners: dict[tuple, str] = {}  # a clock's owner columns (``operations._owner``), by case and step
        self._due_memo: dict[tuple[date, Step], tuple] = {}
        self._midnights: dict[date, datetime] = {}
        start = today - timedelta(days=HISTORY_DAYS + 120)
        days = [start + timedelta(days=i) for i in range(HISTORY_DAYS + 240)]
        self.workdays = [d for d in days if self.calendar.day_kind(d).workday]
        self.wd_index = {}  # a day -> index of the first working day on or after it
        i = 0
        for d in days:
            while i < len(self.workdays) and self.workdays[i] < d:
                i += 1
            self.wd_index[d] = i
        self.categories = {step: self._categories(step) for step in self.rules if self.rules[step].amount}
        self.next_id: dict[str, int] = {}
        self.case_index = 0

    # Calendar helpers.

    def _move(self, day: date, gap: tuple[int, int, bool], rng: random.Random, back: bool = False) -> date:
        """``day`` moved by a random gap, onto a working day (staff act on working days)."""
        lo, hi, working = gap
        n = lo + int(rng.random() * (hi - lo + 1))
        if not working:
            day = day - timedelta(days=n) if back else day + timedelta(days=n)
            n = 0
        last = len(self.workdays) - 1
        i = self.wd_index.get(day, last)
        if back:
            if i > last or self.workdays[i] != day:
                i -= 1  # the working day before
            return self.workdays[max(i - n, 0)]
        return self.workdays[min(i + n, last)]

    def _at(self, day: date, minute: int) -> datetime:
        """The instant ``minute`` minutes after midnight of ``day`` in China, in UTC."""
        midnight = self._midnights.get(day)
        if midnight is None:
            midnight = self._midnights[day] = datetime(day.year, day.month, day.day, tzinfo=UTC) - _CHINA
        return midnight + timedelta(minutes=minute)

    def _due(self, start: date, step: Step) -> tuple:
        """(due, provisional, explanation, head, body) of a clock started on ``start`` (see ``_Clock``).

        As ``operations._open_deadline``: the calendar's computation and the rule's reference.
        """
        key = (start, step)
        found = self._due_memo.get(key)
        if found is None:
            rule = self.rules[step]
            computed = self.calendar.add(start, rule.amount, rule.unit)
            explanation = {**computed.explanation.as_dict(), "ref": rule.ref}
            head = f"{step}\t{start.isoformat()}\t{rule.amount}\t{rule.unit}"
            body = f"0\t{computed.due.isoformat()}\t{_bool(computed.provisional)}\t{_json(explanation)}"
            found = (computed.due, computed.provisional, explanation, head, body)
            self._due_memo[key] = found
        return found

    def _categories(self, step: Step) -> dict[str, list[int]]:
        """Days before today a clock may have started, by where its due date falls: overdue, soon, later."""
        out: dict[str, list[int]] = {"overdue": [], "soon": [], "later": []}
        for back in range(0, 75):
            start = self.today - timedelta(days=back)
            if not self.calendar.day_kind(start).workday:
                continue
            due = self._due(start, step)[0]
            if due < self.today:
                if (self.today - due).days <= 20:
                    out["overdue"].append(back)
            elif self.calendar.working_days_between(self.today, due) <= SOON_WORKING_DAYS:
                out["soon"].append(back)
            else:
                out["later"].append(back)
        return out

    def _take(self, table: str) -> int:
        found = self.next_id[table]
        self.next_id[table] = found + 1
        return found

    # Choosing a case.

    def _route(self, issuer: _Bureau, kind: OpinionKind) -> Route:
        key = (issuer.id, kind)
        found = self.routes.get(key)
        if found is None:
            parent = self.bureaus[issuer.ref.parent_id].ref if issuer.ref.parent_id else None
            found = route(issuer.ref, kind, parent)
            if not isinstance(found, Route):
                raise RuntimeError(f"No route for a {kind} opinion of {issuer.ref.name}: {found.message_en}")
            self.routes[key] = found
        return found

    def _approver(self, bureau: _Bureau, complexity: Complexity, units: tuple[int, ...], on: date):
        """The slip's approver by §四.4 (``choose_approver``), or None in a bureau without leaders."""
        key = (bureau.id, complexity, units)
        if key not in self.approvers:
            try:
                choice = choose_approver(
                    on,
                    complexity,
                    bureau.leaders_with(Role.petitions_leader),
                    bureau.leaders_with(Role.business_leader),
                    bureau.leaders_with(Role.principal_leader),
                    bureau.overseers,
                    list(units),
                )
                self.approvers[key] = (choice.leader_id, choice.rule)
            except NoApproverAvailable:
                self.approvers[key] = (None, None)
        return self.approvers[key]

    def _spec(self, rng: random.Random, bureau: _Bureau, intake: IntakePath, kind: CaseKind, fate: str) -> PathSpec:
        complexity = rng.choices(list(Complexity), (35, 50, 15))[0]
        simple = complexity is Complexity.simple
        needs_approval = rng.random() < (0.2 if simple else 0.9)
        materials = None
        if rng.random() < 0.10:
            targets = [MaterialTarget.petitioner, MaterialTarget.other_body]
            weights = [35, 15]
            if bureau.lower_ids and not simple:
                targets.append(MaterialTarget.lower_bureau)
                weights.append(50)
            materials = rng.choices(targets, weights)[0]
        extension = None
        if rng.random() < 0.06:
            extension = "approve" if rng.random() < 0.8 else "deny"
        spec = PathSpec(
            intake=intake,
            kind=kind,
            fate=fate,
            complexity=complexity,
            needs_approval=needs_approval,
            return_opinion=needs_approval and rng.random() < 0.10,
            return_reply=rng.random() < 0.05,
            extension=extension,
            materials=materials,
            contact=rng.random() < 0.08,
            # Coordination meetings are not case actions (issue 14: a meeting may concern no case); none generated.
        )
        if fate == "withdraw":
            length = len(self.paths.get(replace(spec, fate="reply")))
            spec = replace(spec, withdraw_after=min(int(rng.expovariate(0.5)), length - 2))
        return spec

    def chunk(self, number: int) -> _Chunk:
        """The rows of chunk ``number``: cases ``number * CHUNK_CASES`` on, ids from the chunk's ranges."""
        first = number * CHUNK_CASES
        end = min(first + CHUNK_CASES, self.n_cases)
        self.next_id = {table: first * stride + 1 for table, stride in ID_STRIDES.items()}
        self.case_index = first
        out = _Chunk({table: [] for table in COLUMNS})
        rng = random.Random(f"{self.seed}:{number}")
        while self.case_index < end:
            earlier = self._case(rng, out, room=end - self.case_index > 1)
            if earlier is not None:
                self._case(rng, out, earlier=earlier)
        for table, stride in ID_STRIDES.items():
            last = self.next_id[table] - 1
            if last >= (first + CHUNK_CASES) * stride + 1:
                raise RuntimeError(f"Chunk {number} ran out of {table} ids; raise ID_STRIDES[{table!r}].")
            if last > first * stride:
                out.last_ids[table] = last
        return out.close()

    def _case(self, rng: random.Random, out: _Chunk, *, room: bool = False, earlier: dict | None = None):
        """Make one case (the re-review of ``earlier`` when given); return it if it was escalated.

        ``room``: the next case index is free for the re-review, should this case be escalated.
        """
        index = self.case_index
        self.case_index += 1
        person = self.people[int(len(self.people) * rng.random() ** 2)]  # some petition again and again
        if earlier is not None:
            issuer, opinion = self.bureaus[earlier["tenant_id"]], OpinionKind.review
            intake, person = IntakePath.online, earlier["person"]
        elif rng.random() < 0.03:
            issuer, opinion, intake = rng.choice(self.cities), OpinionKind.handling, IntakePath.committee_transfer
        else:
            issuer = rng.choices(self.issuers, self.issuer_weights)[0]
            city_review = issuer.ref.level == "city" and rng.random() < 0.25
            opinion = OpinionKind.review if city_review else OpinionKind.handling
            intake = IntakePath.online if rng.random() < 0.75 else IntakePath.paper
        if intake is IntakePath.committee_transfer:
            bureau, kind = self.province, rng.choice((CaseKind.review, CaseKind.re_review))
        else:
            routed = self._route(issuer, opinion)
            bureau, kind = self.bureaus[routed.handling_bureau_id], routed.case_kind

        closed, fate = None, "reply"  # an escalation is played forward from the day it was made, up to today
        if earlier is None:
            closed = rng.random() < CLOSED_SHARE
            if closed:
                fate = rng.choices(("reply", "reject", "withdraw"), (80, 12, 8))[0]
                if intake is IntakePath.committee_transfer and fate == "reject":
                    fate = "reply"
        spec = self._spec(rng, bureau, intake, kind, fate)
        escalate = (
            room
            and closed
            and fate == "reply"
            and kind is CaseKind.review
            and intake is not IntakePath.committee_transfer
            and bureau.ref.level != "province"
            and rng.random() < 0.2
        )
        if escalate:
            spec = replace(spec, escalate=True)
        steps = self.paths.get(spec)
        days, cut = self._dates(rng, intake, steps, closed, earlier)
        case = _Case(self, out, rng, index, bureau, issuer, opinion, intake, kind, person, earlier)
        return case.replay(steps, days, cut)

    def _dates(
        self,
        rng: random.Random,
        intake: IntakePath,
        steps: tuple[PathStep, ...],
        closed: bool | None,
        earlier: dict | None,
    ) -> tuple[list[date], int]:
        """The day of the application and of each step, and how many steps have happened by today."""
        today = self.today
        if closed is None:  # an escalation: forward from the day it was made, as far as today
            days = [earlier["escalated_on"]]
            for step in steps:
                days.append(self._move(days[-1], step.gap, rng))
            cut = next((i for i, d in enumerate(days[1:]) if d > today), len(steps))
            return days, cut
        if closed:
            received = self._move(today - timedelta(days=rng.randint(45, HISTORY_DAYS)), (0, 0, True), rng)
            days = [received]
            for step in steps:
                days.append(min(self._move(days[-1], step.gap, rng), today))
            return days, len(steps)
        # Open: choose how far it got, then when its current clock started, and place the rest around that.
        cut = self._open_cut(rng, steps)
        anchor = max((i for i in range(cut) if steps[i].decision.changes_state), default=-1)
        clock = self._clock(steps[anchor].decision.opens if anchor >= 0 else INITIAL_STEPS[intake])
        choices = self.categories.get(clock) or {}
        category = rng.choices(("overdue", "soon", "later"), (15, 15, 70))[0]
        backs = choices.get(category) or choices.get("later") or choices.get("soon") or [0]
        anchor_day = today - timedelta(days=rng.choice(backs))
        days = [anchor_day] * (cut + 1)
        for i in range(anchor, -1, -1):  # days[i + 1] is the day of steps[i]; days[0] the application's
            days[i] = self._move(days[i + 1], steps[i].gap, rng, back=True)
        for i in range(anchor + 1, cut):
            days[i + 1] = min(self._move(days[i], steps[i].gap, rng), today)
        return days, cut

    @staticmethod
    def _clock(opened: Iterable[Step]) -> Step:
        """The clock of a step: the one it started, other than the whole review's (or that one)."""
        own = [s for s in opened if s is not Step.whole_review]
        return own[0] if own else Step.whole_review

    # How open cases spread over the states (the state after the last step taken).
    _OPEN_WEIGHTS: ClassVar[dict[CaseState, int]] = {
        _S.submitted: 14,
        _S.accepted: 7,
        _S.awaiting_instruction: 8,
        _S.instructed: 4,
        _S.in_review: 36,
        _S.awaiting_approval: 8,
        _S.in_revision: 3,
        _S.drafting_reply: 11,
        _S.awaiting_signature: 9,
    }

    def _open_cut(self, rng: random.Random, steps: tuple[PathStep, ...]) -> int:
        """How many steps an open case has taken: a state weighted by ``_OPEN_WEIGHTS``."""
        cuts, weights = [], []
        for cut in range(len(steps)):  # ``cut`` steps taken; the step at ``cut`` has not happened
            state = steps[cut - 1].decision.state_after if cut else steps[0].decision.state_before
            if state in FINAL_STATES:
                break
            cuts.append(cut)
            weights.append(self._OPEN_WEIGHTS.get(state, 1))
        return rng.choices(cuts, weights)[0]


class _Case:
    """One case replayed step by step, as ``portal.cases.operations`` would have written it."""

    def __init__(
        self, gen: _Generator, out: _Chunk, rng, index, bureau, issuer, opinion, intake, kind, person, earlier
    ):
        self.gen, self.out, self.rng = gen, out, rng
        self.index, self.bureau, self.issuer, self.opinion = index, bureau, issuer, opinion
        self.intake, self.kind, self.person, self.earlier = intake, kind, person, earlier
        self.id = gen._take("cases")
        self.tenant = bureau.id
        self.facing = intake is not IntakePath.committee_transfer
        self.state = INITIAL_STATES[intake]
        # The case's own fields, as ``_apply`` sets them (what ``_owner`` reads among them too).
        self.lead_unit_id = self.approver_id = None
        self.values: dict = {
            "complexity": None,
            "outcome": None,
            "reject_reason": None,
            "assisting_unit_ids": (),
            "opinion_needs_approval": None,
            "extension_used": False,
            "extension_days": None,
            "pending_extension_days": None,
            "delivered_on": None,
            "delivery_method": None,
        }
        self.events = 0
        self.prev_hash = None
        self.clocks: list[_Clock] = []
        self.request = self.meeting = None
        self.lower: int | None = None  # the bureau below that materials are asked of
        self.units: dict[int, int] = {}  # the model case's units -> this case's
        self.accepted_on = self.replied_on = self.closed_at = None
        self.escalation: dict | None = None

    @property
    def tenant_id(self) -> int:  # what ``operations._owner`` reads
        return self.tenant

    def _actors(self, lead_unit: int | None, approver_id: int | None) -> dict[str, _Actor]:
        bureau, rng = self.bureau, self.rng
        office = bureau.office(rng)
        lower = self.lower
        return {
            "office": office,
            "approver": bureau.by_id.get(approver_id) if approver_id else bureau.by_name("审批领导"),
            "signer": bureau.leader(Role.petitions_leader),
            "business": bureau.leader(Role.business_leader, bureau.overseers_of(lead_unit)),
            "division": bureau.handler(rng, lead_unit),
            "petitioner": _Actor("petitioner", None, self.person.name, None),
            "lower": self.gen.bureaus[lower].office(rng) if lower else office,
        }

    def replay(self, steps: tuple[PathStep, ...], days: list[date], cut: int) -> dict | None:
        """Write the case's rows; return what its re-review needs if the petitioner escalated it."""
        gen, rng, bureau, out = self.gen, self.rng, self.bureau, self.out
        received = days[0]
        self.number = _case_number(self.kind, received, self.index, gen.number_key)

        # Who handles it: real units of the bureau, and the slip's approver as the rules choose.
        slip = next((s for s in steps if s.action == "submit_slip"), None)
        complexity = slip.decision.case_changes["complexity"] if slip else None
        divisions = bureau.divisions
        lead = divisions[min(int(rng.expovariate(0.9)), len(divisions) - 1)]
        others = [u for u in divisions if u != lead]
        rng.shuffle(others)
        self.units = {_M_OFFICE: bureau.office_unit, _M_LEAD: lead, _M_ASSIST1: others[0], _M_ASSIST2: others[1]}
        approver_id = approver_rule = lead_unit = None
        if complexity is not None:
            lead_unit, assisting = (self.units[_UNITS[complexity][0]], [self.units[u] for u in _UNITS[complexity][1]])
            approver_id, approver_rule = gen._approver(bureau, complexity, (lead_unit, *assisting), received)
        if bureau.lower_ids:  # a city asks the county whose opinion is disputed; the province asks the city
            self.lower = self.issuer.id if self.issuer.id in bureau.lower_ids else rng.choice(bureau.lower_ids)
        actors = self._actors(lead_unit, approver_id)

        # The application (``submit_application``).
        earlier = self.earlier
        if earlier is not None:
            self.at = earlier["at"]  # an escalation registers the re-review in the same transaction
        else:
            first, last = (8 * 60, 22 * 60) if self.intake is IntakePath.online else (8 * 60 + 30, 16 * 60)
            self.at = gen._at(received, rng.randint(first, last))
        created_at = self.at
        if self.intake is IntakePath.committee_transfer:
            self.accepted_on = received
        # The disputed opinion: mostly received within the 30 days to apply, sometimes not (flagged as late).
        gap = rng.randint(31, 90) if rng.random() < 0.05 else rng.randint(2, 28)
        disputed_received = received - timedelta(days=gap)
        disputed_issued = disputed_received - timedelta(days=rng.randint(1, 5))
        if earlier is not None:  # as ``operations._escalate``: the review opinion, issued and received that day
            disputed_issued = disputed_received = earlier["replied_on"]
        late = self.intake is not IntakePath.committee_transfer and is_late(gen.calendar, disputed_received, received)
        committee_number = None
        fields = {
            "intake": str(self.intake),
            "kind": str(self.kind),
            "late": late,
            "repeat_of": None,
            "escalated_from": earlier["number"] if earlier else None,
            "committee_document_number": None,
        }
        if self.intake is IntakePath.committee_transfer:
            committee_number = fields["committee_document_number"] = (
                f"吉信复委转〔{received.year}〕{rng.randint(1, 400)}号"
            )
            submitter = actors["office"] if bureau.clerks else gen.province.office(rng)
        elif self.intake is IntakePath.paper:
            submitter = actors["office"]
        else:
            submitter = actors["petitioner"]
        action = "submit" if self.facing else "register_transfer"
        self._event(action, submitter, None, str(self.state), fields, None, self.facing)
        for step in INITIAL_STEPS[self.intake]:
            self._open(step, received)

        # The actions, replayed with this case's days, units and people (``perform_action``).
        for i in range(cut):
            step = steps[i]
            day = days[i + 1]
            at = gen._at(day, 510 + int(rng.random() * 540))  # office hours
            if at <= self.at:
                at = self.at + timedelta(minutes=rng.randint(1, 40))
            self.at = at
            self._step(step, _china_day(at), actors, approver_id, approver_rule)

        # The case's rows.
        values, person = self.values, self.person
        access_code = bench_access_code(self.number) if self.facing else None
        if earlier is not None:
            reason = _text(_TEXT["escalate"]["reason"])  # the request and the facts both
            document_number, texts = earlier["number"], f"{reason}\t{reason}"
        else:
            series = "处" if self.opinion is OpinionKind.handling else "复"
            year = gen.today.year - rng.randint(0, 2)
            document_number = format_number(self.issuer.doc_prefix, series, year, rng.randint(1, 300))
            texts = rng.choice(_REQUEST_TEXTS)
        # The queue's copy of the nearest open staff deadline, as ``_refresh_next_due`` keeps it.
        staff_open = [c for c in self.clocks if c.closed_at is None and not c.owner.startswith("petitioner\t")]
        nearest = min(staff_open, key=lambda c: (c.due, c.id), default=None)
        out.lines["cases"].append(
            "\t".join(
                (
                    str(self.tenant),
                    str(self.id),
                    self.number,
                    str(self.kind),
                    str(self.intake),
                    str(self.state),
                    _text(values["complexity"]),
                    _text(values["outcome"]),
                    _text(values["reject_reason"]),
                    str(self.issuer.id),
                    str(self.opinion),
                    _text(document_number),
                    disputed_issued.isoformat(),
                    disputed_received.isoformat(),
                    _text(person.name),
                    person.id_hash,
                    texts,
                    _text(committee_number),
                    _num(self.lead_unit_id),
                    _ids(values["assisting_unit_ids"]),
                    _num(self.approver_id),
                    _bool(values["opinion_needs_approval"]),
                    _bool(values["extension_used"]),
                    _num(values["extension_days"]),
                    _num(values["pending_extension_days"]),
                    _bool(self.escalation is not None),
                    _bool(rng.random() < 0.02),  # sensitive
                    _bool(late),
                    _num(earlier["tenant_id"] if earlier else None),
                    _num(earlier["case_id"] if earlier else None),
                    _text(gen.pii.hash(access_code) if access_code else None),
                    received.isoformat(),
                    _day(self.accepted_on),
                    _day(self.replied_on),
                    _moment(self.closed_at),
                    _moment(created_at),
                    _moment(self.at),
                    str(self.events),
                    _text(self.prev_hash),
                    str(self.events),
                    _day(nearest.due if nearest else None),
                    _text(str(nearest.step) if nearest else None),
                    _text(document_key(document_number) if document_number else None),
                    _day(values["delivered_on"]),
                    _text(values["delivery_method"]),
                )
            )
        )
        out.lines["case_numbers"].append(f"{self.number}\t{self.tenant}\t{self.id}")
        self._party("petitioner", person, created_at)
        if rng.random() < 0.08:
            self._party("representative", gen.people[rng.randrange(len(gen.people))], created_at)
        tenant, case_id = str(self.tenant), str(self.id)
        for clock in self.clocks:
            out.lines["deadlines"].append(
                "\t".join(
                    (
                        tenant,
                        str(clock.id),
                        case_id,
                        clock.head,
                        clock.body,
                        clock.owner,
                        _num(clock.request_id),
                        _moment(clock.opened_at),
                        _moment(clock.closed_at),
                        _text(clock.close_reason),
                        _moment(min(clock.opened_at, gen.started)),  # when its due date was set
                    )
                )
            )
        self._files(actors["office"], created_at)
        if self.escalation is None:
            return None
        return {"tenant_id": self.tenant, "case_id": self.id, "number": self.number, "person": person} | {
            "replied_on": self.replied_on,
            **self.escalation,
        }

    def _step(self, step: PathStep, day: date, actors: dict[str, _Actor], approver_id, approver_rule) -> None:
        """One action: the case's fields, side records, clocks, the event and the documents (``_apply``)."""
        d, out, at = step.decision, self.out, self.at
        action = d.action
        fields = stored = None
        if step.stored is not None:
            fields, stored = step.fields, step.stored
        else:
            fields = self._fields(step, day, approver_id, approver_rule)
        for name, value in d.case_changes.items():
            if name == "lead_unit_id":
                self.lead_unit_id = self.units[value]
            elif name == "approver_id":
                self.approver_id = approver_id
            elif name == "assisting_unit_ids":
                self.values[name] = [self.units[u] for u in value]
            elif name == "outcome":
                self.values[name] = fields["outcome"]
            elif name == "reject_reason":
                self.values[name] = fields["reason"]
            elif name == "delivered_on":
                self.values[name] = day  # the replayed day, not the model case's
            elif name in self.values:
                self.values[name] = str(value) if isinstance(value, str) else value
        self.state = d.state_after
        if action is _A.accept:
            self.accepted_on = day
        elif action is _A.sign_reply:
            self.replied_on = day
        if d.changes_state and self.state in FINAL_STATES:
            self.closed_at = at

        actor = actors[step.role]
        if action is _A.request_materials:  # side records, as ``_side_records``
            self.request_row = [
                str(self.tenant),
                str(self.request),
                str(self.id),
                fields["target"],
                _num(fields.get("target_bureau_id")),
                _text(fields.get("body_name")),
                _text(fields["content"]),
                fields["due_on"],
                str(actor.id or 0),
                NULL,
                NULL,
                NULL,
                _moment(at),
            ]
            out.lines["material_requests"].append(self.request_row)
        elif action is _A.provide_materials:
            self.request_row[9:12] = [_moment(at), _text(fields.get("content")), _text(actor.name)]
        elif action is _A.record_contact:
            contact = (str(self.tenant), str(self.gen._take("contact_records")), str(self.id), fields["party"], NULL)
            contact += (fields["contacted_on"], _text(fields.get("channel")), _text(fields["summary"]))
            out.lines["contact_records"].append("\t".join((*contact, str(actor.id or 0), _moment(at))))

        # Clocks, as ``_close_deadlines``, ``_extend_deadlines`` and then the new ones.
        if d.closes:
            for clock in self.clocks:
                if clock.closed_at is not None or not (d.closes_all or clock.step in d.closes):
                    continue
                if clock.step is Step.material_request and not d.closes_all and clock.request_id != self.request:
                    continue
                clock.closed_at, clock.close_reason = at, str(action)
        for clock in self.clocks if d.extends else ():
            days = d.extends.get(clock.step)
            if days and clock.closed_at is None:
                extended = self.gen.calendar.add(clock.due, days, "days")
                clock.explanation = {
                    **clock.explanation,
                    "extension": {"days": days, "from": clock.due.isoformat(), **extended.explanation.as_dict()},
                    "due": extended.due.isoformat(),
                }
                clock.extended += days
                clock.due, clock.provisional = extended.due, clock.provisional or extended.provisional
                clock.body = "\t".join(
                    (str(clock.extended), clock.due.isoformat(), _bool(clock.provisional), _json(clock.explanation))
                )
        for opened in d.opens:
            if opened is Step.material_request:
                self._open(opened, day, date.fromisoformat(fields["due_on"]), fields["target"])
            else:
                self._open(opened, day)

        seq = self._event(str(action), actor, str(d.state_before), str(self.state), fields, stored, d.public)
        for document in d.documents:
            if document in (DocumentKind.non_acceptance_notice, DocumentKind.formal_opinion):
                self._document(document, seq)

    def _fields(self, step: PathStep, day: date, approver_id, approver_rule) -> dict:
        """The event fields of this case: the model's, with its own units, people, dates and ids."""
        rng, units = self.rng, self.units
        fields = dict(step.fields)
        if "lead_unit_id" in fields:
            fields["lead_unit_id"] = units[fields["lead_unit_id"]]
        for name in ("assisting_unit_ids", "unit_ids"):
            if name in fields:
                fields[name] = [units[u] for u in fields[name]]
        if "approver_id" in fields:
            fields["approver_id"], fields["approver_rule"] = approver_id, approver_rule
        if "approved_by_id" in fields:
            fields["approved_by_id"] = approver_id
        if "target_bureau_id" in fields:
            fields["target_bureau_id"] = self.lower
        if "contacted_on" in fields:
            fields["contacted_on"] = day.isoformat()
        if "meeting_on" in fields:
            fields["meeting_on"] = (day + timedelta(days=rng.randint(1, 3))).isoformat()
        if "due_on" in fields:
            fields["due_on"] = (day + timedelta(days=rng.randint(7, 15))).isoformat()
        action = step.action
        if action == "reject":
            fields["reason"] = rng.choice(_REJECT_REASONS)
        elif action == "submit_reply":
            fields["outcome"] = rng.choice(_OUTCOMES)
        elif action == "request_materials":
            self.request = fields["request_id"] = self.gen._take("material_requests")  # as ``_side_records``
        elif action == "provide_materials":
            fields["request_id"] = self.request
        elif action == "record_delivery":
            fields["delivered_on"] = day.isoformat()
        elif action == "escalate":
            fields["applied_on"], fields["replied_on"] = day.isoformat(), self.replied_on.isoformat()
            # The re-review takes the next case index, so its number is known now (``operations._escalate``).
            fields["new_case_number"] = _case_number(CaseKind.re_review, day, self.index + 1, self.gen.number_key)
            self.escalation = {"escalated_on": day, "at": self.at}
        return {k: v for k, v in fields.items() if v is not None}  # as ``workflow._clean`` drops them

    def _event(self, action, actor: _Actor, before, after, fields: dict, stored: str | None, public: bool) -> int:
        """Append the next event, hash-chained by ``portal.cases.history.event_hash`` (``append_event``)."""
        self.events += 1
        event = SimpleNamespace(
            case_id=self.id,
            tenant_id=self.tenant,
            seq=self.events,
            action=action,
            actor_kind=actor.kind,
            actor_id=actor.id,
            actor_name=actor.name,
            actor_bureau_id=actor.bureau_id,
            at=self.at,
            state_before=before,
            state_after=after,
            fields=fields,
            public=public,
            prev_hash=self.prev_hash,
        )
        digest = event_hash(event)
        self.out.lines["case_events"].append(
            "\t".join(
                (
                    str(self.tenant),
                    str(self.gen._take("case_events")),
                    str(self.id),
                    str(self.events),
                    action,
                    actor.columns,
                    _moment(self.at),
                    _text(before),
                    after,
                    stored or _json(fields),
                    _bool(public),
                    _text(self.prev_hash),
                    digest,
                )
            )
        )
        self.prev_hash = digest
        return self.events

    def _open(self, step: Step, start: date, due_given: date | None = None, target: str | None = None) -> None:
        """Start a clock, as ``operations._open_deadline``."""
        gen = self.gen
        if due_given is None:
            due, provisional, explanation, head, body = gen._due(start, step)
        else:
            due, provisional = due_given, False
            explanation = {"start": start.isoformat(), "unit": "given", "due": due.isoformat(), "provisional": False}
            explanation["ref"] = gen.rules[step].ref
            head, body = f"{step}\t{start.isoformat()}\t\\N\tgiven", f"0\t{due.isoformat()}\tf\t{_json(explanation)}"
        lower = self.lower if target == MaterialTarget.lower_bureau else None  # the addressee owes it then
        key = (self.tenant, step, self.lead_unit_id, self.approver_id, lower)
        owner = gen.owners.get(key)
        if owner is None:
            found = _owner(self, gen.rules[step], self.bureau)
            owed_by, owed_bureau = found["owed_by"], found["owed_bureau_id"]
            if lower is not None:
                owed_by, owed_bureau = "addressee", lower
            owner = (owed_by, _num(found.get("owed_unit_id")), _num(found.get("owed_user_id")), _num(owed_bureau))
            owner = gen.owners[key] = "\t".join(owner)
        request_id = self.request if step is Step.material_request else None
        clock = _Clock(
            gen._take("deadlines"), step, head, due, provisional, explanation, body, owner, request_id, self.at
        )
        self.clocks.append(clock)

    def _party(self, role: str, person: _Person, at: datetime) -> None:
        party = (str(self.tenant), str(self.gen._take("case_parties")), str(self.id), role, person.columns)
        self.out.lines["case_parties"].append("\t".join((*party, _moment(at))))

    def _files(self, office: _Actor, at: datetime) -> None:
        """Files that came with the application: the petitioner's uploads, or the scan of a paper one."""
        rng, out = self.rng, self.out
        if self.intake is IntakePath.committee_transfer:
            return
        if self.intake is IntakePath.paper:
            files, source, by = [("书面申请扫描件.pdf", "application/pdf")], "staff", office.name
        else:
            files = rng.sample(_UPLOADS, rng.choices((0, 1, 2), (35, 45, 20))[0])
            source, by = "petitioner", f"petitioner:{self.person.name}"[:200]
        for filename, content_type in files:
            upload_id = uuid.UUID(int=rng.getrandbits(128), version=4)
            digest = f"{rng.getrandbits(256):064x}"
            size = str(rng.randint(40_000, 2_000_000))
            uploaded = _moment(at - timedelta(minutes=rng.randint(1, 30)))
            # Claimed: the attachment keeps the upload's object (``claim_uploads``).
            key = f"uploads/{upload_id}"
            upload = (str(upload_id), filename, size, content_type, digest, key, uploaded)
            out.lines["uploads"].append("\t".join((*upload, _moment(at))))
            attachment_id = self.gen._take("attachments")
            attachment = (str(self.tenant), str(attachment_id), str(self.id), filename, size, content_type, digest)
            out.lines["attachments"].append("\t".join((*attachment, key, source, _text(by), _moment(at))))

    def _document(self, document: DocumentKind, seq: int) -> None:
        """A generated document (PDF and DOCX); the main process numbers it in the bureau's yearly series."""
        rng, at = self.rng, self.at
        pdf, docx = self.gen._take("attachments"), self.gen._take("attachments")
        self.out.documents.append(
            (
                self.tenant,
                self.gen._take("generated_documents"),
                self.id,
                document,
                self.kind,
                seq,
                self.bureau.doc_prefix,
                _china_day(at).year,
                self.facing,
                (pdf, 60_000 + rng.randint(0, 9000), f"{rng.getrandbits(256):064x}"),
                (docx, 18_000 + rng.randint(0, 9000), f"{rng.getrandbits(256):064x}"),
                at + timedelta(seconds=rng.randint(5, 90)),
            )
        )


class _Numbering:
    """Document numbers per bureau, year and series, given in chunk order (``documents.numbering``)."""

    def __init__(self):
        self.last: dict[tuple[int, int, str], int] = {}

    def lines(self, documents: list[tuple]) -> tuple[tuple[int, str], tuple[int, str]]:
        """The attachments and generated_documents rows of ``documents``, numbered: (rows, COPY text) each."""
        attachments, generated = [], []
        for tenant, doc_id, case_id, document, kind, seq, prefix, year, public, pdf, docx, at in documents:
            series = series_for(document, kind)
            number = self.last[(tenant, year, series)] = self.last.get((tenant, year, series), 0) + 1
            doc_number = format_number(prefix, series, year, number)
            title = document_title(document, kind)[0]
            moment = _moment(at)
            for (attachment_id, size, digest), content_type, extension in (
                (pdf, PDF_TYPE, "pdf"),
                (docx, DOCX_TYPE, "docx"),
            ):
                key = f"{tenant}/{case_id}/{attachment_id}-{digest[:16]}"
                row = (str(tenant), str(attachment_id), str(case_id), _text(f"{title}（{doc_number}）.{extension}"))
                row += (str(size), content_type, digest, key, "generated", GENERATED_BY, moment)
                attachments.append("\t".join(row))
            row = (str(tenant), str(doc_id), str(case_id), str(document), str(seq), _text(doc_number), _text(title))
            generated.append("\t".join((*row, _bool(public), str(pdf[0]), str(docx[0]), moment)))
        return (len(attachments), "".join(f"{a}\n" for a in attachments)), (
            len(generated),
            "".join(f"{g}\n" for g in generated),
        )

    def sequences(self) -> list[str]:
        """The bureaus' counters, so that documents the app numbers later follow the generated ones."""
        now = datetime.now(UTC).isoformat()
        return [
            f"{tenant}\t{i}\t{year}\t{series}\t{last}\t{now}\t{now}"
            for i, ((tenant, year, series), last) in enumerate(sorted(self.last.items()), start=1)
        ]


# --- Loading ----------------------------------------------------------------------------------------------

_WORKER: _Generator | None = None  # the generator a forked worker inherits


def _work(number: int) -> _Chunk:
    return _WORKER.chunk(number)


def _chunks(generator: _Generator, count: int, workers: int) -> Iterator[_Chunk]:
    """The chunks in order, made by ``workers`` forked processes (in this one when 1), a few ahead at most."""
    if workers <= 1:
        for number in range(count):
            yield generator.chunk(number)
        return
    global _WORKER
    _WORKER = generator
    try:
        with multiprocessing.get_context("fork").Pool(workers) as workers_pool:
            pending: deque = deque()
            for number in range(count):
                pending.append(workers_pool.apply_async(_work, (number,)))
                if len(pending) > workers:
                    yield pending.popleft().get()
            while pending:
                yield pending.popleft().get()
    finally:
        _WORKER = None


def _libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _copy(cursor: psycopg.Cursor, table: str, text: bytes | str) -> None:
    with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN WITH (FREEZE)") as copy:
        copy.write(text)


def generate(
    database_url: str,
    n_cases: int,
    pii_key: str,
    history_key: str | None = None,
    *,
    seed: int = 2026,
    today: date | None = None,
    progress: Callable[[str], object] = print,
    workers: int | None = None,
) -> dict:
    """Replace every case in the database by ``n_cases`` generated ones; return the rows per table and the time.

    ``database_url`` is the owner's (``DATABASE_ADMIN_URL``). ``workers``: processes that make the rows (default:
    one per CPU). The same seed and ``today`` give the same cases, whatever the number of workers.
    """
    if n_cases < 1:
        raise ValueError("n_cases must be at least 1")
    started = time.perf_counter()
    today = today or local_today()
    if history_key:  # else the key the application configured (portal.create_app)
        from portal.cases.history import configure_history_key

        configure_history_key(history_key)
    engine = create_engine(database_url, poolclass=pool.NullPool)
    with Session(engine) as session, system_scope(session):
        generator = _Generator(session, PersonalData(pii_key), n_cases, seed, today)
        session.rollback()
    engine.dispose()
    count = -(-n_cases // CHUNK_CASES)
    workers = max(1, min(workers or os.cpu_count() or 1, count))
    progress(f"Prepared {len(generator.people):,} people and the calendar in {time.perf_counter() - started:.1f} s")

    counts = dict.fromkeys(COLUMNS, 0)
    last_ids: dict[str, int] = {}
    numbering = _Numbering()
    with psycopg.connect(_libpq_url(database_url)) as conn, conn.cursor() as cursor:
        cursor.execute("SET LOCAL lock_timeout = '60s'")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        cursor.execute(f"TRUNCATE {', '.join(CASE_TABLES)} RESTART IDENTITY")
        forced = _unforce_rls(cursor, [*COLUMNS, *ROLLUP_TABLES])
        restore = _drop_checks(cursor, COLUMNS)
        loading = time.perf_counter()
        done = 0
        for chunk in _chunks(generator, count, workers):
            attachments, generated = numbering.lines(chunk.documents)
            for table, (rows, text) in [
                *chunk.text.items(),
                ("attachments", attachments),
                ("generated_documents", generated),
            ]:
                if rows:
                    _copy(cursor, table, text)
                    counts[table] += rows
            for table, last in chunk.last_ids.items():
                last_ids[table] = max(last, last_ids.get(table, 0))
            done = min(done + CHUNK_CASES, n_cases)
            rows, seconds = sum(counts.values()), time.perf_counter() - loading
            progress(f"{done:>9,} cases {rows:>11,} rows {seconds:7.1f} s {rows / seconds:>9,.0f} rows/s")
        sequences = numbering.sequences()
        _copy(cursor, "document_sequences", "".join(f"{line}\n" for line in sequences))
        counts["document_sequences"] = len(sequences)
        last_ids["document_sequences"] = len(sequences)
        for table, last in last_ids.items():  # the app's next insert takes the next id
            cursor.execute("SELECT setval(pg_get_serial_sequence(%s, 'id'), %s)", (table, last))
        checking = time.perf_counter()
        for statement in restore:
            cursor.execute(statement)
        progress(f"Indexes and foreign keys rebuilt in {time.perf_counter() - checking:.1f} s")
        rolling = time.perf_counter()
        for statement in rebuild_statements():  # the dashboard's rollups of what was loaded
            cursor.execute(statement)
        progress(f"Supervision rollups rebuilt in {time.perf_counter() - rolling:.1f} s")
        rolling = time.perf_counter()
        for statement in REBUILD_WORK_ITEMS:  # the queue's "mine" of what was loaded
            cursor.execute(statement)
        progress(f"Work items rebuilt in {time.perf_counter() - rolling:.1f} s")
        for table in forced:
            cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    with psycopg.connect(_libpq_url(database_url), autocommit=True) as conn:
        for table in [*COLUMNS, *ROLLUP_TABLES]:
            conn.execute(f"ANALYZE {table}")
    seconds = round(time.perf_counter() - started, 1)
    rows = sum(counts.values())
    progress(f"Generated {n_cases:,} cases: {rows:,} rows in {seconds} s ({rows / seconds:,.0f} rows/s)")
    return {"counts": counts, "rows": rows, "seconds": seconds, "workers": workers}


def _unforce_rls(cursor: psycopg.Cursor, tables: Iterable[str]) -> list[str]:
    """Let the owner COPY into tables with FORCE ROW LEVEL SECURITY (PostgreSQL refuses COPY FROM under RLS).

    A superuser or BYPASSRLS role is not subject to RLS at all. An owner that is neither is, when the table FORCEs
    it: turn FORCE off for this transaction (DDL is transactional; the caller turns it back on before committing).
    It only concerns the owner: the application's role stays subject to every policy.
    """
    cursor.execute("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user")
    if cursor.fetchone()[0]:
        return []
    cursor.execute(
        "SELECT relname FROM pg_class WHERE relname = ANY(%s) AND relforcerowsecurity AND relkind = 'r'",
        (list(tables),),
    )
    forced = [name for (name,) in cursor.fetchall()]
    for table in forced:
        cursor.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    return forced


def _drop_checks(cursor: psycopg.Cursor, tables: Iterable[str]) -> list[str]:
    """Drop the keys, foreign keys and indexes of the loaded tables; return the statements that restore them.

    Checking a foreign key and growing every index row by row cost most of a load (and more as the indexes outgrow
    the cache); one sorted build per index and one validating join per foreign key afterwards are several times
    cheaper. Foreign keys of other tables that point at the loaded ones go too (those tables are empty). All of it
    in the load's transaction: a failed load restores everything, and a duplicate key still fails the load.
    """
    tables = list(tables)
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid), contype FROM pg_constraint"
        " WHERE (contype IN ('p', 'u', 'f') AND conrelid::regclass::text = ANY(%s))"
        " OR (contype = 'f' AND confrelid::regclass::text = ANY(%s)) ORDER BY conname",
        (tables, tables),
    )
    constraints = cursor.fetchall()
    keys = [c for c in constraints if c[3] != "f"]
    foreign_keys = [c for c in constraints if c[3] == "f"]
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i"
        " WHERE i.indrelid::regclass::text = ANY(%s)"
        " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) ORDER BY 1",
        (tables,),
    )
    indexes = cursor.fetchall()
    for table, name, *_ in [*foreign_keys, *keys]:  # the foreign keys first: they rest on the keys
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        cursor.execute(f"DROP INDEX {name}")
    restore = [f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition, _ in keys]
    restore += [definition for _, definition in indexes]
    return restore + [
        f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}' for table, name, definition, _ in foreign_keys
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, required=True, help="how many cases to generate")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    parser.add_argument("--today", type=date.fromisoformat, default=None, help="the last day of the data (ISO)")
    parser.add_argument("--workers", type=int, default=None, help="processes making rows (default: CPUs)")
    args = parser.parse_args(argv)
    url = os.environ.get("DATABASE_ADMIN_URL") or os.environ.get("DATABASE_URL")
    pii_key = os.environ.get("PII_KEY")
    history_key = os.environ.get("HISTORY_KEY")
    if not url or not pii_key or not history_key:
        parser.error("set DATABASE_ADMIN_URL (or DATABASE_URL), PII_KEY and HISTORY_KEY")
    progress = functools.partial(print, flush=True)
    result = generate(
        url, args.cases, pii_key, history_key, seed=args.seed, today=args.today, workers=args.workers, progress=progress
    )
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
