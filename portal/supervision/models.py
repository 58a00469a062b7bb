"""Supervision orders (督办) from a bureau above, and the petitioner's satisfaction with a reply.

Who owns a supervision order
----------------------------
An order is tenant-owned by the **target** bureau (the bureau of the case), not by the issuing ancestor, and the
issuing bureau is a plain column (``issuer_bureau_id``). Why this and not an order row at the ancestor with a
mirrored inbox row at the target:

- the target must read and answer the order, and a bureau reads only itself and the bureaus below it; an ancestor
  already reads everything below it, so one row owned by the target is readable by both ends, and by nobody else;
- the order and its answer must be in the case's hash-chained history, which lives in the case's bureau anyway:
  issuing needs one narrowly scoped write into the target bureau whatever the design (the case row lock, the event
  and the order are written together), while a mirror would need a second write on every answer, back up into
  the ancestor, to keep two copies in step;
- one row is one source of truth: no copy to drift, nothing to reconcile.

The narrow write is ``portal.supervision.operations.issue_order``: it checks that the case is in the issuer's scope
and strictly below the issuer's bureau, then switches the session to act as the case's bureau (read and write that
one bureau only) for the insert, the case lock and the history event, and restores the issuer's scope at once.
Tenant isolation holds as everywhere else: siblings never see each other's orders (scoping and row-level
security both filter by the target bureau); a bureau between the issuer and the target (the city of a county that
the province supervises) can read the order like any other row of its counties, but answers nothing.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column


class Satisfaction(enum.StrEnum):
    satisfied = "satisfied"
    basically_satisfied = "basically_satisfied"
    dissatisfied = "dissatisfied"


SATISFACTION_LABELS: dict[Satisfaction, tuple[str, str]] = {
    Satisfaction.satisfied: ("满意", "Satisfied"),
    Satisfaction.basically_satisfied: ("基本满意", "Basically satisfied"),
    Satisfaction.dissatisfied: ("不满意", "Dissatisfied"),
}

INSTRUCTION_MAX = 2000
ANSWER_MAX = 4000
COMMENT_MAX = 500


class SupervisionOrder(TenantOwned, Base):
    """An instruction of a bureau above on one case of a bureau below, with a due date, and that bureau's answer.

    ``tenant_id`` is the target bureau (the case's); see the module docstring for why.
    """

    __tablename__ = "supervision_orders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        CheckConstraint("issuer_bureau_id <> tenant_id", name="issuer_above"),
        CheckConstraint("(answered_at IS NULL) = (answer IS NULL)", name="answer_complete"),
        Index("ix_supervision_orders_tenant_id_case_id", "tenant_id", "case_id"),
        Index("ix_supervision_orders_open", "tenant_id", "due_on", postgresql_where=text("answered_at IS NULL")),
        Index("ix_supervision_orders_issuer_bureau_id_issued_at", "issuer_bureau_id", "issued_at"),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    issuer_bureau_id: Mapped[int] = mapped_column(ForeignKey("bureaus.id"))
    issued_by_id: Mapped[int] = mapped_column(BigInteger)  # a staff user of the issuing bureau
    issued_by_name: Mapped[str] = mapped_column(String(100))
    instruction: Mapped[str] = mapped_column(Text)
    due_on: Mapped[date] = mapped_column(Date)
    issued_at: Mapped[datetime] = utcnow_column()
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    answered_by_id: Mapped[int | None] = mapped_column(BigInteger)
    answered_by_name: Mapped[str | None] = mapped_column(String(100))

    @property
    def answered(self) -> bool:
        return self.answered_at is not None


class SatisfactionRating(TenantOwned, Base):
    """The petitioner's rating of the formal reply of one case: once per case (a unique key backs the rule)."""

    __tablename__ = "satisfaction_ratings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        UniqueConstraint("tenant_id", "case_id"),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    rating: Mapped[Satisfaction] = mapped_column(
        Enum(Satisfaction, name="satisfaction", values_callable=lambda e: [m.value for m in e])
    )
    comment: Mapped[str | None] = mapped_column(String(COMMENT_MAX))
    rated_at: Mapped[datetime] = utcnow_column()


