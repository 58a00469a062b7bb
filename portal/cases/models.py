"""Cases, their parties, history (events), deadlines and side records."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.routing import OpinionKind
from portal.workflow import CaseKind, CaseState, Complexity, IntakePath, Outcome, RejectReason, Step


def _enum(cls, name: str):
    return Enum(cls, name=name, values_callable=lambda e: [m.value for m in e])


class Case(TenantOwned, Base):
    """One review (复查) or re-review (复核) application at the bureau that must decide it.

    ``state`` is written only by ``portal.cases.operations`` (the workflow's transition function).
    ``version`` guards against two people acting on the same case at once.
    """

    __tablename__ = "cases"
    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        Index("ix_cases_tenant_id_state", "tenant_id", "state"),
        Index("ix_cases_tenant_id_received_on", "tenant_id", "received_on"),
        Index("ix_cases_petitioner_id_hash", "petitioner_id_hash"),
        # The work queue: a bureau's cases by their nearest staff deadline (none last), newest first; keyset pages.
        Index(
            "ix_cases_tenant_id_next_due_on_id",
            "tenant_id",
            text("next_due_on ASC NULLS LAST"),
            text("id DESC"),
        ),
        ForeignKeyConstraint(
            ["earlier_tenant_id", "earlier_case_id"], ["cases.tenant_id", "cases.id"], name="fk_cases_earlier_case"
        ),
        CheckConstraint("extension_days IS NULL OR extension_days BETWEEN 1 AND 30", name="extension_cap"),
        CheckConstraint("petitioner_language IN ('zh', 'en')", name="petitioner_language"),
        CheckConstraint(
            "delivery_method IS NULL OR delivery_method IN ('online', 'electronic', 'post', 'in_person')",
            name="delivery_method",
        ),
        CheckConstraint("(delivered_on IS NULL) = (delivery_method IS NULL)", name="delivery"),
        Index("ix_cases_matter", "petitioner_id_hash", "disputed_bureau_id", "disputed_document_key"),
    )

    number: Mapped[str] = mapped_column(String(24))
    kind: Mapped[CaseKind] = mapped_column(_enum(CaseKind, "case_kind"))
    intake: Mapped[IntakePath] = mapped_column(_enum(IntakePath, "intake_path"))
    state: Mapped[CaseState] = mapped_column(_enum(CaseState, "case_state"))
    complexity: Mapped[Complexity | None] = mapped_column(_enum(Complexity, "complexity"))
    outcome: Mapped[Outcome | None] = mapped_column(_enum(Outcome, "outcome"))
    reject_reason: Mapped[RejectReason | None] = mapped_column(_enum(RejectReason, "reject_reason"))

    # The written opinion the petitioner disputes.
    disputed_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureaus.id"))
    disputed_kind: Mapped[OpinionKind] = mapped_column(_enum(OpinionKind, "opinion_kind"))
    disputed_document_number: Mapped[str] = mapped_column(String(100))
    disputed_issued_on: Mapped[date] = mapped_column(Date)
    disputed_received_on: Mapped[date] = mapped_column(Date)
    # The document number normalised for matching the same matter (portal.cases.matter.document_key).
    disputed_document_key: Mapped[str | None] = mapped_column(String(100))

    # The petitioner, denormalised for queues and search (the full parties are in case_parties).
    petitioner_name: Mapped[str] = mapped_column(String(100))
    petitioner_id_hash: Mapped[str | None] = mapped_column(String(64))
    request_text: Mapped[str] = mapped_column(Text)
    facts_text: Mapped[str] = mapped_column(Text)
    committee_document_number: Mapped[str | None] = mapped_column(String(100))
    #: The language the petitioner applied in: their SMS come in it alone (``portal.notify.messages``).
    petitioner_language: Mapped[str] = mapped_column(String(2), default="zh", server_default="zh")

    # Handling.
    lead_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    assisting_unit_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    approver_id: Mapped[int | None] = mapped_column(BigInteger)
    # §二.4: the leader who coordinates a case confirmed major (the petitions leader, or the principal leader).
    coordinating_leader_id: Mapped[int | None] = mapped_column(BigInteger)
    opinion_needs_approval: Mapped[bool | None] = mapped_column(Boolean)
    extension_used: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    extension_days: Mapped[int | None] = mapped_column(Integer)
    pending_extension_days: Mapped[int | None] = mapped_column(Integer)
    escalated: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    sensitive: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")

    # Flags for the staff.
    late_application: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    repeat_of_case_number: Mapped[str | None] = mapped_column(String(24))
    # §四.14: an open case of the same petitioner on the same disputed document, when the applicant confirmed.
    duplicate_of_case_number: Mapped[str | None] = mapped_column(String(24))

    # The nearest open deadline that staff owe (the petitioner's own window left out) and its step: a copy of
    # min(deadlines.due_on) kept by portal.cases.operations, the only writer of deadlines, for the queue's order.
    next_due_on: Mapped[date | None] = mapped_column(Date)
    next_due_step: Mapped[Step | None] = mapped_column(_enum(Step, "deadline_step"))

    # The escalation chain: the earlier case (usually at a bureau below) this one continues.
    earlier_tenant_id: Mapped[int | None] = mapped_column(Integer)
    earlier_case_id: Mapped[int | None] = mapped_column(BigInteger)

    # Public tracking: a keyed hash of the one-time access code.
    access_code_hash: Mapped[str | None] = mapped_column(String(64))

    # Dates.
    # The day the bureau received the application (§四.1: the acceptance clock runs from it).
    received_on: Mapped[date] = mapped_column(Date)
    # The day the petitioner filed it (postmark or hand-in date on paper); lateness is judged on it. NULL: received_on.
    filed_on: Mapped[date | None] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    replied_on: Mapped[date | None] = mapped_column(Date)
    # 送达: how and when the formal opinion reached the petitioner; the escalation window runs from it.
    delivered_on: Mapped[date | None] = mapped_column(Date)
    delivery_method: Mapped[str | None] = mapped_column(String(20))
    electronic_delivery: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column(onupdate=text("now()"))

    # The history's head: the events are numbered and hash-chained per case.
    event_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    last_event_hash: Mapped[str | None] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012

    def __repr__(self) -> str:
        return f"<Case {self.number} {self.state}>"


class CaseNumber(Base):
    """Deployment-wide registry of case numbers (a reference table): unique numbers and public look-up."""

    __tablename__ = "case_numbers"

    number: Mapped[str] = mapped_column(String(24), primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("bureaus.id"))
    case_id: Mapped[int] = mapped_column(BigInteger)


class CaseParty(TenantOwned, Base):
    """A person on a case: the petitioner, a joint petitioner or a representative. Personal data encrypted."""

    __tablename__ = "case_parties"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        Index("ix_case_parties_tenant_id_case_id", "tenant_id", "case_id"),
        Index("ix_case_parties_id_number_hash", "id_number_hash"),
        CheckConstraint("role IN ('petitioner', 'joint_petitioner', 'representative')", name="role"),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    role: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(100))
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_hash: Mapped[str | None] = mapped_column(String(64))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = utcnow_column()

    #: The encrypted columns; each ciphertext is bound to (table, column, tenant_id, id) (``portal.pii``).
    SEALED = ("id_number_enc", "phone_enc", "email_enc", "address_enc")

    def aad(self, column: str) -> bytes:
        from portal.pii import context

        return context("case_parties", column, self.tenant_id, self.id)

    def reveal(self, pii, column: str) -> str | None:
        """The plain value of an encrypted column (``id_number_enc``...)."""
        return pii.decrypt(getattr(self, column), self.aad(column))


class CaseEvent(TenantOwned, Base):
    """One entry of a case's append-only, hash-chained history (the database refuses UPDATE and DELETE)."""

    __tablename__ = "case_events"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        UniqueConstraint("tenant_id", "case_id", "seq"),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str] = mapped_column(String(100))
    actor_bureau_id: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    state_before: Mapped[str | None] = mapped_column(String(30))
    state_after: Mapped[str] = mapped_column(String(30))
    fields: Mapped[dict] = mapped_column(JSONB, default=dict)
    public: Mapped[bool] = mapped_column(Boolean, default=False)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


