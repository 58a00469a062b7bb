"""The staff API: the work queue, the case with the actions allowed now, and every action, as on the pages.

Authenticate with ``Authorization: Bearer <token>`` (``POST /api/v1/auth/token``). The handlers call the same
read helpers (``portal.cases.queries``) and the same operations (``portal.cases.actions``) as the staff pages,
so the rules cannot differ. Refusals: 404 another bureau's case; 409 wrong state or changed meanwhile; 403 the
role may not; 422 ``{"errors": {field: message}}``. Messages are Chinese, or English with ``?lang=en``.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import quote

from flask import current_app, g, jsonify, request

from portal.api.openapi import SCHEMAS, document
from portal.attachments.operations import DOWNLOAD_SECONDS, download_url
from portal.cases.actions import ACTION_FIELDS, FILE_ACTIONS, register_application, take_action
from portal.cases.choices import Choice, action_choices, action_defaults, decision_subject, returned_work
from portal.cases.operations import ApplicationInput, CaseConflict, CaseNotFound, IntakeRefused, PartyInput
from portal.cases.privacy import reveal_personal_data
from portal.cases.queries import (
    EVENT_LABELS,
    OWNER_LABELS,
    QUEUE_VIEWS,
    CaseNotReadable,
    CasePage,
    Marks,
    case_reachable,
    describe_fields,
    get_case,
    get_case_attachment,
    list_addressed_requests,
    list_queue,
    load_case_page,
    local_today,
    parse_filters,
    pick,
)
from portal.documents.service import get_reply_desk, get_signing_draft, preview_reply
from portal.documents.templates import TemplateError
from portal.extensions import db
from portal.idnumber import InvalidIdNumber, validate_id_number
from portal.routing import OpinionKind
from portal.web import current_lang
from portal.workflow import (
    ACTION_LABELS,
    EXTENSION_MAX_DAYS,
    LONG_TEXT_MAX,
    STATE_LABELS,
    STEP_LABELS,
    ActionRefused,
    CaseAction,
    CaseKind,
    CaseState,
    IntakePath,
)
from staff_site.api import bp
from staff_site.api.auth import error, error_response, field_errors, field_errors_response, message, staff_api

REFUSAL_STATUS = {"wrong_state": 409, "forbidden": 403, "not_your_bureau": 404, "invalid": 422}


def _pii():
    return current_app.extensions["portal.pii"]


def _d(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _marks(marks: Marks | None) -> dict | None:
    if marks is None or marks.due_on is None:
        return None
    return {
        "due_on": marks.due_on.isoformat(),
        "overdue": marks.overdue,
        "due_soon": marks.due_soon,
        "working_days_left": marks.working_days_left,
    }


def _not_found():
    return error(
        404, "not_found", "没有找到该事项，或该事项不属于您所在单位。", "No such case, or it is not your bureau's."
    )


# --- The domain's refusals: one answer for every route of the staff API --------------------------------------
# A route lets a refusal propagate; its handler rolls the request's work back and answers JSON.

#: The API names the files of an action or a registration ``upload_ids``, whatever the form field is called.
_FIELD_NAMES = {"files": "upload_ids", "scans": "upload_ids"}


@bp.errorhandler(ActionRefused)
def _refused(exc: ActionRefused):
    db.session.rollback()
    status = REFUSAL_STATUS.get(exc.code, 422)
    if status == 404:
        return _not_found()
    if status == 422:
        field = _FIELD_NAMES.get(exc.field, exc.field) if exc.field else "payload"
        return field_errors({field: message(exc.message_zh, exc.message_en)})
    return error(status, exc.code, exc.message_zh, exc.message_en)


@bp.errorhandler(CaseConflict)
def _conflict(exc: CaseConflict):
    db.session.rollback()
    return error(409, "conflict", exc.message_zh, exc.message_en)


@bp.errorhandler(CaseNotFound)
def _case_not_found(_exc: CaseNotFound):
    db.session.rollback()
    return _not_found()


@bp.errorhandler(IntakeRefused)
def _intake_refused(exc: IntakeRefused):
    """Registering a paper application: the disputed bureau cannot take it."""
    db.session.rollback()
    return field_errors({"disputed_bureau_id": message(exc.message_zh, exc.message_en)})


# --- Serialisers -----------------------------------------------------------------------------------------


def case_summary(row) -> dict:
    case, lang = row.case, current_lang()
    return {
        "id": case.id,
        "number": case.number,
        "bureau": {"id": case.tenant_id, "name": row.bureau_name},
        "kind": str(case.kind),
        "intake": str(case.intake),
        "state": str(case.state),
        "state_label": pick(STATE_LABELS[case.state], lang),
        "complexity": str(case.complexity) if case.complexity else None,
        "petitioner_name": case.petitioner_name,
        "lead_unit": {"id": case.lead_unit_id, "name": row.lead_unit_name} if case.lead_unit_id else None,
        "pending_extension_days": case.pending_extension_days,
        "extension_lapsed": row.extension_lapsed,  # §三: pending, not decided by the whole review's last day
        "received_on": _d(case.received_on),
        # §四.14 and the 30-day window, marked in the queue as on the page.
        "late_application": case.late_application,
        "duplicate_of_case_number": case.duplicate_of_case_number,
        "repeat_of_case_number": case.repeat_of_case_number,
        "version": case.version,
        "next_deadline": (
            {"step": str(row.step), "step_label": pick(STEP_LABELS[row.step], lang), **_marks(row.marks)}
            if row.step is not None and row.marks.due_on
            else None
        ),
    }


def case_detail(page: CasePage) -> dict:
    c, lang = page.case, current_lang()
    names = {"units": page.units, "people": page.people, "bureaus": page.bureaus, "attachments": page.attachment_names}

    def fields(action: str, values: dict) -> list[dict]:
        return [
            {"label": pick(label, lang), "value": value if isinstance(value, str) else pick(value, lang)}
            for label, value in describe_fields(action, values, **names)
        ]

    def unit(unit_id: int | None) -> dict | None:
        return {"id": unit_id, "name": page.units.get(unit_id)} if unit_id is not None else None

    return {
        "id": c.id,
        "number": c.number,
        "bureau": {"id": c.tenant_id, "name": page.bureau.name},
        "supervision": not page.own,
        "kind": str(c.kind),
        "intake": str(c.intake),
        "state": str(c.state),
        "state_label": pick(STATE_LABELS[c.state], lang),
        "version": c.version,
        "complexity": str(c.complexity) if c.complexity else None,
        "outcome": str(c.outcome) if c.outcome else None,
        "reject_reason": str(c.reject_reason) if c.reject_reason else None,
        "received_on": _d(c.received_on),
        "accepted_on": _d(c.accepted_on),
        "replied_on": _d(c.replied_on),
        "filed_on": _d(c.filed_on or c.received_on),
        "delivery": {"method": c.delivery_method, "delivered_on": _d(c.delivered_on)} if c.delivered_on else None,
        "late_application": c.late_application,
        "repeat_of_case_number": c.repeat_of_case_number,
        "duplicate_of_case_number": c.duplicate_of_case_number,
        "same_matter": [{"number": n, "state": st, "bureau_name": b} for n, st, b in page.same_matter],
        "committee_document_number": c.committee_document_number,
        "disputed_opinion": {
            "bureau_id": c.disputed_bureau_id,
            "bureau_name": page.bureaus.get(c.disputed_bureau_id),
            "kind": str(c.disputed_kind),
            "document_number": c.disputed_document_number,
            "issued_on": _d(c.disputed_issued_on),
            "received_on": _d(c.disputed_received_on),
        },
        "request": c.request_text,
        "facts_and_reasons": c.facts_text,
        "lead_unit": unit(c.lead_unit_id),
        "assisting_units": [unit(u) for u in c.assisting_unit_ids or ()],
        "approver": {"id": c.approver_id, "name": page.people.get(c.approver_id)} if c.approver_id else None,
        # §二.4: the leader who coordinates a case confirmed major.
        "coordinating_leader": (
            {"id": c.coordinating_leader_id, "name": page.people.get(c.coordinating_leader_id)}
            if c.coordinating_leader_id
            else None
        ),
        "extension": {
            "used": c.extension_used,
            "days": c.extension_days,
            "days_left": max(0, EXTENSION_MAX_DAYS - (c.extension_days or 0)),
            "pending_days": c.pending_extension_days,
            # §三: the pending request was not decided by the whole review's last day; it can no longer be.
            "pending_lapsed": page.extension_lapsed_on is not None,
        },
        "petitioner_name": c.petitioner_name,
        "personal_data_masked": bool(page.parties) and page.parties[0].masked,
        "parties": [
            {
                "role": p.role,
                "name": p.name,
                "id_number": p.id_number,
                "phone": p.phone,
                "email": p.email,
                "address": p.address,
                "masked": p.masked,
            }
            for p in page.parties
        ],
        "deadlines": [
            {
                "id": d.deadline.id,
                "step": str(d.deadline.step),
                "step_label": pick(STEP_LABELS[d.deadline.step], lang),
                "started_on": _d(d.deadline.started_on),
                "provisional": d.deadline.provisional,
                "owed_by": d.deadline.owed_by,
                "owed_by_label": pick(OWNER_LABELS.get(d.deadline.owed_by), lang),
                "owner": d.owner_detail,
                "explanation": d.explanation,
                **_marks(d.marks),
            }
            for d in page.open_deadlines
        ],
        "material_requests": [
            {
                "id": r.id,
                "target": r.target,
                "target_bureau": (
                    {"id": r.target_bureau_id, "name": page.bureaus.get(r.target_bureau_id)}
                    if r.target_bureau_id
                    else None
                ),
                "body_name": r.body_name,
                "content": r.content,
                "due_on": _d(r.due_on),
                "requested_by": page.people.get(r.requested_by_id),
                "answered_at": r.answered_at.isoformat() if r.answered_at else None,
                "answered_by": r.answered_by,
                "answer": r.answer_text,
                "answer_attachment_ids": list(r.answer_attachment_ids or ()),
            }
            for r in page.material_requests
        ],
        "meetings": [
            {
                "id": m.id,
                "topic": m.topic,
                "meeting_on": _d(m.meeting_on),
                "units": [unit(u) for u in m.unit_ids],
                "status": m.status,
                "leader": page.people.get(m.leader_id),
                "decision_due_on": _d(m.decision_due_on),
                "decided_by": page.people.get(m.decided_by_id),
                "related_case_ids": list(m.case_ids or ()),
                "minutes": m.minutes,
            }
            for m in page.meetings
        ],
        "contacts": [
            {
                "id": r.id,
                "party": r.party,
                "body_name": r.body_name,
                "contacted_on": _d(r.contacted_on),
                "channel": r.channel,
                "summary": r.summary,
                "recorded_by": page.people.get(r.recorded_by_id),
            }
            for r in page.contacts
        ],
        "attachments": [
            {
                "id": a.id,
                "filename": a.filename,
                "size": a.size,
                "content_type": a.content_type,
                "source": str(a.source),
                "uploaded_by": a.uploaded_by,
                "created_at": a.created_at.isoformat(),
            }
            for a in page.attachments
        ],
        "earlier_cases": [
            {
                "number": link.number,
                "readable": link.readable,
                "id": link.case_id,
                "bureau_name": link.bureau_name,
                "kind": str(link.kind) if link.kind else None,
                "state": str(link.state) if link.state else None,
                "outcome": str(link.outcome) if link.outcome else None,
                "replied_on": _d(link.replied_on),
                "formal_opinion": link.opinion,
            }
            for link in page.earlier
        ],
        "later_case_number": page.later_number,
        "events": [
            {
                "seq": e.seq,
                "action": e.action,
                "label": pick(EVENT_LABELS.get(e.action, (e.action, e.action)), lang),
                "actor": e.actor_name,
                "actor_kind": e.actor_kind,
                "at": e.at.isoformat(),
                "state_before": e.state_before,
                "state_after": e.state_after,
                "fields": fields(e.action, e.fields),
            }
            for e in page.events
        ],
        "allowed_actions": [allowed_action(page, a, lang) for a in page.allowed],
    }


def _choice(name: str, choice: Choice, lang: str) -> dict:
    key = "id" if name.endswith(("_id", "_ids")) else "value"
    return {key: choice.value, "label": pick(choice.label, lang), **choice.extra}


def allowed_action(page: CasePage, action: CaseAction, lang: str) -> dict:
    """One action the caller may take now: its fields, the choices of each id or enum field (as the page's form
    offers them: ``portal.cases.choices``), what the form pre-fills, what is being decided, and returned work."""
    today = local_today()
    entry: dict[str, Any] = {
        "action": str(action),
        "label": pick(ACTION_LABELS[action], lang),
        "fields": list(ACTION_FIELDS[action]),
        "files": action in FILE_ACTIONS,  # takes `upload_ids`
        "choices": {
            name: [_choice(name, c, lang) for c in choices]
            for name, choices in action_choices(db.session, page, g.staff_user, action).items()
        },
        "defaults": action_defaults(page, action, today),
    }
    subject = decision_subject(page, action)
    if subject is not None:
        entry["subject"] = {
            "title": pick(subject.title, lang),
            "by": subject.by,
            "at": subject.at.isoformat() if subject.at else None,
            "fields": [
                {"label": pick(label, lang), "value": value if isinstance(value, str) else pick(value, lang)}
                for label, value in subject.fields
            ],
            "attachments": [{"id": i, "filename": name} for i, name in subject.attachments],
        }
    returned = returned_work(page, action)
    if returned is not None:
        entry["returned"] = {
            "action": str(returned.action),
            "by": returned.by,
            "at": returned.at.isoformat(),
            "reason": returned.reason,
            "draft_event_seq": returned.draft_seq,
        }
    return entry


def _page(case_id: int, **kw) -> CasePage | None:
    try:
        return load_case_page(db.session, _pii(), g.staff_user, case_id, local_today(), lang=current_lang(), **kw)
    except CaseNotReadable:
        return None


# --- Documentation ---------------------------------------------------------------------------------------

SCHEMAS["StaffCaseSummary"] = {
    "type": "object",
    "description": "One row of the work queue.",
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "bureau": {"type": "object"},
        "kind": {"type": "string", "enum": [str(k) for k in CaseKind]},
        "intake": {"type": "string", "enum": [str(k) for k in IntakePath]},
        "state": {"type": "string", "enum": [str(s) for s in CaseState]},
        "state_label": {"type": "string"},
        "complexity": {"type": ["string", "null"]},
        "petitioner_name": {"type": "string"},
        "lead_unit": {"type": ["object", "null"]},
        "pending_extension_days": {"type": ["integer", "null"]},
        "extension_lapsed": {
            "type": "boolean",
            "description": "The pending extension request was not decided by the whole review's last day (§三).",
        },
        "version": {"type": "integer"},
        "next_deadline": {
            "type": ["object", "null"],
            "description": "The earliest open deadline staff owe: step, due_on, overdue, due_soon (<= 3 working days).",
        },
    },
}
SCHEMAS["StaffCase"] = {
    "type": "object",
    "description": (
        "Every detail of a case. Personal data of the parties is masked unless the caller handles the case"
        " (`personal_data_masked`); `POST .../personal-data` reveals it on the record. `allowed_actions` lists"
        " what the caller may do now, with the fields each action takes."
    ),
    "properties": {
        "id": {"type": "integer"},
        "number": {"type": "string"},
        "state": {"type": "string", "enum": [str(s) for s in CaseState]},
        "version": {"type": "integer", "description": "Send back as `expected_version` with an action."},
        "supervision": {"type": "boolean", "description": "A lower bureau's case, read-only for the caller."},
        "parties": {"type": "array", "items": {"type": "object"}},
        "deadlines": {"type": "array", "items": {"type": "object"}, "description": "Open deadlines, explained."},
        "extension": {
            "type": "object",
            "description": (
                "Extensions (§三): `used`, `days` granted in all (at most 30), `days_left`, `pending_days` asked for"
                " and waiting for a leader, `pending_lapsed`: that request was not decided by the whole review's"
                " last day, so it can no longer be approved or denied and the case stays overdue."
            ),
        },
        "material_requests": {"type": "array", "items": {"type": "object"}},
        "meetings": {"type": "array", "items": {"type": "object"}},
        "contacts": {"type": "array", "items": {"type": "object"}},
        "attachments": {"type": "array", "items": {"type": "object"}},
        "earlier_cases": {"type": "array", "items": {"type": "object"}},
        "events": {"type": "array", "items": {"type": "object"}},
        "allowed_actions": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "action": {"type": "string"},
                    "label": {"type": "string"},
                    "fields": {"type": "array", "items": {"type": "string"}},
                    "files": {"type": "boolean", "description": "Whether the action takes `upload_ids`."},
                    "choices": {
                        "type": "object",
                        "description": (
                            "For every field that takes an id or an enum: the allowed values now, as the page's"
                            " form offers them. Id fields (`*_id`, `*_ids`) list `{id, label}`, others"
                            " `{value, label}`; leaders carry `rule` and `roles`, refusal reasons their standard"
                            " `explanation` and `remedy`, dispatch units `lead`. Omit `approver_id` to let the"
                            " rules of §四.4 choose."
                        ),
                        "additionalProperties": {"type": "array", "items": {"type": "object"}},
                    },
                    "defaults": {
                        "type": "object",
                        "description": "What the form pre-fills; after a return, the returned draft as submitted.",
                    },
                    "subject": {
                        "type": "object",
                        "description": (
                            "What is being decided: the slip's proposal (instruct), the division's opinion and"
                            " its files (approve/return opinion), the extension asked for with the current due"
                            " date (approve/deny extension), the instruction (dispatch)."
                        ),
                    },
                    "returned": {
                        "type": "object",
                        "description": "Work sent back: `action`, `by`, `at`, `reason`, `draft_event_seq`.",
                    },
                },
            },
        },
    },
    "required": ["id", "number", "state", "version", "allowed_actions"],
}
_CASE_RESPONSE = {"application/json": {"schema": {"$ref": "#/components/schemas/StaffCase"}}}
_AUTH = "Authenticate with `Authorization: Bearer <token>` from `POST /auth/token`."
_CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_INTEGER = {"type": "integer"}
_DATE_FIELD = {"type": "string", "format": "date"}


def _action_field_schema(name: str) -> dict:
    """What one action field holds (as the case page's form sends it)."""
    if name.endswith("_ids"):
        return {"type": "array", "items": _INTEGER}
    if name.endswith("_id") or name == "days":
        return _INTEGER
    if name.endswith("_on"):
        return _DATE_FIELD
    if name == "needs_approval":
        return {"type": "boolean"}
    if name == "case_numbers":
        return {"oneOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    return {"type": "string", "maxLength": 10000}


for _action, _fields in ACTION_FIELDS.items():
    SCHEMAS[f"Action_{_action}"] = {
        "type": "object",
        "properties": {
            "action": {"type": "string", "const": str(_action)},
            "expected_version": {"type": "integer", "description": "The `version` you read: 409 if it changed."},
            **(
                {"upload_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}}}
                if _action in FILE_ACTIONS
                else {}
            ),
            **{f: _action_field_schema(f) for f in _fields},
        },
        "required": ["action"],
        "additionalProperties": False,
    }

_ACTION_FIELDS_DOC = "; ".join(f"`{a}`: {', '.join(f) or '-'}" for a, f in ACTION_FIELDS.items())

document(
    "/staff/cases",
    "get",
    {
        "summary": "The caller's work queue, nearest deadline first, 50 per page (keyset: follow `next_cursor`).",
        "description": _AUTH,
        "tags": ["staff"],
        "parameters": [
            {"name": "view", "in": "query", "schema": {"type": "string", "enum": list(QUEUE_VIEWS)}},
            {"name": "state", "in": "query", "schema": {"type": "string", "enum": [str(s) for s in CaseState]}},
            {"name": "kind", "in": "query", "schema": {"type": "string", "enum": [str(k) for k in CaseKind]}},
            {"name": "complexity", "in": "query", "schema": {"type": "string"}},
            {"name": "unit", "in": "query", "schema": {"type": "integer"}, "description": "Lead or assisting unit."},
            {"name": "intake", "in": "query", "schema": {"type": "string", "enum": [str(k) for k in IntakePath]}},
            {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
            {"name": "bureau", "in": "query", "schema": {"type": "integer"}, "description": "Supervision only."},
            {
                "name": "q",
                "in": "query",
                "schema": {"type": "string", "maxLength": 100},
                "description": "Case number, petitioner name, ID number (matched by keyed hash) or request words.",
            },
            {
                "name": "cursor",
                "in": "query",
                "schema": {"type": "string", "maxLength": 40},
                "description": "`next_cursor` of the page before; absent (or not a cursor): the first page.",
            },
        ],
        "responses": {
            "200": {
                "description": "One page of cases, and (view `mine`) requests for materials from the bureau above.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "cases": {"type": "array", "items": {"$ref": "#/components/schemas/StaffCaseSummary"}},
                                "view": {"type": "string"},
                                "total": {"type": "integer", "description": "Exact up to 1,000."},
                                "total_is_lower_bound": {
                                    "type": "boolean",
                                    "description": "True when more than 1,000 cases match (`total` is 1000).",
                                },
                                "next_cursor": {"type": ["string", "null"], "description": "Null on the last page."},
                                "material_requests": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    }
                },
            },
            "401": error_response("No valid token."),
        },
    },
)
document(
    "/staff/cases/{case_id}",
    "get",
    {
        "summary": "One case with every detail and the actions the caller may take now.",
        "description": _AUTH + " An ancestor bureau reads its descendants' cases (supervision), read-only.",
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "responses": {
            "200": {"description": "The case.", "content": _CASE_RESPONSE},
            "401": error_response("No valid token."),
            "404": error_response("No such case in the caller's reach."),
        },
    },
)
document(
    "/staff/cases/{case_id}/actions",
    "post",
    {
        "summary": "Take one workflow action on a case.",
        "description": (
            _AUTH + " Body: `action`, the action's fields, optional `expected_version` (the `version` you read:"
            " 409 if the case changed since) and, for actions with files (`submit_opinion`, `submit_reply`,"
            " `provide_materials`), `upload_ids` from `POST /uploads`. A lower bureau answers a request addressed"
            " to it with `provide_materials` and `request_id`. Fields per action: " + _ACTION_FIELDS_DOC + "."
        ),
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "oneOf": [{"$ref": f"#/components/schemas/Action_{a}"} for a in ACTION_FIELDS],
                        "discriminator": {
                            "propertyName": "action",
                            "mapping": {str(a): f"#/components/schemas/Action_{a}" for a in ACTION_FIELDS},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "Done; the case as it is now.", "content": _CASE_RESPONSE},
            "401": error_response("No valid token."),
            "403": error_response("The caller's role may not take this action (`forbidden`)."),
            "404": error_response("Another bureau's case, or no such case."),
            "409": error_response(
                "Not possible in the case's state (`wrong_state`), or changed meanwhile (`conflict`)."
            ),
            "422": field_errors_response(),
        },
    },
)
document(
    "/staff/cases/{case_id}/personal-data",
    "post",
    {
        "summary": "Reveal the masked personal data of a case; recorded in its history.",
        "description": _AUTH + ' Body: `{"reason": "..."}`. Staff of the case\'s own bureau only.',
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"reason": {"type": "string", "maxLength": 500}},
                        "required": ["reason"],
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "The case with unmasked parties.", "content": _CASE_RESPONSE},
            "403": error_response("Administrators take no part in cases."),
            "404": error_response("Not a case of the caller's own bureau."),
            "422": field_errors_response("No reason given."),
        },
    },
)
document(
    "/staff/cases/{case_id}/attachments/{attachment_id}",
    "get",
    {
        "summary": "A short-lived download link of an attachment of a case.",
        "description": _AUTH,
        "tags": ["staff"],
        "parameters": [
            _CASE_ID,
            {"name": "attachment_id", "in": "path", "required": True, "schema": {"type": "integer"}},
        ],
        "responses": {
            "200": {
                "description": "The link.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {"url": {"type": "string"}, "expires_in": {"type": "integer"}},
                        }
                    }
                },
            },
            "404": error_response("No such attachment in the caller's reach."),
        },
    },
)
_PDF_RESPONSE = {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}
document(
    "/staff/cases/{case_id}/reply-desk",
    "get",
    {
        "summary": "The drafting desk of the formal opinion: fixed parts, pre-fill per outcome, references, draft.",
        "description": (
            _AUTH + " Staff of the case's own bureau. `kind` is `formal_opinion` (复查意见书 / 复核意见书 to the"
            " petitioner) or `committee_report` (报告 to 吉林省人民政府信访事项复查复核委员会, for a transferred case)."
            " `prefill` maps each outcome (`upheld` 维持, `revoked` 撤销, `changed` 变更, `partly_changed` 部分变更)"
            " to the bureau's template filled in; passages in 【】 are for the clerk to write. The `addressee`"
            " (one salutation) and, to the petitioner, the `remedy` are printed once by the system, whatever the"
            " letter says; a report carries `signer` (签发人) and lists the reply's attachments (附件). `references`"
            " (division opinion, leaders' comments) are internal: never printed unless written into the letter."
            " `draft` is the last submitted draft (null if none), readable by the signing leader; to a stand-in"
            " declared for signing by the absent petitions leader, its copy with 代签 and both names (`signed_for`"
            " names that leader; `sha256` is the copy's)."
        ),
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "responses": {
            "200": {"description": "The desk."},
            "401": error_response("No valid token."),
            "404": error_response("Not a case of the caller's own bureau."),
        },
    },
)
document(
    "/staff/cases/{case_id}/reply-preview",
    "post",
    {
        "summary": "The exact PDF of a formal opinion before it is submitted; changes nothing.",
        "description": (
            _AUTH + ' Body: `{"text": "..."}` (the whole letter, at most 20,000 characters). The number shown is'
            " the one the draft would take now. Submit with `submit_reply` (`text`, `outcome`, `upload_ids`): the"
            " draft is then rendered, numbered and stored, its SHA-256 recorded in the history; `sign_reply`"
            " (optional `draft_sha256`: the digest of the draft the leader read, refused if it is not the current"
            " one) issues exactly those bytes. A stand-in declared for signing (代签, §四.4) signs the draft's copy"
            " that shows 代签 with both names, as `reply-draft` gives it to them, with that copy's digest."
            " `return_reply` (`reason`) sends it back to the clerk."
        ),
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"text": {"type": "string", "maxLength": 20000}},
                        "required": ["text"],
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "The PDF.", "content": _PDF_RESPONSE},
            "401": error_response("No valid token."),
            "404": error_response("Not a case of the caller's own bureau."),
            "422": field_errors_response("Empty, too long, or a 【】 passage not written (`text`)."),
        },
    },
)
document(
    "/staff/cases/{case_id}/reply-draft",
    "get",
    {
        "summary": "The stored draft of the formal opinion: byte for byte what signing issues.",
        "description": _AUTH
        + " Header `X-Content-SHA256`: its digest, as recorded in the history. To a stand-in the absent petitions"
        " leader declared for signing, the draft's copy with 代签 and both names: what their signature issues.",
        "tags": ["staff"],
        "parameters": [_CASE_ID],
        "responses": {
            "200": {"description": "The PDF.", "content": _PDF_RESPONSE},
            "401": error_response("No valid token."),
            "404": error_response("No draft, or no such case in the caller's reach."),
        },
    },
)
document(
    "/staff/material-requests",
    "get",
    {
        "summary": "Open requests for materials addressed to the caller's bureau by the bureaus above.",
        "description": _AUTH + " Answer one with `POST /staff/cases/{case_id}/actions`, `provide_materials`.",
        "tags": ["staff"],
        "responses": {"200": {"description": "The requests, earliest due first."}, "401": error_response("No token.")},
    },
)
document(
    "/staff/applications",
    "post",
    {
        "summary": "Register a paper application (with its scan) or, at the province, a committee transfer.",
        "description": (
            _AUTH + " Petition office only. Body: `intake` (`paper` | `committee_transfer`), `petitioner`"
            " {name, id_number, phone, email, address}, `disputed_bureau_id`, `opinion_kind`"
            " (`handling` | `review`), `document_number`, `issued_on`, `received_on` (when the petitioner received"
            " the disputed opinion), `request`,"
            " `facts_and_reasons`, `upload_ids` (at least one for paper), and for transfers `kind` and"
            " `committee_document_number`. Paper only (§四.1): `application_received_on`, the day this bureau"
            " received the written application (default today; the acceptance clock runs from it; not in the"
            " future, not before `received_on`), and `filed_on`, the postmark or hand-in date where it differs"
            " (default `application_received_on`; lateness is judged on it)."
        ),
        "tags": ["staff"],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "intake": {"type": "string", "enum": ["paper", "committee_transfer"]},
                            "petitioner": {
                                "type": "object",
                                "properties": {
                                    "name": {"type": "string", "maxLength": 100},
                                    "id_number": {"type": "string", "maxLength": 30},
                                    "phone": {"type": "string", "maxLength": 30},
                                    "email": {"type": "string", "maxLength": 200},
                                    "address": {"type": "string", "maxLength": 200},
                                },
                                "required": ["name"],
                                "additionalProperties": False,
                            },
                            "disputed_bureau_id": _INTEGER,
                            "opinion_kind": {"type": "string", "enum": ["handling", "review"]},
                            "document_number": {"type": "string", "maxLength": 100},
                            "issued_on": _DATE_FIELD,
                            "received_on": _DATE_FIELD,
                            "application_received_on": {
                                **_DATE_FIELD,
                                "description": (
                                    "Paper only: the day this bureau received the written application (default"
                                    " today; not in the future, not before `received_on`)."
                                ),
                            },
                            "filed_on": {
                                **_DATE_FIELD,
                                "description": (
                                    "Paper only: the postmark or hand-in date where it differs from"
                                    " `application_received_on` (the default); lateness is judged on it."
                                ),
                            },
                            "request": {"type": "string"},
                            "facts_and_reasons": {"type": "string"},
                            "upload_ids": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                            "kind": {"type": "string", "enum": ["review", "re_review"]},
                            "committee_document_number": {"type": "string", "maxLength": 100},
                        },
                        "required": ["intake", "petitioner", "disputed_bureau_id", "opinion_kind"],
                        "additionalProperties": False,
                    }
                }
            },
        },
        "responses": {
            "201": {"description": "Registered: `case` and, for paper, the petitioner's one-time `access_code`."},
            "403": error_response("Not the petition office."),
            "422": field_errors_response(),
        },
    },
)


