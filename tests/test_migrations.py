"""Migrations: one head, a clean round trip, agreement with the models, and RLS on every tenant-owned table."""

import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, pool, text

import portal.models  # noqa: F401  (every model in the metadata)
from portal.db import Base, tenant_owned_models
from portal.dbsetup import drop_database, ensure_database
from portal.migrate import downgrade, heads, upgrade


def test_single_head():
    assert len(heads()) == 1


@pytest.fixture(scope="module")
def fresh_url(services):
    """A database of its own, dropped afterwards (the run's shared database stays untouched)."""
    name = f"portal_migrations_{uuid.uuid4().hex[:8]}"
    url = ensure_database(services["admin_url"], name)
    yield url
    drop_database(services["admin_url"], name)


def snapshot(url: str) -> dict[str, set[str]]:
    """What the migrations may leave behind in the public schema."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        found = {
            "tables": set(conn.scalars(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'"))),
            "enums": set(
                conn.scalars(
                    text(
                        "SELECT t.typname FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace"
                        " WHERE n.nspname = 'public' AND t.typtype = 'e'"
                    )
                )
            ),
            "functions": set(
                conn.scalars(
                    text(
                        "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                        " WHERE n.nspname = 'public' AND p.proname LIKE 'portal\\_%'"
                        " AND p.proname <> 'portal_refuse_change'"
                    )
                )
            ),
            "version": set(conn.scalars(text("SELECT version_num FROM alembic_version")))
            if conn.scalar(text("SELECT to_regclass('public.alembic_version')"))
            else set(),
        }
    engine.dispose()
    return found


def test_upgrade_downgrade_upgrade(fresh_url):
    upgrade(fresh_url)
    up = snapshot(fresh_url)
    assert {"bureaus", "units", "staff_users", "alembic_version"} <= up["tables"]
    assert {"bureau_level", "unit_kind", "staff_role"} <= up["enums"]
    assert up["functions"] == {
        "portal_can_read",
        "portal_can_write",
        "portal_is_system",
        "portal_readable_ids",
        "portal_acting_id",
        "portal_scope_valid",
        "portal_audit_guard",
        "portal_bump_reference_version",
        "portal_deadline_due_set",
        "portal_case_stamp",
    }
    assert up["version"] == set(heads())

    downgrade(fresh_url, "base")
    down = snapshot(fresh_url)
    assert down["tables"] <= {"alembic_version"}  # Alembic keeps its (now empty) bookkeeping table
    assert down["version"] == set()
    assert down["enums"] == set()
    assert down["functions"] == set()

    upgrade(fresh_url)
    assert snapshot(fresh_url) == up


def test_models_and_migrations_agree(fresh_url):
    upgrade(fresh_url)
    engine = create_engine(fresh_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        differences = compare_metadata(context, Base.metadata)
    engine.dispose()
    assert differences == [], "\n".join(map(str, differences))


def test_every_tenant_owned_table_has_forced_rls_and_four_policies(fresh_url):
    upgrade(fresh_url)
    tables = sorted(model.__tablename__ for model in tenant_owned_models())
    assert {"units", "staff_users"} <= set(tables)
    engine = create_engine(fresh_url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        for table in tables:
            rls, forced = conn.execute(
                text("SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = to_regclass(:t)"),
                {"t": f"public.{table}"},
            ).one()
            assert (rls, forced) == (True, True), table
            policies = conn.execute(
                text("SELECT cmd, qual, with_check FROM pg_policies WHERE schemaname = 'public' AND tablename = :t"),
                {"t": table},
            ).all()
            assert sorted(p.cmd for p in policies) == ["DELETE", "INSERT", "SELECT", "UPDATE"], table
            by_cmd = {p.cmd: p for p in policies}
            # The scope is read once per query through scalar sub-selects (tenants.rls READ_CHECK / WRITE_CHECK).
            assert "portal_readable_ids()" in by_cmd["SELECT"].qual
            assert "portal_acting_id()" in by_cmd["INSERT"].with_check
            assert "portal_acting_id()" in by_cmd["UPDATE"].qual
            assert "portal_acting_id()" in by_cmd["UPDATE"].with_check
            assert "portal_acting_id()" in by_cmd["DELETE"].qual
    engine.dispose()
