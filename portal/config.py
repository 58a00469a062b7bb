"""Read and validate the configuration from environment variables (12-factor).

Every variable is listed once in ``VARIABLES`` with its meaning; the README's table is generated from the same
list (``portal config-table``), so the documentation cannot drift from the code.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlparse

from limits import parse_many

from portal.identity.settings import ProviderSettings, StaffProviderSettings, parse_identity


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
    Variable(
        "S3_PUBLIC_ENDPOINT_URL",
        False,
        None,
        "S3 address as browsers reach it, used only in the download links handed to them; empty: `S3_ENDPOINT_URL`.",
    ),
    Variable(
        "PROXY_HOPS",
        False,
        "0",
        "Reverse proxies in front of the app whose `X-Forwarded-*` headers are trusted (1 behind the compose nginx).",
    ),
    Variable("PII_KEY", True, None, "Key (>= 32 chars) for encrypting and hashing personal data."),
    Variable(
        "HISTORY_KEY",
        False,
        None,
        "Key (>= 32 chars, kept out of the database) that keys the case histories' hash chains and signs their"
        " anchors. Required in production; elsewhere derived from `SECRET_KEY` when empty.",
    ),
    Variable("ANCHOR_MINUTES", False, "60", "How often the worker writes a signed anchor of every case's history."),
    Variable(
        "AUDIT_RETENTION_DAYS",
        False,
        "180",
        "Days the audit log of administrative changes is kept (at least 180, the Cybersecurity Law's minimum).",
    ),
    Variable("LOG_LEVEL", False, "INFO", "DEBUG, INFO, WARNING or ERROR."),
    Variable("LOG_FORMAT", False, "json", "`json` (one object per line) or `text`."),
    Variable("LOGIN_MAX_FAILURES", False, "5", "Failed staff logins before the account is locked."),
    Variable("LOGIN_LOCK_MINUTES", False, "15", "How long a locked staff account stays locked."),
    Variable("RATELIMIT_LOGIN", False, "20 per minute", "Login attempts allowed per client address."),
    Variable("RATELIMIT_SUBMIT", False, "10 per hour;50 per day", "Applications submitted per client address."),
    Variable("RATELIMIT_UPLOAD", False, "60 per hour;300 per day", "File uploads per client address."),
    Variable("RATELIMIT_TRACK", False, "20 per minute;200 per day", "Tracking look-ups per client address."),
    Variable("RATELIMIT_TRACK_NUMBER", False, "10 per hour", "Wrong access codes for one case number, from anywhere."),
    Variable("RATELIMIT_REGISTER", False, "10 per hour", "Petitioner account registrations per client address."),
    Variable("PORT", False, "5000", "Web port for `portal dev` / `make run`."),
    Variable(
        "SMTP_URL",
        False,
        None,
        "Mail server, `smtp://user:pass@host:587?starttls=true` or `smtps://...:465`; empty: e-mails are only logged.",
    ),
    Variable("MAIL_FROM", False, "noreply@localhost", "Sender address of e-mails to petitioners."),
    Variable("SMS_GATEWAY", False, "log", "`log` (write text messages to the log) or `http` (JSON POST)."),
    Variable("SMS_HTTP_URL", False, None, "Endpoint of the HTTP SMS gateway (required when `SMS_GATEWAY=http`)."),
    Variable("SMS_HTTP_TOKEN", False, None, "Bearer token of the HTTP SMS gateway."),
    Variable("REMINDER_WORKING_DAYS", False, "3,1", "Working days before a due date that staff are reminded."),
    Variable("PUBLIC_BASE_URL", False, None, "Public site address used in links sent to petitioners."),
    Variable("OUTBOX_MAX_ATTEMPTS", False, "8", "Delivery attempts before a message is marked failed."),
    Variable("OUTBOX_RETRY_SECONDS", False, "60", "First retry delay; doubles after each failure (at most 6 h)."),
    # Identity (portal.identity): single sign-on, second factor, sessions.
    Variable("STAFF_PASSWORD_LOGIN", False, "on", "`on` or `off`: staff may sign in with a local password."),
    Variable(
        "STAFF_PASSWORD_LOGIN_EXCEPT",
        False,
        None,
        "Usernames (comma-separated) that keep password sign-in when it is `off` (bootstrap administrators).",
    ),
    Variable(
        "STAFF_2FA",
        False,
        None,
        "`enforce` (leaders and administrators must use a second factor; a bureau may require it of all staff) or"
        " `optional`. Default `enforce` in production (where `optional` is refused), `optional` elsewhere.",
    ),
    Variable(
        "SESSION_IDLE_MINUTES",
        False,
        "30",
        "A staff session (and a citizen's verified identity) ends after this idle time.",
    ),
    Variable("SESSION_MAX_HOURS", False, "12", "A staff session ends this long after sign-in, however active."),
    Variable(
        "OIDC_STAFF_ISSUER",
        False,
        None,
        "Issuer URL of the staff OpenID Connect provider (discovery at `/.well-known/openid-configuration`);"
        " empty: no single sign-on.",
    ),
    Variable("OIDC_STAFF_CLIENT_ID", False, None, "Client id of the portal at the staff provider."),
    Variable("OIDC_STAFF_CLIENT_SECRET", False, None, "Client secret of the portal at the staff provider."),
    Variable("OIDC_STAFF_SCOPES", False, "openid profile email", "Scopes asked of the staff provider."),
    Variable(
        "OIDC_STAFF_LINK_CLAIM",
        False,
        "preferred_username",
        "Claim whose value is the username of a pre-provisioned staff account (`sub` if subjects are usernames;"
        " `none`: link only identities registered with `portal identity link`).",
    ),
    Variable(
        "OIDC_STAFF_CLAIMS",
        False,
        "name=name,bureau=bureau_adcode,unit=unit_code,roles=roles",
        "Which claims give the name, the bureau's 6-digit code, the unit code and the roles of a staff identity.",
    ),
    Variable(
        "OIDC_STAFF_ROLE_MAP",
        False,
        None,
        "Provider role values to portal roles, `value=role,...`; unmapped values are read as role names.",
    ),
    Variable(
        "OIDC_STAFF_PROVISION",
        False,
        "off",
        "`on`: an identity with no account gets one from its claims (bureau, unit, roles; never admin roles).",
    ),
    Variable(
        "OIDC_STAFF_MFA_ACR",
        False,
        None,
        "`acr` value at or above which the provider's sign-in counts as the second factor (e.g. `urn:gov:loa:3`);"
        " `amr` with mfa/otp/hwk counts always.",
    ),
    Variable(
        "OIDC_CITIZEN_ISSUER",
        False,
        None,
        "Issuer URL of the citizens' OpenID Connect provider (real-name sign-in); empty: none.",
    ),
    Variable("OIDC_CITIZEN_CLIENT_ID", False, None, "Client id of the portal at the citizens' provider."),
    Variable("OIDC_CITIZEN_CLIENT_SECRET", False, None, "Client secret of the portal at the citizens' provider."),
    Variable("OIDC_CITIZEN_SCOPES", False, "openid profile phone email", "Scopes asked of the citizens' provider."),
    Variable(
        "OIDC_CITIZEN_CLAIMS",
        False,
        "name=name,id_number=id_number,phone=phone_number,email=email",
        "Which claims give a citizen's verified name, ID number, phone and email.",
    ),
)

_ENVS = ("production", "development", "test")
RATE_LIMITS = (
    "RATELIMIT_LOGIN",
    "RATELIMIT_SUBMIT",
    "RATELIMIT_UPLOAD",
    "RATELIMIT_TRACK",
    "RATELIMIT_TRACK_NUMBER",
    "RATELIMIT_REGISTER",
)
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
    history_key: str
    anchor_minutes: int
    audit_retention_days: int
    log_level: str
    log_format: str
    login_max_failures: int
    login_lock_minutes: int
    ratelimit_login: str
    port: int
    smtp_url: str | None = None
    mail_from: str = "noreply@localhost"
    sms_gateway: str = "log"
    sms_http_url: str | None = None
    sms_http_token: str | None = None
    reminder_working_days: tuple[int, ...] = (3, 1)
    public_base_url: str | None = None
    s3_public_endpoint_url: str | None = None
    proxy_hops: int = 0
    outbox_max_attempts: int = 8
    outbox_retry_seconds: int = 60
    rate_limits: dict[str, str] = field(default_factory=dict)
    staff_password_login: bool = True
    staff_password_login_except: tuple[str, ...] = ()
    staff_2fa: str = "optional"
    session_idle_minutes: int = 30
    session_max_hours: int = 12
    oidc_staff: StaffProviderSettings | None = None
    oidc_citizen: ProviderSettings | None = None

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


def _non_negative_int(raw: str, name: str, problems: list[str]) -> int:
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}.")
        return 0
    if not 0 <= value <= 5:
        problems.append(f"{name} must be from 0 to 5, got {value}.")
    return value


def _check_url(value: str, name: str, schemes: tuple[str, ...], problems: list[str]) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in schemes:
        problems.append(f"{name} must start with one of {', '.join(s + '://' for s in schemes)}; got {value!r}.")


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
    if raw["HISTORY_KEY"] and len(raw["HISTORY_KEY"]) < 32:
        problems.append("HISTORY_KEY must be at least 32 characters long.")
    if not raw["HISTORY_KEY"] and raw["PORTAL_ENV"] == "production":
        problems.append("HISTORY_KEY is not set: production keys the case histories with a key of its own.")
    anchor_minutes = _positive_int(raw["ANCHOR_MINUTES"], "ANCHOR_MINUTES", problems)
    audit_days = _positive_int(raw["AUDIT_RETENTION_DAYS"], "AUDIT_RETENTION_DAYS", problems)
    if 0 < audit_days < 180:
        problems.append("AUDIT_RETENTION_DAYS must be at least 180 (the Cybersecurity Law keeps logs six months).")
    pg_schemes = ("postgresql", "postgresql+psycopg")
    if raw["DATABASE_URL"]:
        _check_url(raw["DATABASE_URL"], "DATABASE_URL", pg_schemes, problems)
    if raw["DATABASE_ADMIN_URL"]:
        _check_url(raw["DATABASE_ADMIN_URL"], "DATABASE_ADMIN_URL", pg_schemes, problems)
    if raw["REDIS_URL"]:
        _check_url(raw["REDIS_URL"], "REDIS_URL", ("redis", "rediss", "unix"), problems)
    if raw["S3_ENDPOINT_URL"]:
        _check_url(raw["S3_ENDPOINT_URL"], "S3_ENDPOINT_URL", ("http", "https"), problems)
    if raw["S3_PUBLIC_ENDPOINT_URL"]:
        _check_url(raw["S3_PUBLIC_ENDPOINT_URL"], "S3_PUBLIC_ENDPOINT_URL", ("http", "https"), problems)
    proxy_hops = _non_negative_int(raw["PROXY_HOPS"], "PROXY_HOPS", problems)
    level = raw["LOG_LEVEL"].upper()
    if level not in _LEVELS:
        problems.append(f"LOG_LEVEL must be one of {', '.join(_LEVELS)}; got {raw['LOG_LEVEL']!r}.")
    if raw["LOG_FORMAT"] not in ("json", "text"):
        problems.append(f"LOG_FORMAT must be json or text; got {raw['LOG_FORMAT']!r}.")
    for name in RATE_LIMITS:
        try:
            # Flask-Limiter would only log an unparsable limit and let every request through.
            parse_many(raw[name])
        except ValueError:
            problems.append(f"{name} must be a rate such as '20 per minute'; got {raw[name]!r}.")
    max_failures = _positive_int(raw["LOGIN_MAX_FAILURES"], "LOGIN_MAX_FAILURES", problems)
    lock_minutes = _positive_int(raw["LOGIN_LOCK_MINUTES"], "LOGIN_LOCK_MINUTES", problems)
    port = _positive_int(raw["PORT"], "PORT", problems)
    _check_delivery(raw, problems)
    reminder_days = _reminder_days(raw["REMINDER_WORKING_DAYS"], problems)
    max_attempts = _positive_int(raw["OUTBOX_MAX_ATTEMPTS"], "OUTBOX_MAX_ATTEMPTS", problems)
    retry_seconds = _positive_int(raw["OUTBOX_RETRY_SECONDS"], "OUTBOX_RETRY_SECONDS", problems)
    identity = parse_identity(raw, raw["PORTAL_ENV"], problems)
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
        history_key=raw["HISTORY_KEY"] or _derived_history_key(raw["SECRET_KEY"]),
        anchor_minutes=anchor_minutes,
        audit_retention_days=audit_days,
        log_level=level,
        log_format=raw["LOG_FORMAT"],
        login_max_failures=max_failures,
        login_lock_minutes=lock_minutes,
        ratelimit_login=raw["RATELIMIT_LOGIN"],
        rate_limits={name: raw[name] for name in RATE_LIMITS},
        port=port,
        smtp_url=raw["SMTP_URL"] or None,
        mail_from=raw["MAIL_FROM"],
        sms_gateway=raw["SMS_GATEWAY"],
        sms_http_url=raw["SMS_HTTP_URL"] or None,
        sms_http_token=raw["SMS_HTTP_TOKEN"] or None,
        reminder_working_days=reminder_days,
        public_base_url=raw["PUBLIC_BASE_URL"].rstrip("/") or None,
        s3_public_endpoint_url=raw["S3_PUBLIC_ENDPOINT_URL"].rstrip("/") or None,
        proxy_hops=proxy_hops,
        outbox_max_attempts=max_attempts,
        outbox_retry_seconds=retry_seconds,
        **identity,
    )


def _check_delivery(raw: dict[str, str], problems: list[str]) -> None:
    """E-mail, SMS and link settings (the parsers live with the senders in ``portal.notify``)."""
    from portal.notify.email import parse_mail_from, parse_smtp_url

    if raw["SMTP_URL"]:
        try:
            parse_smtp_url(raw["SMTP_URL"])
        except ValueError as exc:
            problems.append(f"SMTP_URL: {exc}")
    try:
        parse_mail_from(raw["MAIL_FROM"])
    except ValueError as exc:
        problems.append(f"MAIL_FROM: {exc}")
    if raw["SMS_GATEWAY"] not in ("log", "http"):
        problems.append(f"SMS_GATEWAY must be log or http; got {raw['SMS_GATEWAY']!r}.")
    if raw["SMS_GATEWAY"] == "http":
        if not raw["SMS_HTTP_URL"]:
            problems.append("SMS_HTTP_URL is not set: SMS_GATEWAY=http needs the gateway's endpoint.")
        if not raw["SMS_HTTP_TOKEN"]:
            problems.append("SMS_HTTP_TOKEN is not set: SMS_GATEWAY=http needs the gateway's bearer token.")
    if raw["SMS_HTTP_URL"]:
        _check_url(raw["SMS_HTTP_URL"], "SMS_HTTP_URL", ("http", "https"), problems)
    if raw["PUBLIC_BASE_URL"]:
        _check_url(raw["PUBLIC_BASE_URL"], "PUBLIC_BASE_URL", ("http", "https"), problems)


def _reminder_days(raw: str, problems: list[str]) -> tuple[int, ...]:
    """``"3,1"`` -> ``(3, 1)``: distinct working-day counts from 1 to 30, largest first."""
    try:
        days = [int(part) for part in raw.split(",")]
    except ValueError:
        problems.append(f"REMINDER_WORKING_DAYS must be whole numbers separated by commas, such as 3,1; got {raw!r}.")
        return ()
    if not days or any(not 1 <= d <= 30 for d in days) or len(set(days)) != len(days):
        problems.append(f"REMINDER_WORKING_DAYS must list distinct numbers from 1 to 30, such as 3,1; got {raw!r}.")
        return ()
    return tuple(sorted(days, reverse=True))


def _derived_history_key(secret_key: str) -> str:
    """Outside production an empty ``HISTORY_KEY`` is derived from ``SECRET_KEY`` (neither is in the database)."""
    import hashlib
    import hmac

    return hmac.new((secret_key or "").encode(), b"portal history key", hashlib.sha256).hexdigest()


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
