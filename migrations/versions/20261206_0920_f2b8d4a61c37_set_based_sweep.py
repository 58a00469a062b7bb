"""The set-based deadline sweep: a repeat of the day reads only the clocks changed since; expired windows close.

- ``deadlines.swept_due_on``: the due date at which the sweep last looked at the clock; ``ix_deadlines_unswept``
  holds the open staff clocks without it (new, or their due date moved), which is all a sweep that runs again the
  same day needs to read: what a clock owes depends on its due date and the day alone.
- ``ix_deadlines_open_windows``: the petitioner's windows to apply for re-review still open; the sweep closes those
  whose last day has passed (``close_reason`` ``expired``).

Revision ID: f2b8d4a61c37
Revises: e4a7c2b91d05
Create Date: 2026-12-06 09:20:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f2b8d4a61c37"
down_revision = "e4a7c2b91d05"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deadlines", sa.Column("swept_due_on", sa.Date(), nullable=True))
    op.create_index(
        "ix_deadlines_unswept",
        "deadlines",
        ["due_on"],
        postgresql_where=sa.text(
            "closed_at IS NULL AND owed_by <> 'petitioner' AND swept_due_on IS DISTINCT FROM due_on"
        ),
    )
    op.create_index(
        "ix_deadlines_open_windows",
        "deadlines",
        ["due_on"],
        postgresql_where=sa.text("closed_at IS NULL AND owed_by = 'petitioner'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deadlines_open_windows", table_name="deadlines")
    op.drop_index("ix_deadlines_unswept", table_name="deadlines")
    op.drop_column("deadlines", "swept_due_on")
