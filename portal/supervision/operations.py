"""Operations of supervision: issue and answer a supervision order (督办), flag a case sensitive, rate a reply.

None of these changes a case's state (``portal.cases.operations.perform_action`` alone does that); each writes its
record and an entry of the case's hash-chained history in one unit of work, with the case row locked
(``SELECT ... FOR UPDATE``) so that the history stays numbered without gaps. They flush; the caller commits once.

Refusals are ``ActionRefused`` (``forbidden`` 403, ``wrong_state`` 409, ``invalid`` 422 with ``field``), with
``message_zh`` / ``message_en``; a case or order out of reach is ``CaseNotFound`` / ``OrderNotFound`` (404).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.accounts.models import StaffUser
from portal.cases.context import actor_of
from portal.cases.history import Actor, append_event
from portal.cases.models import Case
from portal.cases.operations import CaseNotFound
from portal.roles import LEADERS, PETITION_OFFICE, Role
from portal.supervision.models import (
    ANSWER_MAX,
    COMMENT_MAX,
    INSTRUCTION_MAX,
    Satisfaction,
    SatisfactionRating,
    SupervisionOrder,
)
from portal.supervision.rollups import RollupChange, rating_contribution
from portal.workflow import SHORT_TEXT_MAX, ActionRefused, CaseState
from tenants.models import Bureau
from tenants.scoping import TenantScope, scoped
from tenants.tree import is_ancestor

#: Who may issue an order for a bureau above, and who answers it at the bureau below: the petition office, which
#: coordinates petitions (§二), and the bureau's leaders.
ORDER_ROLES: frozenset[Role] = PETITION_OFFICE | LEADERS
#: Who may flag a case sensitive: anyone who takes part in cases (administrators do not).
FLAG_ROLES: frozenset[Role] = PETITION_OFFICE | LEADERS | {Role.division_staff}
#: The latest due date an order may set, counted from today.
ORDER_DUE_MAX_DAYS = 365

# History entries written here (the staff site labels them through ``portal.supervision.labels``).
ORDER_EVENT = "supervision_order"
ANSWER_EVENT = "supervision_answer"
FLAG_EVENT = "flag_sensitive"
UNFLAG_EVENT = "unflag_sensitive"
RATE_EVENT = "rate_reply"


class OrderNotFound(LookupError):
    """No such order addressed to the reader's bureau (the web answers 404)."""


def _now() -> datetime:
    return datetime.now(UTC)


def _require(user: StaffUser, roles: frozenset[Role], what_zh: str, what_en: str) -> None:
    if not user.has_role(*roles):
        raise ActionRefused("forbidden", f"您的角色不能{what_zh}。", f"Your role may not {what_en}.")


def _clean_text(value, *, field: str, limit: int, required: bool, name_zh: str, name_en: str) -> str | None:
    text = value.strip() if isinstance(value, str) else ("" if value is None else None)
    if text is None:
        raise ActionRefused("invalid", f"{name_zh}格式不正确。", f"The {name_en} is not text.", field)
    if not text:
        if required:
            raise ActionRefused("invalid", f"请填写{name_zh}。", f"Fill in the {name_en}.", field)
        return None
    if len(text) > limit:
        raise ActionRefused(
            "invalid", f"{name_zh}不能超过{limit}个字。", f"The {name_en} must be at most {limit} characters.", field
        )
    if "\x00" in text:
        raise ActionRefused(
            "invalid", f"{name_zh}含有无效字符。", f"The {name_en} contains an invalid character.", field
        )
    return text


