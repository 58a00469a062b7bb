"""Create staff users and sign them in (with lockout after repeated failures)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.accounts.passwords import hash_password, password_problem, verify_password
from portal.roles import Role
from tenants.models import Bureau, Unit
from tenants.scoping import TenantScope, scoped, system_scope


class AccountError(ValueError):
    """Input that cannot make a valid account."""


class LoginResult(StrEnum):
    ok = "ok"
    bad_credentials = "bad_credentials"
    locked = "locked"
    inactive = "inactive"


@dataclass(frozen=True)
class LoginOutcome:
    result: LoginResult
    user: StaffUser | None = None
    locked_until: datetime | None = None


def create_user(
    session: Session,
    *,
    bureau: Bureau,
    username: str,
    password: str,
    roles: list[Role],
    display_name: str | None = None,
    unit_code: str | None = None,
) -> StaffUser:
    """Create a staff user of ``bureau``; flushes. Raises ``AccountError`` with the reason."""
    username = username.strip()
    if not username or len(username) > 64 or not username.replace("_", "").replace(".", "").isalnum():
        raise AccountError("Username must be 1-64 letters, digits, '.' or '_'.")
    if not roles:
        raise AccountError("A user needs at least one role.")
    if Role.province_admin in roles and bureau.parent_id is not None:
        raise AccountError("Only staff of the province bureau can be province administrators.")
    if problem := password_problem(password):
        raise AccountError(problem)
    with system_scope(session):
        if session.scalar(select(StaffUser.id).where(StaffUser.username == username)):
            raise AccountError(f"Username {username!r} is taken.")
    with scoped(session, TenantScope.single(bureau.id)):
        unit_id = None
        if unit_code:
            unit = session.scalar(select(Unit).where(Unit.code == unit_code))
            if unit is None:
                raise AccountError(f"Bureau {bureau.name} has no unit {unit_code!r}.")
            unit_id = unit.id
        user = StaffUser(
            tenant_id=bureau.id,
            username=username,
            display_name=(display_name or username).strip(),
            password_hash=hash_password(password),
            unit_id=unit_id,
            roles=list(dict.fromkeys(roles)),
        )
        session.add(user)
        session.flush()
    return user


def authenticate(
    session: Session, username: str, password: str, *, max_failures: int, lock_minutes: int
) -> LoginOutcome:
    """Check a staff sign-in; count failures and lock the account after ``max_failures`` in a row; flushes."""
    now = datetime.now(UTC)
    with system_scope(session):
        user = session.scalar(select(StaffUser).where(StaffUser.username == username.strip()).with_for_update())
        if user is None:
            verify_password(None, password)  # same cost as a real check: do not reveal which usernames exist
            return LoginOutcome(LoginResult.bad_credentials)
        if user.locked_until and user.locked_until > now:
            return LoginOutcome(LoginResult.locked, locked_until=user.locked_until)
        if not verify_password(user.password_hash, password):
            user.failed_logins += 1
            if user.failed_logins >= max_failures:
                user.locked_until = now + timedelta(minutes=lock_minutes)
                user.failed_logins = 0
                session.flush()
                return LoginOutcome(LoginResult.locked, locked_until=user.locked_until)
            session.flush()
            return LoginOutcome(LoginResult.bad_credentials)
        if not user.active:
            return LoginOutcome(LoginResult.inactive)
        user.failed_logins = 0
        user.locked_until = None
        user.last_login_at = now
        session.flush()
        return LoginOutcome(LoginResult.ok, user=user)


def load_user(session: Session, user_id: int) -> StaffUser | None:
    """Load the signed-in user for a request (before the request has a scope)."""
    with system_scope(session):
        return session.scalar(select(StaffUser).where(StaffUser.id == user_id, StaffUser.active.is_(True)))