#: ``Deadline.close_reason`` of a petitioner's window that the sweep closed after its last day (else: an action).
WINDOW_EXPIRED = "expired"


class Deadline(TenantOwned, Base):
    """One clock of a case: due date, who owes it, and how it was computed."""

    __tablename__ = "deadlines"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        Index("ix_deadlines_tenant_id_case_id", "tenant_id", "case_id"),
        # Sweeps and queues read open clocks by due date only.
        Index("ix_deadlines_open_due_on", "due_on", postgresql_where=text("closed_at IS NULL")),
        # The sweep's read leaves out the petitioner's windows (most open deadlines at scale).
        Index("ix_deadlines_sweep", "due_on", postgresql_where=text("closed_at IS NULL AND owed_by <> 'petitioner'")),
        # The clocks opened or moved lately: what a sweep that runs again the same day reads.
        Index(
            "ix_deadlines_due_set_at",
            "due_set_at",
            postgresql_where=text("closed_at IS NULL AND owed_by <> 'petitioner'"),
        ),
        # The petitioner's windows still running: the sweep closes those whose last day has passed.
        Index(
            "ix_deadlines_open_windows", "due_on", postgresql_where=text("closed_at IS NULL AND owed_by = 'petitioner'")
        ),
        Index("ix_deadlines_open_provisional", "id", postgresql_where=text("closed_at IS NULL AND provisional")),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    step: Mapped[Step] = mapped_column(_enum(Step, "deadline_step"))
    started_on: Mapped[date] = mapped_column(Date)
    amount: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    extended_days: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    due_on: Mapped[date] = mapped_column(Date)
    provisional: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    explanation: Mapped[dict] = mapped_column(JSONB, default=dict)
    owed_by: Mapped[str] = mapped_column(String(30))
    owed_unit_id: Mapped[int | None] = mapped_column(BigInteger)
    owed_user_id: Mapped[int | None] = mapped_column(BigInteger)
    owed_bureau_id: Mapped[int | None] = mapped_column(Integer)
    material_request_id: Mapped[int | None] = mapped_column(BigInteger)
    opened_at: Mapped[datetime] = utcnow_column()
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    close_reason: Mapped[str | None] = mapped_column(String(40))
    # When the clock opened or its due date last moved, set by the database (a trigger, whoever writes): a later
    # sweep of the same day reads only the clocks set since the day's previous sweep (``portal.sweeps``).
    due_set_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=text("clock_timestamp()"))