# --- Routes -----------------------------------------------------------------------------------------------


@bp.get("/staff/cases")
@staff_api
def staff_queue():
    user, today = g.staff_user, local_today()
    page = list_queue(db.session, _pii(), user, parse_filters(request.args), today)
    body: dict[str, Any] = {
        "view": page.filters.view,
        "views": list(page.views),
        "total": page.total,
        "total_is_lower_bound": page.total_capped,
        "next_cursor": page.next_cursor,
        "cases": [case_summary(row) for row in page.rows],
    }
    if page.filters.view == "mine":
        body["material_requests"] = [
            {
                "id": item.request.id,
                "case_id": item.case_id,
                "case_number": item.case_number,
                "from_bureau": item.from_bureau_name,
                "content": item.request.content,
                "due_on": _d(item.request.due_on),
                **(_marks(item.marks) or {}),
            }
            for item in list_addressed_requests(db.session, user.tenant_id, today)
        ]
    return jsonify(body)


@bp.get("/staff/material-requests")
@staff_api
def staff_material_requests():
    items = list_addressed_requests(db.session, g.staff_user.tenant_id, local_today())
    return jsonify(
        material_requests=[
            {
                "id": item.request.id,
                "case_id": item.case_id,
                "case_number": item.case_number,
                "case_kind": str(item.case_kind),
                "from_bureau": item.from_bureau_name,
                "content": item.request.content,
                "due_on": _d(item.request.due_on),
                **(_marks(item.marks) or {}),
            }
            for item in items
        ]
    )


