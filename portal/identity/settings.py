"""The identity part of the configuration: providers, claim maps, password sign-in, second factor, timeouts.

Pure module (no Flask): ``portal.config`` calls ``parse_identity`` with the raw environment values and gets the
``Settings`` fields back, with every problem added to the same list as the rest of the configuration.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from urllib.parse import urlparse

from portal.roles import Role

#: What a staff identity's claims can say, and the claim that says it by default.
STAFF_CLAIM_KEYS = {"name": "name", "bureau": "bureau_adcode", "unit": "unit_code", "roles": "roles"}
#: What a citizen's claims fill in on the application, and the claim that says it by default.
CITIZEN_CLAIM_KEYS = {"name": "name", "id_number": "id_number", "phone": "phone_number", "email": "email"}

DEFAULT_STAFF_SCOPES = "openid profile email"
DEFAULT_CITIZEN_SCOPES = "openid profile phone email"
#: Administrator roles are granted in the portal, never taken from the provider when it provisions an account.
NOT_PROVISIONED_ROLES = frozenset({Role.bureau_admin, Role.province_admin})


@dataclass(frozen=True)
class ProviderSettings:
    """One OpenID Connect client: the provider (by its issuer, metadata from discovery) and our registration."""

    realm: str  # staff | citizen
    issuer: str
    client_id: str
    client_secret: str | None
    scopes: str
    claims: tuple[tuple[str, str], ...]  # (what, claim name) pairs

    @property
    def metadata_url(self) -> str:
        return self.issuer.rstrip("/") + "/.well-known/openid-configuration"

    def claim(self, what: str) -> str | None:
        return dict(self.claims).get(what) or None


@dataclass(frozen=True)
class StaffProviderSettings(ProviderSettings):
    link_claim: str | None = None  # claim whose value is a pre-provisioned username; None: link by subject only
    provision: bool = False
    role_map: tuple[tuple[str, str], ...] = field(default=())  # provider value -> Role value
    mfa_acr: str | None = None

    def role_for(self, value: str) -> Role | None:
        """The portal role a provider's role value stands for (by the map, else by the role's own name)."""
        mapped = dict(self.role_map).get(value)
        try:
            return Role(mapped or value)
        except ValueError:
            return None


def _flag(raw: str, name: str, problems: list[str]) -> bool:
    value = raw.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    problems.append(f"{name} must be on or off; got {raw!r}.")
    return False


def _pairs(raw: str, name: str, problems: list[str]) -> list[tuple[str, str]] | None:
    """``"a=b,c=d"`` -> ``[("a", "b"), ("c", "d")]``; reports a malformed entry."""
    pairs = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            problems.append(f"{name} must be a comma-separated list of what=claim pairs; got {part!r}.")
            return None
        pairs.append((key.strip(), value.strip()))
    return pairs


def _claims(raw: str, name: str, defaults: dict[str, str], problems: list[str]) -> tuple[tuple[str, str], ...]:
    mapping = dict(defaults)
    pairs = _pairs(raw, name, problems) if raw else []
    for key, value in pairs or []:
        if key not in defaults:
            problems.append(f"{name}: unknown key {key!r}; use {', '.join(sorted(defaults))}.")
            continue
        mapping[key] = value
    return tuple(sorted(mapping.items()))


def is_loopback(url: str) -> bool:
    host = urlparse(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _issuer(raw: str, name: str, problems: list[str]) -> str:
    parsed = urlparse(raw)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        problems.append(f"{name} must be the provider's issuer URL, such as https://id.example.gov.cn; got {raw!r}.")
    elif parsed.scheme == "http" and not is_loopback(raw):
        problems.append(f"{name} must use https (plain http only for a provider on this machine); got {raw!r}.")
    return raw.rstrip("/")


def _provider(raw: dict[str, str], prefix: str, problems: list[str]) -> dict | None:
    issuer = raw[f"{prefix}_ISSUER"]
    client_id = raw[f"{prefix}_CLIENT_ID"]
    if not issuer:
        if client_id:
            problems.append(f"{prefix}_CLIENT_ID is set but {prefix}_ISSUER is not: set both or neither.")
        return None
    if not client_id:
        problems.append(f"{prefix}_CLIENT_ID is not set: {prefix}_ISSUER needs the client id registered there.")
    scopes = " ".join(raw[f"{prefix}_SCOPES"].replace(",", " ").split())
    if "openid" not in scopes.split():
        problems.append(f"{prefix}_SCOPES must include openid; got {raw[f'{prefix}_SCOPES']!r}.")
    return {
        "issuer": _issuer(issuer, f"{prefix}_ISSUER", problems),
        "client_id": client_id,
        "client_secret": raw[f"{prefix}_CLIENT_SECRET"] or None,
        "scopes": scopes,
    }


def parse_identity(raw: dict[str, str], env: str, problems: list[str]) -> dict:
    """Read the identity variables of ``raw`` into ``Settings`` fields; add every problem to ``problems``."""
    fields: dict = {}
    fields["staff_password_login"] = _flag(raw["STAFF_PASSWORD_LOGIN"], "STAFF_PASSWORD_LOGIN", problems)
    fields["staff_password_login_except"] = tuple(
        sorted({u.strip() for u in raw["STAFF_PASSWORD_LOGIN_EXCEPT"].split(",") if u.strip()})
    )
    two_fa = raw["STAFF_2FA"] or ("enforce" if env == "production" else "optional")
    if two_fa not in ("enforce", "optional"):
        problems.append(f"STAFF_2FA must be enforce or optional; got {two_fa!r}.")
    elif two_fa == "optional" and env == "production":
        problems.append("STAFF_2FA=optional is not allowed in production: leaders and administrators need it.")
    fields["staff_2fa"] = two_fa
    for name, key, upper in (
        ("SESSION_IDLE_MINUTES", "session_idle_minutes", 24 * 60),
        ("SESSION_MAX_HOURS", "session_max_hours", 7 * 24),
    ):
        try:
            value = int(raw[name])
        except ValueError:
            problems.append(f"{name} must be a whole number, got {raw[name]!r}.")
            value = 0
        else:
            if not 1 <= value <= upper:
                problems.append(f"{name} must be from 1 to {upper}; got {value}.")
        fields[key] = value

    staff = _provider(raw, "OIDC_STAFF", problems)
    if staff is not None:
        role_pairs = _pairs(raw["OIDC_STAFF_ROLE_MAP"], "OIDC_STAFF_ROLE_MAP", problems) or []
        for _value, role in role_pairs:
            if role not in Role.__members__:
                problems.append(f"OIDC_STAFF_ROLE_MAP: {role!r} is not a role; use {', '.join(Role)}.")
        link = raw["OIDC_STAFF_LINK_CLAIM"].strip()
        fields["oidc_staff"] = StaffProviderSettings(
            realm="staff",
            claims=_claims(raw["OIDC_STAFF_CLAIMS"], "OIDC_STAFF_CLAIMS", STAFF_CLAIM_KEYS, problems),
            link_claim=None if link.lower() in ("", "none") else link,
            provision=_flag(raw["OIDC_STAFF_PROVISION"], "OIDC_STAFF_PROVISION", problems),
            role_map=tuple(role_pairs),
            mfa_acr=raw["OIDC_STAFF_MFA_ACR"].strip() or None,
            **staff,
        )
    citizen = _provider(raw, "OIDC_CITIZEN", problems)
    if citizen is not None:
        fields["oidc_citizen"] = ProviderSettings(
            realm="citizen",
            claims=_claims(raw["OIDC_CITIZEN_CLAIMS"], "OIDC_CITIZEN_CLAIMS", CITIZEN_CLAIM_KEYS, problems),
            **citizen,
        )
    if not fields["staff_password_login"] and staff is None:
        problems.append("STAFF_PASSWORD_LOGIN=off needs OIDC_STAFF_ISSUER: otherwise no staff member can sign in.")
    return fields


def _claims_text(defaults: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in defaults.items())


DEFAULT_STAFF_CLAIMS = _claims_text(STAFF_CLAIM_KEYS)
DEFAULT_CITIZEN_CLAIMS = _claims_text(CITIZEN_CLAIM_KEYS)
