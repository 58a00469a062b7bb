"""The case workflow: states, actions, who may take them, guards, and the clocks each step starts.

This is DOMAIN.md "The workflow the product implements" as code. Pure module: no Flask, no SQLAlchemy.
The database layer fills a `CaseView` and an `ActorView`, calls `decide()`, and applies the returned
`Decision` in one transaction (state, event, deadlines, documents, outbox). `decide()` never reads a clock
or the database: everything it needs comes in through the views and the payload.

Order of the checks in `decide()`, and the refusal code of each:
1. the actor's bureau is the case's bureau ("not_your_bureau", shown as 404: ancestors read, never act);
2. the action is possible in the case's state ("wrong_state", 409);
3. the actor may take it ("forbidden", 403);
4. case conditions that need no input: intake path, extension used or pending, escalation limits
   ("wrong_state", 409);
5. the payload ("invalid", 422, with `field`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import Enum, StrEnum
from typing import Any, Literal, TypeVar

from portal.roles import LEADERS, PETITION_OFFICE, Role

LONG_TEXT_MAX = 10_000
LETTER_TEXT_MAX = 20_000  # the formal opinion the clerk writes (a whole letter)
SHORT_TEXT_MAX = 200
EXTENSION_MAX_DAYS = 30  # §三: at most 30 days more in all, over one or more requests


# --- States, actions and the words around them -----------------------------------------------------------


class CaseState(StrEnum):
    submitted = "submitted"
    not_accepted = "not_accepted"
    accepted = "accepted"
    awaiting_instruction = "awaiting_instruction"
    instructed = "instructed"
    in_review = "in_review"
    awaiting_approval = "awaiting_approval"
    in_revision = "in_revision"
    drafting_reply = "drafting_reply"
    awaiting_signature = "awaiting_signature"
    replied = "replied"
    reported = "reported"
    withdrawn = "withdrawn"


FINAL_STATES: frozenset[CaseState] = frozenset(
    {CaseState.not_accepted, CaseState.replied, CaseState.reported, CaseState.withdrawn}
)
OPEN_STATES: frozenset[CaseState] = frozenset(CaseState) - FINAL_STATES
# Open states after acceptance: where extensions, materials, contacts and meetings happen.
ACTIVE_STATES: frozenset[CaseState] = OPEN_STATES - {CaseState.submitted}


class CaseAction(StrEnum):
    accept = "accept"
    reject = "reject"
    submit_slip = "submit_slip"
    instruct = "instruct"
    dispatch = "dispatch"
    submit_opinion = "submit_opinion"
    approve_opinion = "approve_opinion"
    return_opinion = "return_opinion"
    submit_reply = "submit_reply"
    return_reply = "return_reply"
    sign_reply = "sign_reply"
    request_extension = "request_extension"
    approve_extension = "approve_extension"
    deny_extension = "deny_extension"
    request_materials = "request_materials"
    provide_materials = "provide_materials"
    record_contact = "record_contact"
    withdraw = "withdraw"
    escalate = "escalate"
    record_delivery = "record_delivery"


class Complexity(StrEnum):
    simple = "simple"  # 情况清楚、政策明确、内容单一: the petition office handles (§二.2)
    complex = "complex"  # several divisions: the divisions handle, the office coordinates (§二.3)
    major = "major"  # 重大、复杂、疑难: the petitions leader coordinates (§二.4)


class Outcome(StrEnum):
    upheld = "upheld"  # 维持
    revoked = "revoked"  # 撤销
    changed = "changed"  # 变更
    partly_changed = "partly_changed"  # 部分变更


class RejectReason(StrEnum):
    litigation = "litigation"
    arbitration = "arbitration"
    reconsideration = "reconsideration"
    repeat_after_re_review = "repeat_after_re_review"
    outside_scope = "outside_scope"
    late = "late"  # outside the 30-day window from receiving the written opinion
    other = "other"


class IntakePath(StrEnum):
    online = "online"
    paper = "paper"
    committee_transfer = "committee_transfer"


class CaseKind(StrEnum):
    review = "review"  # 复查
    re_review = "re_review"  # 复核


class DocumentKind(StrEnum):
    acceptance_notice = "acceptance_notice"
    non_acceptance_notice = "non_acceptance_notice"
    extension_notice = "extension_notice"
    reading_slip = "reading_slip"
    formal_opinion = "formal_opinion"  # 复查意见书 for a review, 复核意见书 for a re-review


class MaterialTarget(StrEnum):
    """Whom a materials request (§四.11) is addressed to."""

    lower_bureau = "lower_bureau"  # a city or county bureau below the case's bureau; its staff answer
    petitioner = "petitioner"  # the petitioner answers online, or the office records a paper answer
    other_body = "other_body"  # another department or body; the office records the answer


class DeliveryMethod(StrEnum):
    """How the formal opinion reached the petitioner (送达); the petitioner's window runs from that day."""

    online = "online"  # first opened by the petitioner on the tracking page or through the API
    electronic = "electronic"  # the petitioner chose electronic delivery: the day the notice was sent
    post = "post"  # by post: the date on the return receipt, entered by the office
    in_person = "in_person"  # handed over: the date signed for


DELIVERY_LABELS: dict[DeliveryMethod, tuple[str, str]] = {
    DeliveryMethod.online: ("网上查阅送达", "Opened online by the petitioner"),
    DeliveryMethod.electronic: ("电子送达", "Electronic delivery"),
    DeliveryMethod.post: ("邮寄送达（以回执日期为准）", "By post (date on the return receipt)"),
    DeliveryMethod.in_person: ("直接送达（以签收日期为准）", "In person (date signed for)"),
}


class ContactParty(StrEnum):
    """Whom the petition office talked to (§四.12)."""

    petitioner = "petitioner"
    other_body = "other_body"


STATE_LABELS: dict[CaseState, tuple[str, str]] = {
    CaseState.submitted: ("待受理", "Submitted"),
    CaseState.not_accepted: ("不予受理", "Not accepted"),
    CaseState.accepted: ("已受理", "Accepted"),
    CaseState.awaiting_instruction: ("待领导批示", "Awaiting instruction"),
    CaseState.instructed: ("已批示待交办", "Instructed, hand-over pending"),
    CaseState.in_review: ("审查中", "In review"),
    CaseState.awaiting_approval: ("待领导审定", "Awaiting approval"),
    CaseState.in_revision: ("修改中", "In revision"),
    CaseState.drafting_reply: ("起草正式意见", "Drafting the formal opinion"),
    CaseState.awaiting_signature: ("待领导签批", "Awaiting signature"),
    CaseState.replied: ("已答复", "Replied"),
    CaseState.reported: ("已呈报", "Reported to the committee"),
    CaseState.withdrawn: ("已撤回", "Withdrawn"),
}

# What the petitioner sees: plain words, no internal jargon.
STATE_PUBLIC: dict[CaseState, tuple[str, str]] = {
    CaseState.submitted: (
        "已收到您的申请，正在审查是否受理",
        "We have received your application and are deciding whether to accept it.",
    ),
    CaseState.not_accepted: (
        "您的申请不予受理，理由和下一步可以采取的途径见不予受理告知书",
        "Your application was not accepted. The notice explains why and what you can do next.",
    ),
    CaseState.accepted: (
        "您的申请已受理，正在安排办理",
        "Your application has been accepted and is being assigned.",
    ),
    CaseState.awaiting_instruction: (
        "您的申请已受理，办理意见正在报局领导审批",
        "Your application has been accepted; the proposed handling is with the bureau's leader.",
    ),
    CaseState.instructed: (
        "局领导已作出批示，正在交承办部门办理",
        "The leader has given instructions; the case is being handed to the department in charge.",
    ),
    CaseState.in_review: (
        "承办部门正在审查核实您反映的问题",
        "The department in charge is reviewing the matter you raised.",
    ),
    CaseState.awaiting_approval: (
        "审查意见已形成，正在报局领导审定",
        "A review opinion has been written and is with the leader for approval.",
    ),
    CaseState.in_revision: (
        "审查意见正在按局领导意见修改完善",
        "The review opinion is being revised as the leader instructed.",
    ),
    CaseState.drafting_reply: (
        "正在形成正式书面意见",
        "The formal written opinion is being prepared.",
    ),
    CaseState.awaiting_signature: (
        "正式书面意见正在报局领导签批",
        "The formal written opinion is with the leader for signature.",
    ),
    CaseState.replied: (
        "已作出书面意见并答复您，请查看意见书",
        "The formal written opinion has been sent to you. Please read it.",
    ),
    CaseState.reported: (
        "办理结果已按规定呈报省政府信访事项复查复核委员会",
        "The result has been reported to the provincial government's review committee.",
    ),
    CaseState.withdrawn: (
        "申请已撤回，办理终止",
        "The application has been withdrawn; handling has ended.",
    ),
}