@bp.get("/staff/cases/<int:case_id>")
@staff_api
def staff_case(case_id: int):
    page = _page(case_id)
    if page is None:
        return _not_found()
    return jsonify(case_detail(page))


def _json_body() -> dict | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


@bp.post("/staff/cases/<int:case_id>/actions")
@staff_api
def staff_case_action(case_id: int):
    if not case_reachable(db.session, g.staff_user, case_id):
        return _not_found()
    body = _json_body()
    if body is None:
        return field_errors({"body": message("请求体应为 JSON 对象。", "The body must be a JSON object.")})
    payload = dict(body)
    action = payload.pop("action", None)
    version = payload.pop("expected_version", None)
    upload_ids = payload.pop("upload_ids", None) or []
    errors = {}
    if not isinstance(action, str):
        errors["action"] = message("请指定操作。", "Name the action.")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        errors["expected_version"] = message("应为整数。", "Must be an integer.")
    if not isinstance(upload_ids, list) or not all(isinstance(u, str) for u in upload_ids):
        errors["upload_ids"] = message("应为上传编号的列表。", "Must be a list of upload ids.")
    if errors:
        return field_errors(errors)
    take_action(
        db.session,
        _pii(),
        current_app.extensions["portal.storage"],
        case_id,
        action,
        g.staff_user,
        payload,
        upload_ids=upload_ids,
        expected_version=version,
        today=local_today(),
    )
    db.session.commit()
    page = _page(case_id)
    if page is None:  # a lower bureau answered a request: it does not read the case
        return jsonify(id=case_id, done=True)
    return jsonify(case_detail(page))


