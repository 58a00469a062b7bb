"""Staff users of a bureau."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Enum,
    ForeignKeyConstraint,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.roles import Role


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

    def __repr__(self) -> str:
        return f"<StaffUser {self.username}>"
