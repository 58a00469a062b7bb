"""In-app notifications for staff, the record of deadline alerts already sent, and when each sweep last ran."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column

#: Work that lands on someone (written by ``portal.notify.work`` from the outbox, in the action's transaction).
WORK_KINDS = (
    "awaiting_instruction",
    "awaiting_approval",
    "extension_requested",
    "awaiting_signature",
    "materials_requested",
    "materials_answered",
    "work_returned",
)
NOTIFICATION_KINDS = (
    "reminder",
    "overdue",
    "escalation",
    "supervision",
    "digest",
    "calendar_missing",
    "delivery_failed",
    *WORK_KINDS,
)
ALERT_KINDS = ("reminder", "overdue", "escalation", "supervision")


class StaffNotification(TenantOwned, Base):
    """One message on a staff member's notification page; it belongs to the recipient's bureau.

    ``params`` holds what the text needs (case number, step, dates); the text itself is rendered in the reader's
    language by ``portal.notify.messages.staff_text``. The sweep's alerts reach a person as one notification per
    kind and day whose ``items`` list them (``count`` in all; ``deadline_alerts`` keeps each alert); a supervision
    notice lives in the bureau above the cases'. Otherwise ``case_tenant_id`` says where the case is.
    ``dedupe_key`` makes each notice exactly-once per recipient.
    """

    __tablename__ = "staff_notifications"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        UniqueConstraint("tenant_id", "user_id", "dedupe_key"),
        Index("ix_staff_notifications_tenant_id_user_id_created_at", "tenant_id", "user_id", "created_at"),
        Index(
            "ix_staff_notifications_unread",
            "tenant_id",
            "user_id",
            postgresql_where=text("read_at IS NULL"),
        ),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in NOTIFICATION_KINDS) + ")", name="kind"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    case_tenant_id: Mapped[int | None] = mapped_column(Integer)
    case_id: Mapped[int | None] = mapped_column(BigInteger)
    deadline_id: Mapped[int | None] = mapped_column(BigInteger)
    params: Mapped[dict] = mapped_column(JSONB, default=dict)
    dedupe_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()
    read_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class DeadlineAlert(TenantOwned, Base):
    """A reminder, overdue alert or escalation already sent for one deadline (in the deadline's bureau).

    The unique key makes a sweep that runs twice send nothing twice: a second run's insert conflicts and the
    notifications are not written. ``due_on`` is part of the key so that a deadline moved by an extension or by
    a recomputed calendar is reminded again for its new date. ``threshold`` is the number of working days before
    the due date for reminders, and the escalation level for the others (overdue 0, leader 1, bureau above 2).
    """

    __tablename__ = "deadline_alerts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "deadline_id", "kind", "threshold", "due_on"),
        Index("ix_deadline_alerts_tenant_id_case_id", "tenant_id", "case_id"),
        CheckConstraint("kind IN (" + ", ".join(f"'{k}'" for k in ALERT_KINDS) + ")", name="kind"),
    )

    deadline_id: Mapped[int] = mapped_column(BigInteger)
    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    threshold: Mapped[int] = mapped_column(Integer)
    due_on: Mapped[date] = mapped_column(Date)
    fired_on: Mapped[date] = mapped_column(Date)
    recipient_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    created_at: Mapped[datetime] = utcnow_column()


class SweepRun(Base):
    """When each periodic sweep last ran and what it did (deployment-wide; kept in PostgreSQL, not only Redis)."""

    __tablename__ = "sweep_runs"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    last_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_for_date: Mapped[date | None] = mapped_column(Date)
    last_result: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    last_error: Mapped[str | None] = mapped_column(Text)
    runs: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