ACTION_LABELS: dict[CaseAction, tuple[str, str]] = {
    CaseAction.accept: ("受理", "Accept"),
    CaseAction.reject: ("不予受理", "Do not accept"),
    CaseAction.submit_slip: ("填报阅办单", "Submit the reading slip"),
    CaseAction.instruct: ("批示", "Instruct"),
    CaseAction.dispatch: ("交办", "Hand over"),
    CaseAction.submit_opinion: ("提交审查意见", "Submit the review opinion"),
    CaseAction.approve_opinion: ("审定通过", "Approve the opinion"),
    CaseAction.return_opinion: ("退回修改", "Return the opinion for revision"),
    CaseAction.submit_reply: ("报送正式意见", "Submit the formal opinion"),
    CaseAction.return_reply: ("退回正式意见", "Return the formal opinion"),
    CaseAction.sign_reply: ("签批", "Sign"),
    CaseAction.request_extension: ("申请延期", "Request an extension"),
    CaseAction.approve_extension: ("批准延期", "Approve the extension"),
    CaseAction.deny_extension: ("不批准延期", "Deny the extension"),
    CaseAction.request_materials: ("调取材料", "Request materials"),
    CaseAction.provide_materials: ("提供材料", "Provide materials"),
    CaseAction.record_contact: ("记录沟通情况", "Record a contact"),
    CaseAction.withdraw: ("撤回申请", "Withdraw"),
    CaseAction.escalate: ("申请复核", "Apply for re-review"),
    CaseAction.record_delivery: ("记录送达", "Record delivery"),
}

COMPLEXITY_LABELS: dict[Complexity, tuple[str, str]] = {
    Complexity.simple: ("简单（情况清楚、政策明确、内容单一）", "Simple"),
    Complexity.complex: ("复杂（涉及多个业务处室、单位）", "Complex (several divisions)"),
    Complexity.major: ("重大、复杂、疑难", "Major, complex, difficult"),
}

OUTCOME_LABELS: dict[Outcome, tuple[str, str]] = {
    Outcome.upheld: ("维持原意见", "Upheld"),
    Outcome.revoked: ("撤销原意见", "Revoked"),
    Outcome.changed: ("变更原意见", "Changed"),
    Outcome.partly_changed: ("部分变更原意见", "Partly changed"),
}

REJECT_REASON_LABELS: dict[RejectReason, tuple[str, str]] = {
    RejectReason.litigation: (
        "已经或者依法应当通过诉讼途径解决",
        "Resolved, or to be resolved by law, through litigation",
    ),
    RejectReason.arbitration: (
        "已经或者依法应当通过仲裁途径解决",
        "Resolved, or to be resolved by law, through arbitration",
    ),
    RejectReason.reconsideration: (
        "已经或者依法应当通过行政复议途径解决",
        "Resolved, or to be resolved by law, through administrative reconsideration",
    ),
    RejectReason.repeat_after_re_review: (
        "对复核意见不服，以同一事由和理由再次提出",
        "The same matter on the same reasons after a re-review opinion",
    ),
    RejectReason.outside_scope: ("不属于本局复查、复核范围", "Outside this bureau's review scope"),
    RejectReason.late: (
        "超过收到书面答复意见之日起30日的申请期限",
        "Applied after the 30 days from receiving the written opinion",
    ),
    RejectReason.other: ("其他", "Other"),
}


INTAKE_LABELS: dict[IntakePath, tuple[str, str]] = {
    IntakePath.online: ("网上申请", "Online"),
    IntakePath.paper: ("书面申请", "On paper"),
    IntakePath.committee_transfer: ("省政府复查复核委员会转交", "Transferred by the committee"),
}

KIND_LABELS: dict[CaseKind, tuple[str, str]] = {
    CaseKind.review: ("复查", "Review"),
    CaseKind.re_review: ("复核", "Re-review"),
}

DOCUMENT_LABELS: dict[DocumentKind, tuple[str, str]] = {
    DocumentKind.acceptance_notice: ("信访事项复查、复核受理告知书", "Acceptance notice"),
    DocumentKind.non_acceptance_notice: ("不予受理告知书", "Non-acceptance notice"),
    DocumentKind.extension_notice: ("延期办理告知书", "Extension notice"),
    DocumentKind.reading_slip: ("信访事项阅办单", "Reading slip"),
    DocumentKind.formal_opinion: ("复查（复核）意见书", "Formal opinion"),
}


def document_title(document: DocumentKind, kind: CaseKind) -> tuple[str, str]:
    """Return the (zh, en) title of a document for a case of this kind."""
    if document is DocumentKind.formal_opinion:
        if kind is CaseKind.review:
            return ("复查意见书", "Review opinion")
        return ("复核意见书", "Re-review opinion")
    return DOCUMENT_LABELS[document]


# --- Clocks -------------------------------------------------------------------------------------------


class Step(StrEnum):
    acceptance = "acceptance"
    whole_review = "whole_review"
    slip = "slip"
    instruction = "instruction"
    dispatch = "dispatch"
    division_review = "division_review"
    approval = "approval"
    revision = "revision"
    reply = "reply"
    signature = "signature"  # the petitions leader's signature: a bureau rule, the regulation sets no limit
    material_request = "material_request"  # one clock per request
    escalation_window = "escalation_window"
    meeting_decision = "meeting_decision"  # the leader decides a proposed coordination meeting (§四.13)


STEP_LABELS: dict[Step, tuple[str, str]] = {
    Step.acceptance: ("决定是否受理", "Acceptance decision"),
    Step.whole_review: ("复查复核办结", "Whole review"),
    Step.slip: ("填写阅办单", "Reading slip"),
    Step.instruction: ("领导批示", "Instruction"),
    Step.dispatch: ("交办承办部门", "Hand-over"),
    Step.division_review: ("承办部门审查", "Division review"),
    Step.approval: ("分管领导审定", "Approval"),
    Step.revision: ("修改审查意见", "Revision"),
    Step.reply: ("形成正式书面意见", "Formal opinion"),
    Step.signature: ("领导签批", "Signature"),
    Step.material_request: ("提供材料", "Materials due"),
    Step.escalation_window: ("申请复核期限", "Window to apply for re-review"),
    Step.meeting_decision: ("审批协调会议", "Decision on a coordination meeting"),
}


def case_step_label(step: Step | str, kind: CaseKind | str | None) -> tuple[str, str]:
    """The label of a step of one case: "复查办结" or "复核办结" for its whole-review clock, not the "复查复核办结"
    that statistics over both kinds use."""
    step = Step(step)
    if step is Step.whole_review and kind is not None:
        return (
            ("复查办结", "Review to be concluded")
            if CaseKind(kind) is CaseKind.review
            else ("复核办结", "Re-review to be concluded")
        )
    return STEP_LABELS[step]


Owner = Literal[
    "petition_office",
    "bureau",
    "approver",
    "handling_unit",
    "business_leader",
    "petitions_leader",
    "addressee",
    "petitioner",
]


#: The `ref` of a time limit the bureau sets itself where the regulation sets none (shown as such).
BUREAU_RULE_REF = "本局规定"


@dataclass(frozen=True)
class StepRule:
    """One row of the time-limit table.

    `amount` is None when the limit has no default and the due date comes with the request (materials).
    `unit` is "working_days" (工作日: skip weekends and holidays, count make-up days) or "days" (日).
    `owed_by` says who the clock runs against; `ref` cites the rule.
    """

    amount: int | None
    unit: Literal["working_days", "days"]
    owed_by: Owner
    ref: str


DEFAULT_STEP_RULES: dict[Step, StepRule] = {
    Step.acceptance: StepRule(15, "working_days", "petition_office", "§四.1"),
    Step.whole_review: StepRule(30, "working_days", "bureau", "§三"),
    Step.slip: StepRule(1, "days", "petition_office", "§四.4"),
    Step.instruction: StepRule(5, "days", "approver", "§四.5"),
    Step.dispatch: StepRule(1, "days", "petition_office", "§四.6"),
    Step.division_review: StepRule(15, "working_days", "handling_unit", "§四.7"),
    Step.approval: StepRule(2, "working_days", "business_leader", "§四.8"),
    Step.revision: StepRule(5, "working_days", "handling_unit", "§四.9"),
    # §四.10: the office's 2 working days cover forming the formal opinion only; the signature follows.
    Step.reply: StepRule(2, "working_days", "petition_office", "§四.10"),
    # The regulation gives the signature no limit; this one is the bureau's own rule (see `is_bureau_rule`).
    Step.signature: StepRule(2, "working_days", "petitions_leader", BUREAU_RULE_REF),
    Step.material_request: StepRule(None, "days", "addressee", "§四.11"),
    Step.escalation_window: StepRule(30, "days", "petitioner", "《信访工作条例》第三十五条、第三十六条"),
    # §四.13 sets no limit for the leader's decision on a meeting: a bureau rule too. The due date is kept on the
    # meeting itself (a meeting may concern no case), not as a case clock.
    Step.meeting_decision: StepRule(2, "working_days", "petitions_leader", BUREAU_RULE_REF),
}


