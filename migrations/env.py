"""Alembic environment: runs as the database owner (``DATABASE_ADMIN_URL``, else ``DATABASE_URL``)."""

from __future__ import annotations

import os

from alembic import context
from sqlalchemy import create_engine, pool

from portal.config import _psycopg_url
from portal.models import Base  # imports every model so that autogenerate sees the whole metadata

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.attributes.get("url") or os.environ.get("DATABASE_ADMIN_URL") or os.environ.get("DATABASE_URL")
    if not url:
        raise SystemExit("Set DATABASE_ADMIN_URL or DATABASE_URL to run migrations.")
    return _psycopg_url(url)


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
