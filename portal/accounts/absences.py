"""Leaders' out-of-office periods and their stand-ins (§四.4): declared by the leader, or recorded by a bureau
administrator, under the same rules (``add_absence``).

The workflow reads these rows through ``portal.cases.context.BureauStaff``: on a day inside a period the leader is
away, and the declared stand-in acts for them (``portal.approvers.acting_for``). A leader's periods may overlap (one
stand-in for the slip, another for signing), but on any day each power has at most one stand-in.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.models import StaffAbsence

NOTE_MAX = 200
MAX_DAYS = 366


class AbsenceError(ValueError):
    """An out-of-office period that cannot be recorded; ``message_zh`` / ``message_en`` say why."""

    def __init__(self, message_en: str, message_zh: str, field: str | None = None):
        super().__init__(message_en)
        self.message_en, self.message_zh, self.field = message_en, message_zh, field


def is_leader(user: StaffUser) -> bool:
    return user.active and user.is_leader


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
    if stand_in_id is not None:
        _check_one_stand_in_per_power(session, leader, starts_on, ends_on, stand_in_slip, stand_in_signing)
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


def _check_one_stand_in_per_power(
    session: Session, leader: StaffUser, starts_on: date, ends_on: date, slip: bool, signing: bool
) -> None:
    """Refuse a second stand-in for the same power on the same day: who acts must never be a matter of row order."""
    overlapping = session.scalars(
        select(StaffAbsence)
        .where(
            StaffAbsence.tenant_id == leader.tenant_id,
            StaffAbsence.user_id == leader.id,
            StaffAbsence.stand_in_id.is_not(None),
            StaffAbsence.starts_on <= ends_on,
            StaffAbsence.ends_on >= starts_on,
        )
        .order_by(StaffAbsence.starts_on, StaffAbsence.id)
    )
    for other in overlapping:
        if (slip and other.stand_in_slip) or (signing and other.stand_in_signing):
            period = f"{other.starts_on.isoformat()} – {other.ends_on.isoformat()}"
            raise AbsenceError(
                f"A stand-in for the same power is already declared for {period}; end or cancel that declaration "
                "first, or choose days that do not overlap.",
                f"{period} 已指定了相同代理事项的代理人；请先结束或撤销该登记，或选择不重叠的日期。",
                "stand_in_id",
            )


def remove_absence(session: Session, absence: StaffAbsence) -> None:
    """Delete a recorded period (entered by mistake, or cancelled); flushes."""
    session.delete(absence)
    session.flush()


# --- A leader's own declarations (§四.4: the stand-in is one "the absent leader declared") ----------------------


def declare_absence(
    session: Session,
    leader: StaffUser,
    *,
    today: date,
    starts_on: date,
    ends_on: date,
    stand_in_id: int | None = None,
    stand_in_slip: bool = True,
    stand_in_signing: bool = False,
    note: str | None = None,
) -> StaffAbsence:
    """Record the signed-in leader's own absence and the stand-in they declare; flushes.

    The rules of ``add_absence``, and one more: a declaration takes effect from today at the earliest (it gives
    powers from the day it is made; an absence already past is for an administrator to record).
    """
    if starts_on < today:
        raise AbsenceError("The first day away cannot be before today.", "外出开始日期不能早于今天。", "starts_on")
    return add_absence(
        session,
        leader.tenant_id,
        user_id=leader.id,
        starts_on=starts_on,
        ends_on=ends_on,
        stand_in_id=stand_in_id,
        stand_in_slip=stand_in_slip,
        stand_in_signing=stand_in_signing,
        note=note,
    )


def list_own_absences(session: Session, leader: StaffUser) -> list[StaffAbsence]:
    """The leader's own periods, latest first."""
    return list(
        session.scalars(
            select(StaffAbsence)
            .where(StaffAbsence.tenant_id == leader.tenant_id, StaffAbsence.user_id == leader.id)
            .order_by(StaffAbsence.starts_on.desc(), StaffAbsence.id.desc())
        )
    )


def list_standing_in(session: Session, user: StaffUser, today: date) -> list[StaffAbsence]:
    """The current and coming periods in which another leader declared ``user`` their stand-in, soonest first."""
    return list(
        session.scalars(
            select(StaffAbsence)
            .where(
                StaffAbsence.tenant_id == user.tenant_id,
                StaffAbsence.stand_in_id == user.id,
                StaffAbsence.ends_on >= today,
            )
            .order_by(StaffAbsence.starts_on, StaffAbsence.id)
        )
    )


def get_own_absence(session: Session, leader: StaffUser, absence_id: int) -> StaffAbsence | None:
    """One of the leader's own periods; None for anyone else's (another leader's, another bureau's)."""
    return session.scalar(
        select(StaffAbsence).where(
            StaffAbsence.id == absence_id,
            StaffAbsence.tenant_id == leader.tenant_id,
            StaffAbsence.user_id == leader.id,
        )
    )


def end_absence(session: Session, absence: StaffAbsence, today: date) -> str:
    """The leader is back (or will not go): end the period before today, or cancel it if it has not begun; flushes.

    Return "ended" or "cancelled". The days already past stay on record (a stand-in may have acted on them);
    a period already over cannot be changed.
    """
    if absence.ends_on < today:
        raise AbsenceError(
            "This period is over; it stays on record as it was.", "该外出期间已结束，按原样保留记录。", None
        )
    if absence.starts_on >= today:
        remove_absence(session, absence)
        return "cancelled"
    absence.ends_on = today - timedelta(days=1)
    session.flush()
    return "ended"


def describe(session: Session, absence: StaffAbsence) -> dict:
    """The period as the audit log records it (people by username)."""
    ids = [i for i in (absence.user_id, absence.stand_in_id) if i is not None]
    names = dict(session.execute(select(StaffUser.id, StaffUser.username).where(StaffUser.id.in_(ids))).all())
    return {
        "leader": names.get(absence.user_id, str(absence.user_id)),
        "starts_on": absence.starts_on.isoformat(),
        "ends_on": absence.ends_on.isoformat(),
        "stand_in": names.get(absence.stand_in_id) if absence.stand_in_id is not None else None,
        "slip": absence.stand_in_slip,
        "signing": absence.stand_in_signing,
        "note": absence.note,
    }
