"""Document numbers (发文字号) per bureau: 长社保信复〔2026〕12号.

The number reads: the bureau's prefix (its division's first character + 社保信 unless the administrator changed
it), the series character of the kind of document, the year in 〔〕 and the sequence number. Following the usual
practice for 发文字号, each series counts on its own within a bureau and a year: the first acceptance notice of 2026
is 长社保信受〔2026〕1号 whatever other documents came before it.
"""

from __future__ import annotations

import re
import unicodedata

from sqlalchemy import text
from sqlalchemy.orm import Session

from portal.workflow import CaseKind, DocumentKind
from tenants.models import Bureau
from tenants.scoping import CrossTenantWrite, TenantScopeMissing, get_scope

PREFIX_SUFFIX = "社保信"
PREFIX_MAX = 20

# The series character of each kind; the formal opinion's depends on the case: 复 (review), 核 (re-review).
SERIES: dict[DocumentKind, str] = {
    DocumentKind.acceptance_notice: "受",
    DocumentKind.non_acceptance_notice: "不受",
    DocumentKind.extension_notice: "延",
    DocumentKind.reading_slip: "阅",
}
FORMAL_OPINION_SERIES: dict[CaseKind, str] = {CaseKind.review: "复", CaseKind.re_review: "核"}

# Brackets and number signs belong to the format; digits would make the number ambiguous.
_FORBIDDEN = re.compile(r"[〔〕\[\]【】()（）{}<>《》号#0-9０-９\s]")


def series_for(kind: DocumentKind | str, case_kind: CaseKind | str) -> str:
    kind = DocumentKind(kind)
    if kind is DocumentKind.formal_opinion:
        return FORMAL_OPINION_SERIES[CaseKind(case_kind)]
    return SERIES[kind]


def default_prefix(bureau: Bureau) -> str:
    """The division's first character + 社保信: 长春市 -> 长社保信, 吉林省 -> 吉社保信."""
    name = (bureau.division_name or bureau.name or "").strip()
    return (name[:1] or "") + PREFIX_SUFFIX


def prefix_problems(prefix: str) -> list[tuple[str, str]]:
    """What is wrong with a number prefix an administrator typed, as (zh, en) messages."""
    if not prefix.strip():
        return [("发文字号前缀不能为空。", "The number prefix is empty.")]
    problems = []
    if len(prefix) > PREFIX_MAX:
        problems.append(
            (
                f"发文字号前缀不能超过 {PREFIX_MAX} 个字符。",
                f"The number prefix is longer than {PREFIX_MAX} characters.",
            )
        )
    if _FORBIDDEN.search(prefix) or any(unicodedata.category(ch).startswith("C") for ch in prefix):
        problems.append(
            (
                "发文字号前缀只能由文字组成，不能包含数字、空格、括号或“号”字，例如“长社保信”。",
                "The number prefix may hold only letters (no digits, spaces, brackets or 号), e.g. 长社保信.",
            )
        )
    return problems


def format_number(prefix: str, series: str, year: int, number: int) -> str:
    return f"{prefix}{series}〔{year}〕{number}号"


_NEXT = text(
    """
    INSERT INTO document_sequences (tenant_id, year, series, last_number)
    VALUES (:tenant_id, :year, :series, 1)
    ON CONFLICT (tenant_id, year, series)
    DO UPDATE SET last_number = document_sequences.last_number + 1, updated_at = now()
    RETURNING last_number
    """
)


def next_number(session: Session, bureau_id: int, year: int, series: str) -> int:
    """Take the next number of a bureau's series for ``year``, in the session's transaction.

    The row stays locked until the transaction ends, so concurrent renders of one bureau wait for each other and
    never share a number; a rollback gives the number back.
    """
    scope = get_scope(session)
    if scope is None:
        raise TenantScopeMissing("Document numbers need a tenant scope.")
    if not scope.can_write(bureau_id):
        raise CrossTenantWrite(f"Bureau {scope.acting} cannot number documents of bureau {bureau_id}.")
    return session.execute(_NEXT, {"tenant_id": bureau_id, "year": year, "series": series}).scalar_one()
