"""The tracking stamp as one function call: the public read path's only statement for a kept page.

``portal_case_stamp(number)`` returns the stamp of one case number (registry, version, state, the access code's
keyed hash, the reference version) under a system scope that lives only inside the call: the function's ``SET``
clauses restore the four scope settings when it returns, so a caller (even an injected statement) keeps no
wider scope than it had. Called outside the ORM session on an autocommit connection
(``portal.petitioners.tracking.StampReader``): one round trip instead of a ping, a scope statement, the look-up and
a rollback.

Revision ID: c9e1f3a5b7d2
Revises: a6d3e9f5b241
Create Date: 2026-12-12 09:00:00+00:00
"""

from alembic import op

from tenants.rls import APP_ROLE

revision = "c9e1f3a5b7d2"
down_revision = "a6d3e9f5b241"
branch_labels = None
depends_on = None

STAMP_SQL = """
CREATE FUNCTION portal_case_stamp(p_number text)
RETURNS TABLE (number text, tenant_id integer, case_id bigint, version integer, updated_at timestamptz,
               state text, intake text, delivered_on date, reference_version bigint, access_code_hash text)
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = public, pg_catalog
SET app.system = 'on' SET app.tenant_id = '' SET app.readable = '' SET app.scope_sig = ''
AS $$
BEGIN
  -- The signature portal_scope_valid() expects for this backend and these settings (tenants.rls).
  PERFORM set_config('app.scope_sig', encode(sha256(k.outer_pad || sha256(k.inner_pad || convert_to(
      pg_backend_pid()::text || '|on||', 'UTF8'))), 'hex'), true)
    FROM portal_private.scope_key k WHERE k.id = 1;
  RETURN QUERY
    SELECT n.number::text, n.tenant_id, n.case_id, c.version, c.updated_at, c.state::text, c.intake::text,
           c.delivered_on, (SELECT v.version FROM reference_version v WHERE v.id = 1), c.access_code_hash::text
      FROM case_numbers n JOIN cases c ON c.tenant_id = n.tenant_id AND c.id = n.case_id
     WHERE n.number = p_number;
END
$$;
REVOKE ALL ON FUNCTION portal_case_stamp(text) FROM PUBLIC;
"""


def upgrade() -> None:
    op.execute(STAMP_SQL)
    op.execute(
        f"DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN "
        f"GRANT EXECUTE ON FUNCTION portal_case_stamp(text) TO {APP_ROLE}; END IF; END $$"
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS portal_case_stamp(text)")