def is_bureau_rule(rule: StepRule) -> bool:
    """Tell whether a time limit is the bureau's own rule rather than the regulation's."""
    return rule.ref.startswith(BUREAU_RULE_REF)


class _AllSteps:
    """Sentinel in `Decision.closes`: close every open clock of the case."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ALL"


ALL = _AllSteps()

# The clocks a new case starts with, by intake path. Committee transfers enter as accepted (§四.3).
INITIAL_STEPS: dict[IntakePath, tuple[Step, ...]] = {
    IntakePath.online: (Step.acceptance,),
    IntakePath.paper: (Step.acceptance,),
    IntakePath.committee_transfer: (Step.whole_review, Step.slip),
}
INITIAL_STATES: dict[IntakePath, CaseState] = {
    IntakePath.online: CaseState.submitted,
    IntakePath.paper: CaseState.submitted,
    IntakePath.committee_transfer: CaseState.accepted,
}


# --- What the rules need to know ------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MaterialRequestView:
    """An open materials request on the case (no answer yet)."""

    id: int
    target: MaterialTarget
    target_bureau_id: int | None = None  # set when target is lower_bureau


@dataclass(frozen=True, kw_only=True)
class CaseView:
    """What the workflow needs to know about a case; filled by the database layer.

    - `bureau_level`: "province" | "city" | "county" of the case's bureau; a review decided by the province
      cannot be escalated inside the system (the petitioner goes to the provincial government committee).
    - `lead_unit_is_petition_office`: the handling unit is the petition office itself (simple case, §二.2);
      then petition-office staff submit the opinion.
    - `approver_is_principal`: the slip went to the principal leader (§四.4: a major case spanning several
      leaders); a case confirmed major is then coordinated by them, else by the petitions leader (§二.4).
    - `coordinating_leader_id`: the leader coordinating a case confirmed major.
    - `opinion_approver_ids`: the business leaders overseeing the lead unit; empty means any business leader.
    - `signer_id`, `signer_ids`: the leader(s) in charge of petitions whose signature counts (sign/return the
      reply). A stand-in signs only through `ActorView.signing_for` (declared for signing, §四.4).
      Both empty: any petitions leader of the bureau, but then no stand-in can be recognised.
    - `named_signer_id`: the 签发人 a report's draft names (committee cases); a stand-in declared for signing by
      several absent leaders signs the report for that one.
    - `pending_extension_days`: days asked for by the pending extension request.
    - `extension_days_granted`: days of extension granted so far, over all requests (§三: at most 30 in all).
    - `whole_review_due`: the whole review's due date as it stands; an extension is asked for and granted only up to
      it (a request still pending after it has lapsed).
    - `replied_on`: date the formal opinion was signed and sent.
    - `delivered_on`: date it reached the petitioner (送达); the escalation window runs from it. None: not yet
      recorded, and the window has not started. `electronic_delivery`: the petitioner chose it, so the opinion
      counts as delivered the day it is signed and sent.
    - `escalation_due`: the last day of that window as stored with its deadline (a last day off moves to the next
      working day, Civil Code art. 203); None: not started, or `delivered_on` plus the window in calendar days.
    - `escalated`: a re-review case has already been opened from this case.
    - `material_requests`: the open (unanswered) materials requests.
    - `lower_bureau_ids`: bureaus below this one that materials may be requested from; None: not checked
      here (the database layer checks the tree).
    """

    state: CaseState
    kind: CaseKind
    intake: IntakePath
    bureau_id: int
    complexity: Complexity | None = None
    approver_id: int | None = None
    approver_is_principal: bool = False
    coordinating_leader_id: int | None = None
    lead_unit_id: int | None = None
    assisting_unit_ids: frozenset[int] = frozenset()
    lead_unit_is_petition_office: bool = False
    opinion_needs_approval: bool | None = None
    opinion_approver_ids: frozenset[int] = frozenset()
    signer_id: int | None = None
    signer_ids: frozenset[int] = frozenset()
    named_signer_id: int | None = None
    extension_used: bool = False
    pending_extension: bool = False
    pending_extension_days: int | None = None
    extension_days_granted: int = 0
    whole_review_due: date | None = None
    replied_on: date | None = None
    delivered_on: date | None = None
    electronic_delivery: bool = False
    escalation_due: date | None = None
    escalated: bool = False
    bureau_level: Literal["province", "city", "county"] | None = None
    material_requests: tuple[MaterialRequestView, ...] = ()
    lower_bureau_ids: frozenset[int] | None = None


@dataclass(frozen=True, kw_only=True)
class ActorView:
    """Who is acting.

    - `kind`: "staff", "petitioner" (already matched to this case by the database layer) or "system"
      (jobs; no case action is open to it).
    - `bureau_id`, `unit_id`: the staff member's bureau and unit (None for a petitioner).
    - `is_petition_office_unit`: the staff member's unit is the bureau's petition office.
    - `acting_for`: user ids this actor stands in for today to approve (the reading slip, a division's opinion;
      see `portal.approvers.acting_for`).
    - `signing_for`: user ids this actor stands in for today to sign the formal opinion: only an absent leader's
      stand-in declared for signing (§四.4: approving the slip in their stead gives no power to sign).
    """

    kind: Literal["staff", "petitioner", "system"]
    user_id: int
    bureau_id: int | None = None
    unit_id: int | None = None
    roles: frozenset[Role] = frozenset()
    is_petition_office_unit: bool = False
    acting_for: frozenset[int] = frozenset()
    signing_for: frozenset[int] = frozenset()


class ActionRefused(Exception):
    """The action is refused. `code`: wrong_state | forbidden | not_your_bureau | invalid."""

    def __init__(self, code: str, message_zh: str, message_en: str, field: str | None = None):
        super().__init__(f"{code}: {message_en}")
        self.code = code
        self.message_zh = message_zh
        self.message_en = message_en
        self.field = field


@dataclass(frozen=True)
class Decision:
    """What the database layer applies, in one transaction.

    - `opens` / `closes`: clocks to start / stop; `closes` may hold `ALL` (every open clock).
      `provide_materials` closes the `material_request` clock of `event_fields["request_id"]`.
    - `due_on`: explicit due dates for opened clocks without a default (material_request).
    - `extends`: calendar days to add to the due date of an open clock (an approved extension).
    - `case_changes`: fields to set on the case; `event_fields`: the cleaned payload, JSON-ready.
    """

    action: CaseAction
    state_before: CaseState
    state_after: CaseState
    opens: tuple[Step, ...] = ()
    closes: tuple[Step | _AllSteps, ...] = ()
    documents: tuple[DocumentKind, ...] = ()
    notify_petitioner: bool = False
    public: bool = False
    case_changes: dict[str, Any] = field(default_factory=dict)
    event_fields: dict[str, Any] = field(default_factory=dict)
    due_on: dict[Step, date] = field(default_factory=dict)
    extends: dict[Step, int] = field(default_factory=dict)
    starts_on: dict[Step, date] = field(default_factory=dict)  # opened clocks that start on another day than today

    @property
    def closes_all(self) -> bool:
        return ALL in self.closes

    @property
    def changes_state(self) -> bool:
        return self.state_after != self.state_before


# --- Who may act --------------------------------------------------------------------------------------


class Party(Enum):
    """A kind of actor an action is open to; each maps to one predicate below."""

    petition_office = "petition office staff"
    petition_office_on_behalf = "petition office staff, for a petitioner who is not online"
    approver = "the approving leader chosen on the slip, or their stand-in"
    lead_handler = "staff of the lead handling unit"
    handling_unit = "staff of a handling unit (lead or assisting)"
    opinion_approver = "a leader in charge of the business overseeing the lead unit"
    signer = "the leader in charge of petitions, or their stand-in"
    principal_leader = "the principal leader"
    bureau_leader = "a bureau leader (局领导: petitions, business or principal leader)"
    petitioner = "the petitioner of the case"
    addressee = "the addressee of an open materials request"


def _is_staff(actor: ActorView) -> bool:
    return actor.kind == "staff"


def _in_office(actor: ActorView) -> bool:
    return _is_staff(actor) and bool(actor.roles & PETITION_OFFICE)


def _lead_handler(case: CaseView, actor: ActorView) -> bool:
    if not _is_staff(actor) or case.lead_unit_id is None:
        return False
    if case.lead_unit_is_petition_office and _in_office(actor):
        return True
    if actor.unit_id != case.lead_unit_id:
        return False
    return Role.division_staff in actor.roles or (actor.is_petition_office_unit and _in_office(actor))


def _handling_unit(case: CaseView, actor: ActorView) -> bool:
    if _lead_handler(case, actor):
        return True
    return (
        _is_staff(actor)
        and Role.division_staff in actor.roles
        and actor.unit_id is not None
        and actor.unit_id in case.assisting_unit_ids
    )


def _approver(case: CaseView, actor: ActorView) -> bool:
    if not _is_staff(actor) or case.approver_id is None:
        return False
    return actor.user_id == case.approver_id or case.approver_id in actor.acting_for


def _opinion_approver(case: CaseView, actor: ActorView) -> bool:
    if not _is_staff(actor):
        return False
    ids = case.opinion_approver_ids
    if Role.business_leader in actor.roles and (not ids or actor.user_id in ids):
        return True
    return bool(ids & actor.acting_for)


def _designated_signers(case: CaseView) -> frozenset[int]:
    return case.signer_ids | ({case.signer_id} if case.signer_id is not None else frozenset())


def _signer(case: CaseView, actor: ActorView) -> bool:
    if not _is_staff(actor):
        return False
    ids = _designated_signers(case)
    if Role.petitions_leader in actor.roles and (not ids or actor.user_id in ids):
        return True
    return bool(ids & actor.signing_for)


def _principal(case: CaseView, actor: ActorView) -> bool:
    return _is_staff(actor) and Role.principal_leader in actor.roles


def _bureau_leader(case: CaseView, actor: ActorView) -> bool:
    return _is_staff(actor) and bool(actor.roles & LEADERS)


def _petitioner(case: CaseView, actor: ActorView) -> bool:
    return actor.kind == "petitioner"


def _addressed_to(request: MaterialRequestView, case: CaseView, actor: ActorView) -> bool:
    if request.target is MaterialTarget.petitioner:
        return actor.kind == "petitioner"
    if request.target is MaterialTarget.lower_bureau:
        return (
            _is_staff(actor)
            and actor.bureau_id is not None
            and actor.bureau_id == request.target_bureau_id
            and actor.bureau_id != case.bureau_id
        )
    return False  # other bodies have no account; the petition office records their answer


def _addressee(case: CaseView, actor: ActorView) -> bool:
    return any(_addressed_to(r, case, actor) for r in case.material_requests)


def _office_on_behalf(case: CaseView, actor: ActorView) -> bool:
    return case.intake is not IntakePath.online and _in_office(actor)


_PARTY_CHECKS: dict[Party, Callable[[CaseView, ActorView], bool]] = {
    Party.petition_office: lambda case, actor: _in_office(actor),
    Party.petition_office_on_behalf: _office_on_behalf,
    Party.approver: _approver,
    Party.lead_handler: _lead_handler,
    Party.handling_unit: _handling_unit,
    Party.opinion_approver: _opinion_approver,
    Party.signer: _signer,
    Party.principal_leader: _principal,
    Party.bureau_leader: _bureau_leader,
    Party.petitioner: _petitioner,
    Party.addressee: _addressee,
}


@dataclass(frozen=True)
class ActionRule:
    """One row of the workflow table: where an action may start, who may take it, where it may lead."""

    action: CaseAction
    from_states: frozenset[CaseState]
    parties: tuple[Party, ...]
    to_states: tuple[CaseState, ...] = ()  # empty: the state does not change


_S = CaseState
_P = Party
_MATERIAL_STATES = ACTIVE_STATES | {_S.submitted}

ACTION_RULES: dict[CaseAction, ActionRule] = {
    r.action: r
    for r in (
        ActionRule(CaseAction.accept, frozenset({_S.submitted}), (_P.petition_office,), (_S.accepted,)),
        ActionRule(CaseAction.reject, frozenset({_S.submitted}), (_P.petition_office,), (_S.not_accepted,)),
        ActionRule(
            CaseAction.submit_slip,
            frozenset({_S.accepted}),
            (_P.petition_office,),
            (_S.awaiting_instruction,),
        ),
        ActionRule(CaseAction.instruct, frozenset({_S.awaiting_instruction}), (_P.approver,), (_S.instructed,)),
        ActionRule(CaseAction.dispatch, frozenset({_S.instructed}), (_P.petition_office,), (_S.in_review,)),
        ActionRule(
            CaseAction.submit_opinion,
            frozenset({_S.in_review, _S.in_revision}),
            (_P.lead_handler,),
            (_S.awaiting_approval, _S.drafting_reply),
        ),
        ActionRule(
            CaseAction.approve_opinion,
            frozenset({_S.awaiting_approval}),
            (_P.opinion_approver,),
            (_S.drafting_reply,),
        ),
        ActionRule(
            CaseAction.return_opinion,
            frozenset({_S.awaiting_approval}),
            (_P.opinion_approver,),
            (_S.in_revision,),
        ),
        ActionRule(
            CaseAction.submit_reply,
            frozenset({_S.drafting_reply}),
            (_P.petition_office,),
            (_S.awaiting_signature,),
        ),
        ActionRule(CaseAction.return_reply, frozenset({_S.awaiting_signature}), (_P.signer,), (_S.drafting_reply,)),
        ActionRule(
            CaseAction.sign_reply,
            frozenset({_S.awaiting_signature}),
            (_P.signer,),
            (_S.replied, _S.reported),
        ),
        ActionRule(CaseAction.request_extension, ACTIVE_STATES, (_P.petition_office, _P.lead_handler)),
        # §三: "经局领导批准": any bureau leader decides an extension.
        ActionRule(CaseAction.approve_extension, ACTIVE_STATES, (_P.bureau_leader,)),
        ActionRule(CaseAction.deny_extension, ACTIVE_STATES, (_P.bureau_leader,)),
        ActionRule(CaseAction.request_materials, _MATERIAL_STATES, (_P.petition_office, _P.handling_unit)),
        ActionRule(CaseAction.provide_materials, _MATERIAL_STATES, (_P.addressee, _P.petition_office)),
        ActionRule(CaseAction.record_contact, _MATERIAL_STATES, (_P.petition_office,)),
        ActionRule(
            CaseAction.withdraw,
            OPEN_STATES,
            (_P.petitioner, _P.petition_office_on_behalf),
            (_S.withdrawn,),
        ),
        ActionRule(CaseAction.escalate, frozenset({_S.replied}), (_P.petitioner,)),
        # 送达: the office records post or hand-over; the petitioner's first opening online records itself.
        ActionRule(CaseAction.record_delivery, frozenset({_S.replied}), (_P.petition_office, _P.petitioner)),
    )
}
assert set(ACTION_RULES) == set(CaseAction), "every action needs a rule"


# --- Refusals -----------------------------------------------------------------------------------------


def _refuse(code: str, zh: str, en: str, field: str | None = None) -> ActionRefused:
    return ActionRefused(code, zh, en, field)


def _check_bureau(case: CaseView, action: CaseAction, actor: ActorView) -> None:
    if actor.kind != "staff" or actor.bureau_id == case.bureau_id:
        return
    if action is CaseAction.provide_materials and _addressee(case, actor):
        return  # a lower bureau answers a request addressed to it
    raise _refuse(
        "not_your_bureau",
        "该事项不属于您所在单位办理。",
        "This case belongs to another bureau.",
    )


def _check_state(case: CaseView, rule: ActionRule) -> None:
    if case.state in rule.from_states:
        return
    zh_action, en_action = ACTION_LABELS[rule.action]
    zh_state, en_state = STATE_LABELS[case.state]
    if case.state in FINAL_STATES:
        raise _refuse(
            "wrong_state",
            f"该事项已办结（{zh_state}），不能再{zh_action}。",
            f"The case is closed ({en_state}); '{en_action}' is no longer possible.",
        )
    raise _refuse(
        "wrong_state",
        f"该事项当前状态为“{zh_state}”，不能{zh_action}。",
        f"'{en_action}' is not possible while the case is '{en_state}'.",
    )


def _check_actor(case: CaseView, rule: ActionRule, actor: ActorView) -> None:
    if actor.kind != "system" and any(_PARTY_CHECKS[p](case, actor) for p in rule.parties):
        return
    zh_action, en_action = ACTION_LABELS[rule.action]
    raise _refuse(
        "forbidden",
        f"您无权对该事项进行“{zh_action}”操作。",
        f"You may not '{en_action}' on this case.",
    )


_RE_REVIEW_FINAL = (
    "复核意见为最终意见，不能再申请复核；以同一事由和理由再次提出的，不再受理。",
    "A re-review opinion is final: it cannot be escalated, and the same matter on the same reasons "
    "will not be accepted again.",
)
_PROVINCE_TO_COMMITTEE = (
    "省社会保险局作出的复查意见，如不服，请自收到意见书之日起30日内向吉林省人民政府信访事项复查复核委员会"
    "书面提出复核申请。",
    "Against a review opinion of the provincial bureau, apply in writing to the Jilin Provincial People's "
    "Government petition review committee within 30 days of receiving the opinion.",
)


def _check_conditions(case: CaseView, action: CaseAction, today: date | None, window_days: int) -> None:
    """Refuse, with wrong_state, what the case itself rules out, whatever the input."""
    if action in (CaseAction.accept, CaseAction.reject) and case.intake is IntakePath.committee_transfer:
        raise _refuse(
            "wrong_state",
            "省政府复查复核委员会转交的事项按公文程序直接受理，无需作出受理决定。",
            "Cases transferred by the committee enter as accepted; there is no acceptance decision.",
        )
    if action is CaseAction.request_extension:
        if extension_days_left(case) <= 0:
            raise _refuse(
                "wrong_state",
                f"该事项已延期{case.extension_days_granted}日，延长期限合计不得超过{EXTENSION_MAX_DAYS}日（§三）。",
                f"This case has been extended by {case.extension_days_granted} days; extensions may not exceed "
                f"{EXTENSION_MAX_DAYS} days in all (§三).",
            )
        _check_extension_in_time(case, today)
        if case.pending_extension:
            raise _refuse(
                "wrong_state",
                "已有一项延期申请正在等待领导审批。",
                "An extension request is already waiting for the leader's decision.",
            )
    if action in (CaseAction.approve_extension, CaseAction.deny_extension):
        if not case.pending_extension:
            raise _refuse(
                "wrong_state", "没有待审批的延期申请。", "There is no extension request waiting for a decision."
            )
        _check_extension_not_lapsed(case, today)
    if action is CaseAction.provide_materials and not case.material_requests:
        raise _refuse("wrong_state", "没有待提供的材料。", "There is no open request for materials.")
    if action is CaseAction.escalate:
        _check_escalation(case, today, window_days)
    if action is CaseAction.record_delivery and case.delivered_on is not None:
        raise _refuse(
            "wrong_state",
            f"正式意见书已于{case.delivered_on.isoformat()}送达，送达记录不能重复登记。",
            f"The formal opinion was already delivered on {case.delivered_on.isoformat()}.",
        )


def extension_days_left(case: CaseView) -> int:
    """Days of extension that may still be granted on this case (§三: 30 in all)."""
    return max(0, EXTENSION_MAX_DAYS - case.extension_days_granted)


def whole_review_passed(whole_review_due: date | None, today: date | None) -> bool:
    """§三: the whole review's time has run out (its last day is behind us): the case is overdue and stays so.

    From then on no extension can be asked for, and a request still pending has lapsed: it can be neither granted
    (that would move the deadline and hide the overdue case) nor denied.
    """
    return today is not None and whole_review_due is not None and today > whole_review_due


def extension_lapsed(case: CaseView, today: date | None) -> bool:
    """Tell whether the pending extension request lapsed undecided when the whole review's time ran out (§三)."""
    return case.pending_extension and whole_review_passed(case.whole_review_due, today)


