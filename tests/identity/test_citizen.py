"""Citizens' real-name sign-in against the real provider: verified claims for the application form."""

from __future__ import annotations

import base64
import zlib

from sqlalchemy import text

from portal.identity.web import verified_identity
from tests.helpers import csrf_token
from tests.identity.conftest import location, query, sso_sign_in

VALID_ID = "11010519491231002X"  # the GB 11643 example number
CLAIMS = {
    "name": "张三",
    "id_number": VALID_ID.lower(),
    "phone_number": "+86 138 0013 8000",
    "email": "zhang.san@example.cn",
}


def identity_of(client):
    """What ``verified_identity()`` returns for this browser (a request of its own, as a page would do)."""
    with client:
        client.get("/")
        return verified_identity()


def rows(owner_engine, sql: str):
    with owner_engine.connect() as conn:
        return conn.execute(text(sql)).mappings().all()


def test_verified_claims_come_from_the_provider(sso_client, provider, owner_engine):
    response = sso_sign_in(sso_client, provider, "citizen-1", CLAIMS, realm="citizen", next="/apply")
    assert location(response) == "/apply"
    identity = identity_of(sso_client)
    assert identity is not None
    assert (identity.name, identity.id_number, identity.phone, identity.email) == (
        "张三",
        VALID_ID,
        "13800138000",
        "zhang.san@example.cn",
    )
    assert identity.locked_fields == {"name", "id_number", "phone", "email"}
    assert identity.issuer == provider.issuer and identity.subject == "citizen-1"
    # The citizen is signed in to a petitioner account, which is not staff (staff pages answer 404, as in
    # test_petitioners_and_staff_never_mix), and no personal data is readable in the (signed, not encrypted) cookie.
    assert sso_client.get("/staff/").status_code == 404
    assert "staff-nav" not in sso_client.get("/staff/login").get_data(as_text=True)
    cookie = sso_client.get_cookie("session").value
    payload = cookie.split(".")[1] if cookie.startswith(".") else cookie.split(".")[0]
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    if cookie.startswith("."):
        raw = zlib.decompress(raw)
    assert VALID_ID.encode() not in raw and "张三".encode() not in raw and b"13800138000" not in raw
    # The sign-in is recorded without personal data: the subject only as a keyed hash.
    attempt = rows(owner_engine, "SELECT realm, method, outcome, identifier FROM sign_in_attempts")[0]
    assert (attempt["realm"], attempt["method"], attempt["outcome"]) == ("citizen", "sso", "ok")
    assert "citizen-1" not in attempt["identifier"] and len(attempt["identifier"]) == 64


def test_an_invalid_id_number_is_refused_and_nothing_is_locked(sso_client, provider):
    refused = sso_sign_in(
        sso_client, provider, "citizen-2", {"name": "李四", "id_number": "110105194912310021"}, realm="citizen"
    )
    assert refused.status_code == 403 and "身份证号码不是有效的号码" in refused.get_data(as_text=True)
    assert identity_of(sso_client) is None  # no name locked beside a free ID number
    missing = sso_sign_in(sso_client, provider, "citizen-2b", {"name": "李四"}, realm="citizen")
    assert missing.status_code == 403 and "身份证号码" in missing.get_data(as_text=True)
    assert identity_of(sso_client) is None


def test_missing_optional_claims_stay_editable(sso_client, provider):
    sso_sign_in(sso_client, provider, "citizen-2c", {"name": "李四", "id_number": VALID_ID}, realm="citizen")
    identity = identity_of(sso_client)
    assert identity.phone is None and identity.locked_fields == {"name", "id_number"}


def test_hostile_claims_are_cleaned(sso_client, provider):
    sso_sign_in(
        sso_client,
        provider,
        "citizen-3",
        {"name": "<script>alert(1)</script>\x00" + "x" * 500, "email": "nope", "id_number": VALID_ID},
        realm="citizen",
    )
    identity = identity_of(sso_client)
    assert "\x00" not in identity.name and len(identity.name) == 100
    assert identity.email is None


def test_tampered_state_gives_no_identity(sso_client, provider, owner_engine):
    provider.set_user("citizen-4", CLAIMS)
    back = provider.authorize(location(sso_client.get("/citizen/sso/login")), "citizen-4")
    params = query(back)
    response = sso_client.get(f"/citizen/sso/callback?code={params['code']}&state=x{params['state']}")
    assert response.status_code == 400
    assert identity_of(sso_client) is None
    assert rows(owner_engine, "SELECT realm, outcome FROM sign_in_attempts")[0]["outcome"] == "sso_error"


def test_the_identity_expires_when_idle_and_can_be_removed(sso_client, provider, clock, configure):
    configure(SESSION_IDLE_MINUTES="30", SESSION_MAX_HOURS="12")
    sso_sign_in(sso_client, provider, "citizen-5", CLAIMS, realm="citizen")
    clock.advance(minutes=20)
    assert identity_of(sso_client) is not None
    clock.advance(minutes=20)
    assert identity_of(sso_client) is not None  # still within 30 minutes of the last page
    clock.advance(minutes=31)
    assert identity_of(sso_client) is None
    with sso_client.session_transaction() as cookie:
        assert "identity.citizen" not in cookie

    sso_sign_in(sso_client, provider, "citizen-5", CLAIMS, realm="citizen")
    assert identity_of(sso_client) is not None
    out = sso_client.post("/citizen/sso/logout", data={"csrf_token": csrf_token(sso_client, "/staff/login")})
    target = location(out)
    assert target.startswith(provider.issuer + "/oauth2/end_session?") and "id_token_hint=" in target
    assert identity_of(sso_client) is None


def test_a_cookie_from_another_key_is_ignored(sso_client):
    with sso_client.session_transaction() as cookie:
        cookie["identity.citizen"] = base64.urlsafe_b64encode(b"\x01" + b"0" * 40).decode()
        cookie["identity.citizen_seen"] = 10**10
    assert identity_of(sso_client) is None