class WorkItem(TenantOwned, Base):
    """One case waiting for one owner: the staff queue's "mine" reads these by owner, in due-date order.

    The owner is named as the rules name it (``portal.cases.work_items``): a user (``owner_id``: the user's id), a
    unit, the bureau's petition office, the approvers of a lead unit's opinions, the bureau's signers, or its
    leaders who decide extensions; who that is today (stand-ins, roles, units) is worked out when the queue is read,
    so staff changes need no rewrite. ``due_on`` is the case's ``next_due_on`` (the queue's order). Rewritten for
    a case by every writer of cases and deadlines, in the same transaction, from the case and its open deadlines.
    """

    __tablename__ = "work_items"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        UniqueConstraint("tenant_id", "case_id", "owner_kind", "owner_id"),
        Index(
            "ix_work_items_owner_due",
            "tenant_id",
            "owner_kind",
            "owner_id",
            text("due_on ASC NULLS LAST"),
            text("case_id DESC"),
        ),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    owner_kind: Mapped[str] = mapped_column(String(12))
    owner_id: Mapped[int] = mapped_column(BigInteger)
    due_on: Mapped[date | None] = mapped_column(Date)


class MaterialRequest(TenantOwned, Base):
    """A request for materials (§四.11) to a lower bureau, the petitioner or another body, and its answer."""

    __tablename__ = "material_requests"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        Index("ix_material_requests_tenant_id_case_id", "tenant_id", "case_id"),
        Index("ix_material_requests_open_target", "target_bureau_id", postgresql_where=text("answered_at IS NULL")),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    target: Mapped[str] = mapped_column(String(20))
    target_bureau_id: Mapped[int | None] = mapped_column(ForeignKey("bureaus.id"))
    body_name: Mapped[str | None] = mapped_column(String(200))
    content: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    requested_by_id: Mapped[int] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answer_text: Mapped[str | None] = mapped_column(Text)
    answer_attachment_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    answered_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = utcnow_column()


