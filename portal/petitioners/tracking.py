"""What a petitioner may see of a case, reached by its number and access code or through their account.

Reading a case starts from the deployment-wide number registry (``case_numbers``, a reference table): it names the
bureau; the case itself is then read inside that one bureau's scope, never more. A wrong access code and an unknown
number look exactly the same to the caller.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.calendar import get_step_rules
from portal.cases.context import BureauStaff, case_view
from portal.cases.history import list_events
from portal.cases.models import WINDOW_EXPIRED, Case, CaseNumber, CaseParty, Deadline, MaterialRequest
from portal.cases.numbers import normalise_code, normalise_number
from portal.cases.queries import explain_deadline
from portal.documents.models import GeneratedDocument
from portal.pii import PersonalData
from portal.routing import OPINION_KIND_LABELS
from portal.supervision.models import SATISFACTION_LABELS, Satisfaction, SatisfactionRating
from portal.workflow import (
    DELIVERY_LABELS,
    KIND_LABELS,
    REJECT_REASON_LABELS,
    STATE_PUBLIC,
    ActionRefused,
    ActorView,
    CaseAction,
    CaseState,
    CaseView,
    DeliveryMethod,
    MaterialTarget,
    RejectReason,
    Step,
    allowed_actions,
    case_step_label,
    decide,
)
from tenants.models import Bureau
from tenants.scoping import TenantScope, scoped, set_scope, system_scope

NUMBER_MAX = 40
CODE_MAX = 40
# Compared against when the number is unknown, so that both answers cost one keyed hash and one comparison.
_NO_HASH = "0" * 64

# Clocks that concern the petitioner; the others are the bureau's internal steps.
PUBLIC_STEPS = (Step.acceptance, Step.whole_review, Step.material_request, Step.escalation_window)

PETITIONER_VIEW = ActorView(kind="petitioner", user_id=0)

Pair = tuple[str, str]


def find_by_code(session: Session, pii: PersonalData, number: str | None, code: str | None) -> CaseNumber | None:
    """Return the registry row of case ``number`` if ``code`` is its access code, else None (for any reason).

    The same work whatever the answer: one query (a number that cannot exist is looked up all the same) and one
    constant-time comparison (against a dummy hash when there is no case), so that the time taken does not tell an
    existing number with a wrong code from an unknown number.
    """
    number = normalise_number(str(number or ""))[:NUMBER_MAX]
    code = normalise_code(str(code or ""))[:CODE_MAX]
    with system_scope(session):
        found = session.execute(
            select(CaseNumber, Case.access_code_hash)
            .join(Case, (Case.tenant_id == CaseNumber.tenant_id) & (Case.id == CaseNumber.case_id))
            .where(CaseNumber.number == (number or "-"))
        ).first()
    row, expected = found if found is not None else (None, None)
    matches = pii.matches(code, expected or _NO_HASH)
    return row if row is not None and expected and matches else None


def find_number(session: Session, number: str | None) -> CaseNumber | None:
    number = normalise_number(str(number or ""))[:NUMBER_MAX]
    return session.get(CaseNumber, number) if number else None


def open_case(session: Session, ref: CaseNumber) -> Case:
    """Load the case of ``ref`` and give the session that one bureau's scope for the rest of the unit of work.

    Call only once the caller is authorised (access code or account). Operations on the case need this scope.
    """
    set_scope(session, TenantScope.single(ref.tenant_id))
    return session.scalar(select(Case).where(Case.id == ref.case_id))


# --- The tracking view ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicDeadline:
    step: Step
    label: Pair
    started_on: date
    due_on: date
    explanation: Pair
    provisional: bool
    open: bool
    closed_on: date | None
    expired: bool = False  # a window that ran out unused (closed by the sweep), not one that was used


@dataclass(frozen=True)
class PublicEvent:
    seq: int
    at: datetime
    action: str
    label: Pair
    details: list[tuple[Pair, str]]


@dataclass(frozen=True)
class Escalation:
    """Whether the petitioner can apply for a re-review of this case's review opinion online, and until when."""

    possible: bool
    last_day: date | None
    remaining_days: int | None
    refusal: Pair | None


@dataclass
class TrackingView:
    case: Case
    handled_by: Bureau
    disputed_bureau: Bureau
    state_public: Pair
    kind_label: Pair
    opinion_kind_label: Pair
    timeline: list[PublicEvent]
    deadlines: list[PublicDeadline]
    documents: list[Attachment]
    own_files: list[Attachment]
    material_requests: list[MaterialRequest]
    answered_requests: list[MaterialRequest]
    can_withdraw: bool
    escalation: Escalation
    escalated_to: str | None = None
    earlier_number: str | None = None
    #: The petitioner's rating of the reply, once given; ``can_rate`` while a replied case awaits it.
    rating: SatisfactionRating | None = None
    can_rate: bool = False
    files_by_id: dict[int, Attachment] = field(default_factory=dict)


