"""Generated documents of a case, the per-bureau number sequences, and each bureau's letterhead and templates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Enum,
    ForeignKeyConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.documents.templates import KINDS
from portal.workflow import DocumentKind

_KIND_LIST = ", ".join(f"'{k}'" for k in KINDS)


class GeneratedDocument(TenantOwned, Base):
    """One official document produced by a case event: its number, title and the stored PDF and DOCX.

    One row per (case, kind, event): rendering the same outbox row twice finds the row (or hits the constraint)
    and creates nothing. ``public`` documents are addressed to the petitioner and shown on the tracking page.
    """

    __tablename__ = "generated_documents"
    __table_args__ = (
        UniqueConstraint("tenant_id", "case_id", "kind", "event_seq"),
        ForeignKeyConstraint(["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "pdf_attachment_id"],
            ["attachments.tenant_id", "attachments.id"],
            name="fk_generated_documents_pdf_attachment",
        ),
        ForeignKeyConstraint(
            ["tenant_id", "docx_attachment_id"],
            ["attachments.tenant_id", "attachments.id"],
            name="fk_generated_documents_docx_attachment",
        ),
    )

    case_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[DocumentKind] = mapped_column(
        Enum(DocumentKind, name="document_kind", values_callable=lambda e: [m.value for m in e])
    )
    event_seq: Mapped[int] = mapped_column(Integer)
    doc_number: Mapped[str] = mapped_column(String(60))
    title: Mapped[str] = mapped_column(String(100))
    public: Mapped[bool] = mapped_column(Boolean)
    pdf_attachment_id: Mapped[int] = mapped_column(BigInteger)
    docx_attachment_id: Mapped[int] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = utcnow_column()

    def __repr__(self) -> str:
        return f"<GeneratedDocument {self.tenant_id}/{self.id} {self.kind} {self.doc_number}>"


class DocumentSequence(TenantOwned, Base):
    """The last document number a bureau issued in one year and one series (受, 不受, 延, 阅, 复, 核).

    Incremented with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in the transaction that stores the
    document, so numbers have no gaps and no repeats: a rolled-back render gives its number back.
    """

    __tablename__ = "document_sequences"
    __table_args__ = (
        UniqueConstraint("tenant_id", "year", "series"),
        CheckConstraint("last_number >= 1", name="positive"),
        CheckConstraint("year BETWEEN 2000 AND 2999", name="year"),
    )

    year: Mapped[int] = mapped_column(Integer)
    series: Mapped[str] = mapped_column(String(10))
    last_number: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column(onupdate=sql_text("now()"))


class DocumentSettings(TenantOwned, Base):
    """A bureau's letterhead and number prefix; NULL means the default (the bureau's name, its division's first
    character + 社保信)."""

    __tablename__ = "document_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    letterhead: Mapped[str | None] = mapped_column(String(60))
    number_prefix: Mapped[str | None] = mapped_column(String(20))
    updated_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column(onupdate=sql_text("now()"))


class DocumentTemplate(TenantOwned, Base):
    """A bureau's text for one kind of document, replacing the default (checked by ``validate_template``)."""

    __tablename__ = "document_templates"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind"),
        CheckConstraint(f"kind IN ({_KIND_LIST})", name="kind"),
    )

    kind: Mapped[str] = mapped_column(String(30))
    text: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column(onupdate=sql_text("now()"))
