"""Applications through the API: submit, track with the access code, escalate, withdraw, answer a request.

The same rules as the pages: the same intake check (``portal.cases.intake``) and the same operations
(``portal.petitioners.operations``). The access code travels in the ``X-Access-Code`` header; a wrong code answers
exactly like an unknown number (404). The rate limits here are shared with the pages (one counter for both).
"""

from __future__ import annotations

import dataclasses
import time
import zlib
from datetime import UTC, date, datetime

from flask import abort, current_app, jsonify, request
from flask_limiter.util import get_remote_address
from werkzeug.exceptions import NotFound

from portal import idempotency
from portal.api.openapi import SCHEMAS, document
from portal.attachments import Attachment, UploadError, download_url
from portal.attachments.operations import DOWNLOAD_SECONDS
from portal.cases.intake import FieldError, IntakeInvalid, known_bureau_ids, validate_application
from portal.cases.numbers import normalise_number
from portal.cases.operations import CaseConflict, CaseNotFound, DuplicateOpenCase, IntakeRefused
from portal.cases.queries import local_today
from portal.extensions import Configured, db, limiter
from portal.pagecache import Packer, RenderedCache, entity_tag, etag_header
from portal.petitioners import operations as online
from portal.petitioners.tracking import CaseStamp, TrackingView, find_by_code, find_number, open_case, tracking_view
from portal.supervision.models import COMMENT_MAX, SATISFACTION_LABELS, Satisfaction
from portal.supervision.operations import rate_case
from portal.web import current_lang, is_english, localized
from portal.workflow import ActionRefused
from public_site.api import bp
from public_site.common import stamps


def case_number_key(raw: str) -> str:
    """The key of the per-case-number limit: one counter for a number however it is written."""
    return "case-number:" + normalise_number(str(raw))[:40]


def _case_number_key() -> str:
    return case_number_key((request.view_args or {}).get("number") or request.form.get("number") or "")


def _not_found(response) -> bool:
    return response.status_code == 404


# Shared between the pages and the API: a guesser gains nothing by switching from one to the other.
submit_limit = limiter.shared_limit(Configured("RATELIMIT_SUBMIT"), scope="submit", methods=["POST"])
upload_limit = limiter.shared_limit(Configured("RATELIMIT_UPLOAD"), scope="upload", methods=["POST"])
# ``public_site.kept`` counts a tracking answer it gives itself against these two (their limits and scopes, the
# same keys).
track_limit = limiter.shared_limit(Configured("RATELIMIT_TRACK"), scope="track", key_func=get_remote_address)
track_number_limit = limiter.shared_limit(
    Configured("RATELIMIT_TRACK_NUMBER"), scope="track-number", key_func=_case_number_key, deduct_when=_not_found
)


def _today() -> date:
    return local_today()


def _text(pair) -> str:
    return localized(pair)


def _message(exc) -> str:
    return exc.message_en if is_english() else exc.message_zh


class BadJson(Exception):
    """The body is not a JSON object."""


def _json_body() -> dict:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadJson()
    return body


@bp.errorhandler(BadJson)
def _bad_json(_exc):
    if is_english():
        message = "The body must be a JSON object (Content-Type: application/json)."
    else:
        message = "请求内容应为 JSON 对象（Content-Type: application/json）。"
    return jsonify(error={"code": "bad_json", "message": message}), 400


def idempotency_claim(scope: str, payload: object):
    """Claim the request's ``Idempotency-Key`` (if any): ``(claim, None)`` to go on, ``(None, response)`` to stop.

    The response is the first result of the key (replayed, with ``Idempotent-Replayed: true``), or a refusal: an
    invalid key (400) or the key of a different request (422). The claim is committed with the work, or rolled back.
    """
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None, None
    settings = current_app.config["PORTAL_SETTINGS"]
    try:
        outcome = idempotency.begin(
            db.session,
            settings.pii_key,
            scope,
            idempotency.check_key(key),
            idempotency.fingerprint(payload),
            now=datetime.now(UTC),
        )
    except idempotency.KeyInvalid as exc:
        db.session.rollback()
        return None, _refusal("idempotency_key_invalid", _message(exc), 400)
    except idempotency.KeyReused as exc:
        db.session.rollback()
        return None, _refusal("idempotency_key_reused", _message(exc), 422)
    if isinstance(outcome, idempotency.Replay):
        db.session.rollback()
        return None, (jsonify(outcome.body), outcome.status, {"Idempotent-Replayed": "true"})
    return outcome, None