_EVENT_LABELS: dict[str, Pair] = {
    "submit": ("提交申请，本局已收到", "Application submitted and received"),
    "accept": ("决定受理，已发出受理告知书", "Accepted; acceptance notice sent"),
    "reject": ("决定不予受理，已发出不予受理告知书", "Not accepted; notice sent"),
    "approve_extension": ("延长办理期限，已发出延期告知书", "Handling time extended; notice sent"),
    "request_materials": ("请您补充材料", "You are asked for materials"),
    "provide_materials": ("已收到您补充的材料", "Your materials were received"),
    "sign_reply": ("作出书面意见并答复您", "The formal opinion was sent to you"),
    "withdraw": ("申请已撤回", "Application withdrawn"),
    "escalate": ("您已申请复核", "You applied for a re-review"),
    "rate_reply": ("您评价了书面答复", "You rated the reply"),
    "record_delivery": ("书面意见已送达", "The formal opinion reached you"),
}


def _details(action: str, fields: dict) -> list[tuple[Pair, str]]:
    """Only the fields written for the petitioner; internal notes and names never leave the bureau."""
    out: list[tuple[Pair, str]] = []
    if action == "reject":
        try:
            reason = REJECT_REASON_LABELS[RejectReason(fields.get("reason"))]
        except ValueError:
            reason = None
        if reason:
            out.append((("不予受理的理由", "Reason"), reason[0]))
        if fields.get("explanation"):
            out.append((("说明", "Explanation"), fields["explanation"]))
        if fields.get("remedy"):
            out.append((("下一步可以采取的途径", "What you can do next"), fields["remedy"]))
    elif action == "approve_extension" and fields.get("days"):
        out.append((("延长天数", "Days added"), str(fields["days"])))
    elif action == "request_materials":
        out.append((("需要的材料", "Materials asked for"), fields.get("content") or ""))
        if fields.get("due_on"):
            out.append((("请在此日期前提供", "Due"), str(fields["due_on"])))
    elif action == "provide_materials" and fields.get("content"):
        out.append((("您的说明", "Your note"), fields["content"]))
    elif action == "escalate" and fields.get("request"):
        out.append((("复核请求", "Request"), fields["request"]))
        out.append((("事实和理由", "Facts and reasons"), fields.get("facts_and_reasons") or ""))
    elif action in ("withdraw", "escalate") and fields.get("reason"):
        out.append((("理由", "Reason"), fields["reason"]))
    elif action == "rate_reply":
        with contextlib.suppress(ValueError):
            out.append((("评价", "Rating"), SATISFACTION_LABELS[Satisfaction(fields.get("rating"))][0]))
        if fields.get("comment"):
            out.append((("您的意见", "Your comment"), fields["comment"]))
    elif action == "record_delivery" and fields.get("delivered_on"):
        method = fields.get("method")
        label = DELIVERY_LABELS.get(DeliveryMethod(method)) if method in set(DeliveryMethod) else None
        out.append((("送达日期", "Delivered on"), str(fields["delivered_on"])))
        if label:
            out.append((("送达方式", "How"), label[0]))
    if action == "escalate" and fields.get("new_case_number"):
        out.append((("复核申请编号", "Re-review number"), fields["new_case_number"]))
    return out


def public_document_ids(session: Session, case: Case) -> set[int]:
    """The PDFs of the documents addressed to the petitioner (notices, the formal opinion; not the reading slip).

    The editable DOCX copies are for the staff.
    """
    return set(
        session.scalars(
            select(GeneratedDocument.pdf_attachment_id).where(
                GeneratedDocument.tenant_id == case.tenant_id,
                GeneratedDocument.case_id == case.id,
                GeneratedDocument.public.is_(True),
            )
        )
    )


def escalation_window(session: Session, case: Case, view: CaseView, today: date) -> Escalation:
    """Whether a re-review can be applied for online today, the last day, and the days left.

    ``view`` is the case's rules view, built once by the caller. The last day is the one the workflow judges by
    (``CaseView.escalation_due``: the stored deadline, else the delivery date plus the window of the time-limit
    table; None while the delivery is not recorded: the window has not started).
    """
    if case.state is not CaseState.replied:
        return Escalation(False, None, None, None)
    window = get_step_rules(session)[Step.escalation_window].amount or 0
    # Until the opinion is delivered (送达) the window has not started: no last day yet.
    last_day = view.escalation_due or (case.delivered_on + timedelta(days=window) if case.delivered_on else None)
    try:
        decide(
            view,
            CaseAction.escalate,
            PETITIONER_VIEW,
            {"today": today, "request": "-", "facts_and_reasons": "-"},
            rules=get_step_rules(session),
        )
    except ActionRefused as exc:
        return Escalation(False, last_day, None, (exc.message_zh, exc.message_en))
    remaining = (last_day - today).days if last_day else None
    return Escalation(True, last_day, remaining, None)


