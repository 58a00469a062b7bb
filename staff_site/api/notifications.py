"""The staff member's own notifications: work that landed on them, reminders, alerts, digests; read/unread.

``GET /staff/notifications`` (newest first; ``?unread=1`` for the unread ones only) and
``POST /staff/notifications/{id}/read``. Someone else's notification answers 404, like one that does not exist.
"""

from __future__ import annotations

from flask import g, jsonify, request

from portal.api.openapi import SCHEMAS, document
from portal.cases.queries import pick
from portal.extensions import db
from portal.notify.messages import digest_item_text, single_alert, staff_text
from portal.notify.models import NOTIFICATION_KINDS, StaffNotification
from portal.notify.operations import get_own_notification, list_notifications, mark_read, unread_count
from portal.web import current_lang
from staff_site.api import bp
from staff_site.api.auth import error, error_response, staff_api

MAX_ID = 2**63 - 1
LIMIT = 200


def notification_json(n: StaffNotification, lang: str) -> dict:
    params = n.params or {}
    single = single_alert(n.kind, params)  # a sweep notice of one alert names its case like a notice of its own
    about = single or params
    case_id = single.get("case_id") if single else n.case_id
    return {
        "id": n.id,
        "kind": n.kind,
        "text": pick(staff_text(n.kind, params), lang),
        "case": (
            {
                "id": case_id,
                "bureau_id": single.get("case_tenant_id") if single else n.case_tenant_id,
                "number": about.get("case_number"),
            }
            if case_id is not None
            else None
        ),
        "material_request_id": about.get("request_id"),
        "items": [pick(digest_item_text(i), lang) for i in params.get("items", [])],
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
        "unread": n.read_at is None,
    }


def _not_found():
    return error(404, "not_found", "没有这条通知。", "No such notification.")


SCHEMAS["StaffNotification"] = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "kind": {"type": "string", "enum": list(NOTIFICATION_KINDS)},
        "text": {"type": "string"},
        "case": {"type": ["object", "null"], "description": "`id`, `bureau_id`, `number` of the case concerned."},
        "material_request_id": {
            "type": ["integer", "null"],
            "description": "A request for materials addressed to the reader's bureau (answer it from the queue).",
        },
        "items": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The lines of a daily digest, or of the day's alerts of one kind (the first 50).",
        },
        "created_at": {"type": "string", "format": "date-time"},
        "read_at": {"type": ["string", "null"], "format": "date-time"},
        "unread": {"type": "boolean"},
    },
}
document(
    "/staff/notifications",
    "get",
    {
        "summary": "The caller's notifications, newest first (at most 200), and the unread count.",
        "description": "Authenticate with `Authorization: Bearer <token>`. `?unread=1` lists the unread ones only.",
        "tags": ["staff"],
        "parameters": [{"name": "unread", "in": "query", "schema": {"type": "string", "enum": ["1", "0"]}}],
        "responses": {
            "200": {
                "description": "`notifications` and `unread` (the count).",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "properties": {
                                "unread": {"type": "integer"},
                                "notifications": {
                                    "type": "array",
                                    "items": {"$ref": "#/components/schemas/StaffNotification"},
                                },
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
    "/staff/notifications/{notification_id}/read",
    "post",
    {
        "summary": "Mark one of the caller's notifications as read (again: no change).",
        "tags": ["staff"],
        "parameters": [{"name": "notification_id", "in": "path", "required": True, "schema": {"type": "integer"}}],
        "responses": {
            "200": {
                "description": "The notification, read.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StaffNotification"}}},
            },
            "404": error_response("Not one of the caller's notifications."),
        },
    },
)


@bp.get("/staff/notifications")
@staff_api
def staff_notifications():
    unread_only = request.args.get("unread", "").lower() in ("1", "true", "yes")
    lang = current_lang()
    rows = list_notifications(db.session, g.staff_user, limit=LIMIT, unread_only=unread_only)
    return jsonify(
        unread=unread_count(db.session, g.staff_user),
        notifications=[notification_json(n, lang) for n in rows],
    )


@bp.post("/staff/notifications/<int:notification_id>/read")
@staff_api
def staff_notification_read(notification_id: int):
    if not 0 < notification_id <= MAX_ID:
        return _not_found()
    notification = get_own_notification(db.session, g.staff_user, notification_id)
    if notification is None:
        return _not_found()
    mark_read(db.session, notification)
    db.session.commit()
    db.session.refresh(notification)
    return jsonify(notification_json(notification, current_lang()))
