"""Identity tables: provider links, second factors, the session registry, the per-bureau policy, the sign-in log.

Tenant-owned (``tenant_id`` is the staff member's bureau): links, TOTP secrets, recovery codes, sessions, the
bureau's policy and the bureau's sign-in events. Each of them is looked up by a secret or a provider subject before
the bureau is known (like ``staff_users.username``), so those look-ups run in the system scope in
``portal.identity`` and nowhere else.

``sign_in_attempts`` is not tenant-owned on purpose: it records what happened when no bureau can be named (an
unknown username, an identity that maps to no bureau, a tampered callback, a citizen's sign-in). Only province
administrators read it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    ForeignKeyConstraint,
    Identity,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column

#: The bureau's second-factor rule (the deployment's ``STAFF_2FA`` decides whether it is enforced at all).
SECOND_FACTOR_POLICIES = ("leaders_and_admins", "all_staff")
#: Why a session ended.
END_REASONS = (
    "signed_out",
    "idle",
    "absolute",
    "ended_by_user",
    "everywhere",
    "account_changed",
    "password_changed",
    "password_reset",
    "deactivated",
    "roles_changed",
    "ended_by_admin",
)


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"


class StaffIdentity(TenantOwned, Base):
    """An identity at the provider (issuer + subject) linked to one staff account.

    Made at the first single sign-on that matches a pre-provisioned account (``portal identity link`` or the
    configured username claim) or that provisions one. Unique across the deployment: the look-up happens before
    the bureau is known; under Citus this small table would be a reference table, like ``staff_users``.
    """

    __tablename__ = "staff_identities"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        UniqueConstraint("issuer", "subject"),
        UniqueConstraint("tenant_id", "user_id", "issuer"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    issuer: Mapped[str] = mapped_column(String(300))
    subject: Mapped[str] = mapped_column(String(255))
    linked_at: Mapped[datetime] = utcnow_column()
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def __repr__(self) -> str:
        return f"<StaffIdentity user {self.user_id} {self.subject!r}>"


class StaffTotp(TenantOwned, Base):
    """A staff member's TOTP secret (RFC 6238), encrypted with the personal-data key; one per user.

    ``confirmed_at`` is empty while enrolment waits for the first correct code. ``last_step`` is the time step of
    the last accepted code, so that a code is never accepted twice.
    """

    __tablename__ = "staff_totp"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        UniqueConstraint("tenant_id", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_step: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = utcnow_column()

    def __repr__(self) -> str:
        return f"<StaffTotp user {self.user_id} confirmed={self.confirmed_at is not None}>"


class StaffRecoveryCode(TenantOwned, Base):
    """One single-use recovery code: only its keyed hash is stored."""

    __tablename__ = "staff_recovery_codes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        UniqueConstraint("tenant_id", "user_id", "code_hash"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()

    def __repr__(self) -> str:
        return f"<StaffRecoveryCode user {self.user_id} used={self.used_at is not None}>"


class StaffSession(TenantOwned, Base):
    """One signed-in browser of a staff member: the session registry.

    The browser's cookie holds a random key; only its SHA-256 is stored (``key_hash``), looked up on every request
    before the bureau is known. Idle and absolute timeouts are checked against ``last_seen_at`` and
    ``created_at``; an ended session stays as a record (``ended_at``, ``end_reason``). ``id_token_enc`` keeps the
    provider's ID token (encrypted) for the ``id_token_hint`` of the provider's sign-out.
    """

    __tablename__ = "staff_sessions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        Index("ix_staff_sessions_key_hash", "key_hash", unique=True),
        Index("ix_staff_sessions_tenant_id_user_id_created_at", "tenant_id", "user_id", "created_at"),
        CheckConstraint(_in("method", ("password", "sso")), name="method"),
        CheckConstraint("end_reason IS NULL OR " + _in("end_reason", END_REASONS), name="end_reason"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    key_hash: Mapped[str] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))
    second_factor: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    id_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    end_reason: Mapped[str | None] = mapped_column(String(20))

    @property
    def active(self) -> bool:
        return self.ended_at is None

    def __repr__(self) -> str:
        return f"<StaffSession {self.id} of user {self.user_id}>"


class IdentityPolicy(TenantOwned, Base):
    """A bureau's own sign-in rules, set by its administrator: who must use a second factor."""

    __tablename__ = "identity_policies"
    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint(_in("second_factor", SECOND_FACTOR_POLICIES), name="second_factor"),
    )

    second_factor: Mapped[str] = mapped_column(String(30), default="leaders_and_admins")
    updated_at: Mapped[datetime] = utcnow_column()
    updated_by: Mapped[int | None] = mapped_column(BigInteger)

    def __repr__(self) -> str:
        return f"<IdentityPolicy {self.tenant_id} {self.second_factor}>"


class StaffSignInEvent(TenantOwned, Base):
    """A staff sign-in, or a failed one, whose bureau is known (the account's, or the one the identity names)."""

    __tablename__ = "staff_sign_in_events"
    __table_args__ = (Index("ix_staff_sign_in_events_tenant_id_at", "tenant_id", "at"),)

    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[int | None] = mapped_column(BigInteger)
    username: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    second_factor: Mapped[str | None] = mapped_column(String(20))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:
        return f"<StaffSignInEvent {self.method} {self.outcome} user {self.user_id}>"


class SignInAttempt(Base):
    """A sign-in (or failure) that belongs to no bureau: unknown usernames, unmapped identities, citizens.

    ``identifier`` is what identifies the attempt without personal data: a typed staff username, a staff
    identity's subject, or the keyed hash of a citizen's subject.
    """

    __tablename__ = "sign_in_attempts"
    __table_args__ = (
        Index("ix_sign_in_attempts_at", "at"),
        CheckConstraint(_in("realm", ("staff", "citizen")), name="realm"),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    realm: Mapped[str] = mapped_column(String(10))
    method: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(30))
    identifier: Mapped[str | None] = mapped_column(String(300))
    bureau_hint: Mapped[str | None] = mapped_column(String(40))
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(String(300))
    detail: Mapped[str | None] = mapped_column(String(300))

    def __repr__(self) -> str:
        return f"<SignInAttempt {self.realm} {self.method} {self.outcome}>"
