"""Issue 14: stand-ins by power, the signature clock, meetings of their own, the general office, major cases.

- ``staff_absences``: what the declared stand-in may do (approve the slip; sign the formal opinion) (§四.4).
- ``deadline_step``: ``signature`` (the petitions leader's signature, a bureau rule) and ``meeting_decision``
  (the leader's decision on a proposed coordination meeting, a bureau rule), with their rows in ``step_rules``.
- ``meetings``: a meeting is proposed, decided, then held; it concerns zero or more cases (``case_ids``), so it no
  longer hangs on one case. Existing meetings were approved when convened: they become ``approved`` (``held`` when
  their minutes are recorded), their case joins ``case_ids``.
- ``unit_kind``: ``general_office``; the province gets its 办公室, which registers the committee's transfers (§四.3).
- ``cases.coordinating_leader_id``: the leader who coordinates a case confirmed major (§二.4).

Revision ID: e4a7c2b91d05
Revises: e5c3a9d1f7b2
Create Date: 2026-12-06 09:10:00+00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "e4a7c2b91d05"
down_revision = "e5c3a9d1f7b2"
branch_labels = None
depends_on = None

BUREAU_RULE = "本局规定"
NEW_RULES = [
    ("signature", 2, "working_days", "petitions_leader", BUREAU_RULE),
    ("meeting_decision", 2, "working_days", "petitions_leader", BUREAU_RULE),
]


def upgrade() -> None:
    # New enum values must be committed before a row may use them.
    with op.get_context().autocommit_block():
        op.execute("ALTER TYPE deadline_step ADD VALUE IF NOT EXISTS 'signature'")
        op.execute("ALTER TYPE deadline_step ADD VALUE IF NOT EXISTS 'meeting_decision'")
        op.execute("ALTER TYPE unit_kind ADD VALUE IF NOT EXISTS 'general_office'")

    op.add_column("staff_absences", sa.Column("stand_in_slip", sa.Boolean(), server_default="true", nullable=False))
    op.add_column("staff_absences", sa.Column("stand_in_signing", sa.Boolean(), server_default="false", nullable=False))
    op.add_column("cases", sa.Column("coordinating_leader_id", sa.BigInteger(), nullable=True))

    step_rules = sa.table(
        "step_rules",
        sa.column("step", postgresql.ENUM(name="deadline_step", create_type=False)),
        sa.column("amount", sa.Integer),
        sa.column("unit", sa.String),
        sa.column("owed_by", sa.String),
        sa.column("ref", sa.String),
    )
    op.bulk_insert(
        step_rules, [dict(zip(("step", "amount", "unit", "owed_by", "ref"), r, strict=True)) for r in NEW_RULES]
    )

    for name, column in (
        ("reason", sa.Column("reason", sa.Text(), nullable=True)),
        ("status", sa.Column("status", sa.String(length=10), server_default="proposed", nullable=False)),
        ("proposed_by_id", sa.Column("proposed_by_id", sa.BigInteger(), nullable=True)),
        ("proposed_on", sa.Column("proposed_on", sa.Date(), nullable=True)),
        ("leader_id", sa.Column("leader_id", sa.BigInteger(), nullable=True)),
        ("decision_due_on", sa.Column("decision_due_on", sa.Date(), nullable=True)),
        (
            "decision_explanation",
            sa.Column(
                "decision_explanation",
                postgresql.JSONB(astext_type=sa.Text()),
                server_default="{}",
                nullable=False,
            ),
        ),
        ("decided_by_id", sa.Column("decided_by_id", sa.BigInteger(), nullable=True)),
        ("decided_at", sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True)),
        ("decision_comment", sa.Column("decision_comment", sa.Text(), nullable=True)),
        ("minutes_by_id", sa.Column("minutes_by_id", sa.BigInteger(), nullable=True)),
    ):
        assert column.name == name
        op.add_column("meetings", column)
    op.execute(
        """
        UPDATE meetings SET
          case_ids = CASE WHEN case_id = ANY(case_ids) THEN case_ids ELSE array_prepend(case_id, case_ids) END,
          status = CASE WHEN recorded_at IS NULL THEN 'approved' ELSE 'held' END,
          leader_id = approved_by_id,
          decided_by_id = approved_by_id,
          proposed_on = created_at::date
        """
    )
    op.drop_constraint("fk_meetings_tenant_id_case_id_cases", "meetings", type_="foreignkey")
    op.drop_column("meetings", "case_id")
    op.drop_column("meetings", "approved_by_id")
    op.create_check_constraint(
        op.f("ck_meetings_status"), "meetings", "status IN ('proposed', 'approved', 'declined', 'held')"
    )
    op.create_check_constraint(op.f("ck_meetings_units"), "meetings", "cardinality(unit_ids) > 0")
    op.create_index("ix_meetings_tenant_id_status", "meetings", ["tenant_id", "status"])

    # The province's general office (办公室), where it has none yet. The row is written as the system.
    op.execute("SET LOCAL app.system = 'on'")
    op.execute(
        """
        INSERT INTO units (tenant_id, code, name, kind)
        SELECT b.id, 'general_office', '办公室', 'general_office'
        FROM bureaus b
        WHERE b.parent_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM units u WHERE u.tenant_id = b.id AND u.code = 'general_office')
        """
    )


def downgrade() -> None:
    op.execute("SET LOCAL app.system = 'on'")
    op.execute(
        "DELETE FROM units WHERE kind = 'general_office' AND NOT EXISTS "
        "(SELECT 1 FROM staff_users s WHERE s.tenant_id = units.tenant_id AND s.unit_id = units.id)"
    )
    op.drop_index("ix_meetings_tenant_id_status", table_name="meetings")
    op.drop_constraint(op.f("ck_meetings_units"), "meetings", type_="check")
    op.drop_constraint(op.f("ck_meetings_status"), "meetings", type_="check")
    # A meeting on no case, or not approved, cannot be expressed in the earlier shape.
    op.execute("DELETE FROM meetings WHERE cardinality(case_ids) = 0 OR status IN ('proposed', 'declined')")
    op.add_column("meetings", sa.Column("case_id", sa.BigInteger(), nullable=True))
    op.add_column("meetings", sa.Column("approved_by_id", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE meetings SET case_id = case_ids[1], case_ids = case_ids[2:], "
        "approved_by_id = COALESCE(decided_by_id, leader_id, 0)"
    )
    op.alter_column("meetings", "case_id", nullable=False)
    op.alter_column("meetings", "approved_by_id", nullable=False)
    op.create_foreign_key(
        "fk_meetings_tenant_id_case_id_cases", "meetings", "cases", ["tenant_id", "case_id"], ["tenant_id", "id"]
    )
    for name in (
        "minutes_by_id",
        "decision_comment",
        "decided_at",
        "decided_by_id",
        "decision_explanation",
        "decision_due_on",
        "leader_id",
        "proposed_on",
        "proposed_by_id",
        "status",
        "reason",
    ):
        op.drop_column("meetings", name)
    op.execute("DELETE FROM step_rules WHERE step IN ('signature', 'meeting_decision')")
    op.drop_column("cases", "coordinating_leader_id")
    op.drop_column("staff_absences", "stand_in_signing")
    op.drop_column("staff_absences", "stand_in_slip")
    # PostgreSQL cannot drop an enum value; the unused values stay (upgrade adds them IF NOT EXISTS).
