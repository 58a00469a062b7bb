"""The composed formal opinion: the 撤销 outcome, the committee's document texts, the law in force.

- ``outcome`` gains ``revoked`` (撤销), apart from ``changed`` (变更) and ``partly_changed`` (部分变更).
- A bureau may keep its own text of the report to the committee (``committee_report``) and of the extension
  reported to the committee (``committee_extension_notice``).
- The petitioner's 30-day window is cited from the regulation in force: 《信访工作条例》(2022) art. 35-36, which
  replaced the 2005 信访条例 (art. 34-35). A deployment that changed the citation keeps its own.

Downgrade restores the constraint and the citation; PostgreSQL cannot drop an enum value, so ``revoked`` stays
(rows using it are set to ``changed``).

Revision ID: d3a7c9e1f2b4
Revises: e3f1a9c4d2b7
Create Date: 2026-12-06 08:55:00+00:00
"""

from alembic import op

revision = "d3a7c9e1f2b4"
down_revision = "e3f1a9c4d2b7"
branch_labels = None
depends_on = None

OLD_KINDS = (
    "acceptance_notice",
    "non_acceptance_notice",
    "extension_notice",
    "reading_slip",
    "formal_opinion",
    "receipt",
)
NEW_KINDS = (*OLD_KINDS, "committee_report", "committee_extension_notice")
OLD_REF = "《信访条例》第三十四、三十五条"
NEW_REF = "《信访工作条例》第三十五条、第三十六条"


def _kind_check(kinds: tuple[str, ...]) -> None:
    op.drop_constraint(op.f("ck_document_templates_kind"), "document_templates", type_="check")
    listed = ", ".join(f"'{k}'" for k in kinds)
    op.create_check_constraint(op.f("ck_document_templates_kind"), "document_templates", f"kind IN ({listed})")


def upgrade() -> None:
    op.execute("ALTER TYPE outcome ADD VALUE IF NOT EXISTS 'revoked' AFTER 'upheld'")
    _kind_check(NEW_KINDS)
    op.execute(f"UPDATE step_rules SET ref = '{NEW_REF}' WHERE step = 'escalation_window' AND ref = '{OLD_REF}'")


def downgrade() -> None:
    op.execute(f"UPDATE step_rules SET ref = '{OLD_REF}' WHERE step = 'escalation_window' AND ref = '{NEW_REF}'")
    op.execute("DELETE FROM document_templates WHERE kind IN ('committee_report', 'committee_extension_notice')")
    _kind_check(OLD_KINDS)
    op.execute("UPDATE cases SET outcome = 'changed' WHERE outcome = 'revoked'")
