"""Configuration from environment variables: every problem reported at once, values checked and normalised."""

import pytest

from portal.config import VARIABLES, ConfigError, config_table, load_settings

GOOD = {
    "SECRET_KEY": "s" * 32,
    "PII_KEY": "p" * 32,
    "HISTORY_KEY": "h" * 32,
    "DATABASE_URL": "postgresql://app:pw@db.example:5432/portal",
    "REDIS_URL": "redis://cache.example:6379/0",
}


def env(**overrides: str) -> dict[str, str]:
    return {**GOOD, **overrides}


def problems_of(environ: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as excinfo:
        load_settings(environ)
    return excinfo.value.problems


def test_every_missing_required_variable_is_listed_in_one_error():
    with pytest.raises(ConfigError) as excinfo:
        load_settings({})
    required = [v.name for v in VARIABLES if v.required]
    assert sorted(required) == ["DATABASE_URL", "PII_KEY", "REDIS_URL", "SECRET_KEY"]
    # HISTORY_KEY is required in production only (the default environment); elsewhere it may be derived.
    assert len(excinfo.value.problems) == len(required) + 1
    assert any(p.startswith("HISTORY_KEY is not set") for p in excinfo.value.problems)
    for name in required:
        assert any(p.startswith(f"{name} is not set") for p in excinfo.value.problems), name
        assert name in str(excinfo.value)


def test_history_key_outside_production_is_derived_and_in_production_required():
    assert problems_of(env(HISTORY_KEY="")) == [
        "HISTORY_KEY is not set: production keys the case histories with a key of its own."
    ]
    settings = load_settings(env(HISTORY_KEY="", PORTAL_ENV="development"))
    assert len(settings.history_key) == 64 and settings.history_key != settings.secret_key
    assert problems_of(env(HISTORY_KEY="short")) == ["HISTORY_KEY must be at least 32 characters long."]
    assert problems_of(env(AUDIT_RETENTION_DAYS="90")) == [
        "AUDIT_RETENTION_DAYS must be at least 180 (the Cybersecurity Law keeps logs six months)."
    ]


def test_blank_values_count_as_missing():
    problems = problems_of(env(SECRET_KEY="   ", REDIS_URL=""))
    assert len(problems) == 2
    assert any(p.startswith("SECRET_KEY is not set") for p in problems)
    assert any(p.startswith("REDIS_URL is not set") for p in problems)


def test_defaults_and_url_rewrite():
    settings = load_settings(GOOD)
    assert settings.env == "production"
    assert settings.is_production
    # SQLAlchemy would pick psycopg2 for a bare postgresql:// URL; the project uses psycopg 3.
    assert settings.database_url == "postgresql+psycopg://app:pw@db.example:5432/portal"
    assert settings.database_admin_url == settings.database_url
    assert settings.redis_url == GOOD["REDIS_URL"]
    assert settings.s3_endpoint_url is None
    assert settings.s3_bucket == "petition-portal"
    assert settings.s3_region == "us-east-1"
    assert settings.log_level == "INFO"
    assert settings.log_format == "json"
    assert settings.login_max_failures == 5
    assert settings.login_lock_minutes == 15
    assert settings.ratelimit_login == "20 per minute"
    assert settings.port == 5000


def test_explicit_values_are_used():
    settings = load_settings(
        env(
            PORTAL_ENV="test",
            DATABASE_ADMIN_URL="postgresql://owner:pw@db.example/portal",
            S3_ENDPOINT_URL="http://127.0.0.1:9000",
            LOG_LEVEL="debug",
            LOGIN_MAX_FAILURES="3",
            LOGIN_LOCK_MINUTES="30",
            PORT="8080",
        )
    )
    assert settings.env == "test"
    assert not settings.is_production
    assert settings.database_admin_url == "postgresql+psycopg://owner:pw@db.example/portal"
    assert settings.database_url == "postgresql+psycopg://app:pw@db.example:5432/portal"
    assert settings.s3_endpoint_url == "http://127.0.0.1:9000"
    assert settings.log_level == "DEBUG"
    assert (settings.login_max_failures, settings.login_lock_minutes, settings.port) == (3, 30, 8080)


def test_rate_limit_strings():
    assert load_settings(env(RATELIMIT_LOGIN="5/minute;50/day")).ratelimit_login == "5/minute;50/day"


def test_explicit_psycopg_url_is_kept():
    url = "postgresql+psycopg://app@localhost/portal"
    assert load_settings(env(DATABASE_URL=url)).database_url == url


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SECRET_KEY", "x" * 31, "SECRET_KEY must be at least 32 characters"),
        ("PII_KEY", "short", "PII_KEY must be at least 32 characters"),
        ("DATABASE_URL", "mysql://app@db/portal", "DATABASE_URL must start with one of postgresql://"),
        ("DATABASE_URL", "postgres://app@db/portal", "DATABASE_URL must start with one of"),
        ("DATABASE_ADMIN_URL", "sqlite:///portal.db", "DATABASE_ADMIN_URL must start with one of"),
        ("REDIS_URL", "http://cache:6379", "REDIS_URL must start with one of redis://"),
        ("S3_ENDPOINT_URL", "ftp://files.example", "S3_ENDPOINT_URL must start with one of http://"),
        ("PORTAL_ENV", "staging", "PORTAL_ENV must be one of production, development, test"),
        ("LOG_LEVEL", "VERBOSE", "LOG_LEVEL must be one of"),
        ("LOG_FORMAT", "xml", "LOG_FORMAT must be json or text"),
        ("LOGIN_MAX_FAILURES", "five", "LOGIN_MAX_FAILURES must be a whole number"),
        ("LOGIN_LOCK_MINUTES", "1.5", "LOGIN_LOCK_MINUTES must be a whole number"),
        ("PORT", "0", "PORT must be positive"),
        ("LOGIN_MAX_FAILURES", "-1", "LOGIN_MAX_FAILURES must be positive"),
        ("RATELIMIT_LOGIN", "lots", "RATELIMIT_LOGIN must be a rate such as '20 per minute'"),
        ("RATELIMIT_LOGIN", "20 per fortnight", "RATELIMIT_LOGIN must be a rate"),
        ("S3_PUBLIC_ENDPOINT_URL", "files.example:9443", "S3_PUBLIC_ENDPOINT_URL must start with one of http://"),
        ("PROXY_HOPS", "one", "PROXY_HOPS must be a whole number"),
        ("PROXY_HOPS", "9", "PROXY_HOPS must be from 0 to 5"),
    ],
)
def test_wrong_value_is_reported(name, value, expected):
    problems = problems_of(env(**{name: value}))
    assert len(problems) == 1, problems
    assert problems[0].startswith(expected), problems


def test_wrong_values_and_missing_ones_are_reported_together():
    environ = {"SECRET_KEY": "short", "PORTAL_ENV": "prod", "PORT": "http", "REDIS_URL": "memcached://x"}
    problems = problems_of(environ)
    assert len(problems) == 6, problems
    text = "\n".join(problems)
    for fragment in (
        "DATABASE_URL is not set",
        "PII_KEY is not set",
        "SECRET_KEY must be at least 32",
        "PORTAL_ENV must be one of",
        "PORT must be a whole number",
        "REDIS_URL must start with",
    ):
        assert fragment in text


def test_config_table_lists_every_variable():
    table = config_table().splitlines()
    assert table[0] == "| variable | required | default | meaning |"
    assert len(table) == 2 + len(VARIABLES)
    assert "| `SECRET_KEY` | yes |  |" in config_table()
    assert "| `PORTAL_ENV` | no | `production` |" in config_table()
