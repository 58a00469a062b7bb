"""What a petitioner may see of a case, reached by its number and access code or through their account.

Reading a case starts from the deployment-wide number registry (``case_numbers``, a reference table) joined to the
case's version stamp: one primary-key look-up, which is all a cached tracking page or answer needs (``CaseStamp``).
The case itself is then read inside that one bureau's scope, never more, in one statement with everything the
petitioner sees (``tracking_view``); what they may do is judged by the workflow from that row, the bureau's staff and
the time limits kept in memory (``portal.memo``). A wrong access code and an unknown number look exactly the same
to the caller.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg
from sqlalchemy import bindparam, func, literal_column, select, true
from sqlalchemy.dialects.postgresql import JSON, aggregate_order_by
from sqlalchemy.orm import Session

from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.calendar import get_step_rules
from portal.cases.context import BureauStaff, build_case_view
from portal.cases.models import WINDOW_EXPIRED, Case, CaseEvent, CaseParty, Deadline, MaterialRequest
from portal.cases.numbers import normalise_code, normalise_number
from portal.cases.queries import explain_deadline
from portal.documents.models import GeneratedDocument
from portal.memo import note_version
from portal.pii import PersonalData
from portal.routing import OPINION_KIND_LABELS, OpinionKind
from portal.supervision.models import SATISFACTION_LABELS, Satisfaction, SatisfactionRating
from portal.workflow import (
    DELIVERY_LABELS,
    KIND_LABELS,
    REJECT_REASON_LABELS,
    STATE_PUBLIC,
    ActionRefused,
    ActorView,
    CaseAction,
    CaseKind,
    CaseState,
    CaseView,
    Complexity,
    DeliveryMethod,
    IntakePath,
    MaterialRequestView,
    MaterialTarget,
    RejectReason,
    Step,
    allowed_actions,
    case_step_label,
    decide,
)
from tenants.scoping import TenantScope, scoped, scoped_statement, set_scope, subtree_ids
from tenants.tree import BureauInfo, bureau_info

NUMBER_MAX = 40
CODE_MAX = 40
# Compared against when the number is unknown, so that both answers cost one keyed hash and one comparison.
_NO_HASH = "0" * 64

# Clocks that concern the petitioner; the others are the bureau's internal steps.
PUBLIC_STEPS = (Step.acceptance, Step.whole_review, Step.material_request, Step.escalation_window)

PETITIONER_VIEW = ActorView(kind="petitioner", user_id=0)

Pair = tuple[str, str]


# --- Finding a case: the registry and the version stamp ---------------------------------------------------------


@dataclass(frozen=True)
class CaseStamp:
    """Where a case is and which version of it (and of the reference data) the database holds now.

    ``version`` and ``updated_at`` change with everything the petitioner sees of the case: the workflow's writes
    bump ``version``; the other writers (documents, recomputed deadlines) touch ``updated_at``
    (``portal.cases.stamp.touch_case``). ``state``, ``intake`` and ``delivered_on`` tell whether opening the
    case records its delivery (``portal.petitioners.operations.record_online_delivery``).
    """

    number: str
    tenant_id: int
    case_id: int
    version: int
    updated_at: datetime
    state: CaseState
    intake: IntakePath
    delivered_on: date | None
    reference_version: int | None

    @property
    def key(self) -> tuple | None:
        """What a cached rendering of the case depends on; None when there is no version to rely on."""
        if self.reference_version is None:
            return None
        # The instant, not the datetime: its repr (in the ETag) names the time zone the connection happened to use.
        moment = self.updated_at.timestamp()
        return (self.number, self.tenant_id, self.case_id, self.version, moment, self.reference_version)


class StampReader:
    """Reads case stamps outside the ORM session: ``portal_case_stamp(number)`` on an autocommit connection.

    The look-up every tracking request makes, and for a kept page the only one: one round trip (no pool ping, no
    scope statement, no rollback; the function carries its own system scope, migration ``c9e1f3a5b7d2``). Idle
    connections are kept for the next request; one that fails (a database restart) is dropped and the look-up
    tried once more on a new one. Sees committed rows only, as every request does.
    """

    _CALL = "SELECT * FROM portal_case_stamp(%s)"

    def __init__(self, database_url: str, *, keep: int = 8, connect_timeout: int = 5):
        self._url = database_url.replace("postgresql+psycopg://", "postgresql://", 1)
        self._keep = keep
        self._connect_timeout = connect_timeout
        self._idle: list[psycopg.Connection] = []
        self._lock = threading.Lock()

    def row(self, number: str) -> tuple | None:
        for attempt in (1, 2):
            conn = self._take()
            try:
                found = conn.execute(self._CALL, (number,), prepare=True).fetchone()
            except psycopg.OperationalError:
                conn.close()
                if attempt == 2:
                    raise
                continue
            self._give_back(conn)
            return found
        return None  # not reached

    def _take(self) -> psycopg.Connection:
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn
        return psycopg.connect(self._url, autocommit=True, connect_timeout=self._connect_timeout)

    def _give_back(self, conn: psycopg.Connection) -> None:
        with self._lock:
            if len(self._idle) < self._keep:
                self._idle.append(conn)
                return
        conn.close()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _stamp(row) -> CaseStamp:
    number, tenant_id, case_id, version, updated_at, state, intake, delivered_on, reference_version, _hash = row
    return CaseStamp(
        number,
        tenant_id,
        case_id,
        version,
        updated_at,
        CaseState(state),
        IntakePath(intake),
        delivered_on,
        reference_version,
    )


def find_by_code(reader: StampReader, pii: PersonalData, number: str | None, code: str | None) -> CaseStamp | None:
    """Return the stamp of case ``number`` if ``code`` is its access code, else None (for any reason).

    The same work whatever the answer: one query (a number that cannot exist is looked up all the same) and one
    constant-time comparison (against a dummy hash when there is no case), so that the time taken does not tell an
    existing number with a wrong code from an unknown number.
    """
    number = normalise_number(str(number or ""))[:NUMBER_MAX]
    code = normalise_code(str(code or ""))[:CODE_MAX]
    found = reader.row(number or "-")
    expected = found[-1] if found is not None else None
    matches = pii.matches(code, expected or _NO_HASH)
    return _stamp(found) if found is not None and expected and matches else None


def find_number(reader: StampReader, number: str | None) -> CaseStamp | None:
    """The stamp of case ``number``, for a caller that has already authorised the reader (one statement)."""
    number = normalise_number(str(number or ""))[:NUMBER_MAX]
    if not number:
        return None
    found = reader.row(number)
    return _stamp(found) if found is not None else None


def open_case(session: Session, ref: CaseStamp) -> Case:
    """Load the case of ``ref`` and give the session that one bureau's scope for the rest of the unit of work.

    Call only once the caller is authorised (access code or account). Operations on the case need this scope.
    """
    set_scope(session, TenantScope.single(ref.tenant_id))
    return session.scalar(select(Case).where(Case.id == ref.case_id))


# --- The tracking view ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackedCase:
    """The case row as the tracking view reads it (a copy, not an ORM object): what the page shows and what the
    workflow judges (``portal.cases.context.build_case_view``)."""

    id: int
    tenant_id: int
    number: str
    kind: CaseKind
    intake: IntakePath
    state: CaseState
    complexity: Complexity | None
    disputed_bureau_id: int
    disputed_kind: OpinionKind
    disputed_document_number: str
    disputed_issued_on: date
    disputed_received_on: date
    received_on: date
    lead_unit_id: int | None
    assisting_unit_ids: tuple[int, ...]
    approver_id: int | None
    coordinating_leader_id: int | None
    opinion_needs_approval: bool | None
    extension_used: bool
    extension_days: int | None
    pending_extension_days: int | None
    escalated: bool
    replied_on: date | None
    delivered_on: date | None
    delivery_method: str | None
    electronic_delivery: bool
    earlier_tenant_id: int | None
    earlier_case_id: int | None
    version: int


_CASE_COLUMNS = [getattr(Case, f.name) for f in TrackedCase.__dataclass_fields__.values()]


@dataclass(frozen=True)
class PublicDeadline:
    step: Step
    label: Pair
    started_on: date
    due_on: date
    explanation: Pair
    provisional: bool
    open: bool
    expired: bool = False  # a window past its last day unused (closed by the sweep or not yet), not one used


@dataclass(frozen=True)
class PublicEvent:
    seq: int
    at: datetime
    action: str
    label: Pair
    details: list[tuple[Pair, str]]


@dataclass(frozen=True)
class PublicFile:
    """A file the petitioner may download: a notice sent to them, or one of their own."""

    id: int
    filename: str
    size: int
    content_type: str
    sha256: str
    storage_key: str


@dataclass(frozen=True)
class PublicRequest:
    """A materials request addressed to the petitioner."""

    id: int
    content: str
    due_on: date
    created_at: datetime
    answered_at: datetime | None


@dataclass(frozen=True)
class PublicRating:
    rating: Satisfaction
    comment: str | None
    rated_at: datetime


@dataclass(frozen=True)
class Escalation:
    """Whether the petitioner can apply for a re-review of this case's review opinion online, and until when."""

    possible: bool
    last_day: date | None
    remaining_days: int | None
    refusal: Pair | None