def tracking_view(session: Session, case: Case, *, today: date) -> TrackingView:
    """Everything the petitioner sees of ``case``; the session must hold the case's bureau scope."""
    handled_by = session.get(Bureau, case.tenant_id)
    disputed = session.get(Bureau, case.disputed_bureau_id)
    events = list_events(session, case, public_only=True)
    timeline = [
        PublicEvent(
            e.seq, e.at, e.action, _EVENT_LABELS.get(e.action, ("办理进展", "Progress")), _details(e.action, e.fields)
        )
        for e in events
    ]
    escalated_to = next((e.fields.get("new_case_number") for e in reversed(events) if e.action == "escalate"), None)

    requests = list(
        session.scalars(
            select(MaterialRequest)
            .where(
                MaterialRequest.tenant_id == case.tenant_id,
                MaterialRequest.case_id == case.id,
                MaterialRequest.target == str(MaterialTarget.petitioner),
            )
            .order_by(MaterialRequest.id)
        )
    )
    public_request_ids = {r.id for r in requests}
    deadlines = []
    for d in session.scalars(
        select(Deadline)
        .where(Deadline.tenant_id == case.tenant_id, Deadline.case_id == case.id, Deadline.step.in_(PUBLIC_STEPS))
        .order_by(Deadline.opened_at, Deadline.id)
    ):
        if d.step is Step.material_request and d.material_request_id not in public_request_ids:
            continue  # a request to another bureau or body is the bureau's business
        deadlines.append(
            PublicDeadline(
                step=d.step,
                label=case_step_label(d.step, case.kind),
                started_on=d.started_on,
                due_on=d.due_on,
                explanation=(explain_deadline(d.explanation, "zh"), explain_deadline(d.explanation, "en")),
                provisional=d.provisional,
                open=d.closed_at is None,
                closed_on=d.closed_at.date() if d.closed_at else None,
                expired=d.close_reason == WINDOW_EXPIRED,
            )
        )

    files = list(
        session.scalars(
            select(Attachment)
            .where(Attachment.tenant_id == case.tenant_id, Attachment.case_id == case.id)
            .order_by(Attachment.id)
        )
    )
    public_ids = public_document_ids(session, case)
    documents = [a for a in files if a.id in public_ids]
    own = [a for a in files if a.source is AttachmentSource.petitioner]

    view = case_view(session, case, BureauStaff(session, case.tenant_id))
    actions = set(
        allowed_actions(
            view,
            PETITIONER_VIEW,
            today=today,
            rules=get_step_rules(session),
        )
    )
    rating = session.scalar(
        select(SatisfactionRating).where(
            SatisfactionRating.tenant_id == case.tenant_id, SatisfactionRating.case_id == case.id
        )
    )
    earlier = None
    if case.earlier_case_id is not None:
        with scoped(session, TenantScope.single(case.earlier_tenant_id)):
            earlier = session.scalar(select(Case.number).where(Case.id == case.earlier_case_id))
    return TrackingView(
        case=case,
        handled_by=handled_by,
        disputed_bureau=disputed,
        state_public=STATE_PUBLIC[case.state],
        kind_label=KIND_LABELS[case.kind],
        opinion_kind_label=OPINION_KIND_LABELS[case.disputed_kind],
        timeline=timeline,
        deadlines=deadlines,
        documents=documents,
        own_files=own,
        material_requests=[r for r in requests if r.answered_at is None],
        answered_requests=[r for r in requests if r.answered_at is not None],
        can_withdraw=CaseAction.withdraw in actions,
        escalation=escalation_window(session, case, view, today),
        escalated_to=escalated_to,
        earlier_number=earlier,
        rating=rating,
        can_rate=case.state is CaseState.replied and rating is None,
        files_by_id={a.id: a for a in files},
    )


def petitioner_party(session: Session, pii: PersonalData, case: Case) -> dict[str, str | None]:
    """The petitioner's own details, decrypted, to prefill a re-review (shown only to the authorised petitioner)."""
    party = session.scalar(
        select(CaseParty).where(
            CaseParty.tenant_id == case.tenant_id, CaseParty.case_id == case.id, CaseParty.role == "petitioner"
        )
    )
    if party is None:
        return {}
    return {
        "name": party.name,
        "id_number": party.reveal(pii, "id_number_enc"),
        "phone": party.reveal(pii, "phone_enc"),
        "email": party.reveal(pii, "email_enc"),
        "address": party.reveal(pii, "address_enc"),
    }


def find_file(view: TrackingView, attachment_id: int) -> Attachment | None:
    """A file the petitioner may download: a public document or one of their own files."""
    for attachment in (*view.documents, *view.own_files):
        if attachment.id == attachment_id:
            return attachment
    return None
