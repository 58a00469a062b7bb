"""Sessions ended by the security administrator: a reason of their own (``ended_by_admin``).

Revision ID: b8e2d4f6a1c3
Revises: b7d3e5a1c9f2
Create Date: 2026-12-06 10:00:00+00:00
"""

from alembic import op

revision = "b8e2d4f6a1c3"
down_revision = "b7d3e5a1c9f2"
branch_labels = None
depends_on = None

_OLD_REASONS = (
    "signed_out",
    "idle",
    "absolute",
    "ended_by_user",
    "everywhere",
    "account_changed",
    "password_changed",
    "password_reset",
    "deactivated",
    "roles_changed",
)
_NEW_REASONS = (*_OLD_REASONS, "ended_by_admin")


def _reasons_check(reasons: tuple[str, ...]) -> None:
    op.execute("ALTER TABLE staff_sessions DROP CONSTRAINT ck_staff_sessions_end_reason")
    op.create_check_constraint(
        "end_reason",
        "staff_sessions",
        "end_reason IS NULL OR end_reason IN (" + ", ".join(f"'{r}'" for r in reasons) + ")",
    )


def upgrade() -> None:
    _reasons_check(_NEW_REASONS)


def downgrade() -> None:
    op.execute("UPDATE staff_sessions SET end_reason = 'account_changed' WHERE end_reason = 'ended_by_admin'")
    _reasons_check(_OLD_REASONS)