def _check_extension_in_time(case: CaseView, today: date | None) -> None:
    """§三: an extension is asked for before the whole review's time runs out; after that the case is overdue."""
    due = case.whole_review_due
    if not whole_review_passed(due, today):
        return
    raise _refuse(
        "wrong_state",
        f"办结期限（{due.isoformat()}）已过，不能再申请延期；该事项已超期。",
        f"The whole review was due on {due.isoformat()}; an extension can no longer be asked for. The case is overdue.",
    )


def _check_extension_not_lapsed(case: CaseView, today: date | None) -> None:
    """§三: an extension is granted before the whole review's time runs out, not only asked for: a request still
    pending on the day after the last day has lapsed, and the case stays overdue."""
    if not extension_lapsed(case, today):
        return
    due = case.whole_review_due.isoformat()
    raise _refuse(
        "wrong_state",
        f"延期申请已失效：办结期限（{due}）届满前未获批准，不能再批准或不批准；该事项已超期。",
        f"The extension request has lapsed: it was not approved by the whole review's last day ({due}), so it can "
        "no longer be approved or denied. The case is overdue.",
    )


def _check_escalation(case: CaseView, today: date | None, window_days: int) -> None:
    if case.kind is CaseKind.re_review:
        raise _refuse("wrong_state", *_RE_REVIEW_FINAL)
    if case.intake is IntakePath.committee_transfer:
        raise _refuse(
            "wrong_state",
            "省政府复查复核委员会转交的事项，结果已呈报委员会，不能在本系统申请复核。",
            "The result of a transferred case goes to the committee; it cannot be escalated here.",
        )
    if case.bureau_level == "province":
        raise _refuse("wrong_state", *_PROVINCE_TO_COMMITTEE)
    if case.escalated:
        raise _refuse(
            "wrong_state",
            "该复查意见已申请复核，不能重复申请。",
            "A re-review has already been requested for this review opinion.",
        )
    # Not delivered yet: the window has not started, so it is open (Civil Code art. 201: it runs from 送达).
    last_day = case.escalation_due or (case.delivered_on + timedelta(days=window_days) if case.delivered_on else None)
    if today is not None and last_day is not None and today > last_day:
        raise _refuse(
            "wrong_state",
            f"已超过收到复查意见之日起{window_days}日的申请期限，不能在网上申请复核；"
            "如有正当理由，可向上一级社会保险局书面提出并说明情况。",
            f"The {window_days}-day window after the review opinion has passed; the escalation cannot be "
            "made online. With good reason, apply in writing to the next bureau and explain the delay.",
        )


