"""What a document shows, as plain data, and the formats its text uses: no rendering library is imported here.

``portal.documents.render`` turns a ``DocumentData`` into PDF or DOCX; the web processes import this module (the
templates, the receipts' data) and load the renderer, with its PDF, DOCX and font libraries, only when a document
is rendered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

INTERNAL_KINDS = frozenset({"reading_slip", "handover_register"})  # forms that never leave the bureau


class Heading(str):
    """A paragraph that is a first-level heading whatever it looks like (黑体, kept with the next paragraph)."""

    __slots__ = ()


@dataclass(kw_only=True)
class DocumentData:
    """Everything a document shows, as plain data; `build_document()` fills it from the templates.

    The renderer's side of the interface: a document is a title, an optional addressee (主送), paragraphs (a
    `Heading` or a paragraph starting "一、" and shorter than 40 characters without a full stop is a first-level
    heading), optional form fields (label, value) shown as a two-column table, optional attachments of a receipt
    (name, size, SHA-256), optional annexes (附件说明, one title each), the signature (bureau and date, with the
    seal's place when `seal`), an optional note (附注) and, on an upward document, the signer (签发人).
    """

    kind: str
    title: str
    bureau_name: str
    doc_number: str | None = None
    addressee: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    # (file name, size in bytes, SHA-256 hex digest)
    attachments: list[tuple[str, int, str]] = field(default_factory=list)
    issued_on: date
    footer_note: str | None = None
    seal: bool = True  # draw the marked place for the seal (not on internal forms and receipts)
    signature: bool = True  # end with the bureau's name and the date (a form may carry its dates in fields)
    signer: str | None = None  # 签发人 of an upward document (报告): printed beside the document number
    annexes: list[str] = field(default_factory=list)  # 附件说明: the title of each annex, in order
    internal: bool | None = None  # an internal form: no red letterhead, no document number (default: by kind)
    # 代签 (§四.4): the leader signed for and the stand-in who signed, printed above the signature when both are set.
    signed_for: str | None = None
    signed_by: str | None = None

    @property
    def is_internal(self) -> bool:
        return self.kind in INTERNAL_KINDS if self.internal is None else self.internal

    @property
    def signed_by_stand_in(self) -> str | None:
        """X（Y代签）: the leader signed for and the stand-in who signed (§四.4); None when not signed so."""
        if not (self.signed_for and self.signed_by):
            return None
        return f"{self.signed_for}（{self.signed_by}代签）"

    @property
    def signer_note(self) -> str | None:
        """The 代签 line above the signature; on an upward document the 签发人 beside the number says it instead."""
        if self.signer or not self.signed_by_stand_in:
            return None
        return f"签批：{self.signed_by_stand_in}"


def chinese_date(value: date) -> str:
    """Format a date the official way: Arabic numerals, no leading zeros (GB/T 9704-2012 7.3.5.4)."""
    text = f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, datetime):
        text += f" {value.hour:02d}:{value.minute:02d}"
    return text


def format_size(size: int) -> str:
    """Return a file size for people, with the exact byte count that a receipt must show."""
    if size < 1024:
        return f"{size} 字节"
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}\n{size:,} 字节"
