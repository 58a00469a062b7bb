"""Cases, parties, append-only events, deadlines, side records, time-limit table, calendar years, outbox.

Revision ID: 0a0b534e148b
Revises: 68614ce81c0a
Create Date: 2026-11-27 15:27:49.816448+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from tenants.rls import disable_rls, enable_rls

revision = "0a0b534e148b"
down_revision = "68614ce81c0a"
branch_labels = None
depends_on = None


TENANT_TABLES = (
    "cases",
    "case_parties",
    "case_events",
    "deadlines",
    "material_requests",
    "meetings",
    "contact_records",
    "staff_absences",
    "outbox",
)
ENUM_TYPES = (
    "deadline_step",
    "case_kind",
    "intake_path",
    "case_state",
    "complexity",
    "outcome",
    "reject_reason",
    "opinion_kind",
)
# The regulation's time limits (DOMAIN.md); a deployment may change the rows, the code reads the table.
STEP_RULES = [
    ("acceptance", 15, "working_days", "petition_office", "§四.1"),
    ("whole_review", 30, "working_days", "bureau", "§三"),
    ("slip", 1, "days", "petition_office", "§四.4"),
    ("instruction", 5, "days", "approver", "§四.5"),
    ("dispatch", 1, "days", "petition_office", "§四.6"),
    ("division_review", 15, "working_days", "handling_unit", "§四.7"),
    ("approval", 2, "working_days", "business_leader", "§四.8"),
    ("revision", 5, "working_days", "handling_unit", "§四.9"),
    ("reply", 2, "working_days", "petition_office", "§四.10"),
    ("material_request", None, "days", "addressee", "§四.11"),
    ("escalation_window", 30, "days", "petitioner", "《信访条例》第三十四、三十五条"),
]
APPEND_ONLY_SQL = """
CREATE OR REPLACE FUNCTION portal_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END $$;
CREATE TRIGGER case_events_append_only BEFORE UPDATE OR DELETE ON case_events
  FOR EACH ROW EXECUTE FUNCTION portal_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON case_events FROM portal_app;
