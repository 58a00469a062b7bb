"""Generated documents, per-bureau document number sequences, document settings and template overrides.

Revision ID: 26b22d304692
Revises: 0da152183012
Create Date: 2026-11-27 15:39:46.404889+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "26b22d304692"
down_revision = "0da152183012"
branch_labels = None
depends_on = None


TENANT_TABLES = ("document_sequences", "document_settings", "document_templates", "generated_documents")


def upgrade() -> None:
    op.create_table(
        "document_sequences",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("series", sa.String(length=10), nullable=False),
        sa.Column("last_number", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("last_number >= 1", name=op.f("ck_document_sequences_positive")),
        sa.CheckConstraint("year BETWEEN 2000 AND 2999", name=op.f("ck_document_sequences_year")),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_document_sequences_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_sequences")),
        sa.UniqueConstraint("tenant_id", "year", "series", name=op.f("uq_document_sequences_tenant_id_year_series")),
    )
    op.create_table(
        "document_settings",
        sa.Column("letterhead", sa.String(length=60), nullable=True),
        sa.Column("number_prefix", sa.String(length=20), nullable=True),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_document_settings_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_settings")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_document_settings_tenant_id")),
    )
    op.create_table(
        "document_templates",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "kind IN ('acceptance_notice', 'non_acceptance_notice', 'extension_notice', 'reading_slip',"
            " 'formal_opinion', 'receipt')",
            name=op.f("ck_document_templates_kind"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_document_templates_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_document_templates")),
        sa.UniqueConstraint("tenant_id", "kind", name=op.f("uq_document_templates_tenant_id_kind")),
    )
    op.create_table(
        "generated_documents",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "acceptance_notice",
                "non_acceptance_notice",
                "extension_notice",
                "reading_slip",
                "formal_opinion",
                name="document_kind",
            ),
            nullable=False,
        ),
        sa.Column("event_seq", sa.Integer(), nullable=False),
        sa.Column("doc_number", sa.String(length=60), nullable=False),
        sa.Column("title", sa.String(length=100), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("pdf_attachment_id", sa.BigInteger(), nullable=False),
        sa.Column("docx_attachment_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_generated_documents_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "docx_attachment_id"],
            ["attachments.tenant_id", "attachments.id"],
            name="fk_generated_documents_docx_attachment",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pdf_attachment_id"],
            ["attachments.tenant_id", "attachments.id"],
            name="fk_generated_documents_pdf_attachment",
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_generated_documents_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_generated_documents")),
        sa.UniqueConstraint(
            "tenant_id",
            "case_id",
            "kind",
            "event_seq",
            name=op.f("uq_generated_documents_tenant_id_case_id_kind_event_seq"),
        ),
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_table("generated_documents")
    op.drop_table("document_templates")
    op.drop_table("document_settings")
    op.drop_table("document_sequences")
    op.execute("DROP TYPE IF EXISTS document_kind")