def _upload_ids(body: dict) -> list[str]:
    value = body.get("attachments", [])
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise IntakeInvalid(
            {"attachments": _field("附件应为上传编号的列表。", "Attachments must be a list of upload ids.")}
        )
    return value


def _field(zh: str, en: str) -> FieldError:
    return FieldError(zh, en)


def _field_errors(errors: dict) -> tuple:
    english = is_english()
    return jsonify(errors={k: v.text(english) for k, v in errors.items()}), 422


def _refusal(code: str, message: str, status: int = 422):
    return jsonify(error={"code": code, "message": message}), status


# --- The domain's refusals: one answer for every route of the petitioner's API -------------------------------
# A route lets a refusal propagate; its handler rolls the request's work back and answers JSON.


@bp.errorhandler(IntakeInvalid)
def _invalid(exc: IntakeInvalid):
    db.session.rollback()
    return _field_errors(exc.errors)


@bp.errorhandler(ActionRefused)
def _action_refused(exc: ActionRefused):
    db.session.rollback()
    if exc.code == "invalid":
        english = is_english()
        return jsonify(errors={exc.field or "payload": exc.message_en if english else exc.message_zh}), 422
    status = {"wrong_state": 409, "forbidden": 403, "not_your_bureau": 404}.get(exc.code, 422)
    return _refusal(exc.code, _message(exc), status)


@bp.errorhandler(IntakeRefused)
def _intake_refused(exc: IntakeRefused):
    db.session.rollback()
    return _refusal(exc.code, _message(exc))


@bp.errorhandler(DuplicateOpenCase)
def _duplicate(exc: DuplicateOpenCase):
    db.session.rollback()
    return jsonify(error={"code": exc.code, "message": _message(exc), "case_number": exc.case_number}), 409


@bp.errorhandler(UploadError)
def _upload_refused(exc: UploadError):
    """Upload ids named by a submission that cannot be used (``POST /uploads`` answers its own refusals)."""
    db.session.rollback()
    return jsonify(errors={"attachments": exc.message("en" if is_english() else "zh")}), 422


@bp.errorhandler(CaseConflict)
def _conflict(exc: CaseConflict):
    db.session.rollback()
    return _refusal("conflict", _message(exc), 409)


@bp.errorhandler(CaseNotFound)
def _case_not_found(_exc: CaseNotFound):
    db.session.rollback()
    return current_app.handle_http_exception(NotFound())  # the same 404 as an unknown number


def _file_json(attachment: Attachment, *, url: bool, link_seconds: int = DOWNLOAD_SECONDS) -> dict:
    body = {
        "id": attachment.id,
        "filename": attachment.filename,
        "size": attachment.size,
        "content_type": attachment.content_type,
        "sha256": attachment.sha256,
    }
    if url:
        body["url"] = download_url(current_app.extensions["portal.storage"], attachment, expires=link_seconds)
    return body


def tracking_json(view: TrackingView, *, link_seconds: int = DOWNLOAD_SECONDS) -> dict:
    """The tracking view as the API shows it (the same content as the tracking page); file links stay valid for
    ``link_seconds``."""
    case = view.case
    return {
        "number": case.number,
        "kind": str(case.kind),
        "state": str(case.state),
        "state_text": _text(view.state_public),
        "handled_by": {"id": view.handled_by.id, "name": view.handled_by.name},
        "disputed": {
            "bureau_id": case.disputed_bureau_id,
            "bureau_name": view.disputed_bureau.name,
            "opinion_kind": str(case.disputed_kind),
            "document_number": case.disputed_document_number,
            "issued_on": case.disputed_issued_on.isoformat(),
            "received_on": case.disputed_received_on.isoformat(),
        },
        "received_on": case.received_on.isoformat(),
        "deadlines": [
            {
                "step": str(d.step),
                "label": _text(d.label),
                "started_on": d.started_on.isoformat(),
                "due_on": d.due_on.isoformat(),
                "open": d.open,
                "provisional": d.provisional,
                "explanation": _text(d.explanation),
            }
            for d in view.deadlines
        ],
        "timeline": [
            {
                "seq": e.seq,
                "at": e.at.isoformat(),
                "action": e.action,
                "label": _text(e.label),
                "details": [{"label": _text(label), "value": value} for label, value in e.details],
            }
            for e in view.timeline
        ],
        "documents": [_file_json(a, url=True, link_seconds=link_seconds) for a in view.documents],
        "attachments": [_file_json(a, url=True, link_seconds=link_seconds) for a in view.own_files],
        "material_requests": [
            {
                "id": r.id,
                "content": r.content,
                "due_on": r.due_on.isoformat(),
                "requested_at": r.created_at.isoformat(),
            }
            for r in view.material_requests
        ],
        "can_withdraw": view.can_withdraw,
        "escalation": {
            "possible": view.escalation.possible,
            "last_day": view.escalation.last_day.isoformat() if view.escalation.last_day else None,
            "remaining_days": view.escalation.remaining_days,
            # 送达: the window runs from the day the opinion reached the petitioner; None: not recorded yet.
            "started": view.escalation.last_day is not None,
            "delivered_on": view.case.delivered_on.isoformat() if view.case.delivered_on else None,
            "delivery_method": view.case.delivery_method,
            "message": _text(view.escalation.refusal) if view.escalation.refusal else None,
        },
        "escalated_to": view.escalated_to,
        "earlier_number": view.earlier_number,
        "can_rate": view.can_rate,
        "rating": _rating_json(view.rating),
    }


