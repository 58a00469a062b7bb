"""Fixtures: real PostgreSQL, Redis and S3 (embedded, or from DATABASE_URL / REDIS_URL / S3_ENDPOINT_URL).

The services start once per test run, only when a test asks for them. Every test that uses the database gets the
seeded bureau tree and nothing else: afterwards all tables are emptied and the seed is restored from a snapshot.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, pool, text

ROOT = Path(__file__).resolve().parent.parent
RUN_ID = f"{os.getpid()}_{uuid.uuid4().hex[:6]}"
# Tables that keep their seeded rows between tests (restored from the snapshot schema).
SEEDED_TABLES = ("bureaus", "units")


@pytest.fixture(scope="session")
def services():
    """URLs of the three real services; starts the embedded ones that the environment does not provide."""
    from portal.devservices import EmbeddedServices, find_free_base_port

    external = {k: os.environ.get(k) for k in ("DATABASE_URL", "REDIS_URL", "S3_ENDPOINT_URL")}
    embedded = None
    if not all(external.values()):
        root = ROOT / "var" / f"test-{RUN_ID}"
        embedded = EmbeddedServices(
            root,
            find_free_base_port(),
            start_postgres=not external["DATABASE_URL"],
            start_redis=not external["REDIS_URL"],
            start_s3=not external["S3_ENDPOINT_URL"],
            bucket=f"test-{RUN_ID}".replace("_", "-"),
        )
        started = embedded.start()
    urls = {
        "admin_url": external["DATABASE_URL"] or started.database_url,
        "redis_url": external["REDIS_URL"] or started.redis_url,
        "s3_endpoint_url": external["S3_ENDPOINT_URL"] or started.s3_endpoint_url,
        "s3_access_key": os.environ.get("S3_ACCESS_KEY_ID") or (embedded and started.s3_access_key),
        "s3_secret_key": os.environ.get("S3_SECRET_ACCESS_KEY") or (embedded and started.s3_secret_key),
        "embedded": embedded,
    }
    yield urls
    if embedded is not None:
        embedded.stop()
        shutil.rmtree(embedded.root, ignore_errors=True)


@pytest.fixture(scope="session")
def database(services):
    """A fresh database for this run: migrated, seeded, with a login role that cannot bypass RLS."""
    from portal.dbsetup import drop_database, ensure_database, ensure_login_role
    from portal.migrate import upgrade

    name = f"portal_test_{RUN_ID}"
    owner_url = ensure_database(services["admin_url"], name)
    upgrade(owner_url)
    app_url = ensure_login_role(owner_url, "portal_test_app")
    _seed_and_snapshot(owner_url)
    yield {"owner_url": owner_url, "app_url": app_url, "name": name}
    drop_database(services["admin_url"], name)


def _seed_and_snapshot(owner_url: str) -> None:
    from sqlalchemy.orm import Session

    from tenants.scoping import system_scope
    from tenants.seed import seed_bureaus

    engine = create_engine(owner_url, poolclass=pool.NullPool)
    with Session(engine) as session, system_scope(session):
        seed_bureaus(session)
        session.commit()
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA snapshot"))
        for table in SEEDED_TABLES:
            conn.execute(text(f"CREATE TABLE snapshot.{table} AS TABLE public.{table}"))
    engine.dispose()


@pytest.fixture(scope="session")
def owner_engine(database):
    engine = create_engine(database["owner_url"], poolclass=pool.NullPool)
    yield engine
    engine.dispose()


def reset_database(engine) -> None:
    """Empty every table and restore the seeded bureau tree (fast: TRUNCATE + INSERT from the snapshot)."""
    with engine.begin() as conn:
        tables = conn.scalars(
            text("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename <> 'alembic_version'")
        ).all()
        conn.execute(text("TRUNCATE " + ", ".join(f'public."{t}"' for t in tables) + " CASCADE"))
        for table in SEEDED_TABLES:
            conn.execute(text(f"INSERT INTO public.{table} OVERRIDING SYSTEM VALUE TABLE snapshot.{table}"))


@pytest.fixture(scope="session")
def settings(services, database):
    from portal.config import load_settings
    from portal.dbsetup import install_scope_key, scope_key_from_secret

    secret_key = secrets.token_hex(32)
    install_scope_key(database["owner_url"], scope_key_from_secret(secret_key))
    redis_url = services["redis_url"]
    if os.environ.get("REDIS_URL"):
        redis_url = re.sub(r"/\d*$", "", redis_url.rstrip("/")) + "/13"  # keep clear of the machine's own data
    return load_settings(
        {
            "PORTAL_ENV": "test",
            "SECRET_KEY": secret_key,
            "PII_KEY": secrets.token_hex(32),
            "HISTORY_KEY": secrets.token_hex(32),
            "DATABASE_URL": database["app_url"],
            "DATABASE_ADMIN_URL": database["owner_url"],
            "REDIS_URL": redis_url,
            "S3_ENDPOINT_URL": services["s3_endpoint_url"] or "",
            "S3_BUCKET": f"test-{RUN_ID}".replace("_", "-"),
            "S3_ACCESS_KEY_ID": services["s3_access_key"] or "",
            "S3_SECRET_ACCESS_KEY": services["s3_secret_key"] or "",
            "LOG_LEVEL": "WARNING",
            "LOG_FORMAT": "text",
        }
    )


@pytest.fixture(scope="session")
def _app(settings):
    from portal import create_app

    app = create_app(settings)
    app.extensions["portal.storage"].ensure_bucket()
    return app


@pytest.fixture(scope="session")
def _limiter_state(_app):
    # Flask-Limiter keeps one storage per extension object, and every create_app() re-points it; tests that build
    # a second app (a service down) would leave the shared limiter counting in memory or in a dead Redis.
    from portal.extensions import limiter

    return limiter._storage, limiter._limiter


@pytest.fixture
def app(_app, owner_engine, _limiter_state):
    """The application, with a clean database (seeded bureaus only) and empty Redis for this test."""
    from portal.extensions import limiter

    limiter._storage, limiter._limiter = _limiter_state
    yield _app
    from portal.extensions import db

    with _app.app_context():
        db.session.remove()
    reset_database(owner_engine)
    _app.extensions["portal.redis"].flushdb()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def dbs(app):
    """The app's database session inside an app context (system scope unless a test sets another)."""
    from portal.extensions import db
    from tenants.scoping import system_scope

    with app.app_context(), system_scope(db.session):
        yield db.session
