"""The row-level security scope functions in PL/pgSQL: the same checks, planned once per session.

Every policy calls ``portal_is_system()``, ``portal_readable_ids()`` or ``portal_acting_id()`` through a scalar
sub-select, and each of them ``portal_scope_valid()``: as SQL functions that cannot be inlined they planned their
bodies at every call site, about 0.1 ms each (an UPDATE of a case evaluates eight). See ``tenants.rls``.

Revision ID: f2b8d4e6a1c3
Revises: b8e2d4f6a1c3
Create Date: 2026-12-06 10:00:00+00:00
"""

from alembic import op

from tenants.rls import SIGNED_SCOPE_PLPGSQL, SIGNED_SCOPE_SQL

revision = "f2b8d4e6a1c3"
down_revision = "b8e2d4f6a1c3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(SIGNED_SCOPE_PLPGSQL)


def downgrade() -> None:
    op.execute(SIGNED_SCOPE_SQL)
