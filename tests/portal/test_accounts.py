"""Staff accounts: creation rules, argon2 hashes, sign-in with lockout."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, text

from portal.accounts.models import StaffUser
from portal.accounts.operations import AccountError, LoginResult, authenticate, create_user
from portal.roles import Role
from tenants.models import Unit
from tenants.tree import get_bureau
from tests.helpers import PASSWORD, make_staff

MAX_FAILURES = 3
LOCK_MINUTES = 15


def new_user(session, adcode="220100", **kw):
    args = {"username": "clerk_a", "password": PASSWORD, "roles": [Role.petition_clerk]} | kw
    return create_user(session, bureau=get_bureau(session, adcode), **args)


def sign_in(session, username, password=PASSWORD):
    """Authenticate as the login view does: one call, then commit."""
    outcome = authenticate(session, username, password, max_failures=MAX_FAILURES, lock_minutes=LOCK_MINUTES)
    session.commit()
    return outcome


def stored_row(owner_engine, username):
    with owner_engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT password_hash, failed_logins, locked_until, last_login_at FROM staff_users WHERE username = :u"
            ),
            {"u": username},
        ).one()


def test_create_user_stores_an_argon2_hash(dbs, owner_engine):
    user = new_user(dbs, unit_code="petition_office", display_name=" 张三 ")
    dbs.commit()
    unit = dbs.scalar(select(Unit).where(Unit.tenant_id == user.tenant_id, Unit.code == "petition_office"))
    assert user.tenant_id == get_bureau(dbs, "220100").id
    assert user.unit_id == unit.id
    assert user.display_name == "张三"
    assert user.roles == [Role.petition_clerk]
    assert user.active
    password_hash = stored_row(owner_engine, "clerk_a").password_hash
    assert password_hash.startswith("$argon2id$")
    assert PASSWORD not in password_hash


def test_create_user_defaults_and_deduplicates(dbs):
    user = new_user(dbs, username="  leader.one_2 ", roles=[Role.petitions_leader, Role.petitions_leader])
    assert user.username == "leader.one_2"
    assert user.display_name == "leader.one_2"
    assert user.roles == [Role.petitions_leader]
    assert user.unit_id is None


def test_province_admin_at_the_province(dbs):
    user = new_user(dbs, "220000", roles=[Role.province_admin, Role.bureau_admin])
    assert user.roles == [Role.province_admin, Role.bureau_admin]


@pytest.mark.parametrize(
    ("kw", "reason"),
    [
        ({"username": "bad name"}, "Username must be"),
        ({"username": "bad-name"}, "Username must be"),
        ({"username": ""}, "Username must be"),
        ({"username": "x" * 65}, "Username must be"),
        ({"password": "Short-1"}, "at least 10 characters"),
        ({"password": "onlyletters"}, "mix letters"),
        ({"password": "1234567890123"}, "mix letters"),
        ({"roles": [Role.province_admin]}, "Only staff of the province bureau"),
        ({"unit_code": "medical"}, "has no unit 'medical'"),
    ],
)
def test_create_user_refuses(dbs, kw, reason):
    with pytest.raises(AccountError, match=reason):
        new_user(dbs, **kw)
    dbs.rollback()
    assert dbs.scalar(select(StaffUser.id)) is None


def test_province_admin_refused_at_a_county(dbs):
    with pytest.raises(AccountError, match="province administrators"):
        new_user(dbs, "220102", roles=[Role.bureau_admin, Role.province_admin])


def test_username_is_unique_across_bureaus(dbs):
    make_staff(dbs, "220100", username="same_name")
    with pytest.raises(AccountError, match="'same_name' is taken"):
        new_user(dbs, "220200", username="same_name")


def test_authenticate_ok(dbs, owner_engine):
    make_staff(dbs, "220102", Role.division_staff, unit="pension", username="ng_staff")
    outcome = sign_in(dbs, " ng_staff ")
    assert outcome.result == LoginResult.ok
    assert outcome.user.username == "ng_staff"
    assert stored_row(owner_engine, "ng_staff").last_login_at is not None


def test_authenticate_wrong_password_and_unknown_user(dbs, owner_engine):
    make_staff(dbs, "220100", username="cc_clerk")
    wrong = sign_in(dbs, "cc_clerk", "Wrong-horse-42")
    assert wrong.result == LoginResult.bad_credentials
    assert wrong.user is None
    assert stored_row(owner_engine, "cc_clerk").failed_logins == 1
    unknown = sign_in(dbs, "nobody_here", PASSWORD)
    assert unknown.result == LoginResult.bad_credentials
    assert unknown.user is None


def test_success_resets_the_failure_count(dbs, owner_engine):
    make_staff(dbs, "220100", username="cc_clerk")
    for _ in range(MAX_FAILURES - 1):
        assert sign_in(dbs, "cc_clerk", "Wrong-horse-42").result == LoginResult.bad_credentials
    assert sign_in(dbs, "cc_clerk").result == LoginResult.ok
    assert stored_row(owner_engine, "cc_clerk").failed_logins == 0
    # The count starts again: one more failure does not lock.
    assert sign_in(dbs, "cc_clerk", "Wrong-horse-42").result == LoginResult.bad_credentials


def test_failures_make_the_source_wait_not_the_account(app, dbs, owner_engine):
    from portal.accounts.throttle import LoginThrottle

    make_staff(dbs, "220100", username="cc_clerk")
    throttle = LoginThrottle(app.extensions["portal.redis"], max_failures=MAX_FAILURES, lock_minutes=LOCK_MINUTES)

    def attempt(password=PASSWORD, source="10.9.9.9", username="cc_clerk"):
        outcome = authenticate(
            dbs, username, password, max_failures=MAX_FAILURES, lock_minutes=LOCK_MINUTES, throttle=throttle,
            source=source,
        )  # fmt: skip
        dbs.commit()
        return outcome

    for _ in range(MAX_FAILURES - 1):
        assert attempt("Wrong-horse-42").result == LoginResult.bad_credentials
    before = datetime.now(UTC)
    waiting = attempt("Wrong-horse-42")
    assert waiting.result == LoginResult.locked and waiting.user is None
    assert abs(waiting.locked_until - (before + timedelta(seconds=30))) < timedelta(seconds=5)
    # The source waits, even with the right password; an unknown username answers exactly alike.
    assert attempt().result == LoginResult.locked
    for _ in range(MAX_FAILURES):
        last = attempt("Wrong-horse-42", username="cc_nobody")
    assert last.result == LoginResult.locked
    # Another source is not held up, and its success makes it a known source.
    assert attempt(source="10.1.1.1").result == LoginResult.ok
    assert stored_row(owner_engine, "cc_clerk").locked_until is None
    # Failures spread over many sources delay unknown sources only.
    for n in range(3 * MAX_FAILURES):
        attempt("Wrong-horse-42", source=f"10.50.0.{n}")
    assert attempt(source="10.60.0.1").result == LoginResult.locked
    assert attempt(source="10.1.1.1").result == LoginResult.ok


def test_inactive_user_is_refused(dbs, owner_engine):
    make_staff(dbs, "220100", username="cc_gone")
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE staff_users SET active = false WHERE username = 'cc_gone'"))
    dbs.expire_all()
    outcome = sign_in(dbs, "cc_gone")
    assert outcome.result == LoginResult.inactive
    assert outcome.user is None
    assert stored_row(owner_engine, "cc_gone").last_login_at is None
