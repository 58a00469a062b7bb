"""The second wall holds against the app's own database role: no custom setting it may set widens what it sees.

These tests connect as the app's login role with plain SQL (what an SQL injection could run) and try every custom
setting that the row-level security policies read, alone and together, forged and replayed.
"""

import re
from itertools import product

import psycopg
import pytest
from sqlalchemy import create_engine, pool, text

from portal.dbsetup import scope_key_from_secret
from tenants.rls import POLICY_SETTINGS
from tenants.scoping import TenantScope, scope_signature


@pytest.fixture
def bureaus(app, owner_engine):
    with owner_engine.connect() as conn:
        rows = conn.execute(text("SELECT tenant_id, count(*) FROM units GROUP BY tenant_id ORDER BY tenant_id")).all()
    assert len(rows) > 2
    return {row.tenant_id: row.count for row in rows}


def app_connection(database):
    url = database["app_url"].replace("postgresql+psycopg://", "postgresql://")
    return psycopg.connect(url, autocommit=False)


def set_settings(cur, values: dict[str, str]) -> None:
    for name, value in values.items():
        cur.execute("SELECT set_config(%s, %s, true)", (name, value))


def visible_units(cur) -> int:
    return cur.execute("SELECT count(*) FROM units").fetchone()[0]


def test_the_policies_read_only_the_known_settings(owner_engine):
    with owner_engine.connect() as conn:
        sources = conn.scalars(
            text(
                "SELECT p.prosrc FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = 'public' AND p.proname LIKE 'portal\\_%'"
            )
        ).all()
        quals = conn.execute(text("SELECT qual, with_check FROM pg_policies WHERE schemaname = 'public'")).all()
    text_ = "\n".join(sources) + "\n".join(f"{q} {w}" for q, w in quals)
    named = set(re.findall(r"current_setting\('([^']+)'", text_))
    assert named == set(POLICY_SETTINGS)


def test_no_setting_of_the_app_role_widens_its_view(database, bureaus, settings):
    every = "{" + ",".join(str(t) for t in bureaus) + "}"
    one = next(iter(bureaus))
    candidates = {
        "app.system": ["", "on", "true", "1"],
        "app.tenant_id": ["", str(one)],
        "app.readable": ["", every],
        "app.scope_sig": ["", "0" * 64, "forged"],
    }
    assert set(candidates) == set(POLICY_SETTINGS)
    with app_connection(database) as conn, conn.cursor() as cur:
        for combination in product(*candidates.values()):
            set_settings(cur, dict(zip(candidates, combination, strict=True)))
            assert visible_units(cur) == 0, combination
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute(
                    "INSERT INTO units (tenant_id, code, name, kind) VALUES (%s, 'x1', 'x', 'division')", (one,)
                )
            conn.rollback()


def test_a_signature_counts_only_for_its_own_values_and_backend(database, bureaus, settings):
    key = scope_key_from_secret(settings.secret_key)
    first, second = list(bureaus)[:2]
    scope = TenantScope.single(first)
    values = scope.gucs()
    with app_connection(database) as conn, conn.cursor() as cur:
        pid = conn.info.backend_pid
        # The genuine scope works: the wall lets the app in where it belongs.
        set_settings(cur, {**values, "app.scope_sig": scope_signature(key, pid, values)})
        assert visible_units(cur) == bureaus[first]
        # Widening any setting after signing voids the signature.
        cur.execute("SELECT set_config('app.readable', %s, true)", (f"{{{first},{second}}}",))
        assert visible_units(cur) == 0
        cur.execute("SELECT set_config('app.system', 'on', true)")
        assert visible_units(cur) == 0
        conn.rollback()
        # A signature seen on another connection (say in pg_stat_activity) does not work on this one.
        replayed = scope_signature(key, pid + 1, values)
        set_settings(cur, {**values, "app.scope_sig": replayed})
        assert visible_units(cur) == 0
        conn.rollback()
        # A system scope signed for this backend sees every bureau.
        system = TenantScope.system_wide().gucs()
        set_settings(cur, {**system, "app.scope_sig": scope_signature(key, pid, system)})
        assert visible_units(cur) == sum(bureaus.values())
        conn.rollback()


def test_the_app_role_cannot_read_the_key_or_replace_the_functions(database, bureaus):
    attempts = [
        "SELECT * FROM portal_private.scope_key",
        "CREATE OR REPLACE FUNCTION portal_scope_valid() RETURNS boolean LANGUAGE sql AS $$ SELECT true $$",
        "CREATE FUNCTION public.current_setting(text, boolean) RETURNS text LANGUAGE sql AS $$ SELECT 'on' $$",
        "ALTER TABLE units NO FORCE ROW LEVEL SECURITY",
        "SET ROLE postgres",
    ]
    with app_connection(database) as conn, conn.cursor() as cur:
        for statement in attempts:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                cur.execute(statement)
            conn.rollback()


def test_an_unsigned_application_sees_nothing(database, bureaus):
    """An engine that does not sign (no key) gets nothing, even with a system scope: it fails closed."""
    from sqlalchemy.orm import Session

    from tenants.scoping import system_scope

    engine = create_engine(database["app_url"], poolclass=pool.NullPool)
    with Session(engine) as session, system_scope(session):
        assert session.scalar(text("SELECT count(*) FROM units")) == 0
    engine.dispose()