@bp.post("/staff/cases/<int:case_id>/personal-data")
@staff_api
def staff_reveal(case_id: int):
    body = _json_body() or {}
    reason = body.get("reason")
    if _page(case_id) is None:
        return _not_found()
    if not isinstance(reason, str):
        return field_errors({"reason": message("请说明理由。", "Say why.")})
    reveal_personal_data(db.session, case_id, g.staff_user, reason)
    db.session.commit()
    response = jsonify(case_detail(_page(case_id, revealed=True)))
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/staff/cases/<int:case_id>/attachments/<int:attachment_id>")
@staff_api
def staff_attachment(case_id: int, attachment_id: int):
    case = get_case(db.session, case_id)
    found = get_case_attachment(db.session, case, attachment_id) if case is not None else None
    if found is None:
        return _not_found()
    return jsonify(url=download_url(current_app.extensions["portal.storage"], found), expires_in=DOWNLOAD_SECONDS)


# --- The formal opinion: drafting desk, preview, stored draft -------------------------------------------


def _own_case(case_id: int):
    """The case if the caller's own bureau handles it (the drafting desk and the preview are not supervision)."""
    page = _page(case_id)
    return page.case if page is not None and page.own else None


def _draft_json(draft) -> dict | None:
    if draft is None:
        return None
    return {
        "event_seq": draft.event_seq,
        "submitted_by": draft.submitted_by,
        "submitted_at": draft.submitted_at.isoformat(),
        "outcome": draft.outcome,
        "text": draft.text,
        "title": draft.title,
        "doc_number": draft.doc_number,
        "issued_on": draft.issued_on.isoformat(),
        "sha256": draft.sha256,
        "signed_for": draft.signed_for,  # a stand-in's copy: the absent leader it is signed for (代签)
        "pdf": f"/api/v1/staff/cases/{draft.pdf.case_id}/reply-draft",
    }


