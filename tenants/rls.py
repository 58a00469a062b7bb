"""PostgreSQL row-level security: the second wall behind ``tenants.scoping``.

The application connects as a member of ``portal_app``, which owns nothing and cannot bypass RLS. Each transaction
carries ``app.readable`` (bureaus it may read), ``app.tenant_id`` (the bureau that acts) and ``app.system``
(workers and commands only). An unset scope reads and writes nothing: it fails closed.

The app role may set any custom setting (``set_config`` needs no privilege), so the settings alone would be no wall
against SQL injection. Every scope is therefore signed: ``app.scope_sig`` is HMAC-SHA256 of the backend's process id
and the three settings, under a key derived from ``SECRET_KEY`` that lives in the application and, for checking, in
``portal_private.scope_key`` (a schema the app role cannot read). The policies' functions (``SECURITY DEFINER``,
owned by the schema owner) grant nothing unless the signature matches; a forged or replayed scope reads and writes
nothing. ``portal db upgrade`` installs the key (``portal.dbsetup.install_scope_key``).
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

# The policies call these through scalar sub-selects, so PostgreSQL evaluates them once per query (an InitPlan)
# instead of re-reading and re-parsing the settings for every row (5-7 us a row: seconds on a province dashboard).
SCOPE_FUNCTIONS_SQL = """
CREATE OR REPLACE FUNCTION portal_is_system() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('app.system', true), '') = 'on'
$$;
CREATE OR REPLACE FUNCTION portal_readable_ids() RETURNS integer[] LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('app.readable', true), ''), '{}')::integer[]
$$;
CREATE OR REPLACE FUNCTION portal_acting_id() RETURNS integer LANGUAGE sql STABLE AS $$
  SELECT nullif(current_setting('app.tenant_id', true), '')::integer
$$;
"""
DROP_SCOPE_FUNCTIONS_SQL = """
DROP FUNCTION IF EXISTS portal_acting_id();
DROP FUNCTION IF EXISTS portal_readable_ids();
DROP FUNCTION IF EXISTS portal_is_system();
"""
READ_CHECK = "(SELECT portal_is_system()) OR tenant_id = ANY ((SELECT portal_readable_ids())::integer[])"
WRITE_CHECK = "(SELECT portal_is_system()) OR tenant_id = (SELECT portal_acting_id())"

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


# The signed versions (revision 2026-12-06): every function answers "nothing" unless ``portal_scope_valid()``.
SIGNED_SCOPE_SQL = """
CREATE SCHEMA IF NOT EXISTS portal_private;
REVOKE ALL ON SCHEMA portal_private FROM PUBLIC;
CREATE TABLE IF NOT EXISTS portal_private.scope_key (
  id integer PRIMARY KEY CHECK (id = 1),
  inner_pad bytea NOT NULL,
  outer_pad bytea NOT NULL
);
REVOKE ALL ON portal_private.scope_key FROM PUBLIC;
CREATE OR REPLACE FUNCTION portal_scope_valid() RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
  SELECT coalesce((
    SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
      pg_backend_pid()::text
      || '|' || coalesce(current_setting('app.system', true), '')
      || '|' || coalesce(current_setting('app.tenant_id', true), '')
      || '|' || coalesce(current_setting('app.readable', true), ''), 'UTF8'))), 'hex')
    FROM portal_private.scope_key k WHERE k.id = 1
  ) = current_setting('app.scope_sig', true), false)
$$;
REVOKE ALL ON FUNCTION portal_scope_valid() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION portal_scope_valid() TO PUBLIC;
CREATE OR REPLACE FUNCTION portal_is_system() RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT public.portal_scope_valid() AND coalesce(current_setting('app.system', true), '') = 'on'
$$;
CREATE OR REPLACE FUNCTION portal_readable_ids() RETURNS integer[]
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT CASE WHEN public.portal_scope_valid()
    THEN coalesce(nullif(current_setting('app.readable', true), ''), '{}')::integer[] ELSE '{}'::integer[] END
