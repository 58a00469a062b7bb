"""What each staff action's form offers, pre-fills and shows: one place for the web forms and the API.

- ``action_choices``: for every field that takes an id or an enum, the values allowed now, each with its label
  (and for some, more: the rule that would pick a leader, the standard texts of a refusal reason);
- ``action_defaults``: what a fresh form holds, including a returned draft (§四.9: the division revises its own
  opinion; the office revises its own letter), so nothing resets to a default after 退回;
- ``returned_work``: who returned the work, when and why, and the draft that came back;
- ``decision_subject``: what a decision is about (the slip's proposal, the division's opinion and its files, the
  extension asked for, the instruction to hand over), read from the case's history.

The staff pages (``staff_site.case_forms``) and the staff API (``staff_site.api.staff``) both call these, so a
client of the API sees exactly the choices a person sees on the page. No Flask here: labels are ``(zh, en)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session, object_session

from portal.accounts.models import StaffUser
from portal.cases.models import CaseEvent
from portal.cases.queries import (
    CONTACT_PARTY_LABELS,
    TARGET_LABELS,
    CasePage,
    describe_fields,
    is_petition_office,
)
from portal.cases.refusal_texts import standard_texts
from portal.roles import ROLE_LABELS, Role
from portal.workflow import (
    COMPLEXITY_LABELS,
    DELIVERY_LABELS,
    EXTENSION_MAX_DAYS,
    OUTCOME_LABELS,
    REJECT_REASON_LABELS,
    CaseAction,
    Complexity,
    ContactParty,
    DeliveryMethod,
    MaterialTarget,
    Outcome,
    RejectReason,
    Step,
)
from tenants.models import UnitKind

A = CaseAction
Pair = tuple[str, str]

YES_NO: dict[bool, Pair] = {True: ("是", "Yes"), False: ("否", "No")}
OFFICE_HANDLES: Pair = ("信访办自办（简单事项）", "The petition office handles it (simple case)")

# Which leader a rule of §四.4 would name, by the leader's role (the API shows it beside each leader).
_ROLE_RULES = (
    (Role.petitions_leader, "petitions_leader"),
    (Role.principal_leader, "principal_leader"),
    (Role.business_leader, "business_leader"),
)


@dataclass(frozen=True)
class Choice:
    """One value a field may take: an id (int), an enum value (str) or a flag (bool), with its label."""

    value: Any
    label: Pair
    extra: dict[str, Any] = field(default_factory=dict)


def _units(page: CasePage, only: list[int] | None = None) -> list[Choice]:
    units = sorted(page.staff.units.values(), key=lambda u: (u.kind != UnitKind.petition_office, u.id))
    if only is not None:
        units = [u for u in units if u.id in only]
    return [Choice(u.id, (u.name, u.name)) for u in units]


def _leaders(page: CasePage) -> list[Choice]:
    out = []
    for user in sorted(page.staff.leaders, key=lambda u: u.id):
        roles = [ROLE_LABELS[r] for r in user.roles if r in ROLE_LABELS]
        label = (
            f"{user.display_name}（{'、'.join(r[0] for r in roles)}）",
            f"{user.display_name} ({', '.join(r[1] for r in roles)})",
        )
        rule = next((name for role, name in _ROLE_RULES if role in user.roles), None)
        out.append(Choice(user.id, label, {"rule": rule, "roles": [str(r) for r in user.roles]}))
    return out


def _enum(labels: dict) -> list[Choice]:
    return [Choice(str(k), v) for k, v in labels.items()]


def instructed_units(page: CasePage) -> list[int]:
    case = page.case
    return [u for u in (case.lead_unit_id, *sorted(case.assisting_unit_ids or ())) if u is not None]


def action_choices(session: Session, page: CasePage, user: StaffUser, action: CaseAction) -> dict[str, list[Choice]]:
    """The values each id or enum field of ``action`` may take on this case now, for this user."""
    if action is A.reject:
        texts = standard_texts(session, page.case.tenant_id)
        return {
            "reason": [
                Choice(
                    str(r),
                    label,
                    {"explanation": texts[str(r)].explanation, "remedy": texts[str(r)].remedy},
                )
                for r, label in REJECT_REASON_LABELS.items()
            ]
        }
    if action is A.submit_slip:
        return {
            "complexity": _enum(COMPLEXITY_LABELS),
            "lead_unit_id": _units(page),
            "assisting_unit_ids": _units(page),
            "approver_id": _leaders(page),
        }
    if action is A.instruct:
        return {
            "complexity": _enum(COMPLEXITY_LABELS),
            "lead_unit_id": _units(page),
            "assisting_unit_ids": _units(page),
        }
    if action is A.dispatch:
        office = page.staff.petition_office_id
        choices = []
        for choice in _units(page, instructed_units(page)):
            if choice.value == office and choice.value == page.case.lead_unit_id:
                choice = Choice(choice.value, OFFICE_HANDLES, {"lead": True})
            else:
                choice = Choice(choice.value, choice.label, {"lead": choice.value == page.case.lead_unit_id})
            choices.append(choice)
        return {"handed_to_unit_ids": choices}
    if action is A.submit_opinion:
        return {"needs_approval": [Choice(v, label) for v, label in YES_NO.items()]}
    if action is A.submit_reply:
        return {"outcome": _enum(OUTCOME_LABELS)}
    if action is A.request_materials:
        targets = list(MaterialTarget)
        if not is_petition_office(user, page.staff):
            # §四.11: a division asks lower bureaus itself; anything else through the petition office.
            targets = [MaterialTarget.lower_bureau]
        return {
            "target": [Choice(str(t), TARGET_LABELS[t]) for t in targets],
            "target_bureau_id": [Choice(b.id, (b.name, b.name)) for b in page.lower_bureaus],
        }
    if action is A.provide_materials:
        return {
            "request_id": [
                Choice(r.id, (f"#{r.id} {r.content[:40]}",) * 2)
                for r in page.material_requests
                if r.answered_at is None
            ]
        }
    if action is A.record_contact:
        return {"party": [Choice(str(p), CONTACT_PARTY_LABELS[p]) for p in ContactParty]}
    if action is A.record_delivery:
        # The office records post and hand-over; online and electronic delivery record themselves.
        return {"method": [Choice(str(m), DELIVERY_LABELS[m]) for m in (DeliveryMethod.post, DeliveryMethod.in_person)]}
    return {}


# --- Returned work ------------------------------------------------------------------------------------------

#: The action that sends work back, for each action whose draft can come back.
RETURNED_BY: dict[CaseAction, CaseAction] = {A.submit_opinion: A.return_opinion, A.submit_reply: A.return_reply}


@dataclass(frozen=True)
class Returned:
    """Work sent back: by whom, when, why, and the draft as it was submitted."""

    action: CaseAction
    by: str
    at: datetime
    reason: str
    draft: dict[str, Any]
    draft_seq: int | None


def _last(events: list[CaseEvent], *actions: CaseAction) -> CaseEvent | None:
    names = {str(a) for a in actions}
    return next((e for e in reversed(events) if e.action in names), None)


def returned_work(page: CasePage, action: CaseAction) -> Returned | None:
    """The return that this action answers now (the latest of submit/return is a return), or None."""
    back = RETURNED_BY.get(action)
    if back is None:
        return None
    latest = _last(page.events, action, back)
    if latest is None or latest.action != str(back):
        return None
    draft_event = _last([e for e in page.events if e.seq < latest.seq], action)
    draft = dict(draft_event.fields) if draft_event is not None else {}
    return Returned(
        action=back,
        by=latest.actor_name,
        at=latest.at,
        reason=str(latest.fields.get("reason") or ""),
        draft=draft,
        draft_seq=draft_event.seq if draft_event is not None else None,
    )


# --- Defaults -----------------------------------------------------------------------------------------------


def action_defaults(page: CasePage, action: CaseAction, today: date) -> dict[str, Any]:
    """What a fresh form of ``action`` holds: the rules' suggestions, or the returned draft as it was."""
    case = page.case
    returned = returned_work(page, action)
    if returned is not None:
        from portal.cases.actions import ACTION_FIELDS

        return {k: v for k, v in returned.draft.items() if k in ACTION_FIELDS[action] and v is not None}
    if action is A.submit_slip:
        office = page.staff.petition_office_id
        return {"complexity": str(Complexity.simple), **({"lead_unit_id": office} if office is not None else {})}
    if action is A.instruct:
        out: dict[str, Any] = {"assisting_unit_ids": sorted(case.assisting_unit_ids or ())}
        if case.complexity:
            out["complexity"] = str(case.complexity)
        if case.lead_unit_id:
            out["lead_unit_id"] = case.lead_unit_id
        return out
    if action is A.dispatch:
        return {"handed_to_unit_ids": instructed_units(page)}
    if action is A.submit_opinion:
        return {"needs_approval": True}
    if action is A.submit_reply:
        return {"outcome": str(Outcome.upheld)}
    if action is A.request_extension:
        # §三: 30 days in all over one or more requests; offer what is left.
        return {"days": max(1, EXTENSION_MAX_DAYS - (case.extension_days or 0))}
    if action is A.approve_extension:
        return {"days": case.pending_extension_days} if case.pending_extension_days else {}
    if action is A.request_materials:
        return {"target": str(MaterialTarget.lower_bureau)}
    if action is A.record_contact:
        return {"contacted_on": today.isoformat()}
    if action is A.record_delivery:
        return {"method": str(DeliveryMethod.post), "delivered_on": today.isoformat()}
    if action is A.reject:
        return _reject_defaults(page)
    return {}