def _rating_json(rating) -> dict | None:
    if rating is None:
        return None
    return {
        "rating": str(rating.rating),
        "label": _text(SATISFACTION_LABELS[rating.rating]),
        "comment": rating.comment,
        "rated_at": rating.rated_at.isoformat(),
    }


def _submission_json(case, access_code: str, acceptance_due: date | None, handling=None) -> dict:
    from tenants.models import Bureau

    handling = handling or db.session.get(Bureau, case.tenant_id)
    return {
        "number": case.number,
        "access_code": access_code,
        "kind": str(case.kind),
        "handled_by": {"id": handling.id, "name": handling.name},
        "state": str(case.state),
        "acceptance_due": acceptance_due.isoformat() if acceptance_due else None,
    }


# The code's check of this request, made by ``public_site.kept`` before the request went on to Flask: (number,
# code, stamp or None). One look-up and one comparison per request, whoever made them.
CODE_CHECKED = "portal.tracking.code"


def _authorised(number: str) -> CaseStamp:
    """The stamp of case ``number`` if the request carries its access code; 404 otherwise (the same for both)."""
    code = request.headers.get("X-Access-Code")
    checked = request.environ.pop(CODE_CHECKED, None)
    if checked is not None and checked[:2] == (number, code):
        ref = checked[2]
    else:
        ref = find_by_code(stamps(), current_app.extensions["portal.pii"], number, code)
    if ref is None:
        abort(404)
    return ref


def _authorised_case(number: str):
    """The case of ``number`` (the row the operations take) if the request carries its access code; else 404."""
    return open_case(db.session, _authorised(number))


def _tracking_answer(case) -> dict:
    """The tracking view of ``case`` (just changed by an action) as the API shows it."""
    return tracking_json(tracking_view(db.session, case.tenant_id, case.id, today=_today()))


