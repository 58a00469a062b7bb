"""The application in progress on the public pages, kept server-side between the steps.

The guided application (``public_site.apply``) answers every POST with a redirect to the GET of a step, so that the
browser's Back button and a reload re-fetch a page built from this draft instead of re-sending a form
(Post/Redirect/Get). The pages carry personal data and are never cached (``Cache-Control: no-store``), so the
draft is what brings the typed answers back.

- One row per application in progress, keyed by a random id that only the petitioner's (signed) session cookie
  holds: never in a URL, where it would leak through history, a shared link or a screenshot.
- Everything in it (the answers, the ids of the uploaded files, the outcome of the last step) is one JSON document
  sealed with the personal-data key and bound to its row (``portal.pii``, format 2). The files' bytes are never
  here: they are in object storage as unclaimed uploads until the submission claims them.
- It lives ``TTL`` after its last change, like the unclaimed uploads it names; housekeeping deletes older rows,
  and a row past ``TTL`` is never read. The submission deletes it in the transaction that creates the case.

Not tenant-owned: it is written before the petitioner has named a bureau.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import DateTime, Index, LargeBinary, Uuid, delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base
from portal.pii import PersonalData, context

TTL = timedelta(hours=24)
# A typed value is kept up to this many characters (the longest field allows 10,000); the check of the step still
# sees, and names, the whole value.
MAX_VALUE = 20_000


class ApplicationDraft(Base):
    """One application in progress: its sealed contents and when it last changed."""

    __tablename__ = "application_drafts"
    __table_args__ = (Index("ix_application_drafts_updated_at", "updated_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


@dataclass
class Draft:
    """What the petitioner has entered so far, and what the last step they sent answered.

    ``values`` are the form's fields by name, as typed; ``uploads`` the ids of the unclaimed uploads, in the order
    they were added; ``joint_rows`` how many joint-petitioner rows the page shows; ``outcome`` the answer of the
    last POST, shown on its step until the next one (``{"step", "status", "errors": {name: [zh, en]}, "notice":
    [code, number], "duplicate": [zh, en]}``).
    """

    id: uuid.UUID = field(default_factory=uuid.uuid4)
    values: dict[str, str] = field(default_factory=dict)
    uploads: list[str] = field(default_factory=list)
    joint_rows: int = 1
    outcome: dict | None = None

    def set(self, name: str, value: str | None) -> None:
        """Keep ``value`` for field ``name`` (an empty or missing value removes it)."""
        if value:
            self.values[name] = value[:MAX_VALUE]
        else:
            self.values.pop(name, None)


def _aad(draft_id: uuid.UUID) -> bytes:
    return context("application_drafts", "sealed", draft_id)


def load_draft(session: Session, pii: PersonalData, draft_id: str | None, *, now: datetime) -> Draft | None:
    """The draft with this id, or None (no id, not a valid id, gone, or older than ``TTL``)."""
    try:
        key = uuid.UUID(str(draft_id))
    except ValueError:
        return None
    row = session.execute(
        select(ApplicationDraft.sealed).where(ApplicationDraft.id == key, ApplicationDraft.updated_at >= now - TTL)
    ).one_or_none()
    if row is None:
        return None
    data = json.loads(pii.decrypt(row.sealed, _aad(key)))
    return Draft(
        id=key,
        values=data.get("values", {}),
        uploads=data.get("uploads", []),
        joint_rows=data.get("joint_rows", 1),
        outcome=data.get("outcome"),
    )


def save_draft(session: Session, pii: PersonalData, draft: Draft, *, now: datetime) -> None:
    """Write the draft (insert or replace) and restart its ``TTL``. Flushes; the request commits."""
    document = {
        "values": draft.values,
        "uploads": draft.uploads,
        "joint_rows": draft.joint_rows,
        "outcome": draft.outcome,
    }
    sealed = pii.encrypt(json.dumps(document, ensure_ascii=False), _aad(draft.id))
    statement = insert(ApplicationDraft).values(id=draft.id, sealed=sealed, updated_at=now)
    session.execute(statement.on_conflict_do_update(index_elements=["id"], set_={"sealed": sealed, "updated_at": now}))


def delete_draft(session: Session, draft_id: uuid.UUID) -> None:
    session.execute(delete(ApplicationDraft).where(ApplicationDraft.id == draft_id))


def purge_expired_drafts(session: Session, *, now: datetime) -> int:
    """Delete the drafts unchanged for longer than ``TTL``; return how many (housekeeping)."""
    result = session.execute(delete(ApplicationDraft).where(ApplicationDraft.updated_at < now - TTL))
    return result.rowcount or 0