# --- Payload ------------------------------------------------------------------------------------------

FIELD_LABELS: dict[str, tuple[str, str]] = {
    "reason": ("理由", "reason"),
    "explanation": ("不予受理的情况说明", "explanation"),
    "remedy": ("下步救济途径", "further remedy"),
    "note": ("说明", "note"),
    "handed_to_unit_ids": ("移交单位", "handed over to"),
    "proposal": ("拟办意见", "proposed handling"),
    "complexity": ("复杂程度", "complexity"),
    "lead_unit_id": ("主办单位", "lead unit"),
    "assisting_unit_ids": ("协办单位", "assisting units"),
    "approver_id": ("审批领导", "approving leader"),
    "approver_rule": ("审批领导确定依据", "approver rule"),
    "instruction": ("批示意见", "instruction"),
    "opinion": ("审查意见", "review opinion"),
    "needs_approval": ("是否报分管领导审定", "needs approval"),
    "attachment_ids": ("附件", "attachments"),
    "comment": ("意见", "comment"),
    "text": ("正式意见", "formal opinion"),
    "draft_sha256": ("签发稿摘要", "draft digest"),
    "draft": ("签发稿", "draft"),
    "signed_copy": ("代签稿", "copy signed by the stand-in"),
    "doc_number": ("发文字号", "document number"),
    "outcome": ("办理结果", "outcome"),
    "days": ("延期天数", "days"),
    "target": ("调取对象", "target"),
    "target_bureau_id": ("下级社会保险局", "lower bureau"),
    "body_name": ("单位名称", "name of the body"),
    "content": ("内容", "content"),
    "due_on": ("期限", "due date"),
    "today": ("当前日期", "today"),
    "request_id": ("材料调取单", "materials request"),
    "party": ("沟通对象", "party"),
    "contacted_on": ("沟通日期", "date of contact"),
    "channel": ("沟通方式", "channel"),
    "summary": ("沟通情况", "summary"),
    "topic": ("会议议题", "topic"),
    "meeting_on": ("会议日期", "meeting date"),
    "unit_ids": ("参会处室、单位", "units"),
    "case_ids": ("相关事项", "related cases"),
    "approved_by_id": ("批准领导", "approving leader"),
    "meeting_id": ("协调会议", "meeting"),
    "minutes": ("会议纪要", "minutes"),
    "document_note": ("书面撤回材料说明", "written withdrawal"),
    "method": ("送达方式", "delivery method"),
    "delivered_on": ("送达日期", "delivery date"),
    "request": ("复核请求", "request"),
    "facts_and_reasons": ("事实和理由", "facts and reasons"),
}

_E = TypeVar("_E", bound=StrEnum)

_TRUE = {"true", "1", "yes", "on", "y"}
_FALSE = {"false", "0", "no", "off", "n"}


def _label(name: str) -> tuple[str, str]:
    return FIELD_LABELS.get(name, (name, name))


def _invalid(name: str, zh: str, en: str) -> ActionRefused:
    return _refuse("invalid", zh, en, field=name)


