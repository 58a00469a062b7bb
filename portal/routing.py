"""Where a review or re-review application goes (DOMAIN.md "Where an application goes", §一).

Pure module: no Flask, no SQLAlchemy. An application goes to the PARENT of the bureau that issued the
disputed opinion, as the bureau tree says, so a county managed directly by the province goes to the province.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Literal

from portal.workdays import Due, WorkdayCalendar
from portal.workflow import CaseKind

ESCALATION_WINDOW_DAYS = 30  # 《信访条例》第三十四、三十五条

COMMITTEE_NAME = "吉林省人民政府信访事项复查复核委员会"

_LEVEL_RANK = {"province": 0, "city": 1, "county": 2}


@dataclass(frozen=True)
class BureauRef:
    id: int
    level: Literal["province", "city", "county"]
    parent_id: int | None
    name: str


class OpinionKind(StrEnum):
    handling = "handling"  # 处理意见
    review = "review"  # 复查意见
    re_review = "re_review"  # 复核意见


OPINION_KIND_LABELS: dict[OpinionKind, tuple[str, str]] = {
    OpinionKind.handling: ("处理意见", "Handling opinion"),
    OpinionKind.review: ("复查意见", "Review opinion"),
    OpinionKind.re_review: ("复核意见", "Re-review opinion"),
}


@dataclass(frozen=True)
class Route:
    case_kind: CaseKind
    handling_bureau_id: int


@dataclass(frozen=True)
class Refusal:
    """Why the application cannot be made in this system. code: to_committee | final | invalid."""

    code: Literal["to_committee", "final", "invalid"]
    message_zh: str
    message_en: str


def route(issuer: BureauRef, kind: OpinionKind, parent: BureauRef | None) -> Route | Refusal:
    """Return where an application against `issuer`'s opinion of `kind` is handled, or why it cannot be.

    `parent` is the issuer's parent bureau in the tree (None for the province).
    """
    kind = OpinionKind(kind)
    if kind is OpinionKind.re_review:
        return Refusal(
            "final",
            "复核意见为最终意见。对复核意见不服，仍以同一事由和理由提出的，不再受理。",
            "A re-review opinion is final. The same matter on the same reasons is not accepted again.",
        )
    if issuer.level == "province":
        what_zh = "处理意见" if kind is OpinionKind.handling else "复查意见"
        apply_zh = "复查" if kind is OpinionKind.handling else "复核"
        what_en = "handling opinion" if kind is OpinionKind.handling else "review opinion"
        apply_en = "a review" if kind is OpinionKind.handling else "a re-review"
        return Refusal(
            "to_committee",
            f"对{issuer.name}作出的{what_zh}不服的，请自收到意见书之日起30日内，向{COMMITTEE_NAME}"
            f"（省政府信访事项复查复核委员会）书面提出{apply_zh}申请。本系统不受理此类申请。",
            f"Against a {what_en} of {issuer.name} (the provincial bureau), apply in writing for {apply_en} "
            "to the Jilin Provincial People's Government petition review committee within 30 days of "
            "receiving the opinion. This portal cannot take that application.",
        )
    if kind is OpinionKind.review and issuer.level == "county":
        return Refusal(
            "invalid",
            "县级社会保险局不作出复查意见，请核对意见书的种类和作出单位。",
            "A county bureau does not issue review opinions; check the kind and issuer of the opinion.",
        )
    if parent is None or parent.id != issuer.parent_id or _LEVEL_RANK[parent.level] >= _LEVEL_RANK[issuer.level]:
        return Refusal(
            "invalid",
            f"未找到{issuer.name}的上级社会保险局，请联系系统管理员。",
            f"The bureau above {issuer.name} is not configured; contact the administrator.",
        )
    if kind is OpinionKind.review and parent.level != "province":
        return Refusal(
            "invalid",
            "复查意见的复核由省社会保险局办理，但该单位的上级不是省社会保险局，请联系系统管理员。",
            "A re-review is decided by the provincial bureau, but this bureau's parent is not the province.",
        )
    case_kind = CaseKind.review if kind is OpinionKind.handling else CaseKind.re_review
    return Route(case_kind=case_kind, handling_bureau_id=parent.id)


def days_since_receipt(received_on: date, applied_on: date) -> int:
    """Count the days from receiving the opinion to applying; the day of receipt is not counted."""
    return (applied_on - received_on).days


def window_due(calendar: WorkdayCalendar, received_on: date, window_days: int = ESCALATION_WINDOW_DAYS) -> Due:
    """Return the last day of the petitioner's window to apply, counted from the day the opinion reached them.

    The one rule for the 30-day window, used by the intake's lateness check and by the escalation window alike:
    calendar days, the day of receipt not counted (Civil Code art. 201), and a last day that falls on a weekend
    or a public holiday moves to the next working day (art. 203).
    """
    return calendar.add(received_on, window_days, "days")


def is_late(
    calendar: WorkdayCalendar, received_on: date, filed_on: date, window_days: int = ESCALATION_WINDOW_DAYS
) -> bool:
    """Tell whether an application filed on ``filed_on`` came after the window (see ``window_due``).

    ``filed_on`` is the day the petitioner applied: online, the day of submission; on paper, the postmark or
    hand-in date, not the day the bureau registered it. Staff see the lateness; refusing (reason ``late``) is
    their decision.
    """
    return filed_on > window_due(calendar, received_on, window_days).due
