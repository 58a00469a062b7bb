"""Enum equality LEAKPROOF: under row-level security the queue's state and kind filters become index conditions.

PostgreSQL evaluates a table's policies before any condition of the query whose function is not LEAKPROOF, so
that a crafted condition cannot see rows the policy hides. ``enum_eq`` compares two enum values' OIDs and can
neither fail nor tell anything but the answer, yet it is not marked so: ``state = 'accepted'`` could never be an
index condition for the app's role, and at 1M cases a filtered queue ("accepted reviews") read some 90,000 rows
to count its first 1,001 (0.36 s; 0.03 s after this).

Marking a catalog function needs a superuser (the migrating role is one in ``portal dev``, the tests, the bench
and the compose file). Where the migrating role is not (a managed database), nothing changes but the speed of
filtered queues, and the migration says so.

Revision ID: d4a8c2e6f1b3
Revises: c9e1f3a5b7d2
Create Date: 2026-12-12 09:30:00+00:00
"""

from alembic import op

revision = "d4a8c2e6f1b3"
down_revision = "c9e1f3a5b7d2"
branch_labels = None
depends_on = None


def _as_superuser(statement: str, otherwise: str) -> None:
    op.execute(
        "DO $$ BEGIN "
        "IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN "
        f"{statement}; "
        f"ELSE RAISE NOTICE '{otherwise}'; END IF; END $$"
    )


def upgrade() -> None:
    _as_superuser(
        "ALTER FUNCTION pg_catalog.enum_eq(anyenum, anyenum) LEAKPROOF",
        "enum_eq not marked LEAKPROOF (not a superuser): filtered queues will not use indexes on enum columns",
    )


def downgrade() -> None:
    _as_superuser("ALTER FUNCTION pg_catalog.enum_eq(anyenum, anyenum) NOT LEAKPROOF", "enum_eq left as it was")
