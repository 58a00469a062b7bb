"""The set-based deadline sweep: a repeat of the day reads only the clocks set since; expired windows close.

- ``deadlines.due_set_at``: when the clock opened or its due date last moved, kept by the database (default and
  trigger ``deadlines_due_set``, whoever writes). What a clock owes depends on its due date and the day alone, so a
  sweep that runs again the same day reads only the clocks set since the day's previous sweep
  (``ix_deadlines_due_set_at``), not every open clock again.
- ``ix_deadlines_open_windows``: the petitioner's windows to apply for re-review still open; the sweep closes those
  whose last day has passed (``close_reason`` ``expired``).

Revision ID: f2b8d4a61c37
Revises: f2b8d4a6c1e3
Create Date: 2026-12-06 09:20:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "f2b8d4a61c37"
down_revision = "f2b8d4a6c1e3"
branch_labels = None
depends_on = None

TRIGGER_SQL = """
CREATE OR REPLACE FUNCTION portal_deadline_due_set() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.due_set_at := clock_timestamp();
  RETURN NEW;
END $$;
CREATE TRIGGER deadlines_due_set BEFORE UPDATE OF due_on ON deadlines
  FOR EACH ROW WHEN (OLD.due_on IS DISTINCT FROM NEW.due_on) EXECUTE FUNCTION portal_deadline_due_set();
"""


def upgrade() -> None:
    op.add_column(
        "deadlines",
        sa.Column(
            "due_set_at", sa.DateTime(timezone=True), server_default=sa.text("clock_timestamp()"), nullable=False
        ),
    )
    op.execute(TRIGGER_SQL)
    op.create_index(
        "ix_deadlines_due_set_at",
        "deadlines",
        ["due_set_at"],
        postgresql_where=sa.text("closed_at IS NULL AND owed_by <> 'petitioner'"),
    )
    op.create_index(
        "ix_deadlines_open_windows",
        "deadlines",
        ["due_on"],
        postgresql_where=sa.text("closed_at IS NULL AND owed_by = 'petitioner'"),
    )


def downgrade() -> None:
    op.drop_index("ix_deadlines_open_windows", table_name="deadlines")
    op.drop_index("ix_deadlines_due_set_at", table_name="deadlines")
    op.execute("DROP TRIGGER IF EXISTS deadlines_due_set ON deadlines")
    op.execute("DROP FUNCTION IF EXISTS portal_deadline_due_set()")
    op.drop_column("deadlines", "due_set_at")
