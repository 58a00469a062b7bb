"""Standard texts of each refusal reason: the explanation and the further remedy a non-acceptance notice gives.

Each reason has a built-in default (below); a bureau's administrator may replace it with the bureau's own
wording (``RefusalText``, one row per bureau and reason). The reject form and the API's ``choices`` pre-fill the
texts of the chosen reason; the clerk edits them per case. No Flask here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint, select
from sqlalchemy import text as sql_text
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, TenantOwned, utcnow_column
from portal.workflow import LONG_TEXT_MAX, REJECT_REASON_LABELS, ActionRefused, RejectReason


class RefusalText(TenantOwned, Base):
    """A bureau's own explanation and remedy for one refusal reason, replacing the built-in default."""

    __tablename__ = "refusal_texts"
    __table_args__ = (UniqueConstraint("tenant_id", "reason"),)

    reason: Mapped[str] = mapped_column(String(40))
    explanation: Mapped[str] = mapped_column(Text)
    remedy: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = utcnow_column()
    updated_at: Mapped[datetime] = utcnow_column(onupdate=sql_text("now()"))


_COURT = (
    "如对该事项仍有异议，可依照《中华人民共和国民事诉讼法》《中华人民共和国行政诉讼法》等法律规定向人民法院提起诉讼。"
)

#: Built-in texts (Chinese: they go into the non-acceptance notice as written). Keyed by the reason's value, so a
#: reason added later without a default gets empty texts, never an error.
DEFAULT_TEXTS: dict[str, tuple[str, str]] = {
    "litigation": (
        "您反映的事项已经或者依法应当通过诉讼途径解决，根据《吉林省社会保险系统信访事项复查复核暂行办法》第四部分第2项的规定，不予受理。",
        "请依法向有管辖权的人民法院提起诉讼；已经起诉的，请按照人民法院的程序办理。",
    ),
    "arbitration": (
        "您反映的事项已经或者依法应当通过仲裁途径解决，根据《吉林省社会保险系统信访事项复查复核暂行办法》第四部分第2项的规定，不予受理。",
        "请依法向劳动人事争议仲裁委员会申请仲裁；对仲裁裁决不服的，可依法向人民法院提起诉讼。",
    ),
    "reconsideration": (
        "您反映的事项已经或者依法应当通过行政复议途径解决，根据《吉林省社会保险系统信访事项复查复核暂行办法》第四部分第2项的规定，不予受理。",
        "请自知道该行政行为之日起六十日内，依照《中华人民共和国行政复议法》向有管辖权的行政复议机关申请行政复议；"
        "对复议决定不服的，可依法向人民法院提起行政诉讼。",
    ),
    "repeat_after_re_review": (
        "您反映的事项已经复核并出具复核意见，现以同一事实和理由再次提出，根据《吉林省社会保险系统信访事项复查复核暂行办法》"
        "第四部分第14项的规定，不再受理。",
        "复核意见为最终意见。如有新的事实和理由，可另行依法提出；对涉及诉讼的事项，可依法向人民法院提起诉讼。",
    ),
    "outside_scope": (
        "您提出的申请不属于社会保险系统信访事项复查复核的受理范围。",
        "请向依法有权处理该事项的机关或者单位提出。" + _COURT,
    ),
    "late": (
        "您的申请超过了自收到书面答复意见之日起三十日的申请期限，根据《信访工作条例》第三十五条的规定，不予受理。",
        "如因不可抗力或者其他正当理由耽误期限，可提供相关证明材料重新提出申请。",
    ),
    "other": ("", ""),
}


@dataclass(frozen=True)
class StandardText:
    reason: str
    explanation: str
    remedy: str
    custom: bool  # the bureau's own wording (else the built-in default)


def reject_reasons() -> list[str]:
    """Every refusal reason, in the order the rules list them."""
    return [str(r) for r in REJECT_REASON_LABELS]


def standard_texts(session: Session, bureau_id: int) -> dict[str, StandardText]:
    """The texts of every refusal reason for this bureau: its own where it has them, else the defaults."""
    own = {row.reason: row for row in session.scalars(select(RefusalText).where(RefusalText.tenant_id == bureau_id))}
    out: dict[str, StandardText] = {}
    for reason in reject_reasons():
        if reason in own:
            row = own[reason]
            out[reason] = StandardText(reason, row.explanation, row.remedy, True)
        else:
            explanation, remedy = DEFAULT_TEXTS.get(reason, ("", ""))
            out[reason] = StandardText(reason, explanation, remedy, False)
    return out


def _check(name: str, value: str | None, zh: str, en: str) -> str:
    value = (value or "").strip()
    if not value:
        raise ActionRefused("invalid", f"请填写{zh}。", f"Enter the {en}.", name)
    if len(value) > LONG_TEXT_MAX or "\x00" in value:
        raise ActionRefused(
            "invalid",
            f"{zh}不能超过{LONG_TEXT_MAX}个字。",
            f"The {en} must be at most {LONG_TEXT_MAX} characters.",
            name,
        )
    return value


def save_standard_text(
    session: Session, bureau_id: int, reason: str, explanation: str | None, remedy: str | None, *, updated_by: str
) -> RefusalText:
    """Set the bureau's own texts of one reason; flushes. Raises ``ActionRefused`` (invalid) naming the field."""
    if reason not in reject_reasons():
        raise ActionRefused("invalid", "未知的不予受理理由。", "Unknown refusal reason.", "reason")
    explanation = _check("explanation", explanation, "不予受理的说明", "explanation")
    remedy = _check("remedy", remedy, "下步救济途径", "further remedy")
    row = session.scalar(select(RefusalText).where(RefusalText.tenant_id == bureau_id, RefusalText.reason == reason))
    if row is None:
        row = RefusalText(tenant_id=bureau_id, reason=reason, explanation=explanation, remedy=remedy)
        session.add(row)
    row.explanation, row.remedy, row.updated_by = explanation, remedy, updated_by[:100]
    session.flush()
    return row


def reset_standard_text(session: Session, bureau_id: int, reason: str) -> bool:
    """Go back to the built-in default for one reason; True if the bureau had its own. Flushes."""
    row = session.scalar(select(RefusalText).where(RefusalText.tenant_id == bureau_id, RefusalText.reason == reason))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


__all__ = [
    "DEFAULT_TEXTS",
    "RefusalText",
    "RejectReason",
    "StandardText",
    "reject_reasons",
    "reset_standard_text",
    "save_standard_text",
    "standard_texts",
]