"""


def upgrade() -> None:
    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("holidays", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("workdays", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("year", name=op.f("pk_calendar_years")),
    )
    op.create_table(
        "step_rules",
        sa.Column(
            "step",
            sa.Enum(
                "acceptance",
                "whole_review",
                "slip",
                "instruction",
                "dispatch",
                "division_review",
                "approval",
                "revision",
                "reply",
                "material_request",
                "escalation_window",
                name="deadline_step",
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("owed_by", sa.String(length=30), nullable=False),
        sa.Column("ref", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("step", name=op.f("pk_step_rules")),
    )
    op.create_table(
        "case_numbers",
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_case_numbers_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("number", name=op.f("pk_case_numbers")),
    )
    op.create_table(
        "cases",
        sa.Column("number", sa.String(length=24), nullable=False),
        sa.Column("kind", sa.Enum("review", "re_review", name="case_kind"), nullable=False),
        sa.Column("intake", sa.Enum("online", "paper", "committee_transfer", name="intake_path"), nullable=False),
        sa.Column(
            "state",
            sa.Enum(
                "submitted",
                "not_accepted",
                "accepted",
                "awaiting_instruction",
                "instructed",
                "in_review",
                "awaiting_approval",
                "in_revision",
                "drafting_reply",
                "awaiting_signature",
                "replied",
                "reported",
                "withdrawn",
                name="case_state",
            ),
            nullable=False,
        ),
        sa.Column("complexity", sa.Enum("simple", "complex", "major", name="complexity"), nullable=True),
        sa.Column("outcome", sa.Enum("upheld", "changed", "partly_changed", name="outcome"), nullable=True),
        sa.Column(
            "reject_reason",
            sa.Enum(
                "litigation",
                "arbitration",
                "reconsideration",
                "repeat_after_re_review",
                "outside_scope",
                "other",
                name="reject_reason",
            ),
            nullable=True,
        ),
        sa.Column("disputed_bureau_id", sa.Integer(), nullable=False),
        sa.Column("disputed_kind", sa.Enum("handling", "review", "re_review", name="opinion_kind"), nullable=False),
        sa.Column("disputed_document_number", sa.String(length=100), nullable=False),
        sa.Column("disputed_issued_on", sa.Date(), nullable=False),
        sa.Column("disputed_received_on", sa.Date(), nullable=False),
        sa.Column("petitioner_name", sa.String(length=100), nullable=False),
        sa.Column("petitioner_id_hash", sa.String(length=64), nullable=True),
        sa.Column("request_text", sa.Text(), nullable=False),
        sa.Column("facts_text", sa.Text(), nullable=False),
        sa.Column("committee_document_number", sa.String(length=100), nullable=True),
        sa.Column("lead_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("assisting_unit_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("approver_id", sa.BigInteger(), nullable=True),
        sa.Column("opinion_needs_approval", sa.Boolean(), nullable=True),
        sa.Column("extension_used", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("extension_days", sa.Integer(), nullable=True),
        sa.Column("pending_extension_days", sa.Integer(), nullable=True),
        sa.Column("escalated", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("sensitive", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("late_application", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("repeat_of_case_number", sa.String(length=24), nullable=True),
        sa.Column("earlier_tenant_id", sa.Integer(), nullable=True),
        sa.Column("earlier_case_id", sa.BigInteger(), nullable=True),
        sa.Column("access_code_hash", sa.String(length=64), nullable=True),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("accepted_on", sa.Date(), nullable=True),
        sa.Column("replied_on", sa.Date(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("event_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_event_hash", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "extension_days IS NULL OR extension_days BETWEEN 1 AND 30", name=op.f("ck_cases_extension_cap")
        ),
        sa.ForeignKeyConstraint(
            ["disputed_bureau_id"], ["bureaus.id"], name=op.f("fk_cases_disputed_bureau_id_bureaus")
        ),
        sa.ForeignKeyConstraint(
            ["earlier_tenant_id", "earlier_case_id"], ["cases.tenant_id", "cases.id"], name="fk_cases_earlier_case"
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_cases_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cases")),
        sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_cases_tenant_id_number")),
    )
    op.create_index("ix_cases_petitioner_id_hash", "cases", ["petitioner_id_hash"], unique=False)
    op.create_index("ix_cases_tenant_id_received_on", "cases", ["tenant_id", "received_on"], unique=False)
    op.create_index("ix_cases_tenant_id_state", "cases", ["tenant_id", "state"], unique=False)
    op.create_table(
        "outbox",
        sa.Column("case_id", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name=op.f("ck_outbox_status")),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_outbox_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("tenant_id", "dedupe_key", name=op.f("uq_outbox_tenant_id_dedupe_key")),
    )
    op.create_index(
        "ix_outbox_pending", "outbox", ["next_attempt_at"], unique=False, postgresql_where=sa.text("status = 'pending'")
    )
    op.create_table(
        "staff_absences",
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("stand_in_id", sa.BigInteger(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_staff_absences_period")),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_staff_absences_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_staff_absences")),
    )
    op.create_index(op.f("ix_staff_absences_user_id"), "staff_absences", ["user_id"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=True),
        sa.Column("actor_name", sa.String(length=100), nullable=False),
        sa.Column("actor_bureau_id", sa.Integer(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state_before", sa.String(length=30), nullable=True),
        sa.Column("state_after", sa.String(length=30), nullable=False),
        sa.Column("fields", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=True),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_events_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_case_events_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("tenant_id", "case_id", "seq", name=op.f("uq_case_events_tenant_id_case_id_seq")),
    )
    op.create_table(
        "case_parties",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_enc", sa.LargeBinary(), nullable=True),
        sa.Column("email_enc", sa.LargeBinary(), nullable=True),
        sa.Column("address_enc", sa.LargeBinary(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.CheckConstraint(
            "role IN ('petitioner', 'joint_petitioner', 'representative')", name=op.f("ck_case_parties_role")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_case_parties_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_case_parties_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_parties")),
    )
    op.create_index("ix_case_parties_id_number_hash", "case_parties", ["id_number_hash"], unique=False)
    op.create_index("ix_case_parties_tenant_id_case_id", "case_parties", ["tenant_id", "case_id"], unique=False)
    op.create_table(
        "contact_records",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("party", sa.String(length=20), nullable=False),
        sa.Column("body_name", sa.String(length=200), nullable=True),
        sa.Column("contacted_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(length=200), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("recorded_by_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_contact_records_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_contact_records_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_contact_records")),
    )
    op.create_table(
        "deadlines",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("step", postgresql.ENUM(name="deadline_step", create_type=False), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("extended_days", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("provisional", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("explanation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("owed_by", sa.String(length=30), nullable=False),
        sa.Column("owed_unit_id", sa.BigInteger(), nullable=True),
        sa.Column("owed_user_id", sa.BigInteger(), nullable=True),
        sa.Column("owed_bureau_id", sa.Integer(), nullable=True),
        sa.Column("material_request_id", sa.BigInteger(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("close_reason", sa.String(length=40), nullable=True),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"], name=op.f("fk_deadlines_tenant_id_case_id_cases")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_deadlines_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_deadlines")),
    )
    op.create_index(
        "ix_deadlines_open_due_on", "deadlines", ["due_on"], unique=False, postgresql_where=sa.text("closed_at IS NULL")
    )
    op.create_index(
        "ix_deadlines_open_provisional",
        "deadlines",
        ["id"],
        unique=False,
        postgresql_where=sa.text("closed_at IS NULL AND provisional"),
    )
    op.create_index("ix_deadlines_tenant_id_case_id", "deadlines", ["tenant_id", "case_id"], unique=False)
    op.create_table(
        "material_requests",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("target_bureau_id", sa.Integer(), nullable=True),
        sa.Column("body_name", sa.String(length=200), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("requested_by_id", sa.BigInteger(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.Column("answer_attachment_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("answered_by", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["target_bureau_id"], ["bureaus.id"], name=op.f("fk_material_requests_target_bureau_id_bureaus")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"],
            ["cases.tenant_id", "cases.id"],
            name=op.f("fk_material_requests_tenant_id_case_id_cases"),
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_material_requests_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_material_requests")),
    )
    op.create_index(
        "ix_material_requests_open_target",
        "material_requests",
        ["target_bureau_id"],
        unique=False,
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.create_index(
        "ix_material_requests_tenant_id_case_id", "material_requests", ["tenant_id", "case_id"], unique=False
    )
    op.create_table(
        "meetings",
        sa.Column("case_id", sa.BigInteger(), nullable=False),
        sa.Column("topic", sa.String(length=200), nullable=False),
        sa.Column("meeting_on", sa.Date(), nullable=False),
        sa.Column("unit_ids", sa.ARRAY(sa.BigInteger()), nullable=False),
        sa.Column("case_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False),
        sa.Column("approved_by_id", sa.BigInteger(), nullable=False),
        sa.Column("minutes", sa.Text(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "case_id"], ["cases.tenant_id", "cases.id"], name=op.f("fk_meetings_tenant_id_case_id_cases")
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["bureaus.id"], name=op.f("fk_meetings_tenant_id_bureaus")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_meetings")),
    )
    op.add_column(
        "staff_users", sa.Column("oversees_unit_ids", sa.ARRAY(sa.BigInteger()), server_default="{}", nullable=False)
    )
    for table in TENANT_TABLES:
        enable_rls(op, table)
    op.execute(APPEND_ONLY_SQL)
    step_rules = sa.table(
        "step_rules",
        sa.column("step", postgresql.ENUM(name="deadline_step", create_type=False)),
        sa.column("amount", sa.Integer),
        sa.column("unit", sa.String),
        sa.column("owed_by", sa.String),
        sa.column("ref", sa.String),
    )
    op.bulk_insert(
        step_rules, [dict(zip(("step", "amount", "unit", "owed_by", "ref"), r, strict=True)) for r in STEP_RULES]
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER IF EXISTS case_events_append_only ON case_events")
    op.execute("DROP FUNCTION IF EXISTS portal_refuse_change()")
    for table in TENANT_TABLES:
        disable_rls(op, table)
    op.drop_column("staff_users", "oversees_unit_ids")
    op.drop_table("meetings")
    op.drop_index("ix_material_requests_tenant_id_case_id", table_name="material_requests")
    op.drop_index(
        "ix_material_requests_open_target",
        table_name="material_requests",
        postgresql_where=sa.text("answered_at IS NULL"),
    )
    op.drop_table("material_requests")
    op.drop_index("ix_deadlines_tenant_id_case_id", table_name="deadlines")
    op.drop_index(
        "ix_deadlines_open_provisional",
        table_name="deadlines",
        postgresql_where=sa.text("closed_at IS NULL AND provisional"),
    )
    op.drop_index("ix_deadlines_open_due_on", table_name="deadlines", postgresql_where=sa.text("closed_at IS NULL"))
    op.drop_table("deadlines")
    op.drop_table("contact_records")
    op.drop_index("ix_case_parties_tenant_id_case_id", table_name="case_parties")
    op.drop_index("ix_case_parties_id_number_hash", table_name="case_parties")
    op.drop_table("case_parties")
    op.drop_table("case_events")
    op.drop_index(op.f("ix_staff_absences_user_id"), table_name="staff_absences")
    op.drop_table("staff_absences")
    op.drop_index("ix_outbox_pending", table_name="outbox", postgresql_where=sa.text("status = 'pending'"))
    op.drop_table("outbox")
    op.drop_index("ix_cases_tenant_id_state", table_name="cases")
    op.drop_index("ix_cases_tenant_id_received_on", table_name="cases")
    op.drop_index("ix_cases_petitioner_id_hash", table_name="cases")
    op.drop_table("cases")
    op.drop_table("case_numbers")
    op.drop_table("step_rules")
    op.drop_table("calendar_years")
    for enum_type in ENUM_TYPES:
        op.execute(f"DROP TYPE IF EXISTS {enum_type}")