def _lock_case(session: Session, tenant_id: int, case_id: int) -> Case | None:
    # populate_existing: a case already in the session is refreshed from the locked row (its event count is current).
    return session.scalar(
        select(Case)
        .where(Case.tenant_id == tenant_id, Case.id == case_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- Supervision orders ----------------------------------------------------------------------------------


def issue_order(
    session: Session,
    case_id: int,
    user: StaffUser,
    instruction: str,
    due_on: date | None,
    *,
    today: date,
    now: datetime | None = None,
) -> SupervisionOrder:
    """Issue an order of ``user``'s bureau on a case of a bureau below it; flushes. Return the order.

    The order belongs to the case's bureau (``portal.supervision.models`` says why): after the checks, the session
    acts as that one bureau for the three writes (case lock, order, history event) and gets its scope back at once.
    """
    _require(user, ORDER_ROLES, "督办下级单位的案件", "issue supervision orders")
    case = session.scalar(select(Case).where(Case.id == case_id))  # in the reader's scope: own bureau and below
    if case is None:
        raise CaseNotFound(case_id)
    issuer = session.get(Bureau, user.tenant_id)
    target = session.get(Bureau, case.tenant_id)
    if issuer is None or target is None or not is_ancestor(issuer, target):
        raise ActionRefused(
            "forbidden",
            "督办只能针对下级社会保险局办理的案件；本局案件请在案件页面直接办理。",
            "Supervision orders go to cases of the bureaus below yours; act on your own cases on their page.",
        )
    text = _clean_text(
        instruction,
        field="instruction",
        limit=INSTRUCTION_MAX,
        required=True,
        name_zh="督办意见",
        name_en="instruction",
    )
    if not isinstance(due_on, date):
        raise ActionRefused("invalid", "请填写办理期限。", "Give the due date.", "due_on")
    if due_on < today:
        raise ActionRefused("invalid", "办理期限不能早于今天。", "The due date must not be in the past.", "due_on")
    if due_on > today + timedelta(days=ORDER_DUE_MAX_DAYS):
        raise ActionRefused(
            "invalid", "办理期限不能超过一年。", "The due date must be within a year from today.", "due_on"
        )
    now = now or _now()
    with scoped(session, TenantScope.single(target.id)):
        locked = _lock_case(session, target.id, case_id)
        if locked is None:  # gone between the two reads
            raise CaseNotFound(case_id)
        order = SupervisionOrder(
            tenant_id=target.id,
            case_id=locked.id,
            issuer_bureau_id=issuer.id,
            issued_by_id=user.id,
            issued_by_name=user.display_name,
            instruction=text,
            due_on=due_on,
            issued_at=now,
        )
        session.add(order)
        session.flush()
        append_event(
            session,
            locked,
            action=ORDER_EVENT,
            actor=actor_of(user),
            at=now,
            state_before=str(locked.state),
            state_after=str(locked.state),
            fields={
                "order_id": order.id,
                "issuer_bureau": issuer.name,
                "instruction": text,
                "due_on": due_on.isoformat(),
            },
            public=False,
        )
    return order


def answer_order(
    session: Session, order_id: int, user: StaffUser, answer: str, *, now: datetime | None = None
) -> SupervisionOrder:
    """Answer an order addressed to ``user``'s own bureau; flushes. Return the order.

    A bureau between the issuer and the target reads the order but cannot answer it: only the case's bureau does.
    """
    _require(user, ORDER_ROLES, "答复督办事项", "answer supervision orders")
    case_id = session.scalar(
        select(SupervisionOrder.case_id).where(
            SupervisionOrder.id == order_id, SupervisionOrder.tenant_id == user.tenant_id
        )
    )
    if case_id is None:
        raise OrderNotFound(order_id)
    text = _clean_text(answer, field="answer", limit=ANSWER_MAX, required=True, name_zh="答复内容", name_en="answer")
    case = _lock_case(session, user.tenant_id, case_id)  # the case first, as every writer of its history does
    if case is None:
        raise OrderNotFound(order_id)
    order = session.scalar(
        select(SupervisionOrder)
        .where(SupervisionOrder.id == order_id, SupervisionOrder.tenant_id == user.tenant_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if order is None:
        raise OrderNotFound(order_id)
    if order.answered:
        raise ActionRefused("wrong_state", "该督办事项已经答复。", "This supervision order has already been answered.")
    now = now or _now()
    order.answer = text
    order.answered_at = now
    order.answered_by_id = user.id
    order.answered_by_name = user.display_name
    session.flush()
    append_event(
        session,
        case,
        action=ANSWER_EVENT,
        actor=actor_of(user),
        at=now,
        state_before=str(case.state),
        state_after=str(case.state),
        fields={"order_id": order.id, "answer": text},
        public=False,
    )
    return order


# --- Sensitive cases -------------------------------------------------------------------------------------


def set_sensitive(
    session: Session, case_id: int, user: StaffUser, sensitive: bool, reason: str, *, now: datetime | None = None
) -> Case:
    """Flag (or unflag) a case of ``user``'s own bureau as sensitive, with a reason in its history; flushes.

    Ancestors supervise read-only, so a case of another bureau is ``CaseNotFound`` here.
    """
    _require(user, FLAG_ROLES, "标记敏感案件", "flag sensitive cases")
    if not isinstance(sensitive, bool):
        raise ActionRefused("invalid", "请选择是否敏感。", "Choose whether the case is sensitive.", "sensitive")
    text = _clean_text(reason, field="reason", limit=SHORT_TEXT_MAX, required=True, name_zh="理由", name_en="reason")
    case = _lock_case(session, user.tenant_id, case_id)
    if case is None:
        raise CaseNotFound(case_id)
    if case.sensitive == sensitive:
        if sensitive:
            raise ActionRefused("wrong_state", "该案件已标记为敏感案件。", "This case is already flagged sensitive.")
        raise ActionRefused("wrong_state", "该案件未标记为敏感案件。", "This case is not flagged sensitive.")
    case.sensitive = sensitive
    session.flush()
    append_event(
        session,
        case,
        action=FLAG_EVENT if sensitive else UNFLAG_EVENT,
        actor=actor_of(user),
        at=now or _now(),
        state_before=str(case.state),
        state_after=str(case.state),
        fields={"reason": text},
        public=False,
    )
    return case


# --- Satisfaction ----------------------------------------------------------------------------------------


def parse_rating(rating, comment) -> tuple[Satisfaction, str | None]:
    """Check the shape of a rating (from the form or the API JSON); raise ``ActionRefused`` (invalid)."""
    try:
        value = Satisfaction(rating) if isinstance(rating, str) else None
    except ValueError:
        value = None
    if value is None:
        raise ActionRefused(
            "invalid",
            "请选择满意、基本满意或不满意。",
            "Choose satisfied, basically satisfied or dissatisfied.",
            "rating",
        )
    text = _clean_text(comment, field="comment", limit=COMMENT_MAX, required=False, name_zh="意见", name_en="comment")
    return value, text


def get_rating(session: Session, case: Case) -> SatisfactionRating | None:
    return session.scalar(
        select(SatisfactionRating).where(
            SatisfactionRating.tenant_id == case.tenant_id, SatisfactionRating.case_id == case.id
        )
    )


def may_rate(session: Session, case: Case) -> bool:
    """Whether the petitioner can rate this case now: a formal reply was sent to them and they have not rated."""
    return case.state is CaseState.replied and get_rating(session, case) is None


def rate_case(
    session: Session,
    case: Case,
    rating: str | Satisfaction,
    comment: str | None = None,
    *,
    account_id: int | None = None,
    now: datetime | None = None,
) -> SatisfactionRating:
    """Record the petitioner's rating of the reply of ``case``, once per case; flushes. Return the rating.

    The session holds the case's bureau scope (``portal.petitioners.tracking.open_case``). Only a case replied to the
    petitioner can be rated (a result reported to the committee was not sent to them); a second rating is refused
    (``wrong_state``), and a unique key on the case backs the rule.
    """
    value, text = parse_rating(rating, comment)
    locked = _lock_case(session, case.tenant_id, case.id)
    if locked is None:
        raise CaseNotFound(case.id)
    if locked.state is not CaseState.replied:
        raise ActionRefused(
            "wrong_state",
            "收到书面答复后才能评价。",
            "You can rate the reply once the formal opinion has been sent to you.",
        )
    if get_rating(session, locked) is not None:
        raise ActionRefused("wrong_state", "您已经评价过该答复。", "You have already rated this reply.")
    now = now or _now()
    row = SatisfactionRating(tenant_id=locked.tenant_id, case_id=locked.id, rating=value, comment=text, rated_at=now)
    session.add(row)
    session.flush()
    rollup = RollupChange()
    rollup.add_case(locked.tenant_id, locked.received_on, rating_contribution(value))
    rollup.write(session)
    append_event(
        session,
        locked,
        action=RATE_EVENT,
        actor=Actor(kind="petitioner", id=account_id, name=locked.petitioner_name),
        at=now,
        state_before=str(locked.state),
        state_after=str(locked.state),
        fields={"rating": str(value), "comment": text},
        public=True,
    )
    return row


def rating_json(row: SatisfactionRating | None, *, can_rate: bool = False) -> dict:
    """The API shape of a case's rating::

        {"rated": true, "can_rate": false, "rating": "satisfied", "comment": "…",
         "rated_at": "2026-10-09T02:00:00+00:00"}

    (``rating`` is one of ``satisfied``, ``basically_satisfied``, ``dissatisfied``; ``comment`` may be null).
    Input to rate: ``{"rating": "satisfied", "comment": "optional, at most 500 characters"}``.
    """
    if row is None:
        return {"rated": False, "can_rate": can_rate, "rating": None, "comment": None, "rated_at": None}
    return {
        "rated": True,
        "can_rate": False,
        "rating": str(row.rating),
        "comment": row.comment,
        "rated_at": row.rated_at.astimezone(UTC).isoformat(),
    }
