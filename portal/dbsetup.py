"""Provision the database for a deployment: the database itself and a login role that cannot bypass RLS."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import create_engine, pool, text
from sqlalchemy.engine import make_url

from tenants.rls import APP_ROLE


def ensure_database(admin_url: str, name: str) -> str:
    """Create database ``name`` on the server of ``admin_url`` if missing; return the owner URL for it."""
    engine = create_engine(admin_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        if not conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}):
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def ensure_login_role(owner_url: str, login: str, password: str | None = None) -> str:
    """Create or update login role ``login`` as a member of the app role; return the app's URL.

    The role is NOSUPERUSER NOBYPASSRLS, so row-level security applies to everything the app does.
    """
    password = password or secrets.token_urlsafe(24)
    engine = create_engine(owner_url, poolclass=pool.NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(
            text(
                f"""DO $$ BEGIN
                  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
                    CREATE ROLE {APP_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
                  END IF;
                  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{login}') THEN
                    CREATE ROLE "{login}" LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                  END IF;
                END $$"""
            )
        )
        conn.execute(text(f"ALTER ROLE \"{login}\" PASSWORD '{password}'"))
        conn.execute(text(f'GRANT {APP_ROLE} TO "{login}"'))
    engine.dispose()
    return make_url(owner_url).set(username=login, password=password).render_as_string(hide_password=False)


def scope_key_from_secret(secret_key: str) -> bytes:
    """The key that signs tenant scopes (``tenants.rls``), derived from ``SECRET_KEY`` (never the key itself)."""
    return hmac.new(secret_key.encode(), b"portal row-level security scope", hashlib.sha256).digest()


def install_scope_key(owner_url: str, key: bytes) -> None:
    """Store ``key`` where the scope functions (and only they) read it: ``portal_private.scope_key``.

    Needs the migrated schema (revision ``c4f1a9e2d7b5``). Run by ``portal db upgrade``, ``portal dev`` and the
    tests; after a change of ``SECRET_KEY`` the app's role sees nothing until it runs again.
    """
    padded = key.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in padded)
    outer = bytes(b ^ 0x5C for b in padded)
    engine = create_engine(owner_url, poolclass=pool.NullPool)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO portal_private.scope_key (id, inner_pad, outer_pad) VALUES (1, :i, :o)"
                " ON CONFLICT (id) DO UPDATE SET inner_pad = excluded.inner_pad, outer_pad = excluded.outer_pad"
            ),
            {"i": inner, "o": outer},
        )
    engine.dispose()


def role_bypasses_rls(url: str) -> bool:
    """True when ``url`` connects as a role that row-level security does not apply to."""
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        bypass = conn.scalar(text("SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"))
    engine.dispose()
    return bool(bypass)