# --- OpenAPI ---------------------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_DATE = {"type": "string", "format": "date"}
_PARTY = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 100},
        "id_number": {"type": "string", "description": "18 characters, GB 11643 check character."},
        "phone": {"type": "string", "description": "11-digit mobile number or landline with area code."},
        "email": {"type": ["string", "null"]},
        "address": {"type": "string", "maxLength": 200},
    },
}
SCHEMAS["ApplicationRequest"] = {
    "type": "object",
    "properties": {
        "petitioner": {**_PARTY, "required": ["name", "id_number", "phone", "address"]},
        "disputed": {
            "type": "object",
            "properties": {
                "bureau_id": {"type": "integer", "description": "The bureau that issued the opinion (GET /bureaus)."},
                "opinion_kind": {"type": "string", "enum": ["handling", "review", "re_review"]},
                "document_number": {"type": "string", "maxLength": 100},
                "issued_on": _DATE,
                "received_on": {**_DATE, "description": "issued_on <= received_on <= today."},
            },
            "required": ["bureau_id", "opinion_kind", "document_number", "issued_on", "received_on"],
        },
        "request": {"type": "string", "maxLength": 2000},
        "facts_and_reasons": {"type": "string", "maxLength": 10000},
        "attachments": {"type": "array", "maxItems": 10, "items": {"type": "string", "format": "uuid"}},
        "representative": {**_PARTY, "description": "Optional: name and phone required, ID number checked if given."},
        "joint_petitioners": {
            "type": "array",
            "maxItems": 5,
            "items": {**_PARTY, "description": "Name and ID number required."},
        },
        "electronic_delivery": {
            "type": "boolean",
            "description": "The petitioner accepts electronic delivery of the formal opinion: the day it is sent"
            " counts as the day received (the 30-day window runs from it).",
        },
        "confirm_duplicate": {
            "type": "boolean",
            "description": "Submit although the same petitioner has an open case on the same disputed document"
            " (otherwise 409 `duplicate_open_case`).",
        },
    },
    "required": ["petitioner", "disputed", "request", "facts_and_reasons"],
}
SCHEMAS["ApplicationCreated"] = {
    "type": "object",
    "properties": {
        "number": _STRING,
        "access_code": {"type": "string", "description": "Shown once; only its hash is stored. Keep it."},
        "kind": {"type": "string", "enum": ["review", "re_review"]},
        "handled_by": {"type": "object", "properties": {"id": {"type": "integer"}, "name": _STRING}},
        "state": {"type": "string", "enum": ["submitted"]},
        "acceptance_due": {**_DATE, "description": "The bureau decides whether to accept by this day."},
    },
    "required": ["number", "access_code", "kind", "handled_by", "state", "acceptance_due"],
}
SCHEMAS["FieldErrors"] = {
    "type": "object",
    "properties": {
        "errors": {
            "type": "object",
            "additionalProperties": _STRING,
            "description": "Message per field, keyed like petitioner.id_number or disputed.received_on.",
        }
    },
    "required": ["errors"],
}
SCHEMAS["Tracking"] = {
    "type": "object",
    "properties": {
        "number": _STRING,
        "kind": {"type": "string", "enum": ["review", "re_review"]},
        "state": _STRING,
        "state_text": {"type": "string", "description": "The state in plain words."},
        "handled_by": {"type": "object", "properties": {"id": {"type": "integer"}, "name": _STRING}},
        "deadlines": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "step": _STRING,
                    "label": _STRING,
                    "started_on": _DATE,
                    "due_on": _DATE,
                    "open": {"type": "boolean"},
                    "provisional": {"type": "boolean"},
                    "explanation": {"type": "string", "description": "How the date was computed."},
                },
            },
        },
        "timeline": {"type": "array", "items": {"type": "object"}},
        "documents": {
            "type": "array",
            "description": "Notices and opinions sent to the petitioner; `url` is a link valid for at least 5 minutes.",
            "items": {"type": "object"},
        },
        "attachments": {"type": "array", "description": "The petitioner's own files.", "items": {"type": "object"}},
        "material_requests": {
            "type": "array",
            "description": "Open requests for materials addressed to the petitioner.",
            "items": {"type": "object"},
        },
        "can_withdraw": {"type": "boolean"},
        "escalation": {"type": "object"},
        "can_rate": {"type": "boolean", "description": "The reply was sent and awaits the petitioner's rating."},
        "rating": {
            "oneOf": [{"$ref": "#/components/schemas/Rating"}, {"type": "null"}],
            "description": "The petitioner's rating of the reply, once given.",
        },
    },
    "required": ["number", "kind", "state", "handled_by", "deadlines", "timeline", "documents", "material_requests"],
}


SCHEMAS["Rating"] = {
    "type": "object",
    "properties": {
        "rating": {"type": "string", "enum": [s.value for s in Satisfaction]},
        "label": {"type": "string", "description": "The rating in plain words."},
        "comment": {"type": ["string", "null"]},
        "rated_at": {"type": "string", "format": "date-time"},
    },
    "required": ["rating", "label", "comment", "rated_at"],
}


def _json(ref: str) -> dict:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


_CODE_HEADER = {
    "name": "X-Access-Code",
    "in": "header",
    "required": True,
    "schema": _STRING,
    "description": "The access code given when the application was submitted.",
}
_NUMBER = {"name": "number", "in": "path", "required": True, "schema": _STRING}
IDEMPOTENCY_HEADER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": (
        "A fresh random value (e.g. a UUID) per submission, sent again unchanged when retrying it. Within 24 hours"
        " the same key returns the first result (header `Idempotent-Replayed: true`) and creates nothing; the same"
        " key with a different body answers 422 `idempotency_key_reused`."
    ),
}
_NOT_FOUND = {"description": "Unknown number or wrong access code (the same answer).", "content": _json("Error")}
_TOO_MANY = {"description": "Too many attempts from this address or for this number.", "content": _json("Error")}
_INVALID = {"description": "Field errors.", "content": _json("FieldErrors")}

