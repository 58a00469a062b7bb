"""Row-level security policies that evaluate the scope once per query instead of once per row.

Revision ID: 7c1f0e2a9b3d
Revises: 5d24019ef9ab
Create Date: 2026-11-27 16:00:00+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import READ_CHECK, SCOPE_FUNCTIONS_SQL, WRITE_CHECK, create_policies, drop_policies

revision = "7c1f0e2a9b3d"
down_revision = "5d24019ef9ab"
branch_labels = None
depends_on = None

_OLD_READ = "portal_can_read(tenant_id)"
_OLD_WRITE = "portal_can_write(tenant_id)"


def _rls_tables() -> list[str]:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relrowsecurity ORDER BY c.relname"
        )
    )
    return [r[0] for r in rows]


def upgrade() -> None:
    op.execute(SCOPE_FUNCTIONS_SQL)
    for table in _rls_tables():
        drop_policies(op, table)
        create_policies(op, table, READ_CHECK, WRITE_CHECK)


def downgrade() -> None:
    for table in _rls_tables():
        drop_policies(op, table)
        create_policies(op, table, _OLD_READ, _OLD_WRITE)