def _reject_defaults(page: CasePage) -> dict[str, Any]:
    """§四.14 and the 30-day window: the reason the intake found, pre-selected with the bureau's standard texts."""
    case = page.case
    if case.repeat_of_case_number:
        reason = RejectReason.repeat_after_re_review
    elif case.late_application:
        reason = RejectReason.late
    else:
        return {}
    session = object_session(case)
    texts = standard_texts(session, case.tenant_id) if session is not None else {}
    text = texts.get(str(reason))
    out: dict[str, Any] = {"reason": str(reason)}
    if text is not None:
        out.update(explanation=text.explanation, remedy=text.remedy)
    return out


# --- What is being decided ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Subject:
    """What a decision is about: a titled record from the history, its files, and facts of the case now."""

    title: Pair
    by: str | None
    at: datetime | None
    fields: list[tuple[Pair, Pair | str]]
    attachments: list[tuple[int, str]]


#: The decision -> (the event it decides on, its title).
SUBJECTS: dict[CaseAction, tuple[CaseAction, Pair]] = {
    A.instruct: (A.submit_slip, ("信访办拟办意见", "The petition office's proposed handling")),
    A.approve_opinion: (A.submit_opinion, ("承办单位审查意见", "The handling unit's review opinion")),
    A.return_opinion: (A.submit_opinion, ("承办单位审查意见", "The handling unit's review opinion")),
    A.approve_extension: (A.request_extension, ("延期申请", "The extension asked for")),
    A.deny_extension: (A.request_extension, ("延期申请", "The extension asked for")),
    A.dispatch: (A.instruct, ("领导批示", "The leader's instruction")),
}
_DUE_LABEL: Pair = ("复查复核办理期限（当前）", "Current due date of the whole review")


