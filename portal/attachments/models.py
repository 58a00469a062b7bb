"""Uploads (files waiting to be attached) and attachments (files that belong to a case)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Enum, Index, String, UniqueConstraint, Uuid, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column


class AttachmentSource(enum.StrEnum):
    petitioner = "petitioner"
    staff = "staff"
    generated = "generated"


class Upload(Base):
    """A file received before any case exists; it belongs to nobody until a case claims it.

    Not tenant-owned: an anonymous petitioner uploads first and names the bureau only when submitting. The random
    id is the capability to claim it, so it must stay unguessable. Unclaimed uploads are purged after 24 hours.
    """

    __tablename__ = "uploads"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        UniqueConstraint("storage_key"),
        # The purge job looks for old unclaimed uploads only.
        Index("ix_uploads_created_at_unclaimed", "created_at", postgresql_where=text("claimed_at IS NULL")),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<Upload {self.id} {self.filename!r}>"


class Attachment(TenantOwned, Base):
    """A file of one case; read only through a presigned link.

    A file the petitioner or staff uploaded keeps its upload's object (``uploads/<upload id>``); a generated
    document, or a file carried into a re-review, is stored under ``<bureau_id>/<case_id>/``. The key is no
    boundary: the row (scoped to its bureau) is, and the link is signed only for those who may read it.
    """

    __tablename__ = "attachments"
    __table_args__ = (
        CheckConstraint("size > 0", name="size_positive"),
        CheckConstraint("sha256 ~ '^[0-9a-f]{64}$'", name="sha256_hex"),
        UniqueConstraint("tenant_id", "storage_key"),
        Index("ix_attachments_tenant_id_case_id", "tenant_id", "case_id"),
    )

    # The case table comes later; the foreign key is added with it.
    case_id: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(BigInteger)
    content_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(300))
    source: Mapped[AttachmentSource] = mapped_column(Enum(AttachmentSource, name="attachment_source"))
    uploaded_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = utcnow_column()

    def __repr__(self) -> str:
        return f"<Attachment {self.tenant_id}/{self.id} case {self.case_id} {self.filename!r}>"


def uploader_label(uploaded_by: str) -> tuple[str, str]:
    """Who added a file, in words (Chinese, English): ``uploaded_by`` is stored as a short code, e.g.
    ``petitioner:张三`` or ``carried from FC2026-…``, never shown raw on a page."""
    if uploaded_by.startswith("petitioner:"):
        name = uploaded_by.removeprefix("petitioner:")
        return (f"信访人{name}", f"the petitioner {name}")
    if uploaded_by.startswith("carried from "):
        number = uploaded_by.removeprefix("carried from ")
        return (f"随原案件{number}转来", f"carried from case {number}")
    return (uploaded_by, uploaded_by)
