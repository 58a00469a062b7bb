"""Coordination meetings (§四.13): the petition office proposes, the leader in charge decides, minutes follow.

"对重大信访事项及群众集中反映的涉及社会保险领域的共性信访问题，由省局信访办报主管局长批准后，召开相关业务处室参加的
协调会议": a meeting concerns the units that attend and zero or more of the bureau's cases (a common problem may
have no open case). It is not a case action: its own record goes proposed -> approved | declined, approved -> held.
The leader's decision is an action of their own, due within the ``meeting_decision`` time limit of ``step_rules``
(a bureau rule: the regulation sets none), and a meeting can only be held, and its minutes recorded, once approved.
Each linked case's history records the proposal, the decision and the minutes.

Operations flush; the request commits. Refusals are ``ActionRefused`` (invalid with a field, forbidden,
wrong_state), so the pages and the API answer them as they answer case actions.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.approvers import acting_for, is_away
from portal.cases.calendar import get_calendar, get_step_rules
from portal.cases.context import BureauStaff, actor_of
from portal.cases.history import append_event
from portal.cases.models import Case, Meeting
from portal.cases.numbers import normalise_number
from portal.roles import LEADERS, PETITION_OFFICE, Role
from portal.workflow import LONG_TEXT_MAX, SHORT_TEXT_MAX, ActionRefused, Step, is_bureau_rule

STATUS_LABELS: dict[str, tuple[str, str]] = {
    "proposed": ("待领导审批", "Awaiting the leader's decision"),
    "approved": ("已批准，待召开", "Approved, to be held"),
    "declined": ("未批准", "Declined"),
    "held": ("已召开，纪要已记录", "Held, minutes recorded"),
}

#: The events a meeting writes into each linked case's history.
MEETING_EVENTS: dict[str, tuple[str, str]] = {
    "meeting_proposed": ("提请召开协调会议", "Coordination meeting proposed"),
    "meeting_approved": ("批准召开协调会议", "Coordination meeting approved"),
    "meeting_declined": ("不批准召开协调会议", "Coordination meeting declined"),
    "meeting_held": ("记录协调会议纪要", "Coordination meeting minutes recorded"),
}


def _invalid(field: str, zh: str, en: str) -> ActionRefused:
    return ActionRefused("invalid", zh, en, field)


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: object, field: str, label: tuple[str, str], max_len: int, *, required: bool = True) -> str | None:
    text = value.strip() if isinstance(value, str) else None
    if value is not None and not isinstance(value, str):
        raise _invalid(field, f"“{label[0]}”应为文字。", f"The {label[1]} must be text.")
    if not text:
        if required:
            raise _invalid(field, f"请填写“{label[0]}”。", f"Please fill in the {label[1]}.")
        return None
    if len(text) > max_len or "\x00" in text:
        raise _invalid(
            field, f"“{label[0]}”不能超过{max_len}个字。", f"The {label[1]} must be at most {max_len} characters."
        )
    return text


def is_office(user: StaffUser) -> bool:
    return bool(set(user.roles) & PETITION_OFFICE)


def _deciding_leader(staff: BureauStaff, today: date) -> int | None:
    """The leader asked to decide: the leader in charge of petitions (present ones first), else the principal."""
    petitions = sorted(staff.leaders_with(Role.petitions_leader), key=lambda v: (is_away(v, today), v.user_id))
    if petitions:
        return petitions[0].user_id
    principals = sorted(staff.leaders_with(Role.principal_leader), key=lambda v: (is_away(v, today), v.user_id))
    return principals[0].user_id if principals else None


def may_decide(user: StaffUser, meeting: Meeting, staff: BureauStaff, today: date) -> bool:
    """The leader asked, a stand-in acting for them today, or the principal leader (主要领导) of the bureau."""
    if user.tenant_id != meeting.tenant_id or not user.active:
        return False
    if user.id == meeting.leader_id or Role.principal_leader in user.roles:
        return True
    return meeting.leader_id in acting_for(user.id, today, staff.leader_views)


def _linked_cases(session: Session, bureau_id: int, numbers: Iterable[str]) -> list[Case]:
    wanted = []
    for raw in numbers:
        if not isinstance(raw, str):
            raise _invalid("case_numbers", "相关事项应为事项编号。", "Related cases must be case numbers.")
        if raw.strip() and normalise_number(raw) not in wanted:
            wanted.append(normalise_number(raw))
    if not wanted:
        return []
    found = {
        c.number: c
        for c in session.scalars(
            select(Case).where(Case.tenant_id == bureau_id, Case.number.in_(wanted)).order_by(Case.id).with_for_update()
        )
    }
    unknown = [n for n in wanted if n not in found]
    if unknown:
        raise _invalid(
            "case_numbers",
            f"本局没有编号为{'、'.join(unknown[:5])}的事项。",
            f"This bureau has no case numbered {', '.join(unknown[:5])}.",
        )
    return [found[n] for n in wanted]


def _write_history(session: Session, meeting: Meeting, user: StaffUser, action: str, fields: dict) -> None:
    if not meeting.case_ids:
        return
    cases = session.scalars(
        select(Case)
        .where(Case.tenant_id == meeting.tenant_id, Case.id.in_(meeting.case_ids))
        .order_by(Case.id)
        .with_for_update()
    )
    at = _now()
    for case in cases:
        append_event(
            session,
            case,
            action=action,
            actor=actor_of(user),
            at=at,
            state_before=str(case.state),
            state_after=str(case.state),
            fields={"meeting_id": meeting.id, "topic": meeting.topic, "meeting_on": meeting.meeting_on, **fields},
            public=False,
        )


def propose_meeting(
    session: Session,
    user: StaffUser,
    *,
    topic: object,
    meeting_on: date | None,
    unit_ids: Sequence[object] | None,
    case_numbers: Sequence[object] = (),
    reason: object = None,
    today: date,
) -> Meeting:
    """The petition office proposes a coordination meeting (§四.13); flushes. Nothing is held before approval."""
    if not is_office(user):
        raise ActionRefused(
            "forbidden", "协调会议由信访办提请召开。", "Coordination meetings are proposed by the petition office."
        )
    staff = BureauStaff(session, user.tenant_id)
    topic_text = _text(topic, "topic", ("会议议题", "topic"), SHORT_TEXT_MAX)
    reason_text = _text(reason, "reason", ("提请理由", "reason"), LONG_TEXT_MAX, required=False)
    if not isinstance(meeting_on, date):
        raise _invalid("meeting_on", "请填写会议日期（如2026-12-08）。", "Enter the meeting date (YYYY-MM-DD).")
    if meeting_on < today:
        raise _invalid("meeting_on", "会议日期不能早于今天。", "The meeting date cannot be in the past.")
    units: list[int] = []
    for raw in unit_ids or ():
        try:
            unit = int(raw)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            unit = None
        if unit is None or isinstance(raw, bool) or unit not in staff.units:
            raise _invalid("unit_ids", "所选单位不属于本局。", "A chosen unit is not one of this bureau's.")
        if unit not in units:
            units.append(unit)
    if not units:
        raise _invalid(
            "unit_ids",
            "请选择参会的业务处室、单位（至少一个）。",
            "Choose the units that attend (at least one).",
        )
    cases = _linked_cases(session, user.tenant_id, case_numbers or ())
    leader_id = _deciding_leader(staff, today)
    if leader_id is None:
        raise _invalid(
            "leader_id", "本局没有可以审批协调会议的局领导。", "This bureau has no leader who can approve the meeting."
        )
    rule = get_step_rules(session)[Step.meeting_decision]
    due = get_calendar(session).add(today, rule.amount or 1, rule.unit)
    explanation = {**due.explanation.as_dict(), "ref": rule.ref, "bureau_rule": is_bureau_rule(rule)}
    meeting = Meeting(
        tenant_id=user.tenant_id,
        topic=topic_text,
        meeting_on=meeting_on,
        unit_ids=units,
        case_ids=[c.id for c in cases],
        reason=reason_text,
        status="proposed",
        proposed_by_id=user.id,
        proposed_on=today,
        leader_id=leader_id,
        decision_due_on=due.due,
        decision_explanation=explanation,
    )
    session.add(meeting)
    session.flush()
    _write_history(
        session,
        meeting,
        user,
        "meeting_proposed",
        {"unit_ids": units, "leader_id": leader_id, "decision_due_on": due.due},
    )
    session.flush()
    return meeting


def _load(session: Session, user: StaffUser, meeting_id: int) -> tuple[Meeting, BureauStaff]:
    meeting = session.scalar(
        select(Meeting).where(Meeting.tenant_id == user.tenant_id, Meeting.id == meeting_id).with_for_update()
    )
    if meeting is None:
        raise LookupError(meeting_id)
    return meeting, BureauStaff(session, user.tenant_id)


def decide_meeting(
    session: Session, user: StaffUser, meeting_id: int, *, approve: object, comment: object, today: date
) -> Meeting:
    """The leader in charge approves or declines a proposed meeting; flushes. Raise ``LookupError`` (404)."""
    meeting, staff = _load(session, user, meeting_id)
    if not may_decide(user, meeting, staff, today):
        raise ActionRefused(
            "forbidden",
            "协调会议由主管局领导（或其代理人）审批。",
            "The meeting is decided by the leader in charge (or their stand-in).",
        )
    if meeting.status != "proposed":
        raise ActionRefused(
            "wrong_state",
            f"该协调会议已{STATUS_LABELS[meeting.status][0]}，不能再审批。",
            f"This meeting is already '{STATUS_LABELS[meeting.status][1]}'; it cannot be decided again.",
        )
    if not isinstance(approve, bool):
        raise _invalid("approve", "请选择批准或不批准。", "Choose to approve or decline.")
    note = _text(comment, "comment", ("审批意见", "comment"), LONG_TEXT_MAX, required=not approve)
    meeting.status = "approved" if approve else "declined"
    meeting.decided_by_id = user.id
    meeting.decided_at = _now()
    meeting.decision_comment = note
    on_behalf = meeting.leader_id if user.id != meeting.leader_id else None
    _write_history(
        session,
        meeting,
        user,
        "meeting_approved" if approve else "meeting_declined",
        {"comment": note, "on_behalf_of": on_behalf, "late": today > meeting.decision_due_on},
    )
    session.flush()
    return meeting


def record_minutes(session: Session, user: StaffUser, meeting_id: int, *, minutes: object, today: date) -> Meeting:
    """The petition office records the minutes of an approved meeting once it has been held; flushes."""
    meeting, _staff = _load(session, user, meeting_id)
    if not is_office(user):
        raise ActionRefused("forbidden", "会议纪要由信访办记录。", "The petition office records the minutes.")
    if meeting.status != "approved":
        zh, en = STATUS_LABELS[meeting.status]
        raise ActionRefused(
            "wrong_state",
            f"该协调会议当前为“{zh}”：须经领导批准后召开，才能记录纪要。",
            f"This meeting is '{en}': it must be approved and held before minutes are recorded.",
        )
    if meeting.meeting_on > today:
        raise _invalid(
            "minutes",
            f"会议定于{meeting.meeting_on.isoformat()}召开，召开后再记录纪要。",
            f"The meeting is set for {meeting.meeting_on.isoformat()}; record the minutes after it is held.",
        )
    text = _text(minutes, "minutes", ("会议纪要", "minutes"), LONG_TEXT_MAX)
    meeting.status = "held"
    meeting.minutes = text
    meeting.minutes_by_id = user.id
    meeting.recorded_at = _now()
    _write_history(session, meeting, user, "meeting_held", {"minutes": text})
    session.flush()
    return meeting


def list_meetings(session: Session, bureau_id: int, *, limit: int = 200) -> list[Meeting]:
    """The bureau's meetings, those awaiting a decision first, then the latest."""
    rows = session.scalars(
        select(Meeting).where(Meeting.tenant_id == bureau_id).order_by(Meeting.id.desc()).limit(limit)
    ).all()
    return sorted(rows, key=lambda m: (m.status != "proposed", -m.id))


def list_meetings_to_decide(session: Session, user: StaffUser, today: date) -> list[Meeting]:
    """The proposed meetings of the user's bureau that this user may decide (none for staff who are not leaders)."""
    if not set(user.roles) & LEADERS:
        return []
    rows = session.scalars(
        select(Meeting).where(Meeting.tenant_id == user.tenant_id, Meeting.status == "proposed").order_by(Meeting.id)
    ).all()
    if not rows:
        return []
    staff = BureauStaff(session, user.tenant_id)
    return [m for m in rows if may_decide(user, m, staff, today)]


def get_meeting(session: Session, bureau_id: int, meeting_id: int) -> Meeting | None:
    return session.scalar(select(Meeting).where(Meeting.tenant_id == bureau_id, Meeting.id == meeting_id))


def case_numbers_of(session: Session, meetings: Sequence[Meeting]) -> dict[int, str]:
    """Case id -> number for every case linked to these meetings (one query)."""
    ids = {i for m in meetings for i in (m.case_ids or ())}
    if not ids:
        return {}
    bureau_ids = {m.tenant_id for m in meetings}
    rows = session.execute(select(Case.id, Case.number).where(Case.tenant_id.in_(bureau_ids), Case.id.in_(ids)))
    return dict(rows.all())
