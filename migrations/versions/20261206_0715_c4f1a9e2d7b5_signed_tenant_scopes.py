"""Signed tenant scopes: the row-level security functions grant nothing unless the scope carries a valid HMAC.

Before this revision any session of the app's role could ``set_config('app.system', 'on')`` (or name any bureaus in
``app.readable``) and read everything: an SQL injection would defeat the second wall. Now the settings count only
with ``app.scope_sig``, an HMAC under a key kept in ``portal_private`` (unreadable by the app's role).

Revision ID: c4f1a9e2d7b5
Revises: e5a17c0ffee1
Create Date: 2026-12-06 07:15:00+00:00
"""

from alembic import op

from tenants.rls import FUNCTIONS_SQL, SCOPE_FUNCTIONS_SQL, SIGNED_SCOPE_SQL

revision = "c4f1a9e2d7b5"
down_revision = "e5a17c0ffee1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(SIGNED_SCOPE_SQL)


def downgrade() -> None:
    op.execute(FUNCTIONS_SQL)
    op.execute(SCOPE_FUNCTIONS_SQL)
    op.execute("DROP FUNCTION IF EXISTS portal_scope_valid()")
    op.execute("DROP SCHEMA IF EXISTS portal_private CASCADE")
