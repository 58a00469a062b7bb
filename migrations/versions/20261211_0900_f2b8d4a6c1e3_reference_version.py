"""Issue 16: the version row of the reference data that web processes cache (``portal.memo``).

``reference_version`` holds one number. A statement-level trigger on each cached reference table (the bureau tree,
units, staff and their absences, time limits, the calendar, contact blocks) sets it to the writing transaction's
id, in that same transaction: a process that reads the number once per request knows whether its copies are
current, and no writer can forget to say so. A transaction id is never reused, so a number once replaced never
comes back (not even after TRUNCATE, which the tests use between tests).

Staff rows change on every sign-in (last login, failed attempts): only the columns the workflow reads count.
The function runs as its owner; the app role may read the row but not write it.

Revision ID: f2b8d4a6c1e3
Revises: f2b8d4e6a1c3
Create Date: 2026-12-11 09:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import APP_ROLE

revision = "f2b8d4a6c1e3"
down_revision = "f2b8d4e6a1c3"
branch_labels = None
depends_on = None

# Every table whose rows a web process keeps between requests (portal.memo's watched models).
TABLES = ("bureaus", "units", "step_rules", "calendar_years", "bureau_contacts", "staff_absences")
# staff_users: the columns the cached staff of a bureau hold (portal.cases.context.BureauStaff).
STAFF_COLUMNS = "tenant_id, unit_id, roles, active, oversees_unit_ids, display_name"

BUMP_SQL = """
CREATE FUNCTION portal_bump_reference_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_catalog AS $$
BEGIN
  INSERT INTO reference_version (id, version) VALUES (1, txid_current())
    ON CONFLICT (id) DO UPDATE SET version = excluded.version;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION portal_bump_reference_version() FROM PUBLIC;
"""


def upgrade() -> None:
    op.create_table(
        "reference_version",
        sa.Column("id", sa.SmallInteger(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_reference_version_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reference_version")),
    )
    op.execute("INSERT INTO reference_version (id, version) VALUES (1, txid_current())")
    # Read by every request; written only by the trigger function below (its owner's privileges).
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON reference_version FROM {APP_ROLE}; "
        f"GRANT SELECT ON reference_version TO {APP_ROLE}; END IF; END $$"
    )
    op.execute(BUMP_SQL)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER {table}_reference_version AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION portal_bump_reference_version()"
        )
    op.execute(
        f"CREATE TRIGGER staff_users_reference_version AFTER INSERT OR DELETE OR TRUNCATE "
        f"OR UPDATE OF {STAFF_COLUMNS} ON staff_users "
        "FOR EACH STATEMENT EXECUTE FUNCTION portal_bump_reference_version()"
    )


def downgrade() -> None:
    for table in (*TABLES, "staff_users"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_reference_version ON {table}")
    op.execute("DROP FUNCTION IF EXISTS portal_bump_reference_version()")
    op.drop_table("reference_version")
