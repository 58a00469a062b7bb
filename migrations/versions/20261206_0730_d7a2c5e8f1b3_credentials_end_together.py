"""Credentials end together: forced password change, per-account second-factor delay, idle API tokens.

Revision ID: d7a2c5e8f1b3
Revises: c4f1a9e2d7b5
Create Date: 2026-12-06 07:30:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d7a2c5e8f1b3"
down_revision = "c4f1a9e2d7b5"
branch_labels = None
depends_on = None


_OLD_REASONS = ("signed_out", "idle", "absolute", "ended_by_user", "everywhere", "account_changed")
_NEW_REASONS = (*_OLD_REASONS, "password_changed", "password_reset", "deactivated", "roles_changed")


def _reasons_check(reasons: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE staff_sessions DROP CONSTRAINT ck_staff_sessions_end_reason")
    op.create_check_constraint(
        "end_reason",
        "staff_sessions",
        "end_reason IS NULL OR end_reason IN (" + ", ".join(f"'{r}'" for r in reasons) + ")",
    )


def upgrade() -> None:
    _reasons_check(_NEW_REASONS)
    op.add_column(
        "staff_users", sa.Column("must_change_password", sa.Boolean(), server_default="false", nullable=False)
    )
    op.add_column("staff_users", sa.Column("second_factor_failures", sa.Integer(), server_default="0", nullable=False))
    op.add_column("staff_users", sa.Column("second_factor_wait_until", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("api_tokens", sa.Column("revoke_reason", sa.String(length=30), nullable=True))


def downgrade() -> None:
    op.execute(
        "UPDATE staff_sessions SET end_reason = 'account_changed'"
        " WHERE end_reason IN ('password_changed', 'password_reset', 'deactivated', 'roles_changed')"
    )
    _reasons_check(_OLD_REASONS)
    op.drop_column("api_tokens", "revoke_reason")
    op.drop_column("api_tokens", "last_used_at")
    op.drop_column("staff_users", "second_factor_wait_until")
    op.drop_column("staff_users", "second_factor_failures")
    op.drop_column("staff_users", "must_change_password")
