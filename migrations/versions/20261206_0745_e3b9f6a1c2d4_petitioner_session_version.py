"""Petitioner sessions can be ended: a session version that signing out raises.

Revision ID: e3b9f6a1c2d4
Revises: d7a2c5e8f1b3
Create Date: 2026-12-06 07:45:00+00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "e3b9f6a1c2d4"
down_revision = "d7a2c5e8f1b3"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("petitioners", sa.Column("session_version", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.drop_column("petitioners", "session_version")
