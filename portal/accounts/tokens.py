"""Bearer tokens of the staff API: issued after the same sign-in check as the web, looked up on every request.

A token is 256 random bits shown once to the client; the database keeps only its SHA-256 (a leaked table gives
nobody a usable token, and a plain hash suffices for random secrets of this length). Tokens expire after
``TOKEN_LIFETIME`` and after ``SESSION_IDLE_MINUTES`` unused, like a browser session; signing out revokes one,
and every token of a user ends with their sessions (sign-out everywhere, password change or reset, deactivation,
role change: ``revoke_user_tokens``). They are listed, and revocable, on the user's sessions page.
``check_token`` is what ``portal.web`` calls to sign the request in.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from portal.accounts.models import ApiToken, StaffUser
from tenants.scoping import TenantScope, scoped, system_scope

TOKEN_LIFETIME = timedelta(hours=8)  # one working day: clients sign in again each morning
TOKEN_PREFIX = "prt_"  # recognisable in logs and by secret scanners
_MAX_TOKEN_CHARS = 100


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: datetime


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None when the header is not one."""
    if not authorization:
        return None
    scheme, _sep, value = authorization.strip().partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > _MAX_TOKEN_CHARS:
        return None
    return value


def issue_token(session: Session, user: StaffUser, *, now: datetime | None = None) -> IssuedToken:
    """Create a token for ``user`` (already authenticated); drop their tokens expired a day ago. Flushes."""
    now = now or datetime.now(UTC)
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = now + TOKEN_LIFETIME
    with scoped(session, TenantScope.single(user.tenant_id)):
        session.execute(
            delete(ApiToken).where(
                ApiToken.tenant_id == user.tenant_id,
                ApiToken.user_id == user.id,
                ApiToken.expires_at < now - timedelta(days=1),
            )
        )
        session.add(
            ApiToken(tenant_id=user.tenant_id, user_id=user.id, token_hash=token_hash(token), expires_at=expires_at)
        )
        session.flush()
    return IssuedToken(token=token, expires_at=expires_at)


#: ``last_used_at`` is written at most this often; the idle timeout allows for it (never ends a token early).
TOUCH_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class TokenCheck:
    user: StaffUser | None
    changed: bool = False  # a row was written (the caller commits)


def is_idle(last_seen: datetime, now: datetime, idle: timedelta) -> bool:
    """Idle since ``last_seen`` (written at most every ``TOUCH_EVERY``): never early, at most that much late."""
    return now - last_seen >= idle + TOUCH_EVERY


def check_token(
    session: Session, token: str | None, *, idle: timedelta | None = None, now: datetime | None = None
) -> TokenCheck:
    """The active staff member a valid token belongs to (before the request has a scope); flushes.

    A token unused for ``idle`` is revoked; a used one has ``last_used_at`` refreshed (at most once a minute).
    """
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return TokenCheck(None)
    now = now or datetime.now(UTC)
    with system_scope(session):
        row = session.execute(
            select(ApiToken, StaffUser)
            .join(StaffUser, (ApiToken.tenant_id == StaffUser.tenant_id) & (ApiToken.user_id == StaffUser.id))
            .where(
                ApiToken.token_hash == token_hash(token),
                ApiToken.expires_at > now,
                ApiToken.revoked_at.is_(None),
                StaffUser.active.is_(True),
            )
        ).first()
        if row is None:
            return TokenCheck(None)
        api_token, user = row
        last = api_token.last_used_at or api_token.created_at
        if idle is not None and is_idle(last, now, idle):
            api_token.revoked_at, api_token.revoke_reason = now, "idle"
            session.flush()
            return TokenCheck(None, changed=True)
        if now - last >= TOUCH_EVERY:
            api_token.last_used_at = now
            session.flush()
            return TokenCheck(user, changed=True)
        return TokenCheck(user)


def token_user(session: Session, token: str | None, *, now: datetime | None = None) -> StaffUser | None:
    """The active staff member a valid token belongs to, without the idle rule (for scripts and tests)."""
    return check_token(session, token, now=now).user


def revoke_user_tokens(session: Session, user: StaffUser, *, now: datetime, reason: str) -> int:
    """Revoke every live token of ``user`` (in the user's bureau); return how many; flushes."""
    with scoped(session, TenantScope.single(user.tenant_id)):
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.tenant_id == user.tenant_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason=reason)
            .execution_options(synchronize_session=False)
        )
        session.flush()
    return result.rowcount


def list_tokens(session: Session, user: StaffUser, *, now: datetime, limit: int = 20) -> list[ApiToken]:
    """The user's live tokens first, then the most recently ended ones (the sessions page)."""
    with scoped(session, TenantScope.single(user.tenant_id)):
        return list(
            session.scalars(
                select(ApiToken)
                .where(ApiToken.tenant_id == user.tenant_id, ApiToken.user_id == user.id)
                .order_by(
                    (ApiToken.revoked_at.is_(None) & (ApiToken.expires_at > now)).desc(), ApiToken.created_at.desc()
                )
                .limit(limit)
            )
        )


def revoke_own_token(session: Session, user: StaffUser, token_id: int, *, now: datetime) -> ApiToken | None:
    """Revoke one of the user's own tokens by id; None when it is not theirs; flushes."""
    with scoped(session, TenantScope.single(user.tenant_id)):
        row = session.scalar(
            select(ApiToken).where(
                ApiToken.tenant_id == user.tenant_id, ApiToken.user_id == user.id, ApiToken.id == token_id
            )
        )
        if row is not None and row.revoked_at is None:
            row.revoked_at, row.revoke_reason = now, "ended_by_user"
            session.flush()
    return row


def revoke_token(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """Revoke a token (signing out of the API); True when a live token was revoked. Flushes."""
    now = now or datetime.now(UTC)
    with system_scope(session):
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=now, revoke_reason="signed_out")
        )
        session.flush()
    return bool(result.rowcount)
