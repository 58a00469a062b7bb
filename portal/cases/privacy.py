"""Personal data on the record: staff who do not handle a case see it only by revealing it, which is an event.

DOMAIN.md §五: personal data is seen only by those who handle the case, and every step is attributable. A staff
member of the case's bureau who does not handle it may still need the data (a phone call on a colleague's case);
they reveal it with a reason, and the case's hash-chained history records who, when and why. Ancestor bureaus
supervise read-only: they cannot write to the case's history, so they see the data masked.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.context import actor_of
from portal.cases.history import append_event
from portal.cases.models import Case, CaseParty
from portal.cases.operations import CaseNotFound
from portal.cases.queries import may_reveal
from portal.workflow import SHORT_TEXT_MAX, ActionRefused

REVEAL_ACTION = "reveal_personal_data"


def reveal_personal_data(
    session: Session, case_id: int, user: StaffUser, reason: str | None, *, now: datetime | None = None
) -> Case:
    """Record that ``user`` reveals the personal data of case ``case_id``; flushes. Return the case.

    Raises ``CaseNotFound`` when the case is not in the user's own bureau (ancestors read, never write), and
    ``ActionRefused`` (forbidden / invalid) for administrators or a missing reason. The caller then shows the
    data (``portal.cases.queries.party_views`` unmasked) in the same response, never stored anywhere.
    """
    # The row lock serialises this event with the workflow's, because append_event numbers by case.event_count.
    case = session.scalar(
        select(Case)
        .where(Case.id == case_id, Case.tenant_id == user.tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if case is None:
        raise CaseNotFound(case_id)
    if not may_reveal(user, case):
        raise ActionRefused(
            "forbidden",
            "系统管理员不参与办理事项，不能查看信访人的个人信息。",
            "Administrators take no part in cases and may not see the petitioner's personal data.",
        )
    reason = (reason or "").strip()
    if not reason:
        raise ActionRefused(
            "invalid", "请说明查看个人信息的理由。", "Say why you need to see the personal data.", "reason"
        )
    if len(reason) > SHORT_TEXT_MAX or "\x00" in reason:
        raise ActionRefused(
            "invalid",
            f"理由不能超过{SHORT_TEXT_MAX}个字。",
            f"The reason must be at most {SHORT_TEXT_MAX} characters.",
            "reason",
        )
    roles = session.scalars(
        select(CaseParty.role).where(CaseParty.tenant_id == case.tenant_id, CaseParty.case_id == case.id)
    ).all()
    append_event(
        session,
        case,
        action=REVEAL_ACTION,
        actor=actor_of(user),
        at=now or datetime.now(UTC),
        state_before=str(case.state),
        state_after=str(case.state),
        fields={"reason": reason, "parties": sorted(set(roles))},
        public=False,
    )
    return case
