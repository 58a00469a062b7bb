"""Petitioner accounts (optional to use) and the cases linked to them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, ForeignKey, Identity, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, utcnow_column


class Petitioner(Base):
    """A citizen's account: signs in with a phone number or an email address and a password.

    Not tenant-owned: one account follows its cases to whichever bureau handles them. The phone and the email are
    stored encrypted, with a keyed hash for the unique sign-in look-up (``portal.pii``); nothing readable in the
    clear. Never a staff user: its session id is ``petitioner:<id>``, and staff pages refuse it.
    """

    __tablename__ = "petitioners"
    __table_args__ = (
        CheckConstraint(
            "phone_hash IS NOT NULL OR email_hash IS NOT NULL OR oidc_subject_hash IS NOT NULL", name="has_sign_in"
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    password_hash: Mapped[str] = mapped_column(String(200))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = utcnow_column()
    # Stored in the session cookie at sign-in; signing out raises it, which ends every copy of the cookie.
    session_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Keyed hash of "issuer|subject" of the citizens' identity provider: a verified sign-in opens this account.
    oidc_subject_hash: Mapped[str | None] = mapped_column(String(64), unique=True)

    # Flask-Login protocol, kept here so that the model stays free of Flask imports.
    is_authenticated = True
    is_anonymous = False
    is_active = True

    def get_id(self) -> str:
        return f"petitioner:{self.id}"

    SEALED = ("phone_enc", "email_enc")

    def aad(self, column: str) -> bytes:
        from portal.pii import context

        return context("petitioners", column, self.id)

    def reveal(self, pii, column: str) -> str | None:
        return pii.decrypt(getattr(self, column), self.aad(column))

    def __repr__(self) -> str:
        return f"<Petitioner {self.id}>"


class PetitionerCase(Base):
    """A case in a petitioner's "my applications": submitted while signed in, escalated, or claimed with its code.

    A registry like ``case_numbers`` (keyed by the case number, not tenant-owned), so that listing an account's
    cases needs no cross-bureau query: each case is then read inside its own bureau's scope.
    """

    __tablename__ = "petitioner_cases"
    __table_args__ = (
        CheckConstraint("how IN ('submitted', 'escalated', 'claimed', 'verified')", name="how"),
        Index("ix_petitioner_cases_number", "number"),
    )

    petitioner_id: Mapped[int] = mapped_column(ForeignKey("petitioners.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[str] = mapped_column(ForeignKey("case_numbers.number", ondelete="CASCADE"), primary_key=True)
    how: Mapped[str] = mapped_column(String(20))
    linked_at: Mapped[datetime] = utcnow_column()
