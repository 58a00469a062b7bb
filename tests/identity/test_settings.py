"""The identity variables: parsed with the rest of the configuration, every problem reported at once."""

from __future__ import annotations

import pytest

from portal.config import ConfigError, config_table, load_settings

BASE = {
    "SECRET_KEY": "s" * 32,
    "PII_KEY": "p" * 32,
    "HISTORY_KEY": "h" * 32,
    "DATABASE_URL": "postgresql://u@h/db",
    "REDIS_URL": "redis://localhost:6379/0",
}


def test_defaults_without_a_provider():
    settings = load_settings({**BASE, "PORTAL_ENV": "development"})
    assert settings.oidc_staff is None and settings.oidc_citizen is None
    assert settings.staff_password_login and settings.staff_2fa == "optional"
    assert (settings.session_idle_minutes, settings.session_max_hours) == (30, 12)
    assert load_settings(BASE).staff_2fa == "enforce"  # production


def test_a_full_provider_configuration():
    settings = load_settings(
        {
            **BASE,
            "OIDC_STAFF_ISSUER": "https://id.jl.gov.cn/realms/staff/",
            "OIDC_STAFF_CLIENT_ID": "portal",
            "OIDC_STAFF_CLAIMS": "bureau=org,roles=groups",
            "OIDC_STAFF_ROLE_MAP": "leader=petitions_leader",
            "OIDC_STAFF_PROVISION": "on",
            "OIDC_STAFF_MFA_ACR": "urn:gov:loa:3",
            "STAFF_PASSWORD_LOGIN": "off",
            "STAFF_PASSWORD_LOGIN_EXCEPT": "root_admin, other",
            "OIDC_CITIZEN_ISSUER": "https://zwfw.jl.gov.cn",
            "OIDC_CITIZEN_CLIENT_ID": "portal-public",
            "OIDC_CITIZEN_CLAIMS": "id_number=idcard",
        }
    )
    staff = settings.oidc_staff
    assert staff.issuer == "https://id.jl.gov.cn/realms/staff"
    assert staff.metadata_url == "https://id.jl.gov.cn/realms/staff/.well-known/openid-configuration"
    assert staff.claim("bureau") == "org" and staff.claim("unit") == "unit_code"
    assert staff.provision and staff.mfa_acr == "urn:gov:loa:3"
    assert settings.staff_password_login_except == ("other", "root_admin")
    assert settings.oidc_citizen.claim("id_number") == "idcard" and settings.oidc_citizen.claim("name") == "name"


def test_every_problem_is_reported():
    with pytest.raises(ConfigError) as raised:
        load_settings(
            {
                **BASE,
                "OIDC_STAFF_ISSUER": "http://id.example.com",
                "OIDC_STAFF_SCOPES": "profile",
                "OIDC_STAFF_CLAIMS": "nonsense",
                "OIDC_STAFF_ROLE_MAP": "x=king",
                "OIDC_STAFF_PROVISION": "maybe",
                "OIDC_CITIZEN_CLIENT_ID": "orphan",
                "STAFF_2FA": "optional",
                "SESSION_IDLE_MINUTES": "0",
                "SESSION_MAX_HOURS": "lots",
            }
        )
    text = "\n".join(raised.value.problems)
    for expected in (
        "OIDC_STAFF_CLIENT_ID is not set",
        "OIDC_STAFF_ISSUER must use https",
        "OIDC_STAFF_SCOPES must include openid",
        "OIDC_STAFF_CLAIMS must be a comma-separated list",
        "'king' is not a role",
        "OIDC_STAFF_PROVISION must be on or off",
        "OIDC_CITIZEN_CLIENT_ID is set but OIDC_CITIZEN_ISSUER is not",
        "STAFF_2FA=optional is not allowed in production",
        "SESSION_IDLE_MINUTES must be from 1",
        "SESSION_MAX_HOURS must be a whole number",
    ):
        assert expected in text


def test_password_sign_in_off_needs_a_provider():
    with pytest.raises(ConfigError, match="STAFF_PASSWORD_LOGIN=off needs OIDC_STAFF_ISSUER"):
        load_settings({**BASE, "STAFF_PASSWORD_LOGIN": "off"})


def test_the_readme_table_lists_the_identity_variables():
    table = config_table()
    for name in ("OIDC_STAFF_ISSUER", "OIDC_CITIZEN_CLAIMS", "STAFF_2FA", "SESSION_IDLE_MINUTES"):
        assert f"`{name}`" in table
