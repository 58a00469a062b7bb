"""Staff users of a bureau."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.roles import ADMINS, LEADERS, PETITION_OFFICE, Role


class StaffUser(TenantOwned, Base):
    """A member of staff of one bureau (optionally of one of its units), with one or more roles.

    Usernames are unique across the deployment because sign-in happens before the bureau is known; under Citus
    this small table would be a reference table.
    """

    __tablename__ = "staff_users"
    __table_args__ = (
        UniqueConstraint("username"),
        ForeignKeyConstraint(["tenant_id", "unit_id"], ["units.tenant_id", "units.id"]),
    )

    username: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int | None] = mapped_column(BigInteger)
    roles: Mapped[list[Role]] = mapped_column(ARRAY(Enum(Role, name="staff_role")))
    # Units whose business this leader is in charge of (a business leader approves their opinions, §四.8).
    oversees_unit_ids: Mapped[list[int]] = mapped_column(ARRAY(BigInteger), default=list, server_default="{}")
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default="true")
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()
    # Set by an administrator's password reset: every page but "change password" waits until it is changed.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False, server_default="false")
    # Wrong second-factor codes in a row, from any browser or client; past a few each one waits longer.
    second_factor_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    second_factor_wait_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    # Flask-Login protocol, kept here so that the model stays free of Flask imports.
    is_authenticated = True
    is_anonymous = False

    @property
    def is_active(self) -> bool:
        return self.active

    def get_id(self) -> str:
        return f"staff:{self.id}"

    def has_role(self, *roles: Role) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def in_petition_office(self) -> bool:
        return self.has_role(*PETITION_OFFICE)

    @property
    def is_admin(self) -> bool:
        return self.has_role(*ADMINS)

    @property
    def is_leader(self) -> bool:
        """A bureau leader (局领导): they declare their own absences and stand-ins (§四.4)."""
        return self.has_role(*LEADERS)

    def __repr__(self) -> str:
        return f"<StaffUser {self.username}>"


class ApiToken(TenantOwned, Base):
    """A bearer token of the staff API (``portal.accounts.tokens``): only its SHA-256 is stored, never the token.

    Looked up by hash before the bureau is known (like a sign-in); the hash is unique in practice (256 random bits).
    """

    __tablename__ = "api_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["staff_users.tenant_id", "staff_users.id"]),
        Index("ix_api_tokens_token_hash", "token_hash"),
        Index("ix_api_tokens_tenant_id_user_id", "tenant_id", "user_id"),
    )

    user_id: Mapped[int] = mapped_column(BigInteger)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = utcnow_column()
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Written at most once a minute (``portal.identity.operations.TOUCH_EVERY``); the idle timeout counts from it.
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Why it was revoked: signed_out, everywhere, password_changed, deactivated, roles_changed, idle, ended_by_user.
    revoke_reason: Mapped[str | None] = mapped_column(String(30))

    def __repr__(self) -> str:
        return f"<ApiToken {self.id} of user {self.user_id}>"
