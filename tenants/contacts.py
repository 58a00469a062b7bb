"""Each bureau's public contact block (office address, phone, hours), and the committee office's at the province.

Petitioners see the block of the bureau that handles their application on the review step, the receipt, the
tracking page and every notice, so that help is one tap away. The bureau's administrator edits it. The province's
row also holds the address and phone of the provincial government review committee's office (省政府信访事项复查复核
委员会办公室), given to petitioners whose application goes to the committee.

The block is public, but the row is tenant-owned like every other bureau setting: writes stay inside the acting
bureau (``tenants.scoping``), and the readers here open exactly one bureau's scope for the read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, UniqueConstraint, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.memo import memoized
from tenants.models import Bureau
from tenants.scoping import TenantScope, get_scope, scoped

ADDRESS_MAX = 200
PHONE_MAX = 60
HOURS_MAX = 100
# Digits and what phone numbers are written with: 0431-88888888、12345转2, (0431) 8888 8888 / 12333.
_FULL_WIDTH_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")
_PHONE = re.compile(r"^[0-9０-９+()（）\- 、，,/转]+$")


class BureauContact(TenantOwned, Base):
    """The public contact block of one bureau; the committee office's columns are used on the province only."""

    __tablename__ = "bureau_contacts"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    hours: Mapped[str | None] = mapped_column(String(HOURS_MAX))
    committee_address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    committee_phone: Mapped[str | None] = mapped_column(String(PHONE_MAX))
    updated_by: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = utcnow_column(onupdate=sql_text("now()"))


@dataclass(frozen=True)
class Contact:
    """What a petitioner is shown: who to ask, where, by which number, when. Empty parts are None."""

    name: str
    address: str | None = None
    phone: str | None = None
    hours: str | None = None

    @property
    def empty(self) -> bool:
        return not (self.address or self.phone or self.hours)

    @property
    def tel(self) -> str | None:
        """The first number of ``phone`` for a ``tel:`` link (an extension after 转 is left out)."""
        if not self.phone:
            return None
        first = re.split(r"[、，,/转]", self.phone)[0].translate(_FULL_WIDTH_DIGITS)
        digits = "".join(c for c in first if c.isdigit() or c == "+")
        return digits or None

    def sentence(self) -> str:
        """One Chinese sentence for the documents; empty when nothing is known."""
        parts = [
            f"{label}：{value}"
            for label, value in (("地址", self.address), ("电话", self.phone), ("接待时间", self.hours))
            if value
        ]
        return f"如有疑问，请联系{self.name}（{'；'.join(parts)}）。" if parts else ""


class ContactError(ValueError):
    """Fields of a contact block that cannot be saved: ``errors`` maps a field to its (zh, en) message."""

    def __init__(self, errors: dict[str, tuple[str, str]]):
        super().__init__("; ".join(en for _zh, en in errors.values()))
        self.errors = errors


def _row(session: Session, bureau_id: int) -> BureauContact | None:
    query = select(BureauContact).where(BureauContact.tenant_id == bureau_id)
    scope = get_scope(session)
    if scope is not None and scope.can_read(bureau_id):  # e.g. the tracking page, already in the case's bureau
        return session.scalar(query)
    with scoped(session, TenantScope.single(bureau_id)):
        return session.scalar(query)


def get_contact(session: Session, bureau) -> Contact:
    """The public contact block of ``bureau``'s petition office (empty parts when the administrator set none).

    Kept between requests (``portal.memo``): the block is public, and it changes only when an administrator saves it.
    """

    def load() -> Contact:
        row = _row(session, bureau.id)
        name = f"{bureau.name}信访办"
        if row is None:
            return Contact(name)
        return Contact(name, row.address, row.phone, row.hours)

    return memoized(session, f"contact:{bureau.id}:{bureau.name}", (BureauContact, Bureau), load)


COMMITTEE_OFFICE = "吉林省人民政府信访事项复查复核委员会办公室"


def get_committee_contact(session: Session) -> Contact:
    """The committee office's address and phone, as the province's administrator set them."""

    def load() -> Contact:
        province = session.scalar(select(Bureau).where(Bureau.parent_id.is_(None)))
        row = _row(session, province.id) if province is not None else None
        if row is None:
            return Contact(COMMITTEE_OFFICE)
        return Contact(COMMITTEE_OFFICE, row.committee_address, row.committee_phone)

    return memoized(session, "committee_contact", (BureauContact, Bureau), load)


def _clean(value, limit: int, zh: str, en: str, errors: dict, field: str, *, phone: bool = False) -> str | None:
    text = " ".join(str(value or "").split())  # one line: the block is printed on notices
    if not text:
        return None
    if len(text) > limit:
        errors[field] = (f"{zh}不能超过{limit}个字。", f"The {en} must be at most {limit} characters.")
    elif phone and not _PHONE.match(text):
        errors[field] = (
            f"{zh}只能包含数字、空格、括号、“-”、“转”和分隔符号。",
            f"The {en} may hold only digits, spaces, brackets, '-', '转' and separators.",
        )
    return text


def set_contact(
    session: Session,
    bureau: Bureau,
    *,
    address: str | None,
    phone: str | None,
    hours: str | None,
    committee_address: str | None = None,
    committee_phone: str | None = None,
    updated_by: str | None = None,
) -> BureauContact:
    """Save ``bureau``'s contact block (blank clears a part); the committee office's only for the province.

    The session must act for ``bureau``. Raise ``ContactError`` naming each wrong field and change nothing. Flushes.
    """
    errors: dict[str, tuple[str, str]] = {}
    values = {
        "address": _clean(address, ADDRESS_MAX, "地址", "address", errors, "address"),
        "phone": _clean(phone, PHONE_MAX, "电话", "phone", errors, "phone", phone=True),
        "hours": _clean(hours, HOURS_MAX, "接待时间", "hours", errors, "hours"),
    }
    if bureau.parent_id is None:
        office_zh, office_en = "委员会办公室", "committee office's"
        values["committee_address"] = _clean(
            committee_address, ADDRESS_MAX, f"{office_zh}地址", f"{office_en} address", errors, "committee_address"
        )
        values["committee_phone"] = _clean(
            committee_phone, PHONE_MAX, f"{office_zh}电话", f"{office_en} phone", errors, "committee_phone", phone=True
        )
    if errors:
        raise ContactError(errors)
    row = session.scalar(select(BureauContact).where(BureauContact.tenant_id == bureau.id))
    if row is None:
        row = BureauContact(tenant_id=bureau.id)
        session.add(row)
    for name, value in values.items():
        setattr(row, name, value)
    row.updated_by = updated_by
    session.flush()
    return row


def contact_context(contact: Contact) -> dict[str, str]:
    """The contact placeholders of the document templates (``portal.documents.templates.CONTACT_PLACEHOLDERS``)."""
    return {
        "contact": contact.sentence(),
        "contact_address": contact.address or "",
        "contact_phone": contact.phone or "",
        "contact_hours": contact.hours or "",
    }
