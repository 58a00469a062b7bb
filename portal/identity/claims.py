"""What a provider's claims mean to the portal, and who needs a second factor.

Pure module: no Flask, no database. Claims are untrusted strings until they pass through here: values are cut to
their column sizes and stripped of control characters; a citizen's ID number must be a valid GB 11643 number to
be taken as verified.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import date

from portal.identity.settings import ProviderSettings, StaffProviderSettings
from portal.idnumber import InvalidIdNumber, validate_id_number
from portal.roles import ADMINS, LEADERS, Role

#: ``amr`` values that say the provider checked more than a password (RFC 8176).
MFA_AMR = frozenset({"mfa", "otp", "hwk"})
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IdentityRefused(Exception):
    """A sign-in that cannot go on; ``reason`` is recorded, the messages are shown (zh, en)."""

    def __init__(self, reason: str, message_zh: str, message_en: str, *, bureau_id: int | None = None):
        super().__init__(message_en)
        self.reason, self.message_zh, self.message_en = reason, message_zh, message_en
        self.bureau_id = bureau_id


def text(value, limit: int) -> str | None:
    """A claim as clean text of at most ``limit`` characters, or None."""
    if value is None or isinstance(value, (dict, list, tuple, bool)):
        return None
    cleaned = _CONTROL.sub("", str(value)).strip()
    return cleaned[:limit] or None


def values(value) -> tuple[str, ...]:
    """A list claim (a JSON list, or a space- or comma-separated string) as clean strings."""
    if value is None or isinstance(value, dict):
        return ()
    items: Iterable = value if isinstance(value, (list, tuple)) else re.split(r"[\s,]+", str(value))
    out = []
    for item in items:
        cleaned = text(item, 100)
        if cleaned and cleaned not in out:
            out.append(cleaned)
    return tuple(out[:50])


@dataclass(frozen=True)
class StaffClaims:
    issuer: str
    subject: str
    username: str | None
    name: str | None
    bureau_code: str | None
    unit_code: str | None
    roles: tuple[str, ...]
    amr: tuple[str, ...]
    acr: str | None


def read_staff_claims(claims: Mapping, provider: StaffProviderSettings) -> StaffClaims:
    """Read a verified staff identity's claims through the configured claim map."""
    subject = text(claims.get("sub"), 255)
    if not subject:
        raise IdentityRefused("no_subject", "身份认证服务未提供用户标识。", "The identity service sent no subject.")

    def claim(what: str, limit: int) -> str | None:
        name = provider.claim(what)
        return text(claims.get(name), limit) if name else None

    roles_claim = provider.claim("roles")
    return StaffClaims(
        issuer=provider.issuer,
        subject=subject,
        username=text(claims.get(provider.link_claim), 64) if provider.link_claim else None,
        name=claim("name", 100),
        bureau_code=claim("bureau", 40),
        unit_code=claim("unit", 40),
        roles=values(claims.get(roles_claim)) if roles_claim else (),
        amr=values(claims.get("amr")),
        acr=text(claims.get("acr"), 200),
    )


def acr_at_least(acr: str | None, minimum: str | None) -> bool:
    """Whether ``acr`` is ``minimum`` or a higher level of the same scheme.

    Levels compare by their trailing number when the rest is the same: with ``urn:gov:loa:2`` configured,
    ``urn:gov:loa:3`` counts and ``urn:gov:loa:1`` does not; values of another scheme never count.
    """
    if not acr or not minimum:
        return False
    if acr == minimum:
        return True
    a, m = re.fullmatch(r"(.*?)(\d+)", acr), re.fullmatch(r"(.*?)(\d+)", minimum)
    return bool(a and m and a.group(1) == m.group(1) and int(a.group(2)) >= int(m.group(2)))


def provider_asserted_mfa(amr: Iterable[str], acr: str | None, minimum_acr: str | None) -> bool:
    """Whether the provider says it checked a second factor itself (``amr``), or a strong enough level (``acr``)."""
    return bool(MFA_AMR & {a.lower() for a in amr}) or acr_at_least(acr, minimum_acr)


def second_factor_required(roles: Iterable[Role], bureau_policy: str | None, *, enforce: bool) -> bool:
    """Whether a staff member must pass a second factor to sign in.

    With ``STAFF_2FA=enforce``: leaders and administrators always; everybody when the bureau chose ``all_staff``.
    With ``optional``: nobody is forced (those who enrolled are still asked).
    """
    if not enforce:
        return False
    roles = set(roles)
    return bool(roles & (LEADERS | ADMINS)) or bureau_policy == "all_staff"


@dataclass(frozen=True)
class VerifiedIdentity:
    """A citizen's real-name data as the provider asserted it; what is None did not come from the provider."""

    issuer: str
    subject: str
    name: str | None
    id_number: str | None
    phone: str | None
    email: str | None
    verified_at: int  # epoch seconds

    #: Application fields a verified identity fills in.
    FIELDS = ("name", "id_number", "phone", "email")

    @property
    def locked_fields(self) -> frozenset[str]:
        """The application fields that came from the provider: shown read-only, never taken from the form."""
        return frozenset(f for f in self.FIELDS if getattr(self, f))

    def as_dict(self) -> dict:
        return asdict(self)


def read_citizen_claims(
    claims: Mapping, provider: ProviderSettings, *, verified_at: int, today: date | None = None
) -> VerifiedIdentity:
    """Read a citizen's verified claims: the name and a valid ID number, or nothing at all.

    A real-name identity is the two together: a missing name or ID number, or an ID number that is not valid, is
    refused with the reason (``IdentityRefused``), so that nothing is locked half-way (a verified name beside an
    ID number the person could type freely). Phone and e-mail are optional; a malformed one is left out.
    """
    subject = text(claims.get("sub"), 255)
    if not subject:
        raise IdentityRefused("no_subject", "身份认证服务未提供用户标识。", "The identity service sent no subject.")

    def claim(what: str, limit: int) -> str | None:
        name = provider.claim(what)
        return text(claims.get(name), limit) if name else None

    from portal.cases.intake import normalise_email, normalise_phone

    name = claim("name", 100)
    id_number = claim("id_number", 30)
    if not name or not id_number:
        missing = "、".join(z for z, v in (("姓名", name), ("身份证号码", id_number)) if not v)
        missing_en = " and ".join(e for e, v in (("name", name), ("ID number", id_number)) if not v)
        raise IdentityRefused(
            "missing_claim",
            f"身份认证服务未提供您的{missing}，无法完成实名认证。您仍可不经认证直接填写申请。",
            f"The identity service did not provide your {missing_en}, so your identity is not verified. You can"
            " still fill in the application yourself.",
        )
    try:
        id_number = validate_id_number(id_number, today=today)
    except InvalidIdNumber:
        raise IdentityRefused(
            "bad_claim",
            "身份认证服务提供的身份证号码不是有效的号码，无法完成实名认证。您仍可不经认证直接填写申请。",
            "The identity service gave an ID number that is not valid, so your identity is not verified. You can"
            " still fill in the application yourself.",
        ) from None
    phone = claim("phone", 30)
    email = claim("email", 200)
    return VerifiedIdentity(
        issuer=provider.issuer,
        subject=subject,
        name=name,
        id_number=id_number,
        phone=normalise_phone(phone) if phone else None,
        email=normalise_email(email) if email else None,
        verified_at=verified_at,
    )
