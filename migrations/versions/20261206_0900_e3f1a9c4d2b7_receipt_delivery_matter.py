"""The clocks as the regulation writes them: receipt, filing, delivery; the matter a case disputes.

- ``cases.filed_on``: the day the petitioner filed the application (postmark or hand-in date on paper; NULL on
  older rows, read as the day received). Lateness is judged on it; the acceptance clock runs from ``received_on``,
  which for paper is now the day the bureau received the application, not the day a clerk registered it (§四.1).
- ``cases.delivered_on`` / ``delivery_method`` / ``electronic_delivery``: how and when the formal opinion reached
  the petitioner (送达); the escalation window runs from it.
- ``cases.disputed_document_key``: the disputed document's number normalised for matching (brackets, widths and
  spaces), so that the same petitioner on the same document is found across bureaus (§四.14);
  ``duplicate_of_case_number`` links a second application made while the first is still open.
- ``reject_reason`` gains ``late`` (an application outside the 30-day window).

Revision ID: e3f1a9c4d2b7
Revises: a9e4b7c1d3f6
Create Date: 2026-12-06 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e3f1a9c4d2b7"
down_revision = "a9e4b7c1d3f6"
branch_labels = None
depends_on = None

# Mirrors portal.cases.matter.document_key (NFKC, no whitespace, one kind of bracket, upper case).
DOCUMENT_KEY_SQL = (
    "upper(translate(regexp_replace(normalize(disputed_document_number, NFKC), '\\s', '', 'g'),"
    " '〔〕【】〖〗(){}', '[][][][][]'))"
)


def upgrade() -> None:
    op.execute("ALTER TYPE reject_reason ADD VALUE IF NOT EXISTS 'late'")
    op.add_column("cases", sa.Column("filed_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("delivered_on", sa.Date(), nullable=True))
    op.add_column("cases", sa.Column("delivery_method", sa.String(length=20), nullable=True))
    op.add_column("cases", sa.Column("electronic_delivery", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("cases", sa.Column("disputed_document_key", sa.String(length=100), nullable=True))
    op.add_column("cases", sa.Column("duplicate_of_case_number", sa.String(length=24), nullable=True))
    op.create_check_constraint(
        op.f("ck_cases_delivery_method"),
        "cases",
        "delivery_method IS NULL OR delivery_method IN ('online', 'electronic', 'post', 'in_person')",
    )
    op.create_check_constraint(op.f("ck_cases_delivery"), "cases", "(delivered_on IS NULL) = (delivery_method IS NULL)")
    op.execute(f"UPDATE cases SET disputed_document_key = {DOCUMENT_KEY_SQL}")
    op.create_index("ix_cases_matter", "cases", ["petitioner_id_hash", "disputed_bureau_id", "disputed_document_key"])


def downgrade() -> None:
    op.drop_index("ix_cases_matter", table_name="cases")
    op.drop_constraint(op.f("ck_cases_delivery"), "cases", type_="check")
    op.drop_constraint(op.f("ck_cases_delivery_method"), "cases", type_="check")
    for column in (
        "duplicate_of_case_number",
        "disputed_document_key",
        "electronic_delivery",
        "delivery_method",
        "delivered_on",
        "filed_on",
    ):
        op.drop_column("cases", column)
    # PostgreSQL cannot drop one value of an enum: rows refused as late become "other", the value stays unused.
    op.execute("UPDATE cases SET reject_reason = 'other' WHERE reject_reason = 'late'")
