"""PostgreSQL row-level security: the second wall behind ``tenants.scoping``.

The application connects as a member of ``portal_app``, which owns nothing and cannot bypass RLS. Each transaction
carries ``app.readable`` (bureaus it may read), ``app.tenant_id`` (the bureau that acts) and ``app.system``
(workers and commands only). An unset scope reads and writes nothing: it fails closed.
Migrations call ``enable_rls(op, table)`` for every tenant-owned table; a test checks that none is missed.
"""

from __future__ import annotations

APP_ROLE = "portal_app"

FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION portal_can_read(t integer) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.system', true), '') = 'on'
      OR t = ANY (coalesce(nullif(current_setting('app.readable', true), ''), '{}')::integer[])
$$;
CREATE OR REPLACE FUNCTION portal_can_write(t integer) RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.system', true), '') = 'on'
      OR t::text = coalesce(current_setting('app.tenant_id', true), '')
$$;
"""

DROP_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS portal_can_write(integer);
DROP FUNCTION IF EXISTS portal_can_read(integer);
"""

APP_ROLE_SQL = f"""
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
    CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
  END IF;
END $$;
GRANT USAGE ON SCHEMA public TO {APP_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE};
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};
"""


def enable_rls(op, table: str) -> None:
    """Turn on row-level security for a tenant-owned ``table`` with read/write policies."""
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY {table}_read ON {table} FOR SELECT USING (portal_can_read(tenant_id))")
    op.execute(f"CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK (portal_can_write(tenant_id))")
    op.execute(
        f"CREATE POLICY {table}_update ON {table} FOR UPDATE"
        " USING (portal_can_write(tenant_id)) WITH CHECK (portal_can_write(tenant_id))"
    )
    op.execute(f"CREATE POLICY {table}_delete ON {table} FOR DELETE USING (portal_can_write(tenant_id))")


def disable_rls(op, table: str) -> None:
    for name in ("read", "insert", "update", "delete"):
        op.execute(f"DROP POLICY IF EXISTS {table}_{name} ON {table}")
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
