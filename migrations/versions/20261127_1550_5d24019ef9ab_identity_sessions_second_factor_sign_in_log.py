"""Identity: provider links, TOTP and recovery codes, the session registry, the bureau policy, the sign-in log.

Every table but ``sign_in_attempts`` is tenant-owned, with row-level security; ``sign_in_attempts`` holds the
attempts no bureau owns (unknown usernames, unmapped identities, citizens).

Revision ID: 5d24019ef9ab
Revises: 43333fe88bb9
Create Date: 2026-11-27 15:50:03.639232+00:00
"""

import sqlalchemy as sa
from alembic import op

from tenants.rls import disable_rls, enable_rls

revision = "5d24019ef9ab"
down_revision = "43333fe88bb9"
branch_labels = None
depends_on = None

TENANT_TABLES = (
    "identity_policies",
    "staff_sign_in_events",
    "staff_identities",
    "staff_recovery_codes",
    "staff_sessions",
    "staff_totp",
)


def upgrade() -> None:
    op.create_table(
        "sign_in_attempts",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("realm", sa.String(length=10), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("identifier", sa.String(length=300), nullable=True),
        sa.Column("bureau_hint", sa.String(length=40), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.CheckConstraint("realm IN ('staff', 'citizen')", name=op.f("ck_sign_in_attempts_realm")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sign_in_attempts")),
    )
    op.create_index("ix_sign_in_attempts_at", "sign_in_attempts", ["at"], unique=False)
    op.create_table(
        "identity_policies",
        sa.Column("second_factor", sa.String(length=30), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_by", sa.BigInteger(), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "second_factor IN ('leaders_and_admins', 'all_staff')", name=op.f("ck_identity_policies_second_factor")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_identity_policies_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_identity_policies")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_identity_policies_tenant_id")),
    )
    op.create_table(
        "staff_sign_in_events",
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=30), nullable=False),
        sa.Column("second_factor", sa.String(length=20), nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_sign_in_events_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_sign_in_events")),
    )
    op.create_index("ix_staff_sign_in_events_tenant_id_at", "staff_sign_in_events", ["tenant_id", "at"], unique=False)
    op.create_table(
        "staff_identities",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("issuer", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_staff_identities_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_identities_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_identities")),
        sa.UniqueConstraint("issuer", "subject", name=op.f("uq_staff_identities_issuer_subject")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "issuer", name=op.f("uq_staff_identities_tenant_id_user_id_issuer")
        ),
    )
    op.create_table(
        "staff_recovery_codes",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_staff_recovery_codes_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_recovery_codes_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_recovery_codes")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", "code_hash", name=op.f("uq_staff_recovery_codes_tenant_id_user_id_code_hash")
        ),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("second_factor", sa.String(length=20), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("id_token_enc", sa.LargeBinary(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_reason", sa.String(length=20), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "end_reason IS NULL OR end_reason IN"
            " ('signed_out', 'idle', 'absolute', 'ended_by_user', 'everywhere', 'account_changed')",
            name=op.f("ck_staff_sessions_end_reason"),
        ),
        sa.CheckConstraint("method IN ('password', 'sso')", name=op.f("ck_staff_sessions_method")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_staff_sessions_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_sessions_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_sessions")),
    )
    op.create_index("ix_staff_sessions_key_hash", "staff_sessions", ["key_hash"], unique=True)
    op.create_index(
        "ix_staff_sessions_tenant_id_user_id_created_at",
        "staff_sessions",
        ["tenant_id", "user_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "staff_totp",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_step", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["staff_users.tenant_id", "staff_users.id"],
            name=op.f("fk_staff_totp_tenant_id_user_id_staff_users"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_totp_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_totp")),
        sa.UniqueConstraint("tenant_id", "user_id", name=op.f("uq_staff_totp_tenant_id_user_id")),
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)


def downgrade() -> None:
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_table("staff_totp")
    op.drop_index("ix_staff_sessions_tenant_id_user_id_created_at", table_name="staff_sessions")
    op.drop_index("ix_staff_sessions_key_hash", table_name="staff_sessions")
    op.drop_table("staff_sessions")
    op.drop_table("staff_recovery_codes")
    op.drop_table("staff_identities")
    op.drop_index("ix_staff_sign_in_events_tenant_id_at", table_name="staff_sign_in_events")
    op.drop_table("staff_sign_in_events")
    op.drop_table("identity_policies")
    op.drop_index("ix_sign_in_attempts_at", table_name="sign_in_attempts")
    op.drop_table("sign_in_attempts")