document(
    "/applications",
    "post",
    {
        "summary": "Submit an application for review or re-review.",
        "description": (
            "Upload the files first (POST /uploads) and name their upload ids in `attachments`. Send an"
            " `Idempotency-Key` so that a retry after a timeout returns the same number and access code."
        ),
        "parameters": [IDEMPOTENCY_HEADER],
        "requestBody": {"required": True, "content": _json("ApplicationRequest")},
        "responses": {
            "201": {"description": "Received.", "content": _json("ApplicationCreated")},
            "400": {
                "description": "Not a JSON object (`bad_json`), or an invalid `Idempotency-Key`"
                " (`idempotency_key_invalid`).",
                "content": _json("Error"),
            },
            "409": {
                "description": "`error.code` `duplicate_open_case`: the same petitioner has an open case on the same"
                " disputed document (issuer and 文号, in any bureau); `error.case_number` names it (never its access"
                " code). Send `confirm_duplicate: true` to submit anyway.",
                "content": _json("Error"),
            },
            "422": {
                "description": "Field errors (`errors`), or a routing refusal (`error.code`: `to_committee` for"
                " opinions of the provincial bureau, `final` for re-review opinions, `invalid`), or an"
                " `Idempotency-Key` already used for another body (`idempotency_key_reused`).",
                "content": {
                    "application/json": {
                        "schema": {
                            "oneOf": [
                                {"$ref": "#/components/schemas/FieldErrors"},
                                {"$ref": "#/components/schemas/Error"},
                            ]
                        }
                    }
                },
            },
            "429": _TOO_MANY,
        },
    },
)
document(
    "/applications/{number}",
    "get",
    {
        "summary": "Track an application with its access code.",
        "parameters": [
            _NUMBER,
            _CODE_HEADER,
            {
                "name": "If-None-Match",
                "in": "header",
                "required": False,
                "schema": _STRING,
                "description": "The `ETag` of an earlier answer: 304 while nothing it shows has changed (checked"
                " after the access code). The tag covers the file links too: a 304 never asks a client to keep"
                " a link that has expired.",
            },
        ],
        "responses": {
            "200": {
                "description": "The tracking view, with its `ETag` (weak). Not to be stored (`no-store`).",
                "headers": {"ETag": {"schema": _STRING}},
                "content": _json("Tracking"),
            },
            "304": {"description": "Not modified since the answer of the `If-None-Match` tag."},
            "404": _NOT_FOUND,
            "429": _TOO_MANY,
        },
    },
)
document(
    "/applications/{number}/withdraw",
    "post",
    {
        "summary": "Withdraw an open application.",
        "parameters": [_NUMBER, _CODE_HEADER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"type": "object", "properties": {"reason": _STRING}, "required": ["reason"]}
                }
            },
        },
        "responses": {
            "200": {"description": "Withdrawn; the tracking view.", "content": _json("Tracking")},
            "404": _NOT_FOUND,
            "409": {"description": "The case is closed (`wrong_state`).", "content": _json("Error")},
            "422": _INVALID,
            "429": _TOO_MANY,
        },
    },
)
document(
    "/applications/{number}/escalate",
    "post",
    {
        "summary": "Apply for a re-review of a replied review (within 30 days of receiving it).",
        "description": "Opens a new case at the next bureau carrying this case's files; it has its own access code."
        " The re-review disputes the review opinion by its 文号 and issuer. The 30 days run from the day the"
        " opinion reached the petitioner (送达); until that is recorded the window has not started and the"
        " application is open.",
        "parameters": [_NUMBER, _CODE_HEADER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "request": {"type": "string", "maxLength": 2000, "description": "What is asked for."},
                            "facts_and_reasons": {
                                "type": "string",
                                "maxLength": 10000,
                                "description": "The facts, and why the review opinion is wrong.",
                            },
                            "reason": {
                                "type": "string",
                                "description": "Deprecated single field: used as both when the two above are absent.",
                            },
                            "attachments": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                        },
                        "required": ["request", "facts_and_reasons"],
                    }
                }
            },
        },
        "responses": {
            "201": {"description": "The new re-review case.", "content": _json("ApplicationCreated")},
            "404": _NOT_FOUND,
            "409": {
                "description": "Not possible now (`wrong_state`): not replied, a re-review opinion, the window passed.",
                "content": _json("Error"),
            },
            "422": _INVALID,
            "429": _TOO_MANY,
        },
    },
)
document(
    "/applications/{number}/materials/{request_id}",
    "post",
    {
        "summary": "Answer a request for materials addressed to the petitioner.",
        "parameters": [
            _NUMBER,
            {"name": "request_id", "in": "path", "required": True, "schema": {"type": "integer"}},
            _CODE_HEADER,
        ],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "content": _STRING,
                            "attachments": {"type": "array", "items": {"type": "string", "format": "uuid"}},
                        },
                    }
                }
            },
        },
        "responses": {
            "200": {"description": "Answered; the tracking view.", "content": _json("Tracking")},
            "404": _NOT_FOUND,
            "409": {"description": "No open request (`wrong_state`).", "content": _json("Error")},
            "422": _INVALID,
            "429": _TOO_MANY,
        },
    },
)
document(
    "/applications/{number}/rating",
    "post",
    {
        "summary": "Rate the formal reply (once), with an optional comment.",
        "parameters": [_NUMBER, _CODE_HEADER],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "rating": {"type": "string", "enum": [s.value for s in Satisfaction]},
                            "comment": {"type": ["string", "null"], "maxLength": COMMENT_MAX},
                        },
                        "required": ["rating"],
                    }
                }
            },
        },
        "responses": {
            "201": {"description": "Recorded; the tracking view with the rating.", "content": _json("Tracking")},
            "404": _NOT_FOUND,
            "409": {
                "description": "No reply to rate yet, or already rated (`wrong_state`).",
                "content": _json("Error"),
            },
            "422": _INVALID,
            "429": _TOO_MANY,
        },
    },
)


