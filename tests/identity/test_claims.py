"""What claims mean: staff claim map, citizen claims, the provider's MFA assertion, who needs a second factor."""

from __future__ import annotations

import pytest

from portal.identity.claims import (
    IdentityRefused,
    acr_at_least,
    provider_asserted_mfa,
    read_citizen_claims,
    read_staff_claims,
    second_factor_required,
)
from portal.identity.settings import CITIZEN_CLAIM_KEYS, STAFF_CLAIM_KEYS, ProviderSettings, StaffProviderSettings
from portal.roles import Role

STAFF = StaffProviderSettings(
    realm="staff",
    issuer="https://id.jl.gov.cn",
    client_id="c",
    client_secret=None,
    scopes="openid",
    claims=(*sorted({**STAFF_CLAIM_KEYS, "bureau": "org_code"}.items()),),
    link_claim="preferred_username",
    role_map=(("xfb", "petition_clerk"),),
)
CITIZEN = ProviderSettings(
    realm="citizen",
    issuer="https://id.jl.gov.cn",
    client_id="c",
    client_secret=None,
    scopes="openid",
    claims=tuple(sorted(CITIZEN_CLAIM_KEYS.items())),
)


def test_staff_claims_follow_the_configured_map():
    claims = read_staff_claims(
        {
            "sub": "s1",
            "preferred_username": "cc_x",
            "org_code": "220100",
            "roles": "xfb division_staff, xfb",
            "amr": ["pwd", "OTP"],
            "acr": "2",
            "bureau_adcode": "999999",
        },
        STAFF,
    )
    assert claims.bureau_code == "220100"  # the configured claim, not the default name
    assert claims.roles == ("xfb", "division_staff")
    assert claims.amr == ("pwd", "OTP")
    assert STAFF.role_for("xfb") is Role.petition_clerk
    assert STAFF.role_for("division_staff") is Role.division_staff
    assert STAFF.role_for("boss") is None


def test_staff_claims_need_a_subject_and_are_cleaned():
    with pytest.raises(IdentityRefused):
        read_staff_claims({"preferred_username": "x"}, STAFF)
    claims = read_staff_claims({"sub": "s", "name": "a\x00b\n" + "c" * 300, "roles": {"x": 1}}, STAFF)
    assert claims.name == "abc" + "c" * 97 and claims.roles == ()


@pytest.mark.parametrize(
    ("acr", "minimum", "expected"),
    [
        ("urn:gov:loa:3", "urn:gov:loa:3", True),
        ("urn:gov:loa:4", "urn:gov:loa:3", True),
        ("urn:gov:loa:2", "urn:gov:loa:3", False),
        ("urn:other:loa:9", "urn:gov:loa:3", False),
        ("3", "2", True),
        ("silver", "gold", False),
        (None, "2", False),
        ("2", None, False),
    ],
)
def test_acr_levels(acr, minimum, expected):
    assert acr_at_least(acr, minimum) is expected


def test_provider_mfa():
    assert provider_asserted_mfa(["pwd", "mfa"], None, None)
    assert provider_asserted_mfa(["hwk"], None, None)
    assert not provider_asserted_mfa(["pwd"], "1", "2")
    assert provider_asserted_mfa(["pwd"], "2", "2")


def test_who_needs_a_second_factor():
    assert second_factor_required([Role.petitions_leader], None, enforce=True)
    assert second_factor_required([Role.bureau_admin], "leaders_and_admins", enforce=True)
    assert not second_factor_required([Role.petition_clerk], "leaders_and_admins", enforce=True)
    assert second_factor_required([Role.petition_clerk], "all_staff", enforce=True)
    assert not second_factor_required([Role.principal_leader], "all_staff", enforce=False)


def test_citizen_claims():
    identity = read_citizen_claims(
        {
            "sub": "c1",
            "name": " 张三 ",
            "id_number": "11010519491231002x",
            "phone_number": "138-0013-8000",
            "email": "A@Example.CN",
        },
        CITIZEN,
        verified_at=1,
    )
    assert (identity.name, identity.id_number, identity.phone, identity.email) == (
        "张三",
        "11010519491231002X",
        "13800138000",
        "A@example.cn",
    )
    assert identity.locked_fields == {"name", "id_number", "phone", "email"}
    # Nothing is locked half-way: without a name and a valid ID number there is no verified identity at all.
    for claims, reason in (
        ({"sub": "c2", "name": "李四", "id_number": "not a number"}, "bad_claim"),
        ({"sub": "c3", "name": "李四"}, "missing_claim"),
        ({"sub": "c4", "id_number": "11010519491231002x"}, "missing_claim"),
    ):
        with pytest.raises(IdentityRefused) as refused:
            read_citizen_claims(claims, CITIZEN, verified_at=1)
        assert refused.value.reason == reason