def decision_subject(page: CasePage, action: CaseAction) -> Subject | None:
    """What ``action`` decides on, from the latest event it answers; None for actions that decide on nothing."""
    entry = SUBJECTS.get(action)
    if entry is None:
        return None
    source, title = entry
    event = _last(page.events, source)
    if event is None:
        return None
    names = {"units": page.units, "people": page.people, "bureaus": page.bureaus, "attachments": page.attachment_names}
    from portal.cases.actions import ACTION_FIELDS

    order = {name: n for n, name in enumerate(ACTION_FIELDS.get(source, ()))}
    # The form's order (the history is stored as JSONB, which keeps no key order); the rest after, by name.
    fields = dict(sorted(event.fields.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    attachment_ids = [i for i in fields.pop("attachment_ids", None) or () if isinstance(i, int)]
    described = describe_fields(str(source), fields, **names)
    if source is A.request_extension:
        whole = next((d for d in page.open_deadlines if d.deadline.step == Step.whole_review), None)
        if whole is not None and whole.deadline.due_on is not None:
            described.append((_DUE_LABEL, whole.deadline.due_on.isoformat()))
    return Subject(
        title=title,
        by=event.actor_name,
        at=event.at,
        fields=described,
        attachments=[(i, page.attachment_names.get(i, f"#{i}")) for i in attachment_ids],
    )


__all__ = [
    "OFFICE_HANDLES",
    "Choice",
    "Returned",
    "Subject",
    "action_choices",
    "action_defaults",
    "decision_subject",
    "instructed_units",
    "returned_work",
]