# --- Routes ---------------------------------------------------------------------------------------------------


@bp.post("/applications")
@submit_limit
def create_application():
    """Submit an application; answer with its number and the one-time access code."""
    body = _json_body()
    upload_ids = _upload_ids(body)
    data = validate_application(body, today=_today(), known_bureau_ids=known_bureau_ids(db.session))
    data = dataclasses.replace(data, language="en" if is_english() else "zh")  # the language of their SMS
    claim, stop = idempotency_claim("application", body)
    if stop is not None:
        return stop
    storage = current_app.extensions["portal.storage"]
    pii = current_app.extensions["portal.pii"]
    try:
        result = online.submit_online(db.session, storage, pii, data, upload_ids, today=_today())
        submission = result.submission
        answer = _submission_json(
            submission.case, submission.access_code, submission.acceptance_due, submission.handled_by
        )
        if claim is not None:
            # The answer, access code included, is kept sealed with the key: a client that gave up (a timeout, a
            # lost connection) retries with the same key and gets its number and code; no second case is made.
            idempotency.finish(db.session, claim, 201, answer)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return jsonify(answer), 201


# Answers kept per process (``portal.pagecache``): the link window they were signed in, the tag and the JSON
# (compressed: about 0.7 KB each).
ANSWERS: RenderedCache[tuple[int | None, str, bytes]] = RenderedCache(max_bytes=8 * 1024 * 1024)
ANSWER_PACKER = Packer()
# File links in a kept answer are signed once per window, for that window plus the links' usual lifetime: whenever
# an answer is served, each of its links stays valid for at least DOWNLOAD_SECONDS (and at most that plus the
# window). Five minutes: an answer with files is rendered again every five minutes, not every minute.
LINK_WINDOW_SECONDS = 300


