"""The sweep's index: open deadlines by due date, without the petitioner's escalation windows.

Every replied review opens the petitioner's 30-day window to apply for a re-review, and nothing closes it when the
window passes, so at a province's scale most open deadlines are windows the sweep never alerts on. Leaving them
out of its index keeps the sweep's read proportional to the deadlines that can owe an alert.

Revision ID: b8e4d1c7a2f6
Revises: 7c1f0e2a9b3d
Create Date: 2026-11-27 19:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b8e4d1c7a2f6"
down_revision = "7c1f0e2a9b3d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_deadlines_sweep",
        "deadlines",
        ["due_on"],
        postgresql_where=sa.text("closed_at IS NULL AND owed_by <> 'petitioner'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deadlines_sweep", table_name="deadlines")
