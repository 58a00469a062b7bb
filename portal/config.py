"""Read and validate the configuration from environment variables (12-factor).

Every variable is listed once in ``VARIABLES`` with its meaning; the README's table is generated from the same
list (``portal config-table``), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

from limits import parse_many


class ConfigError(Exception):
    """Raised when the environment is missing a variable or holds a wrong value."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Invalid configuration:\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Variable:
    name: str
    required: bool
    default: str | None
    meaning: str


VARIABLES: tuple[Variable, ...] = (
    Variable("PORTAL_ENV", False, "production", "`production`, `development` or `test`."),
    Variable("SECRET_KEY", True, None, "Signs sessions and CSRF tokens; at least 32 characters."),
    Variable(
        "DATABASE_URL",
        True,
        None,
        "PostgreSQL URL the app uses; its role must not bypass row-level security.",
    ),
    Variable("DATABASE_ADMIN_URL", False, None, "Owner URL for migrations; defaults to `DATABASE_URL`."),
    Variable("REDIS_URL", True, None, "Redis for RQ queues and rate-limit counters."),
    Variable("S3_ENDPOINT_URL", False, None, "S3-compatible endpoint; empty for AWS S3."),
    Variable("S3_BUCKET", False, "petition-portal", "Bucket for attachments and generated documents."),
    Variable("S3_ACCESS_KEY_ID", False, None, "S3 access key (or the usual AWS credential chain)."),
    Variable("S3_SECRET_ACCESS_KEY", False, None, "S3 secret key."),
    Variable("S3_REGION", False, "us-east-1", "S3 region name."),
    Variable("PII_KEY", True, None, "Key (>= 32 chars) for encrypting and hashing personal data."),
    Variable("LOG_LEVEL", False, "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Variable("LOG_FORMAT", False, "json", "`json` (one object per line) or `text`."),
    Variable("LOGIN_MAX_FAILURES", False, "5", "Failed staff logins before the account is locked."),
    Variable("LOGIN_LOCK_MINUTES", False, "15", "How long a locked staff account stays locked."),
    Variable("RATELIMIT_LOGIN", False, "20 per minute", "Login attempts allowed per client address."),
    Variable("PORT", False, "5000", "Web port for `portal dev` / `make run`."),
)

_ENVS = ("production", "development", "test")
_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


@dataclass(frozen=True)
class Settings:
    env: str
    secret_key: str
    database_url: str
    database_admin_url: str
    redis_url: str
    s3_endpoint_url: str | None
    s3_bucket: str
    s3_access_key_id: str | None
    s3_secret_access_key: str | None
    s3_region: str
    pii_key: str
    log_level: str
    log_format: str
    login_max_failures: int
    login_lock_minutes: int
    ratelimit_login: str
    port: int

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def _positive_int(raw: str, name: str, problems: list[str]) -> int:
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}.")
        return 0
    if value <= 0:
        problems.append(f"{name} must be positive, got {value}.")
    return value


def _check_url(value: str, name: str, schemes: tuple[str, ...], problems: list[str]) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        problems.append(
            f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {value!r}."
        )


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Build the settings from ``environ`` (default: the process environment); report every problem at once."""
    environ = os.environ if environ is None else environ
    problems: list[str] = []
    raw: dict[str, str] = {}
    for var in VARIABLES:
        value = environ.get(var.name, "").strip()
        if not value:
            if var.required:
                problems.append(f"{var.name} is not set: {var.meaning}")
            value = var.default or ""
        raw[var.name] = value

    if raw["PORTAL_ENV"] not in _ENVS:
        problems.append(f"PORTAL_ENV must be one of {', '.join(_ENVS)}; got {raw['PORTAL_ENV']!r}.")
    if raw["SECRET_KEY"] and len(raw["SECRET_KEY"]) < 32:
        problems.append("SECRET_KEY must be at least 32 characters long.")
    if raw["PII_KEY"] and len(raw["PII_KEY"]) < 32:
        problems.append("PII_KEY must be at least 32 characters long.")
    pg_schemes = ("postgresql", "postgresql+psycopg")
    if raw["DATABASE_URL"]:
        _check_url(raw["DATABASE_URL"], "DATABASE_URL", pg_schemes, problems)
    if raw["DATABASE_ADMIN_URL"]:
        _check_url(raw["DATABASE_ADMIN_URL"], "DATABASE_ADMIN_URL", pg_schemes, problems)
    if raw["REDIS_URL"]:
        _check_url(raw["REDIS_URL"], "REDIS_URL", ("redis", "rediss", "unix"), problems)
    if raw["S3_ENDPOINT_URL"]:
        _check_url(raw["S3_ENDPOINT_URL"], "S3_ENDPOINT_URL", ("http", "https"), problems)
    level = raw["LOG_LEVEL"].upper()
    if level not in _LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(_LEVELS)}; got {raw['LOG_LEVEL']!r}.")
    if raw["LOG_FORMAT"] not in ("json", "text"):
        problems.append(f"LOG_FORMAT must be json or text; got {raw['LOG_FORMAT']!r}.")
    try:
        # Flask-Limiter would only log an unparsable limit and let every request through.
        parse_many(raw["RATELIMIT_LOGIN"])
    except ValueError:
        problems.append(f"RATELIMIT_LOGIN must be a rate such as '20 per minute'; got {raw['RATELIMIT_LOGIN']!r}.")
    max_failures = _positive_int(raw["LOGIN_MAX_FAILURES"], "LOGIN_MAX_FAILURES", problems)
    lock_minutes = _positive_int(raw["LOGIN_LOCK_MINUTES"], "LOGIN_LOCK_MINUTES", problems)
    port = _positive_int(raw["PORT"], "PORT", problems)
    if problems:
        raise ConfigError(problems)

    return Settings(
        env=raw["PORTAL_ENV"],
        secret_key=raw["SECRET_KEY"],
        database_url=_psycopg_url(raw["DATABASE_URL"]),
        database_admin_url=_psycopg_url(raw["DATABASE_ADMIN_URL"] or raw["DATABASE_URL"]),
        redis_url=raw["REDIS_URL"],
        s3_endpoint_url=raw["S3_ENDPOINT_URL"] or None,
        s3_bucket=raw["S3_BUCKET"],
        s3_access_key_id=raw["S3_ACCESS_KEY_ID"] or None,
        s3_secret_access_key=raw["S3_SECRET_ACCESS_KEY"] or None,
        s3_region=raw["S3_REGION"],
        pii_key=raw["PII_KEY"],
        log_level=level,
        log_format=raw["LOG_FORMAT"],
        login_max_failures=max_failures,
        login_lock_minutes=lock_minutes,
        ratelimit_login=raw["RATELIMIT_LOGIN"],
        port=port,
    )


def _psycopg_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs (SQLAlchemy would pick psycopg2)."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return url


def config_table() -> str:
    """Render ``VARIABLES`` as the Markdown table used in the README."""
    rows = ["| variable | required | default | meaning |", "| --- | --- | --- | --- |"]
    for var in VARIABLES:
        default = f"`{var.default}`" if var.default else ""
        rows.append(f"| `{var.name}` | {'yes' if var.required else 'no'} | {default} | {var.meaning} |")
    return "\n".join(rows)
