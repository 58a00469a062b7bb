"""Filters on enum columns are index conditions for the app's role, under row-level security (``enum_eq`` is
LEAKPROOF, migration ``d4a8c2e6f1b3``); the policies still decide which rows exist."""

from __future__ import annotations

from sqlalchemy import text

from tenants.scoping import TenantScope, apply_scope
from tenants.tree import get_bureau
from tests.helpers import app_role_engine


def test_a_state_filter_is_an_index_condition_for_the_app_role(settings, dbs):
    bureau_id = get_bureau(dbs, "220100").id
    engine = app_role_engine(settings)
    try:
        with engine.begin() as conn:
            assert conn.scalar(text("SELECT proleakproof FROM pg_proc WHERE proname = 'enum_eq'")) is True
            apply_scope(conn, TenantScope.single(bureau_id))
            conn.execute(text("SET LOCAL enable_seqscan = off"))  # a few rows: the planner would scan the table
            plan = "\n".join(
                row[0]
                for row in conn.execute(
                    text("EXPLAIN SELECT id FROM cases WHERE tenant_id = :b AND state = 'accepted'"),
                    {"b": bureau_id},
                )
            )
        assert "Index Cond" in plan and "state = 'accepted'::case_state" in plan.split("Index Cond", 1)[1], plan
    finally:
        engine.dispose()
