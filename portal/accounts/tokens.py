"""Bearer tokens of the staff API: issued after the same sign-in check as the web, looked up on every request.

A token is 256 random bits shown once to the client; the database keeps only its SHA-256 (a leaked table gives
nobody a usable token, and a plain hash suffices for random secrets of this length). Tokens expire after
``TOKEN_LIFETIME``; signing out revokes one. ``token_user`` is what ``portal.web`` calls to sign the request in.
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


def token_user(session: Session, token: str | None, *, now: datetime | None = None) -> StaffUser | None:
    """The active staff member a valid token belongs to (before the request has a scope), or None."""
    if not token or len(token) > _MAX_TOKEN_CHARS:
        return None
    now = now or datetime.now(UTC)
    with system_scope(session):
        return session.scalar(
            select(StaffUser)
            .join(ApiToken, (ApiToken.tenant_id == StaffUser.tenant_id) & (ApiToken.user_id == StaffUser.id))
            .where(
                ApiToken.token_hash == token_hash(token),
                ApiToken.expires_at > now,
                ApiToken.revoked_at.is_(None),
                StaffUser.active.is_(True),
            )
        )


def revoke_token(session: Session, token: str, *, now: datetime | None = None) -> bool:
    """Revoke a token (signing out of the API); True when a live token was revoked. Flushes."""
    now = now or datetime.now(UTC)
    with system_scope(session):
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.token_hash == token_hash(token), ApiToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        session.flush()
    return bool(result.rowcount)
