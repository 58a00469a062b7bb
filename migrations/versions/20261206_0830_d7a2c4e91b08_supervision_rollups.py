"""Rollups of the supervision figures: case counters and step clocks per bureau, day and month.

The dashboard read every case and deadline of its period; it now sums these rows (portal.supervision.rollups),
which every action keeps current in its own transaction. Existing data is rolled up here.

Revision ID: d7a2c4e91b08
Revises: c3f1a9d27e54
Create Date: 2026-12-06 08:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import enable_rls

revision = "d7a2c4e91b08"
down_revision = "c3f1a9d27e54"
branch_labels = None
depends_on = None

CASE_COUNTERS = (
    "received",
    "accepted",
    "accepted_decided",
    "not_accepted",
    "pending",
    "open",
    "concluded",
    "withdrawn",
    "extended",
    "extension_days",
    "handled",
    "sum_days",
    "rated",
    "satisfied",
)
WIDE = ("extension_days", "sum_days")


def _owned(name: str, *columns, constraints=()) -> None:
    op.create_table(
        name,
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        *columns,
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f(f"fk_{name}_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{name}")),
        sa.CheckConstraint("grain IN ('day', 'month')", name=op.f(f"ck_{name}_grain")),
        *constraints,
    )
    enable_rls(op, name)


def upgrade() -> None:
    _owned(
        "case_rollups",
        sa.Column("grain", sa.String(5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("dim", sa.String(10), nullable=False),
        sa.Column("value", sa.String(40), nullable=False),
        *(sa.Column(c, sa.BigInteger() if c in WIDE else sa.Integer(), nullable=False) for c in CASE_COUNTERS),
        constraints=(
            sa.UniqueConstraint(
                "tenant_id", "grain", "day", "dim", "value", name=op.f("uq_case_rollups_tenant_id_grain_day_dim_value")
            ),
        ),
    )
    _owned(
        "deadline_rollups",
        sa.Column("grain", sa.String(5), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("step", sa.String(30), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        constraints=(
            sa.CheckConstraint("status IN ('on_time', 'late', 'open')", name=op.f("ck_deadline_rollups_status")),
            sa.UniqueConstraint(
                "tenant_id",
                "grain",
                "day",
                "step",
                "status",
                "due_on",
                name=op.f("uq_deadline_rollups_tenant_id_grain_day_step_status_due_on"),
            ),
        ),
    )
    from portal.supervision.rollups import rebuild_statements

    # The owner reads and writes every bureau's rows here: FORCE'd row-level security is lifted for this
    # transaction only (DDL is transactional), whatever the policies' own system switch is.
    read_and_written = ("cases", "deadlines", "satisfaction_ratings", "units", "case_rollups", "deadline_rollups")
    for table in read_and_written:
        op.execute(f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY")
    for statement in rebuild_statements():
        op.execute(statement)
    for table in read_and_written:
        op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")


def downgrade() -> None:
    op.drop_table("deadline_rollups")
    op.drop_table("case_rollups")