def _pdf(body: bytes, filename: str):
    response = current_app.response_class(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/staff/cases/<int:case_id>/reply-desk")
@staff_api
def staff_reply_desk(case_id: int):
    case = _own_case(case_id)
    if case is None:
        return _not_found()
    desk = get_reply_desk(db.session, case)
    return jsonify(
        kind=desk.kind,
        title=desk.title,
        addressee=desk.addressee,
        remedy=desk.remedy,
        signer=desk.signer,
        reserved_number=desk.reserved_number,
        prefill=desk.prefill,
        references=[
            {"label": message(r.label_zh, r.label_en), "author": r.author, "at": r.at.isoformat(), "text": r.text}
            for r in desk.references
        ],
        draft=_draft_json(get_signing_draft(db.session, case, g.staff_user, local_today())),
    )


@bp.post("/staff/cases/<int:case_id>/reply-preview")
@staff_api
def staff_reply_preview(case_id: int):
    case = _own_case(case_id)
    if case is None:
        return _not_found()
    body = _json_body()
    if body is None:
        return field_errors({"body": message("请求体应为 JSON 对象。", "The body must be a JSON object.")})
    text = body.get("text")
    if not isinstance(text, str):
        return field_errors({"text": message("请填写正式意见。", "Write the formal opinion.")})
    try:
        pdf, data = preview_reply(db.session, case, text, today=local_today())
    except TemplateError as exc:
        return field_errors({"text": message(exc.zh, exc.en)})
    return _pdf(pdf, f"{data.title}.pdf")


@bp.get("/staff/cases/<int:case_id>/reply-draft")
@staff_api
def staff_reply_draft(case_id: int):
    page = _page(case_id)
    draft = get_signing_draft(db.session, page.case, g.staff_user, local_today()) if page is not None else None
    if draft is None:
        return _not_found()
    body = draft.body or current_app.extensions["portal.storage"].get(draft.pdf.storage_key)
    response = _pdf(body, draft.pdf.filename)
    response.headers["X-Content-SHA256"] = draft.sha256
    return response


# --- Intake ---------------------------------------------------------------------------------------------


def _text(body: dict, name: str, errors: dict, *, max_len: int = 100, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            errors[name] = message("请填写。", "Required.")
        return None
    if not isinstance(value, str) or len(value) > max_len or "\x00" in value:
        errors[name] = message(f"应为不超过{max_len}字的文字。", f"Text of at most {max_len} characters.")
        return None
    return value.strip()


def _date(body: dict, name: str, errors: dict) -> date | None:
    value = body.get(name)
    if isinstance(value, str) and _is_date(value):
        return date.fromisoformat(value)
    errors[name] = message("应为日期（YYYY-MM-DD）。", "A date (YYYY-MM-DD).")
    return None


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _application(body: dict) -> tuple[ApplicationInput | None, list[str], dict]:
    errors: dict[str, str] = {}
    intake = body.get("intake")
    if intake not in (str(IntakePath.paper), str(IntakePath.committee_transfer)):
        errors["intake"] = message("应为 paper 或 committee_transfer。", "`paper` or `committee_transfer`.")
    person = body.get("petitioner") if isinstance(body.get("petitioner"), dict) else {}
    if not isinstance(body.get("petitioner"), dict):
        errors["petitioner"] = message("请填写信访人信息。", "An object with the petitioner's data.")
    sub: dict[str, str] = {}
    name = _text(person, "name", sub)
    id_number = _text(person, "id_number", sub, max_len=30, required=False)
    if id_number:
        try:
            id_number = validate_id_number(id_number)
        except InvalidIdNumber as exc:
            sub["id_number"] = message(exc.message_zh, exc.message_en)
    phone = _text(person, "phone", sub, max_len=30, required=False)
    email = _text(person, "email", sub, max_len=200, required=False)
    address = _text(person, "address", sub, max_len=200, required=False)
    errors.update({f"petitioner.{k}": v for k, v in sub.items()})
    bureau_id = body.get("disputed_bureau_id")
    if isinstance(bureau_id, bool) or not isinstance(bureau_id, int):
        errors["disputed_bureau_id"] = message("应为整数。", "An integer.")
    try:
        opinion_kind = OpinionKind(body.get("opinion_kind"))
    except ValueError:
        opinion_kind = None
        errors["opinion_kind"] = message("应为 handling 或 review。", "`handling` or `review`.")
    document_number = _text(body, "document_number", errors)
    issued_on = _date(body, "issued_on", errors)
    received_on = _date(body, "received_on", errors)
    # Paper (§四.1): the day the bureau received it (default today) and the postmark or hand-in date.
    application_received_on = filed_on = None
    if body.get("application_received_on") is not None:
        application_received_on = _date(body, "application_received_on", errors)
    if body.get("filed_on") is not None:
        filed_on = _date(body, "filed_on", errors)
    request_text = _text(body, "request", errors, max_len=LONG_TEXT_MAX)
    facts = _text(body, "facts_and_reasons", errors, max_len=LONG_TEXT_MAX)
    kind = committee_number = None
    if intake == str(IntakePath.committee_transfer):
        try:
            kind = CaseKind(body.get("kind"))
        except ValueError:
            errors["kind"] = message("应为 review 或 re_review。", "`review` or `re_review`.")
        committee_number = _text(body, "committee_document_number", errors)
    upload_ids = body.get("upload_ids") or []
    if not isinstance(upload_ids, list) or not all(isinstance(u, str) for u in upload_ids):
        errors["upload_ids"] = message("应为上传编号的列表。", "A list of upload ids.")
        upload_ids = []
    if errors:
        return None, [], errors
    data = ApplicationInput(
        petitioner=PartyInput(name=name, id_number=id_number, phone=phone, email=email, address=address),
        disputed_bureau_id=bureau_id,
        opinion_kind=opinion_kind,
        document_number=document_number,
        issued_on=issued_on,
        received_on=received_on,
        request=request_text,
        facts_and_reasons=facts,
        intake=IntakePath(intake),
        committee_document_number=committee_number,
        kind=kind,
        application_received_on=application_received_on,
        filed_on=filed_on,
    )
    return data, upload_ids, {}


@bp.post("/staff/applications")
@staff_api
def staff_register_application():
    body = _json_body()
    if body is None:
        return field_errors({"body": message("请求体应为 JSON 对象。", "The body must be a JSON object.")})
    data, upload_ids, errors = _application(body)
    if errors:
        return field_errors(errors)
    submission = register_application(
        db.session,
        _pii(),
        current_app.extensions["portal.storage"],
        data,
        g.staff_user,
        upload_ids=upload_ids,
        today=local_today(),
    )
    db.session.commit()
    page = _page(submission.case.id)
    response = jsonify(
        case=case_detail(page),
        access_code=submission.access_code,
        acceptance_due=_d(submission.acceptance_due),
        warnings=submission.warnings,
    )
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return response
