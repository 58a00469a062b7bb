"""Coordination meetings in the staff API (§四.13): propose, decide, record the minutes; list and read.

The same operations as the staff pages (``portal.cases.meetings``). Refusals: 404 another bureau's meeting; 403 the
role may not; 409 the meeting is not in a state for it; 422 ``{"errors": {field: message}}``.
"""

from __future__ import annotations

from datetime import date

from flask import g, jsonify, request

from portal.api.openapi import document
from portal.cases.meetings import (
    STATUS_LABELS,
    case_numbers_of,
    decide_meeting,
    get_meeting,
    list_meetings,
    propose_meeting,
    record_minutes,
)
from portal.cases.models import Meeting
from portal.cases.queries import local_today
from portal.extensions import db
from portal.web import localized
from staff_site.api import bp
from staff_site.api.auth import error, error_response, field_errors, field_errors_response, message, staff_api
from staff_site.api.staff import _AUTH


def meeting_json(meeting: Meeting, numbers: dict[int, str]) -> dict:
    return {
        "id": meeting.id,
        "topic": meeting.topic,
        "meeting_on": meeting.meeting_on.isoformat(),
        "unit_ids": list(meeting.unit_ids),
        "case_numbers": [numbers.get(c) for c in meeting.case_ids or ()],
        "reason": meeting.reason,
        "status": meeting.status,
        "status_label": localized(STATUS_LABELS[meeting.status]),
        "leader_id": meeting.leader_id,
        "decision_due_on": meeting.decision_due_on.isoformat() if meeting.decision_due_on else None,
        "decision_rule": meeting.decision_explanation.get("ref"),
        "decided_by_id": meeting.decided_by_id,
        "decision_comment": meeting.decision_comment,
        "minutes": meeting.minutes,
    }


def _body() -> dict | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _bad_body():
    return field_errors({"body": message("请求体应为 JSON 对象。", "The body must be a JSON object.")})


def _meeting_not_found():
    return error(404, "not_found", "没有找到该协调会议。", "No such coordination meeting.")


def _one(meeting: Meeting):
    return jsonify(meeting_json(meeting, case_numbers_of(db.session, [meeting])))


@bp.get("/staff/meetings")
@staff_api
def staff_meetings():
    rows = list_meetings(db.session, g.staff_user.tenant_id)
    numbers = case_numbers_of(db.session, rows)
    return jsonify(meetings=[meeting_json(m, numbers) for m in rows])


@bp.post("/staff/meetings")
@staff_api
def staff_propose_meeting():
    body = _body()
    if body is None:
        return _bad_body()
    raw_day = body.get("meeting_on")
    try:
        meeting_on = date.fromisoformat(raw_day) if isinstance(raw_day, str) else None
    except ValueError:
        meeting_on = None
    numbers = body.get("case_numbers") or []
    if not isinstance(numbers, list):
        return field_errors({"case_numbers": message("应为事项编号的列表。", "Must be a list of case numbers.")})
    units = body.get("unit_ids") or []
    if not isinstance(units, list):
        return field_errors({"unit_ids": message("应为单位编号的列表。", "Must be a list of unit ids.")})
    meeting = propose_meeting(
        db.session,
        g.staff_user,
        topic=body.get("topic"),
        meeting_on=meeting_on,
        unit_ids=units,
        case_numbers=numbers,
        reason=body.get("reason"),
        today=local_today(),
    )
    db.session.commit()
    response = _one(meeting)
    response.status_code = 201
    return response


@bp.get("/staff/meetings/<int:meeting_id>")
@staff_api
def staff_meeting(meeting_id: int):
    meeting = get_meeting(db.session, g.staff_user.tenant_id, meeting_id)
    if meeting is None:
        return _meeting_not_found()
    return _one(meeting)


@bp.post("/staff/meetings/<int:meeting_id>/decision")
@staff_api
def staff_decide_meeting(meeting_id: int):
    if get_meeting(db.session, g.staff_user.tenant_id, meeting_id) is None:
        return _meeting_not_found()  # another bureau's meeting: 404 whatever the body
    body = _body()
    if body is None:
        return _bad_body()
    try:
        meeting = decide_meeting(
            db.session,
            g.staff_user,
            meeting_id,
            approve=body.get("approve"),
            comment=body.get("comment"),
            today=local_today(),
        )
        db.session.commit()
    except LookupError:
        db.session.rollback()
        return _meeting_not_found()
    return _one(meeting)


@bp.post("/staff/meetings/<int:meeting_id>/minutes")
@staff_api
def staff_meeting_minutes(meeting_id: int):
    if get_meeting(db.session, g.staff_user.tenant_id, meeting_id) is None:
        return _meeting_not_found()  # another bureau's meeting: 404 whatever the body
    body = _body()
    if body is None:
        return _bad_body()
    try:
        meeting = record_minutes(db.session, g.staff_user, meeting_id, minutes=body.get("minutes"), today=local_today())
        db.session.commit()
    except LookupError:
        db.session.rollback()
        return _meeting_not_found()
    return _one(meeting)


# --- Documentation ---------------------------------------------------------------------------------------

_MEETING = {"200": {"description": "The meeting."}, "401": error_response("No token.")}
document(
    "/staff/meetings",
    "get",
    {
        "summary": "The bureau's coordination meetings (§四.13), those awaiting a decision first.",
        "description": _AUTH,
        "tags": ["staff"],
        "responses": {"200": {"description": "`meetings`."}, "401": error_response("No token.")},
    },
)
document(
    "/staff/meetings",
    "post",
    {
        "summary": "Propose a coordination meeting (petition office).",
        "description": (
            _AUTH + " Body: `topic`, `meeting_on` (YYYY-MM-DD, not in the past), `unit_ids` (at least one of the"
            " bureau's units), `case_numbers` (zero or more of the bureau's cases: a common problem may have none),"
            " `reason`. The leader in charge must approve it (due per `step_rules` `meeting_decision`, a bureau"
            " rule) before it is held; each linked case's history records it."
        ),
        "tags": ["staff"],
        "responses": {
            "201": {"description": "The proposed meeting."},
            "403": error_response("Not the petition office."),
            "422": field_errors_response(),
        },
    },
)
document(
    "/staff/meetings/{meeting_id}",
    "get",
    {
        "summary": "One coordination meeting.",
        "description": _AUTH,
        "tags": ["staff"],
        "responses": {**_MEETING, "404": error_response("No such meeting in the caller's bureau.")},
    },
)
document(
    "/staff/meetings/{meeting_id}/decision",
    "post",
    {
        "summary": "Approve or decline a proposed meeting (the leader in charge, their stand-in, or the principal).",
        "description": _AUTH + " Body: `approve` (true | false), `comment` (required to decline).",
        "tags": ["staff"],
        "responses": {
            **_MEETING,
            "403": error_response("Not the deciding leader."),
            "404": error_response("No such meeting in the caller's bureau."),
            "409": error_response("Already decided."),
            "422": field_errors_response(),
        },
    },
)
document(
    "/staff/meetings/{meeting_id}/minutes",
    "post",
    {
        "summary": "Record the minutes of an approved meeting once it has been held (petition office).",
        "description": _AUTH + " Body: `minutes`.",
        "tags": ["staff"],
        "responses": {
            **_MEETING,
            "403": error_response("Not the petition office."),
            "404": error_response("No such meeting in the caller's bureau."),
            "409": error_response("Not approved (yet), or already recorded."),
            "422": field_errors_response(),
        },
    },
)
