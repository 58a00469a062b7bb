"""In-app notifications for staff: write them (exactly once per recipient and key), list them, mark them read.

Operations flush; the request or job commits.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.notify.models import StaffNotification
from portal.roles import Role


def notification_rows(
    recipients: Iterable[tuple[int, int]],
    *,
    kind: str,
    params: dict,
    dedupe_key: str,
    case_tenant_id: int | None = None,
    case_id: int | None = None,
    deadline_id: int | None = None,
) -> list[dict]:
    """The rows of one notification to each ``(bureau id, user id)`` (each recipient once)."""
    return [
        {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "kind": kind,
            "params": params,
            "dedupe_key": dedupe_key,
            "case_tenant_id": case_tenant_id,
            "case_id": case_id,
            "deadline_id": deadline_id,
        }
        for tenant_id, user_id in dict.fromkeys(recipients)
    ]


INSERT_BATCH = 2000  # rows per INSERT: 8 parameters each stays well under PostgreSQL's 65,535


def insert_notifications(session: Session, rows: list[dict]) -> list[str]:
    """Insert notification rows; a dedupe key already used for a recipient writes nothing. The kinds written."""
    written: list[str] = []
    for start in range(0, len(rows), INSERT_BATCH):
        statement = (
            insert(StaffNotification)
            .values(rows[start : start + INSERT_BATCH])
            .on_conflict_do_nothing(constraint="uq_staff_notifications_tenant_id_user_id_dedupe_key")
            .returning(StaffNotification.kind)
        )
        written += session.scalars(statement).all()
    return written


def notify_staff(session: Session, recipients: Iterable[tuple[int, int]], **notification) -> int:
    """Write one notification per ``(bureau id, user id)`` (``notification_rows``); returns how many were written.

    Needs a scope that may write in each recipient's bureau (the system scope of workers and sweeps).
    """
    return len(insert_notifications(session, notification_rows(recipients, **notification)))


def users_with_roles(session: Session, bureau_id: int, roles: Iterable[Role]) -> list[tuple[int, int]]:
    """Active staff of a bureau holding any of ``roles``, as ``(bureau id, user id)``."""
    wanted = [r.value for r in roles]
    return [
        (bureau_id, user_id)
        for user_id in session.scalars(
            select(StaffUser.id)
            .where(StaffUser.tenant_id == bureau_id, StaffUser.active.is_(True), StaffUser.roles.overlap(wanted))
            .order_by(StaffUser.id)
        )
    ]


def list_notifications(
    session: Session, user: StaffUser, *, limit: int = 100, unread_only: bool = False
) -> list[StaffNotification]:
    """A staff member's notifications (or only the unread ones), newest first."""
    query = select(StaffNotification).where(
        StaffNotification.tenant_id == user.tenant_id, StaffNotification.user_id == user.id
    )
    if unread_only:
        query = query.where(StaffNotification.read_at.is_(None))
    return list(
        session.scalars(query.order_by(StaffNotification.created_at.desc(), StaffNotification.id.desc()).limit(limit))
    )


def unread_count(session: Session, user: StaffUser) -> int:
    """How many unread notifications: one count on the partial index ``ix_staff_notifications_unread``."""
    return session.scalar(
        select(func.count())
        .select_from(StaffNotification)
        .where(
            StaffNotification.tenant_id == user.tenant_id,
            StaffNotification.user_id == user.id,
            StaffNotification.read_at.is_(None),
        )
    )


def get_own_notification(session: Session, user: StaffUser, notification_id: int) -> StaffNotification | None:
    """One of the user's own notifications, or None (someone else's answers None too)."""
    return session.scalar(
        select(StaffNotification).where(
            StaffNotification.tenant_id == user.tenant_id,
            StaffNotification.user_id == user.id,
            StaffNotification.id == notification_id,
        )
    )


def mark_read(session: Session, notification: StaffNotification) -> None:
    if notification.read_at is None:
        notification.read_at = func.now()
    session.flush()


def mark_all_read(session: Session, user: StaffUser) -> int:
    result = session.execute(
        update(StaffNotification)
        .where(
            StaffNotification.tenant_id == user.tenant_id,
            StaffNotification.user_id == user.id,
            StaffNotification.read_at.is_(None),
        )
        .values(read_at=func.now())
    )
    return result.rowcount
