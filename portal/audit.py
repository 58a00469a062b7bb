"""The audit log of administrative changes: who changed what, before and after, from where. No Flask here.

Every change an administrator makes (accounts and roles, activation, units, password and second-factor resets,
the second-factor rule, the holiday calendar, document settings, the bureau tree) is written here in the same
transaction as the change. The table is append-only: the database refuses UPDATE always, and DELETE of entries
younger than ``RETENTION_DAYS_MIN`` (180 days, the Cybersecurity Law's minimum); the housekeeping job removes
older ones after ``AUDIT_RETENTION_DAYS``. The audit administrator reads and exports it (``staff_site.audit``).
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from sqlalchemy import JSON, BigInteger, DateTime, Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, TenantOwned

RETENTION_DAYS_MIN = 180


class AuditEntry(TenantOwned, Base):
    """One administrative change, in the bureau of the administrator who made it."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_id_at", "tenant_id", "at"),)

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_username: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))


def record(
    session: Session,
    *,
    bureau_id: int,
    actor,
    action: str,
    target: str,
    before: dict | None = None,
    after: dict | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    at: datetime,
) -> AuditEntry:
    """Write one entry in the acting administrator's bureau; flushes. ``before``/``after`` are JSON-able."""
    from tenants.scoping import TenantScope, scoped

    clean = lambda value: json.loads(json.dumps(value, ensure_ascii=False, default=str)) if value else None  # noqa: E731
    entry = AuditEntry(
        tenant_id=bureau_id,
        at=at,
        actor_id=getattr(actor, "id", None),
        actor_username=(getattr(actor, "username", None) or str(actor))[:64],
        action=action[:60],
        target=target[:200],
        before=clean(before),
        after=clean(after),
        ip=(ip or "")[:45] or None,
        user_agent=(user_agent or "")[:300] or None,
    )
    with scoped(session, TenantScope.single(bureau_id)):
        session.add(entry)
        session.flush()
    return entry


def list_entries(session: Session, *, limit: int = 200, action: str | None = None) -> list[AuditEntry]:
    """The newest entries the session's scope may read (a bureau and those below it)."""
    query = select(AuditEntry).order_by(AuditEntry.at.desc(), AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(session.scalars(query))


def export_csv(entries: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["at", "bureau_id", "actor", "action", "target", "before", "after", "ip", "user_agent"])
    for e in entries:
        writer.writerow(
            [
                e.at.isoformat(),
                e.tenant_id,
                e.actor_username,
                e.action,
                e.target,
                json.dumps(e.before, ensure_ascii=False) if e.before else "",
                json.dumps(e.after, ensure_ascii=False) if e.after else "",
                e.ip or "",
                e.user_agent or "",
            ]
        )
    return out.getvalue()


def purge_expired(session: Session, *, now: datetime, retention_days: int) -> int:
    """Remove entries older than the retention (never less than 180 days); system scope; flushes."""
    from tenants.scoping import system_scope

    cutoff = now - timedelta(days=max(retention_days, RETENTION_DAYS_MIN))
    with system_scope(session):
        result = session.execute(
            delete(AuditEntry).where(AuditEntry.at < cutoff).execution_options(synchronize_session=False)
        )
        session.flush()
    return result.rowcount