# --- Rollups of the dashboard's figures (portal.supervision.rollups) ---------------------------------------

GRAINS = ("day", "month")


class CaseRollup(TenantOwned, Base):
    """Counters of the cases a bureau received on one day (``grain`` day) or in one month (``grain`` month, ``day``
    its first day), per dimension and value; written only by ``portal.supervision.rollups``."""

    __tablename__ = "case_rollups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "grain", "day", "dim", "value"),
        CheckConstraint("grain IN ('day', 'month')", name="grain"),
    )

    grain: Mapped[str] = mapped_column(String(5))
    day: Mapped[date] = mapped_column(Date)
    dim: Mapped[str] = mapped_column(String(10))
    value: Mapped[str] = mapped_column(String(40))
    received: Mapped[int] = mapped_column(Integer, default=0)
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    accepted_decided: Mapped[int] = mapped_column(Integer, default=0)
    not_accepted: Mapped[int] = mapped_column(Integer, default=0)
    pending: Mapped[int] = mapped_column(Integer, default=0)
    open: Mapped[int] = mapped_column(Integer, default=0)
    concluded: Mapped[int] = mapped_column(Integer, default=0)
    withdrawn: Mapped[int] = mapped_column(Integer, default=0)
    extended: Mapped[int] = mapped_column(Integer, default=0)
    extension_days: Mapped[int] = mapped_column(BigInteger, default=0)
    handled: Mapped[int] = mapped_column(Integer, default=0)
    sum_days: Mapped[int] = mapped_column(BigInteger, default=0)
    rated: Mapped[int] = mapped_column(Integer, default=0)
    satisfied: Mapped[int] = mapped_column(Integer, default=0)


class DeadlineRollup(TenantOwned, Base):
    """How many step clocks that started on one day (or in one month) are closed on time, closed late, or open and
    due on ``due_on``; written only by ``portal.supervision.rollups``."""

    __tablename__ = "deadline_rollups"
    __table_args__ = (
        UniqueConstraint("tenant_id", "grain", "day", "step", "status", "due_on"),
        CheckConstraint("grain IN ('day', 'month')", name="grain"),
        CheckConstraint("status IN ('on_time', 'late', 'open')", name="status"),
    )

    grain: Mapped[str] = mapped_column(String(5))
    day: Mapped[date] = mapped_column(Date)
    step: Mapped[str] = mapped_column(String(30))
    status: Mapped[str] = mapped_column(String(8))
    due_on: Mapped[date] = mapped_column(Date)
    n: Mapped[int] = mapped_column(Integer, default=0)


# --- Indexes the supervision aggregates need on the case tables --------------------------------------------
# Declared here, next to the statistics that need them, and attached to the case tables' metadata. Covering
# indexes: the dashboard's two statements read only these columns, so they run as index-only scans of one bureau
# range after another, without touching the wide case rows (see portal.supervision.stats).
from portal.cases.models import Case, Deadline  # noqa: E402

Index(
    "ix_cases_supervision_period",
    Case.tenant_id,
    Case.received_on,
    postgresql_include=[
        "id",
        "state",
        "kind",
        "intake",
        "outcome",
        "lead_unit_id",
        "accepted_on",
        "replied_on",
        "extension_used",
        "extension_days",
    ],
)
Index(
    "ix_deadlines_supervision_started",
    Deadline.tenant_id,
    Deadline.started_on,
    postgresql_include=["step", "due_on", "closed_at"],
)
# Sensitive cases are few: a partial index finds them in any subtree.
Index("ix_cases_sensitive", Case.tenant_id, Case.received_on, postgresql_where=text("sensitive"))
