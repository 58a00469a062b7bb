"""Leaders' out-of-office periods and their stand-ins (§四.4), as a bureau administrator records them.

The workflow reads these rows through ``portal.cases.context.BureauStaff``: on a day inside a period the leader is
away, and the declared stand-in acts for them (``portal.approvers.acting_for``).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.models import StaffAbsence
from portal.roles import LEADERS

NOTE_MAX = 200
MAX_DAYS = 366


class AbsenceError(ValueError):
    """An out-of-office period that cannot be recorded; ``message_zh`` / ``message_en`` say why."""

    def __init__(self, message_en: str, message_zh: str, field: str | None = None):
        super().__init__(message_en)
        self.message_en, self.message_zh, self.field = message_en, message_zh, field


def is_leader(user: StaffUser) -> bool:
    return user.active and user.has_role(*LEADERS)


def list_leaders(session: Session, bureau_id: int) -> list[StaffUser]:
    """The active leaders of a bureau (who may be away, and who may stand in)."""
    users = session.scalars(
        select(StaffUser)
        .where(StaffUser.tenant_id == bureau_id, StaffUser.active.is_(True))
        .order_by(StaffUser.display_name, StaffUser.id)
    )
    return [u for u in users if is_leader(u)]


def list_absences(session: Session, bureau_id: int) -> list[StaffAbsence]:
    """The bureau's recorded out-of-office periods, latest first."""
    return list(
        session.scalars(
            select(StaffAbsence)
            .where(StaffAbsence.tenant_id == bureau_id)
            .order_by(StaffAbsence.starts_on.desc(), StaffAbsence.id.desc())
        )
    )


def get_absence(session: Session, bureau_id: int, absence_id: int) -> StaffAbsence | None:
    return session.scalar(
        select(StaffAbsence).where(StaffAbsence.id == absence_id, StaffAbsence.tenant_id == bureau_id)
    )


def _leader(session: Session, bureau_id: int, user_id: int | None) -> StaffUser | None:
    if user_id is None:
        return None
    user = session.scalar(select(StaffUser).where(StaffUser.id == user_id, StaffUser.tenant_id == bureau_id))
    return user if user is not None and is_leader(user) else None


def add_absence(
    session: Session,
    bureau_id: int,
    *,
    user_id: int,
    starts_on: date,
    ends_on: date,
    stand_in_id: int | None = None,
    stand_in_slip: bool = True,
    stand_in_signing: bool = False,
    note: str | None = None,
) -> StaffAbsence:
    """Record that a leader of the bureau is away from ``starts_on`` to ``ends_on`` (both included); flushes.

    The stand-in, if any, must be another active leader of the same bureau, declared for approving the slip
    and/or signing the formal opinion (§四.4: the first gives no power to sign). Raise ``AbsenceError`` (with the
    field at fault) and change nothing otherwise.
    """
    leader = _leader(session, bureau_id, user_id)
    if leader is None:
        raise AbsenceError("Choose a leader of this bureau.", "请选择本单位的一位领导。", "user_id")
    if ends_on < starts_on:
        raise AbsenceError("The last day cannot be before the first day.", "结束日期不能早于开始日期。", "ends_on")
    if (ends_on - starts_on).days >= MAX_DAYS:
        raise AbsenceError(
            f"An out-of-office period cannot be longer than {MAX_DAYS} days.",
            f"外出期间不能超过 {MAX_DAYS} 天。",
            "ends_on",
        )
    if stand_in_id is not None:
        if stand_in_id == leader.id:
            raise AbsenceError("A leader cannot stand in for themself.", "代理人不能是外出的领导本人。", "stand_in_id")
        if _leader(session, bureau_id, stand_in_id) is None:
            raise AbsenceError(
                "The stand-in must be a leader of this bureau.", "代理人必须是本单位的领导。", "stand_in_id"
            )
    if stand_in_id is not None and not (stand_in_slip or stand_in_signing):
        raise AbsenceError(
            "Say what the stand-in may do: approve the slip, sign the formal opinion, or both.",
            "请选择代理人的代理事项：审批阅办单、签批正式意见，或两者。",
            "stand_in_powers",
        )
    note = (note or "").strip() or None
    if note is not None and (len(note) > NOTE_MAX or any(ord(ch) < 32 for ch in note)):
        raise AbsenceError(
            f"The note must be one line of at most {NOTE_MAX} characters.",
            f"备注须为一行文字，不超过 {NOTE_MAX} 个字符。",
            "note",
        )
    absence = StaffAbsence(
        tenant_id=bureau_id,
        user_id=leader.id,
        starts_on=starts_on,
        ends_on=ends_on,
        stand_in_id=stand_in_id,
        stand_in_slip=stand_in_id is not None and stand_in_slip,
        stand_in_signing=stand_in_id is not None and stand_in_signing,
        note=note,
    )
    session.add(absence)
    session.flush()
    return absence


def remove_absence(session: Session, absence: StaffAbsence) -> None:
    """Delete a recorded period (entered by mistake, or cancelled); flushes."""
    session.delete(absence)
    session.flush()