@dataclass
class TrackingView:
    case: TrackedCase
    handled_by: BureauInfo
    disputed_bureau: BureauInfo
    state_public: Pair
    kind_label: Pair
    opinion_kind_label: Pair
    timeline: list[PublicEvent]
    deadlines: list[PublicDeadline]
    documents: list[PublicFile]
    own_files: list[PublicFile]
    material_requests: list[PublicRequest]
    answered_requests: list[PublicRequest]
    can_withdraw: bool
    escalation: Escalation
    escalated_to: str | None = None
    earlier_number: str | None = None
    #: The petitioner's rating of the reply, once given; ``can_rate`` while a replied case awaits it.
    rating: PublicRating | None = None
    can_rate: bool = False


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


def escalation_window(session: Session, case, view: CaseView, today: date) -> Escalation:
    """Whether a re-review can be applied for online today, the last day, and the days left.

    ``view`` is the case's rules view, built once by the caller. The last day is the one the workflow judges by
    (``CaseView.escalation_due``: the stored deadline, else the delivery date plus the window of the time-limit
    table; None while the delivery is not recorded: the window has not started).
    """
    if case.state is not CaseState.replied:
        return Escalation(False, None, None, None)
    rules = get_step_rules(session)
    window = rules[Step.escalation_window].amount or 0
    # Until the opinion is delivered (送达) the window has not started: no last day yet.
    last_day = view.escalation_due or (case.delivered_on + timedelta(days=window) if case.delivered_on else None)
    try:
        decide(
            view,
            CaseAction.escalate,
            PETITIONER_VIEW,
            {"today": today, "request": "-", "facts_and_reasons": "-"},
            rules=rules,
        )
    except ActionRefused as exc:
        return Escalation(False, last_day, None, (exc.message_zh, exc.message_en))
    remaining = (last_day - today).days if last_day else None
    return Escalation(True, last_day, remaining, None)