class Meeting(TenantOwned, Base):
    """A coordination meeting (§四.13): proposed by the petition office, decided by the leader, then held.

    It may concern zero or more of the bureau's cases (a common problem may have no open case); each linked case's
    history records the proposal, the decision and the minutes. ``status``: proposed -> approved | declined;
    approved -> held (minutes recorded).
    """

    __tablename__ = "meetings"
    __table_args__ = (
        CheckConstraint("status IN ('proposed', 'approved', 'declined', 'held')", name="status"),
        CheckConstraint("cardinality(unit_ids) > 0", name="units"),
        Index("ix_meetings_tenant_id_status", "tenant_id", "status"),
    )

    topic: Mapped[str] = mapped_column(String(200))
    meeting_on: Mapped[date] = mapped_column(Date)
    unit_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger))
    case_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="proposed", server_default="proposed")
    proposed_by_id: Mapped[int | None] = mapped_column(BigInteger)
    proposed_on: Mapped[date | None] = mapped_column(Date)
    leader_id: Mapped[int | None] = mapped_column(BigInteger)  # the leader asked to decide
    decision_due_on: Mapped[date | None] = mapped_column(Date)
    decision_explanation: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    decided_by_id: Mapped[int | None] = mapped_column(BigInteger)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_comment: Mapped[str | None] = mapped_column(Text)
    minutes: Mapped[str | None] = mapped_column(Text)
    minutes_by_id: Mapped[int | None] = mapped_column(BigInteger)
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()


class ContactRecord(TenantOwned, Base):
    """A conversation with the petitioner or another body (§四.12)."""

    __tablename__ = "contact_records"
    __table_args__ = (ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),)

    case_id: Mapped[int] = mapped_column(BigInteger)
    party: Mapped[str] = mapped_column(String(20))
    body_name: Mapped[str | None] = mapped_column(String(200))
    contacted_on: Mapped[date] = mapped_column(Date)
    channel: Mapped[str | None] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()


class StaffAbsence(TenantOwned, Base):
    """A leader's out-of-office period and the stand-in they declared (§四.4)."""

    __tablename__ = "staff_absences"
    __table_args__ = (CheckConstraint("ends_on >= starts_on", name="period"),)

    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)
    stand_in_id: Mapped[int | None] = mapped_column(BigInteger)
    # What the stand-in may do in the leader's stead (§四.4): approve the reading slip, sign the formal opinion.
    stand_in_slip: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    stand_in_signing: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    note: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()


class StepRuleRow(Base):
    """The deployment's time-limit table (a reference table seeded from ``DEFAULT_STEP_RULES``)."""

    __tablename__ = "step_rules"

    step: Mapped[Step] = mapped_column(_enum(Step, "deadline_step"), primary_key=True)
    amount: Mapped[int | None] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(20))
    owed_by: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(100))


class CalendarYear(Base):
    """A year of official holidays and make-up working days loaded by an administrator (reference table)."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(300))
    holidays: Mapped[dict] = mapped_column(JSONB)
    workdays: Mapped[dict] = mapped_column(JSONB)
    loaded_at: Mapped[datetime] = utcnow_column()


class Outbox(TenantOwned, Base):
    """A notice or notification caused by an action, written in the same transaction; the worker delivers it."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("tenant_id", "dedupe_key"),
        Index("ix_outbox_pending", "next_attempt_at", postgresql_where=text("status = 'pending'")),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status"),
    )

    case_id: Mapped[int | None] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    payload: Mapped[dict] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="pending", server_default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_attempt_at: Mapped[datetime] = utcnow_column()
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()
