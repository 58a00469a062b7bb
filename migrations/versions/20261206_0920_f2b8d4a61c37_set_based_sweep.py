"""The set-based deadline sweep: clocks whose alerts are all out leave its index; expired windows are closed.

- ``deadlines.alerted_due_on``: the due date for which the sweep has sent every alert (up to the notice to the
  bureau above); ``ix_deadlines_alerts_due`` holds only the open staff clocks without it, so a sweep that runs again
  the same day reads the few clocks due soon or lately overdue, not the whole backlog. Filled here from the
  supervision notices already recorded.
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
    op.add_column("deadlines", sa.Column("alerted_due_on", sa.Date(), nullable=True))
    # The owner reads and writes every bureau's rows here: FORCE'd row-level security is lifted for this
    # transaction only (DDL is transactional).
    for table in ("deadlines", "deadline_alerts"):
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    op.execute(
        """
        UPDATE deadlines d SET alerted_due_on = d.due_on
        FROM deadline_alerts a
        WHERE a.tenant_id = d.tenant_id AND a.deadline_id = d.id AND a.kind = 'supervision' AND a.due_on = d.due_on
          AND d.closed_at IS NULL
        """
    )
    for table in ("deadlines", "deadline_alerts"):
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.create_index(
        "ix_deadlines_alerts_due",
        "deadlines",
        ["due_on"],
        postgresql_where=sa.text(
            "closed_at IS NULL AND owed_by <> 'petitioner' AND alerted_due_on IS DISTINCT FROM due_on"
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
    op.drop_index("ix_deadlines_alerts_due", table_name="deadlines")
    op.drop_column("deadlines", "alerted_due_on")