def _json_rows(model, columns: Sequence, *order_by, where=true()):
    """A scalar sub-select: ``columns`` of the case's rows of ``model`` as a JSON list, in ``order_by`` order."""
    pairs = []
    for column in columns:
        pairs += [literal_column(f"'{column.key}'"), column]
    rows = func.json_agg(aggregate_order_by(func.json_build_object(*pairs), *order_by))
    return (
        select(func.coalesce(rows, literal_column("'[]'::json"), type_=JSON))
        .where(model.tenant_id == Case.tenant_id, model.case_id == Case.id, where)
        .scalar_subquery()
    )


@functools.cache
def _tracking_statement():
    """The case ``:tenant_id``/``:case_id`` and everything the petitioner sees of it: built once, run per request."""
    events = _json_rows(
        CaseEvent,
        (CaseEvent.seq, CaseEvent.at, CaseEvent.action, CaseEvent.fields),
        CaseEvent.seq,
        where=CaseEvent.public,
    )
    deadlines = _json_rows(
        Deadline,
        (
            Deadline.step,
            Deadline.started_on,
            Deadline.due_on,
            Deadline.explanation,
            Deadline.provisional,
            Deadline.closed_at,
            Deadline.close_reason,
            Deadline.material_request_id,
        ),
        Deadline.opened_at,
        Deadline.id,
        where=Deadline.step.in_(PUBLIC_STEPS),
    )
    files = _json_rows(
        Attachment,
        (
            Attachment.id,
            Attachment.filename,
            Attachment.size,
            Attachment.content_type,
            Attachment.sha256,
            Attachment.storage_key,
            Attachment.source,
        ),
        Attachment.id,
    )
    public_documents = _json_rows(
        GeneratedDocument, (GeneratedDocument.pdf_attachment_id,), GeneratedDocument.id, where=GeneratedDocument.public
    )
    requests = _json_rows(
        MaterialRequest,
        (
            MaterialRequest.id,
            MaterialRequest.target,
            MaterialRequest.target_bureau_id,
            MaterialRequest.content,
            MaterialRequest.due_on,
            MaterialRequest.created_at,
            MaterialRequest.answered_at,
        ),
        MaterialRequest.id,
    )
    rating = _json_rows(
        SatisfactionRating,
        (SatisfactionRating.rating, SatisfactionRating.comment, SatisfactionRating.rated_at),
        SatisfactionRating.id,
    )
    return select(
        *_CASE_COLUMNS,
        events.label("events"),
        deadlines.label("deadlines"),
        files.label("files"),
        public_documents.label("public_documents"),
        requests.label("requests"),
        rating.label("rating"),
    ).where(Case.tenant_id == bindparam("tenant_id"), Case.id == bindparam("case_id"))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def tracking_view(
    session: Session, tenant_id: int, case_id: int, *, today: date, reference_version: int | None = None
) -> TrackingView | None:
    """Everything the petitioner sees of a case, read in one statement; None if the case is not there.

    Call only once the reader is authorised. Gives the session the case's bureau scope (as ``open_case``); the
    bureau's staff, its place in the tree and the time limits come from memory (``portal.memo``), checked against
    ``reference_version`` when the caller's stamp brought it (else read once more).
    """
    if reference_version is not None:
        note_version(session, reference_version)
    set_scope(session, TenantScope.single(tenant_id))
    statement = scoped_statement(session, _tracking_statement())
    row = session.execute(statement, {"tenant_id": tenant_id, "case_id": case_id}).first()
    if row is None:
        return None
    values = row._mapping
    fields = {name: values[name] for name in TrackedCase.__dataclass_fields__}
    case = TrackedCase(**{**fields, "assisting_unit_ids": tuple(fields["assisting_unit_ids"] or ())})
    events = values["events"]
    timeline = [
        PublicEvent(
            e["seq"],
            _moment(e["at"]),
            e["action"],
            _EVENT_LABELS.get(e["action"], ("办理进展", "Progress")),
            _details(e["action"], e["fields"] or {}),
        )
        for e in events
    ]
    escalated_to = next(
        (e["fields"].get("new_case_number") for e in reversed(events) if e["action"] == "escalate"), None
    )

    requests = values["requests"]
    petitioner_requests = [
        PublicRequest(r["id"], r["content"], _day(r["due_on"]), _moment(r["created_at"]), _moment(r["answered_at"]))
        for r in requests
        if r["target"] == MaterialTarget.petitioner
    ]
    shown_request_ids = {r.id for r in petitioner_requests}
    deadlines, open_due = [], {}
    for d in values["deadlines"]:
        step, closed_at, due_on = Step(d["step"]), _moment(d["closed_at"]), _day(d["due_on"])
        # A window past its last day reads as expired whether or not the sweep has closed it yet: the page is the
        # same before and after (a kept page follows the day, so the sweep need not touch the case), and the
        # escalation is refused from that day anyway. It still tells the last day (as ``context.case_view``).
        expired = step is Step.escalation_window and (
            d["close_reason"] == WINDOW_EXPIRED or (closed_at is None and due_on < today)
        )
        if (closed_at is None or expired) and step in (Step.escalation_window, Step.whole_review):
            open_due[step] = due_on
        if step is Step.material_request and d["material_request_id"] not in shown_request_ids:
            continue  # a request to another bureau or body is the bureau's business
        deadlines.append(
            PublicDeadline(
                step=step,
                label=case_step_label(step, case.kind),
                started_on=_day(d["started_on"]),
                due_on=due_on,
                explanation=(explain_deadline(d["explanation"], "zh"), explain_deadline(d["explanation"], "en")),
                provisional=d["provisional"],
                open=closed_at is None and not expired,
                expired=expired,
            )
        )

    public_ids = {d["pdf_attachment_id"] for d in values["public_documents"]}
    documents, own = [], []
    for f in values["files"]:
        file = PublicFile(f["id"], f["filename"], f["size"], f["content_type"], f["sha256"], f["storage_key"])
        if f["id"] in public_ids:
            documents.append(file)
        if f["source"] == AttachmentSource.petitioner:
            own.append(file)

    view = build_case_view(
        case,
        BureauStaff(session, tenant_id),
        open_due=open_due,
        open_requests=(
            MaterialRequestView(id=r["id"], target=MaterialTarget(r["target"]), target_bureau_id=r["target_bureau_id"])
            for r in requests
            if r["answered_at"] is None
        ),
        bureau_level=str(bureau_info(session, tenant_id).level),
        lower_bureau_ids=frozenset(subtree_ids(session, tenant_id)) - {tenant_id},
        # No ``named_signer_id``: the 签发人 a committee case's draft names concerns the staff's signature only.
    )
    actions = set(allowed_actions(view, PETITIONER_VIEW, today=today, rules=get_step_rules(session)))
    rated = values["rating"][0] if values["rating"] else None
    rating = (
        PublicRating(Satisfaction(rated["rating"]), rated["comment"], _moment(rated["rated_at"])) if rated else None
    )
    return TrackingView(
        case=case,
        handled_by=bureau_info(session, tenant_id),
        disputed_bureau=bureau_info(session, case.disputed_bureau_id),
        state_public=STATE_PUBLIC[case.state],
        kind_label=KIND_LABELS[case.kind],
        opinion_kind_label=OPINION_KIND_LABELS[case.disputed_kind],
        timeline=timeline,
        deadlines=deadlines,
        documents=documents,
        own_files=own,
        material_requests=[r for r in petitioner_requests if r.answered_at is None],
        answered_requests=[r for r in petitioner_requests if r.answered_at is not None],
        can_withdraw=CaseAction.withdraw in actions,
        escalation=escalation_window(session, case, view, today),
        escalated_to=escalated_to,
        earlier_number=_earlier_number(session, case, events),
        rating=rating,
        can_rate=case.state is CaseState.replied and rating is None,
    )


def _earlier_number(session: Session, case: TrackedCase, events: list[dict]) -> str | None:
    """The number of the case this re-review continues: its application (the first event) names it."""
    if case.earlier_case_id is None:
        return None
    named = next((e["fields"].get("escalated_from") for e in events if e["action"] == "submit"), None)
    if named:
        return named
    with scoped(session, TenantScope.single(case.earlier_tenant_id)):  # an application that did not name it
        return session.scalar(select(Case.number).where(Case.id == case.earlier_case_id))


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


def find_file(view: TrackingView, attachment_id: int) -> PublicFile | None:
    """A file the petitioner may download: a public document or one of their own files."""
    for attachment in (*view.documents, *view.own_files):
        if attachment.id == attachment_id:
            return attachment
    return None