def _missing(name: str) -> ActionRefused:
    zh, en = _label(name)
    return _invalid(name, f"请填写“{zh}”。", f"Please fill in the {en}.")


class _Payload:
    """Typed access to the raw payload; every getter refuses with code "invalid" and the field name."""

    def __init__(self, data: Mapping[str, Any] | None):
        self.data = dict(data or {})

    def _raw(self, name: str) -> Any:
        value = self.data.get(name)
        if isinstance(value, str) and not value.strip():
            return None
        return value

    def text(self, name: str, *, max_len: int = LONG_TEXT_MAX, required: bool = True) -> str | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise _missing(name)
            return None
        zh, en = _label(name)
        if not isinstance(value, str):
            raise _invalid(name, f"“{zh}”应为文字。", f"The {en} must be text.")
        value = value.strip()
        if "\x00" in value:
            raise _invalid(name, f"“{zh}”含有无效字符。", f"The {en} contains an invalid character.")
        if len(value) > max_len:
            raise _invalid(
                name,
                f"“{zh}”不能超过{max_len}个字。",
                f"The {en} must be at most {max_len} characters.",
            )
        return value

    def short(self, name: str, *, required: bool = True) -> str | None:
        return self.text(name, max_len=SHORT_TEXT_MAX, required=required)

    def choice(self, name: str, enum: type[_E], *, required: bool = True) -> _E | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise _missing(name)
            return None
        try:
            return enum(value.strip() if isinstance(value, str) else value)
        except ValueError:
            zh, en = _label(name)
            allowed = ", ".join(m.value for m in enum)
            raise _invalid(
                name, f"“{zh}”的取值无效（可选：{allowed}）。", f"Invalid {en} (one of: {allowed})."
            ) from None

    def integer(self, name: str, *, low: int | None = 1, high: int | None = None, required: bool = True) -> int | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise _missing(name)
            return None
        number = _as_int(value)
        zh, en = _label(name)
        if number is None:
            raise _invalid(name, f"“{zh}”应为整数。", f"The {en} must be a whole number.")
        if (low is not None and number < low) or (high is not None and number > high):
            lo = "" if low is None else str(low)
            hi = "" if high is None else str(high)
            raise _invalid(name, f"“{zh}”应在{lo}至{hi}之间。", f"The {en} must be between {lo} and {hi}.")
        return number

    def ids(self, name: str, *, required: bool = True) -> tuple[int, ...]:
        value = self.data.get(name)
        zh, en = _label(name)
        if value is None or value == "" or (isinstance(value, list | tuple | set | frozenset) and not value):
            if required:
                raise _invalid(name, f"请选择“{zh}”。", f"Please choose the {en}.")
            return ()
        if not isinstance(value, list | tuple | set | frozenset):
            raise _invalid(name, f"“{zh}”应为列表。", f"The {en} must be a list.")
        out: list[int] = []
        for item in sorted(value) if isinstance(value, set | frozenset) else value:
            number = _as_int(item)
            if number is None or number < 1:
                raise _invalid(name, f"“{zh}”含有无效的编号。", f"The {en} contain an invalid id.")
            if number not in out:
                out.append(number)
        return tuple(out)

    def day(self, name: str, *, required: bool = True) -> date | None:
        value = self._raw(name)
        if value is None:
            if required:
                raise _missing(name)
            return None
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        zh, en = _label(name)
        raise _invalid(name, f"“{zh}”应为日期（如2024-03-01）。", f"The {en} must be a date (YYYY-MM-DD).")

    def flag(self, name: str) -> bool:
        value = self._raw(name)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        if value is None:
            raise _missing(name)
        zh, en = _label(name)
        raise _invalid(name, f"请选择“{zh}”：是或否。", f"The {en} must be yes or no.")


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _clean(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Make a JSON-ready copy of the event fields, dropping the unset ones."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None:
            continue
        if isinstance(value, date):
            value = value.isoformat()
        elif isinstance(value, tuple | frozenset | set):
            value = list(value)
        out[key] = value
    return out


# --- The actions --------------------------------------------------------------------------------------


@dataclass
class _Ctx:
    case: CaseView
    actor: ActorView
    payload: _Payload
    action: CaseAction
    rules: Mapping[Step, StepRule]

    @property
    def facing(self) -> bool:
        """Whether the petitioner follows this case in the portal (not a committee transfer)."""
        return self.case.intake is not IntakePath.committee_transfer

    def decision(self, state_after: CaseState | None = None, **kwargs: Any) -> Decision:
        kwargs["event_fields"] = _clean(kwargs.get("event_fields", {}))
        return Decision(
            action=self.action,
            state_before=self.case.state,
            state_after=state_after or self.case.state,
            **kwargs,
        )


def _accept(c: _Ctx) -> Decision:
    note = c.payload.text("note", required=False)
    return c.decision(
        _S.accepted,
        opens=(Step.whole_review, Step.slip),
        closes=(Step.acceptance,),
        documents=(DocumentKind.acceptance_notice,),
        notify_petitioner=True,
        public=True,
        event_fields={"note": note},
    )


def _reject(c: _Ctx) -> Decision:
    reason = c.payload.choice("reason", RejectReason)
    explanation = c.payload.text("explanation")
    remedy = c.payload.text("remedy")
    return c.decision(
        _S.not_accepted,
        closes=(Step.acceptance,),
        documents=(DocumentKind.non_acceptance_notice,),
        notify_petitioner=True,
        public=True,
        case_changes={"reject_reason": reason},
        event_fields={"reason": reason, "explanation": explanation, "remedy": remedy},
    )


def _check_units(lead: int | None, assisting: tuple[int, ...]) -> None:
    if lead is not None and lead in assisting:
        raise _invalid(
            "assisting_unit_ids",
            "主办单位不能同时作为协办单位。",
            "The lead unit cannot also be an assisting unit.",
        )


def _submit_slip(c: _Ctx) -> Decision:
    p = c.payload
    proposal = p.text("proposal")
    complexity = p.choice("complexity", Complexity)
    lead = p.integer("lead_unit_id")
    assisting = p.ids("assisting_unit_ids", required=False)
    _check_units(lead, assisting)
    approver = p.integer("approver_id")
    approver_rule = p.short("approver_rule", required=False)
    return c.decision(
        _S.awaiting_instruction,
        opens=(Step.instruction,),
        closes=(Step.slip,),
        documents=(DocumentKind.reading_slip,),
        case_changes={
            "complexity": complexity,
            "lead_unit_id": lead,
            "assisting_unit_ids": assisting,
            "approver_id": approver,
        },
        event_fields={
            "proposal": proposal,
            "complexity": complexity,
            "lead_unit_id": lead,
            "assisting_unit_ids": assisting,
            "approver_id": approver,
            "approver_rule": approver_rule,
        },
    )


def _instruct(c: _Ctx) -> Decision:
    p = c.payload
    instruction = p.text("instruction")
    complexity = p.choice("complexity", Complexity, required=False)
    lead = p.integer("lead_unit_id", required=False)
    given_assisting = "assisting_unit_ids" in p.data and p.data["assisting_unit_ids"] is not None
    assisting = p.ids("assisting_unit_ids", required=False)
    final_lead = lead if lead is not None else c.case.lead_unit_id
    if final_lead is None:
        raise _missing("lead_unit_id")
    if given_assisting:
        _check_units(final_lead, assisting)
        final_assisting = assisting
    else:
        # A new lead unit that was assisting stops being an assisting unit.
        final_assisting = tuple(sorted(u for u in c.case.assisting_unit_ids if u != final_lead))
    changes: dict[str, Any] = {}
    if complexity is not None and complexity != c.case.complexity:
        changes["complexity"] = complexity
    coordinator = _coordinating_leader(c.case, complexity or c.case.complexity)
    if coordinator != c.case.coordinating_leader_id:
        changes["coordinating_leader_id"] = coordinator
    if final_lead != c.case.lead_unit_id:
        changes["lead_unit_id"] = final_lead
    if frozenset(final_assisting) != c.case.assisting_unit_ids:
        changes["assisting_unit_ids"] = final_assisting
    return c.decision(
        _S.instructed,
        opens=(Step.dispatch,),
        closes=(Step.instruction,),
        documents=(DocumentKind.reading_slip,),  # the slip now carries the instruction (批示)
        case_changes=changes,
        event_fields={
            "instruction": instruction,
            "complexity": complexity or c.case.complexity,
            "lead_unit_id": final_lead,
            "assisting_unit_ids": final_assisting,
            "on_behalf_of": c.case.approver_id if c.actor.user_id != c.case.approver_id else None,
            "coordinating_leader_id": coordinator,
        },
    )


def _coordinating_leader(case: CaseView, complexity: Complexity | None) -> int | None:
    """§二.4: who coordinates a case confirmed major: the principal leader when the slip went to them under §四.4's
    rule, else the leader in charge of petitions. None for a case that is not major."""
    if complexity is not Complexity.major:
        return None
    if case.approver_is_principal and case.approver_id is not None:
        return case.approver_id
    signers = _designated_signers(case)
    return min(signers) if signers else None


def _dispatch(c: _Ctx) -> Decision:
    """Hand the slip and materials to the instructed units: all of them unless the office names which (§四.6)."""
    p = c.payload
    note = p.text("note", required=False)
    instructed = tuple(u for u in (c.case.lead_unit_id, *sorted(c.case.assisting_unit_ids)) if u is not None)
    handed = p.ids("handed_to_unit_ids", required=False) or instructed
    if any(u not in instructed for u in handed):
        raise _invalid(
            "handed_to_unit_ids",
            "只能移交给批示确定的主办、协办单位。",
            "Hand over only to the units the instruction named.",
        )
    if c.case.lead_unit_id is not None and c.case.lead_unit_id not in handed:
        raise _invalid("handed_to_unit_ids", "阅办单须移交主办单位。", "The slip must go to the lead unit.")
    return c.decision(
        _S.in_review,
        opens=(Step.division_review,),
        closes=(Step.dispatch,),
        event_fields={
            "note": note,
            "handed_to_unit_ids": handed,
            "lead_unit_id": c.case.lead_unit_id,
            "assisting_unit_ids": tuple(sorted(c.case.assisting_unit_ids)),
        },
    )


def _submit_opinion(c: _Ctx) -> Decision:
    opinion = c.payload.text("opinion")
    needs_approval = c.payload.flag("needs_approval")
    attachments = c.payload.ids("attachment_ids", required=False)
    closing = Step.division_review if c.case.state is _S.in_review else Step.revision
    return c.decision(
        _S.awaiting_approval if needs_approval else _S.drafting_reply,
        opens=(Step.approval,) if needs_approval else (Step.reply,),
        closes=(closing,),
        case_changes={"opinion_needs_approval": needs_approval},
        event_fields={"opinion": opinion, "needs_approval": needs_approval, "attachment_ids": attachments},
    )


def _approve_opinion(c: _Ctx) -> Decision:
    comment = c.payload.text("comment", required=False)
    return c.decision(
        _S.drafting_reply,
        opens=(Step.reply,),
        closes=(Step.approval,),
        event_fields={"comment": comment},
    )


def _return_opinion(c: _Ctx) -> Decision:
    reason = c.payload.text("reason")
    return c.decision(
        _S.in_revision,
        opens=(Step.revision,),
        closes=(Step.approval,),
        event_fields={"reason": reason},
    )


def _submit_reply(c: _Ctx) -> Decision:
    text = c.payload.text("text", max_len=LETTER_TEXT_MAX)
    outcome = c.payload.choice("outcome", Outcome)
    attachments = c.payload.ids("attachment_ids", required=False)
    # The database layer adds the stored draft (its PDF, DOCX, SHA-256 and number) when it renders one.
    return c.decision(
        _S.awaiting_signature,
        opens=(Step.signature,),
        closes=(Step.reply,),
        case_changes={"outcome": outcome},
        event_fields={"text": text, "outcome": outcome, "attachment_ids": attachments},
    )


def _return_reply(c: _Ctx) -> Decision:
    reason = c.payload.text("reason")
    return c.decision(
        _S.drafting_reply,
        opens=(Step.reply,),
        closes=(Step.signature,),
        event_fields={"reason": reason},
    )


def signs_on_behalf_of(case: CaseView, actor: ActorView) -> int | None:
    """The absent leader a stand-in declared for signing signs for (代签, §四.4); None: the actor signs as themself."""
    ids = _designated_signers(case)
    if actor.user_id in ids or not ids & actor.signing_for:
        return None
    if case.named_signer_id in ids & actor.signing_for:
        return case.named_signer_id  # a report names its 签发人: sign for them, whoever else is away too
    return min(ids & actor.signing_for)


def _sign_reply(c: _Ctx) -> Decision:
    comment = c.payload.text("comment", required=False)
    opens: tuple[Step, ...] = ()
    changes: dict[str, Any] = {}
    if c.facing:
        state_after = _S.replied
        today = c.payload.day("today", required=False)
        if c.case.electronic_delivery and today is not None:
            # The petitioner chose electronic delivery: delivered the day the notice is sent, and the window runs.
            changes = {"delivered_on": today, "delivery_method": DeliveryMethod.electronic}
            if c.case.kind is CaseKind.review:
                opens = (Step.escalation_window,)
    else:
        state_after = _S.reported
    return c.decision(
        state_after,
        opens=opens,
        case_changes=changes,
        closes=(Step.reply, Step.signature, Step.whole_review),
        documents=(DocumentKind.formal_opinion,),
        notify_petitioner=c.facing,
        public=c.facing,
        # 代签: a stand-in declared for signing signs in the absent leader's stead; the document shows both.
        event_fields={
            "comment": comment,
            "on_behalf_of": signs_on_behalf_of(c.case, c.actor),
            # The draft signed (set by the database layer from the submitted draft): what is issued.
            "draft_sha256": c.payload.short("draft_sha256", required=False),
            "doc_number": c.payload.short("doc_number", required=False),
        },
    )


def _extension_days(c: _Ctx, cap: int, *, required: bool) -> int | None:
    """Read `days`, refusing more than the 30 days left in all (§三) with a field error that says how many."""
    days = c.payload.integer("days", low=1, high=None, required=required)
    if days is None:
        return None
    left = extension_days_left(c.case)
    if days > left:
        granted = c.case.extension_days_granted
        raise _invalid(
            "days",
            f"延长期限合计不得超过{EXTENSION_MAX_DAYS}日：本案已延期{granted}日，最多还可延期{left}日。",
            f"Extensions may not exceed {EXTENSION_MAX_DAYS} days in all: {granted} already granted, "
            f"at most {left} left.",
        )
    if days > cap:
        raise _invalid(
            "days",
            f"批准的延期天数不能超过申请的{cap}日。",
            f"The days granted cannot exceed the {cap} days asked for.",
        )
    return days


def _request_extension(c: _Ctx) -> Decision:
    _check_extension_in_time(c.case, c.payload.day("today", required=False))
    days = _extension_days(c, EXTENSION_MAX_DAYS, required=True)
    reason = c.payload.text("reason")
    return c.decision(
        case_changes={"pending_extension": True, "pending_extension_days": days},
        event_fields={"days": days, "reason": reason, "granted_before": c.case.extension_days_granted},
    )


def _approve_extension(c: _Ctx) -> Decision:
    _check_extension_not_lapsed(c.case, c.payload.day("today", required=False))
    requested = c.case.pending_extension_days or extension_days_left(c.case)
    cap = min(requested, extension_days_left(c.case))
    days = _extension_days(c, requested, required=False) or cap
    comment = c.payload.text("comment", required=False)
    total = c.case.extension_days_granted + days
    return c.decision(
        documents=(DocumentKind.extension_notice,),
        notify_petitioner=c.facing,
        public=c.facing,
        extends={Step.whole_review: days},
        case_changes={
            "pending_extension": False,
            "pending_extension_days": None,
            "extension_used": True,
            "extension_days": total,
        },
        event_fields={
            "days": days,
            "requested_days": c.case.pending_extension_days,
            "total_days": total,
            "comment": comment,
            # §三 tells the petitioner; a committee case's notice goes to the committee instead (§四.3, §四.10).
            "notice_to": "petitioner" if c.facing else "committee",
        },
    )


def _deny_extension(c: _Ctx) -> Decision:
    _check_extension_not_lapsed(c.case, c.payload.day("today", required=False))
    reason = c.payload.text("reason")
    return c.decision(
        case_changes={"pending_extension": False, "pending_extension_days": None},
        event_fields={"reason": reason, "requested_days": c.case.pending_extension_days},
    )


def _request_materials(c: _Ctx) -> Decision:
    p = c.payload
    target = p.choice("target", MaterialTarget)
    bureau = body = None
    if target is MaterialTarget.lower_bureau:
        bureau = p.integer("target_bureau_id")
        if bureau == c.case.bureau_id or (
            c.case.lower_bureau_ids is not None and bureau not in c.case.lower_bureau_ids
        ):
            raise _invalid(
                "target_bureau_id",
                "只能向本局下级社会保险局调取材料。",
                "Materials can only be requested from a bureau below this one.",
            )
    elif not _in_office(c.actor):
        # §四.11: a division fetches materials in its own field from lower bureaus itself; anything from
        # the petitioner or other bodies goes through the petition office.
        raise _refuse(
            "forbidden",
            "向信访人或其他单位调取材料，请向信访办提出，由信访办调取。",
            "Ask the petition office to request materials from the petitioner or other bodies.",
        )
    if target is MaterialTarget.other_body:
        body = p.short("body_name")
    content = p.text("content")
    due_on = p.day("due_on")
    today = p.day("today", required=False)
    if today is not None and due_on < today:
        raise _invalid("due_on", "期限不能早于今天。", "The due date cannot be in the past.")
    to_petitioner = target is MaterialTarget.petitioner and c.facing
    return c.decision(
        opens=(Step.material_request,),
        due_on={Step.material_request: due_on},
        notify_petitioner=to_petitioner,
        public=to_petitioner,
        event_fields={
            "target": target,
            "target_bureau_id": bureau,
            "body_name": body,
            "content": content,
            "due_on": due_on,
        },
    )


def _provide_materials(c: _Ctx) -> Decision:
    p = c.payload
    request_id = p.integer("request_id")
    request = next((r for r in c.case.material_requests if r.id == request_id), None)
    if request is None:
        raise _invalid("request_id", "没有找到该材料调取单。", "No open materials request with this id.")
    if not (_addressed_to(request, c.case, c.actor) or (_in_office(c.actor) and c.actor.bureau_id == c.case.bureau_id)):
        raise _refuse(
            "forbidden",
            "该材料调取单不是向您提出的。",
            "This materials request is not addressed to you.",
        )
    content = p.text("content", required=False)
    attachments = p.ids("attachment_ids", required=False)
    if not content and not attachments:
        raise _invalid("content", "请填写说明或上传材料。", "Write an answer or attach the materials.")
    return c.decision(
        closes=(Step.material_request,),
        public=c.facing and request.target is MaterialTarget.petitioner,
        event_fields={
            "request_id": request_id,
            "target": request.target,
            "content": content,
            "attachment_ids": attachments,
        },
    )


def _record_contact(c: _Ctx) -> Decision:
    p = c.payload
    party = p.choice("party", ContactParty)
    body = p.short("body_name") if party is ContactParty.other_body else None
    contacted_on = p.day("contacted_on")
    channel = p.short("channel", required=False)
    summary = p.text("summary")
    return c.decision(
        event_fields={
            "party": party,
            "body_name": body,
            "contacted_on": contacted_on,
            "channel": channel,
            "summary": summary,
        }
    )


def _record_delivery(c: _Ctx) -> Decision:
    p = c.payload
    today = p.day("today")
    if c.actor.kind == "petitioner":
        method, delivered_on = DeliveryMethod.online, today  # the day the petitioner first opened it online
    else:
        method = p.choice("method", DeliveryMethod)
        delivered_on = p.day("delivered_on") if method is not DeliveryMethod.online else today
        if method is DeliveryMethod.electronic:
            raise _invalid(
                "method",
                "电子送达以发出通知之日为送达日期，由系统在签发时自动记录。",
                "Electronic delivery is recorded by the system on the day the notice is sent.",
            )
    if c.case.replied_on is not None and delivered_on < c.case.replied_on:
        raise _invalid(
            "delivered_on",
            f"送达日期不能早于正式意见书的签发日期（{c.case.replied_on.isoformat()}）。",
            f"The delivery date cannot be before the formal opinion was signed ({c.case.replied_on.isoformat()}).",
        )
    if delivered_on > today:
        raise _invalid("delivered_on", "送达日期不能晚于今天。", "The delivery date cannot be in the future.")
    opens = (Step.escalation_window,) if c.case.kind is CaseKind.review and c.facing else ()
    return c.decision(
        opens=opens,
        starts_on={Step.escalation_window: delivered_on} if opens else {},
        public=c.facing,
        case_changes={"delivered_on": delivered_on, "delivery_method": method},
        event_fields={"method": method, "delivered_on": delivered_on},
    )


def _withdraw(c: _Ctx) -> Decision:
    reason = c.payload.text("reason")
    on_behalf = c.actor.kind != "petitioner"
    # Staff record a withdrawal only with the petitioner's written request, described here.
    note = c.payload.text("document_note", max_len=SHORT_TEXT_MAX) if on_behalf else None
    return c.decision(
        _S.withdrawn,
        closes=(ALL,),
        notify_petitioner=c.facing,
        public=c.facing,
        event_fields={"reason": reason, "on_behalf": on_behalf, "document_note": note},
    )


def _escalate(c: _Ctx) -> Decision:
    today = c.payload.day("today")
    window = c.rules[Step.escalation_window].amount or 0
    _check_escalation(c.case, today, window)
    # The re-review application asks for the request and for the facts and reasons separately, like a first
    # application; `reason` alone (the API's earlier single field) still serves as both.
    request = c.payload.text("request", max_len=2_000, required=False)
    facts = c.payload.text("facts_and_reasons", required=False)
    reason = c.payload.text("reason", required=False)
    if reason and not request and not facts:
        request = facts = reason
    if not request:
        raise _missing("request")
    if not facts:
        raise _missing("facts_and_reasons")
    return c.decision(
        closes=(Step.escalation_window,),
        public=True,
        case_changes={"escalated": True},
        event_fields={
            "request": request,
            "facts_and_reasons": facts,
            "reason": reason or facts,
            "applied_on": today,
            "replied_on": c.case.replied_on,
            "delivered_on": c.case.delivered_on,
        },
    )


_HANDLERS: dict[CaseAction, Callable[[_Ctx], Decision]] = {
    CaseAction.accept: _accept,
    CaseAction.reject: _reject,
    CaseAction.submit_slip: _submit_slip,
    CaseAction.instruct: _instruct,
    CaseAction.dispatch: _dispatch,
    CaseAction.submit_opinion: _submit_opinion,
    CaseAction.approve_opinion: _approve_opinion,
    CaseAction.return_opinion: _return_opinion,
    CaseAction.submit_reply: _submit_reply,
    CaseAction.return_reply: _return_reply,
    CaseAction.sign_reply: _sign_reply,
    CaseAction.request_extension: _request_extension,
    CaseAction.approve_extension: _approve_extension,
    CaseAction.deny_extension: _deny_extension,
    CaseAction.request_materials: _request_materials,
    CaseAction.provide_materials: _provide_materials,
    CaseAction.record_contact: _record_contact,
    CaseAction.withdraw: _withdraw,
    CaseAction.escalate: _escalate,
    CaseAction.record_delivery: _record_delivery,
}
assert set(_HANDLERS) == set(CaseAction), "every action needs a handler"


# --- Entry points -------------------------------------------------------------------------------------


def _gate(
    case: CaseView, action: CaseAction, actor: ActorView, today: date | None, rules: Mapping[Step, StepRule]
) -> ActionRule:
    rule = ACTION_RULES[action]
    _check_bureau(case, action, actor)
    _check_state(case, rule)
    _check_actor(case, rule, actor)
    _check_conditions(case, action, today, rules[Step.escalation_window].amount or 0)
    return rule


def decide(
    case: CaseView,
    action: CaseAction | str,
    actor: ActorView,
    payload: Mapping[str, Any] | None = None,
    *,
    rules: Mapping[Step, StepRule] = DEFAULT_STEP_RULES,
) -> Decision:
    """Judge one action on a case: return what to apply, or raise `ActionRefused`.

    `rules` is the deployment's time-limit table (the escalation window is read from it).
    """
    try:
        action = CaseAction(action)
    except ValueError:
        raise _invalid("action", "未知的操作。", f"Unknown action {action!r}.") from None
    _gate(case, action, actor, None, rules)
    decision = _HANDLERS[action](_Ctx(case, actor, _Payload(payload), action, rules))
    rule = ACTION_RULES[action]
    assert decision.state_after in rule.to_states or (not rule.to_states and decision.state_after == case.state), (
        action,
        decision.state_after,
    )
    return decision


def allowed_actions(
    case: CaseView,
    actor: ActorView,
    *,
    today: date | None = None,
    rules: Mapping[Step, StepRule] = DEFAULT_STEP_RULES,
) -> list[CaseAction]:
    """List the actions this actor could take now, in table order, judging state, role and case conditions.

    The payload is not judged. With `today` the escalation window is judged too.
    """
    out = []
    for action in CaseAction:
        try:
            _gate(case, action, actor, today, rules)
        except ActionRefused:
            continue
        out.append(action)
    return out


def transitions() -> Iterable[tuple[CaseState, CaseAction, CaseState]]:
    """Yield every (from, action, to) edge of the state machine, for docs and database checks."""
    for rule in ACTION_RULES.values():
        for state in sorted(rule.from_states):
            for target in rule.to_states or (state,):
                yield state, rule.action, target
