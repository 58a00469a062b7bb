"""Run Alembic programmatically against a given owner URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parent.parent


def alembic_config(url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if url:
        config.attributes["url"] = url
    return config


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def upgrade_and_install_key(url: str, secret_key: str, revision: str = "head") -> None:
    """Migrate, then install the key that signs tenant scopes (once the schema has its table)."""
    from sqlalchemy import create_engine, pool, text

    from portal.dbsetup import install_scope_key, scope_key_from_secret

    upgrade(url, revision)
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as conn:
        has_table = conn.scalar(text("SELECT to_regclass('portal_private.scope_key') IS NOT NULL"))
    engine.dispose()
    if has_table:
        install_scope_key(url, scope_key_from_secret(secret_key))


def downgrade(url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)


def heads() -> list[str]:
    return list(ScriptDirectory.from_config(alembic_config()).get_heads())