$$;
CREATE OR REPLACE FUNCTION portal_acting_id() RETURNS integer
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT CASE WHEN public.portal_scope_valid() THEN nullif(current_setting('app.tenant_id', true), '')::integer END
$$;
CREATE OR REPLACE FUNCTION portal_can_read(t integer) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT public.portal_is_system() OR t = ANY (public.portal_readable_ids())
$$;
CREATE OR REPLACE FUNCTION portal_can_write(t integer) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog AS $$
  SELECT public.portal_is_system() OR t = public.portal_acting_id()
$$;
-- Nobody but the owner creates objects in public: no look-alike function or operator can be slipped in.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
"""
# The same checks in PL/pgSQL (revision 2026-12-06 10:00). Every policy of a statement calls these through its own
# scalar sub-select, an UPDATE up to eight of them; SQL functions that cannot be inlined (SECURITY DEFINER, SET
# search_path) plan their body again at each call site: about 0.1 ms each, most of PostgreSQL's time in a
# submission. PL/pgSQL keeps its plans for the session: about 0.015 ms a call. Same inputs, same answers.
# ``CREATE OR REPLACE`` may change the language: the policies that call them stay as they are.
SIGNED_SCOPE_PLPGSQL = """
CREATE OR REPLACE FUNCTION portal_scope_valid() RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $$
DECLARE
  expected text;
BEGIN
  SELECT encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
      pg_backend_pid()::text
      || '|' || coalesce(current_setting('app.system', true), '')
      || '|' || coalesce(current_setting('app.tenant_id', true), '')
      || '|' || coalesce(current_setting('app.readable', true), ''), 'UTF8'))), 'hex')
    INTO expected FROM portal_private.scope_key k WHERE k.id = 1;
  RETURN coalesce(expected = current_setting('app.scope_sig', true), false);
END
$$;
REVOKE ALL ON FUNCTION portal_scope_valid() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION portal_scope_valid() TO PUBLIC;
CREATE OR REPLACE FUNCTION portal_is_system() RETURNS boolean
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
BEGIN
  RETURN public.portal_scope_valid() AND coalesce(current_setting('app.system', true), '') = 'on';
END
$$;
CREATE OR REPLACE FUNCTION portal_readable_ids() RETURNS integer[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
BEGIN
  IF public.portal_scope_valid() THEN
    RETURN coalesce(nullif(current_setting('app.readable', true), ''), '{}')::integer[];
  END IF;
  RETURN '{}'::integer[];
END
$$;
CREATE OR REPLACE FUNCTION portal_acting_id() RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog AS $$
BEGIN
  IF public.portal_scope_valid() THEN
    RETURN nullif(current_setting('app.tenant_id', true), '')::integer;
  END IF;
  RETURN NULL;
END
$$;
"""
# The custom settings the policies read: a test sets each of them as the app role and must see nothing more.
POLICY_SETTINGS = ("app.system", "app.tenant_id", "app.readable", "app.scope_sig")


def _ensure_scope_functions(op) -> None:
    """Create the scope functions only where missing: a later migration must not undo the signed versions."""
    op.execute(
        "DO $do$ BEGIN IF NOT EXISTS (SELECT FROM pg_proc WHERE proname = 'portal_is_system') THEN "
        + "EXECUTE "
        + "$sql$"
        + SCOPE_FUNCTIONS_SQL
        + "$sql$; END IF; END $do$"
    )


def enable_rls(op, table: str) -> None:
    """Turn on row-level security for a tenant-owned ``table`` with read/write policies."""
    # Idempotent, so that every migration stands alone whatever revision a database comes from.
    _ensure_scope_functions(op)
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    create_policies(op, table, READ_CHECK, WRITE_CHECK)


def create_policies(op, table: str, read: str, write: str) -> None:
    op.execute(f"CREATE POLICY {table}_read ON {table} FOR SELECT USING ({read})")
    op.execute(f"CREATE POLICY {table}_insert ON {table} FOR INSERT WITH CHECK ({write})")
    op.execute(f"CREATE POLICY {table}_update ON {table} FOR UPDATE USING ({write}) WITH CHECK ({write})")
    op.execute(f"CREATE POLICY {table}_delete ON {table} FOR DELETE USING ({write})")


def drop_policies(op, table: str) -> None:
    for name in ("read", "insert", "update", "delete"):
        op.execute(f"DROP POLICY IF EXISTS {table}_{name} ON {table}")


def disable_rls(op, table: str) -> None:
    drop_policies(op, table)
    op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