def link_window(number: str, now: float | None = None) -> int:
    """The window in which the links of case ``number``'s answer are signed. Each case's windows begin at an offset
    of its own (from its number): the kept answers of many cases are signed again spread over the five minutes, not
    all in the same second (at the bench's 2,000 cases polled, a burst of ~25 s of CPU every five minutes)."""
    offset = zlib.crc32(number.encode()) % LINK_WINDOW_SECONDS
    return int(((time.time() if now is None else now) + offset) // LINK_WINDOW_SECONDS)


def answer_key(stamp: CaseStamp, lang: str) -> tuple | None:
    """What a kept answer is kept by: the case's stamp key, the day and the language (None: not kept)."""
    return (stamp.key, _today(), lang) if stamp.key is not None else None


def kept_answer(key: tuple | None, window: int) -> tuple[int | None, str, bytes] | None:
    """The kept answer of ``key`` if it may still be served: its links (if any) were signed in ``window``."""
    kept = ANSWERS.get(key) if key is not None else None
    return kept if kept is not None and kept[0] in (None, window) else None


@bp.get("/applications/<number>")
@track_limit
@track_number_limit
def get_application(number: str):
    """The tracking view of a case, for the holder of its access code; 304 for an ``If-None-Match`` that matches.

    The answer is kept while the case, the reference data, the day and the language stay the same (and, for an
    answer with file links, the window of its links): a kept answer costs the access code's look-up and check.
    """
    stamp = _authorised(number)
    pii = current_app.extensions["portal.pii"]
    if online.awaits_online_delivery(stamp):
        online.record_online_delivery(db.session, pii, open_case(db.session, stamp), today=_today())
        db.session.commit()  # 送达: the day the petitioner first opened the replied case
        stamp = find_number(stamps(), stamp.number)
        if stamp is None:
            abort(404)
    window = link_window(stamp.number)
    key = answer_key(stamp, current_lang())
    kept = kept_answer(key, window)
    if kept is None:
        view = tracking_view(
            db.session, stamp.tenant_id, stamp.case_id, today=_today(), reference_version=stamp.reference_version
        )
        if view is None:
            abort(404)
        links = bool(view.documents or view.own_files)
        body = current_app.json.dumps(tracking_json(view, link_seconds=DOWNLOAD_SECONDS + LINK_WINDOW_SECONDS))
        kept = (window if links else None, entity_tag(key, window if links else None), ANSWER_PACKER.pack(body))
        if key is not None:
            ANSWERS.put(key, kept, len(kept[2]))
    _window, tag, packed = kept
    if request.if_none_match.contains_weak(tag):
        return "", 304, etag_header(tag)
    answer = ANSWER_PACKER.unpack(packed)
    return current_app.response_class(answer, mimetype=current_app.json.mimetype, headers=etag_header(tag))


@bp.post("/applications/<number>/withdraw")
@track_limit
@track_number_limit
def withdraw_application(number: str):
    """Withdraw an open application with a reason."""
    case = _authorised_case(number)
    body = _json_body()
    pii = current_app.extensions["portal.pii"]
    online.withdraw_case(db.session, pii, case, body.get("reason"), today=_today())
    db.session.commit()
    return jsonify(_tracking_answer(case))


@bp.post("/applications/<number>/escalate")
@track_limit
@track_number_limit
@submit_limit
def escalate_application(number: str):
    """Apply for a re-review of a replied review: a new case at the next bureau, with its own access code."""
    case = _authorised_case(number)
    body = _json_body()
    upload_ids = _upload_ids(body)
    storage = current_app.extensions["portal.storage"]
    pii = current_app.extensions["portal.pii"]
    escalated = online.escalate_case(
        db.session,
        storage,
        pii,
        case,
        body.get("reason"),
        upload_ids,
        today=_today(),
        request=body.get("request"),
        facts_and_reasons=body.get("facts_and_reasons"),
    )
    db.session.commit()
    body = _submission_json(escalated.case, escalated.access_code, escalated.acceptance_due)
    body["escalated_from"] = case.number
    return jsonify(body), 201


@bp.post("/applications/<number>/materials/<int:request_id>")
@track_limit
@track_number_limit
def answer_material_request(number: str, request_id: int):
    """Answer a materials request addressed to the petitioner: a note, files, or both."""
    case = _authorised_case(number)
    body = _json_body()
    upload_ids = _upload_ids(body)
    content = body.get("content")
    if content is not None and not isinstance(content, str):
        return _field_errors({"content": _field("说明应为文字。", "The note must be text.")})
    storage = current_app.extensions["portal.storage"]
    pii = current_app.extensions["portal.pii"]
    online.answer_request(db.session, storage, pii, case, request_id, content, upload_ids, today=_today())
    db.session.commit()
    return jsonify(_tracking_answer(case))


@bp.post("/applications/<number>/rating")
@track_limit
@track_number_limit
def rate_application(number: str):
    """Record the petitioner's rating of the formal reply: once, only after the reply was sent."""
    case = _authorised_case(number)
    body = _json_body()
    rate_case(db.session, case, body.get("rating"), body.get("comment"))
    db.session.commit()
    return jsonify(_tracking_answer(case)), 201
