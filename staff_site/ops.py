"""Staff pages for background work at ``/staff/ops``: my notifications, failed messages, queues, the calendar."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired

from portal.accounts.models import StaffUser
from portal.calendar_admin import CalendarUploadError, covered_years, load_calendar_year
from portal.extensions import db
from portal.notify.messages import digest_item_text, single_alert, staff_text
from portal.notify.operations import (
    get_own_notification,
    list_notifications,
    mark_all_read,
    mark_read,
    unread_count,
)
from portal.outbox import OutboxError, OutboxRowNotFound, get_row, list_rows, outbox_counts, retry_failed
from portal.roles import Role
from portal.sweeps import china_today, list_runs, missing_calendar_year
from portal.web import localized, localized_error
from staff_site.access import staff_required
from worker import queues

bp = Blueprint("ops", __name__, template_folder="templates")

ADMINS = (Role.bureau_admin, Role.province_admin)


@bp.record_once
def _wire_background_work(state) -> None:
    """Registering these pages also wires the after-commit enqueue of outbox rows (``worker.queues.install``)."""
    queues.install(state.app)


@bp.app_context_processor
def _unread_notifications() -> dict:
    """The header's count of unread notifications: one indexed count, run only where the header shows it."""

    def count() -> int:
        user = current_user._get_current_object() if current_user else None
        if not getattr(user, "is_authenticated", False) or not isinstance(user, StaffUser):
            return 0
        return unread_count(db.session, user)

    return {"unread_notifications": count}


class ActionForm(FlaskForm):
    """A button: nothing but the CSRF token."""


class CalendarForm(FlaskForm):
    file = FileField(_l("Year file (.json or .csv)"), validators=[FileRequired(_l("Choose a file to upload."))])


MAX_ID = 2**63 - 1  # bigint: a larger number in a URL names nothing (and must not reach PostgreSQL)


def _check_id(value: int) -> None:
    if not 0 < value <= MAX_ID:
        abort(404)


def _require(*roles: Role) -> None:
    if not current_user.has_role(*roles):
        abort(403)


def _calendar_warning() -> int | None:
    if not current_user.has_role(Role.province_admin):
        return None
    return missing_calendar_year(db.session, china_today())


def _case_link(case_id: int | None) -> str | None:
    if case_id is None or "staff.case_detail" not in current_app.view_functions:
        return None
    return url_for("staff.case_detail", case_id=case_id)


def _link(params: dict, case_tenant_id: int | None, case_id: int | None) -> str | None:
    """The case; for a lower bureau asked for materials, the request it answers (it cannot open the case)."""
    request_id = params.get("request_id")
    if (
        request_id
        and case_tenant_id != current_user.tenant_id
        and "staff.material_request" in current_app.view_functions
    ):
        return url_for("staff.material_request", request_id=request_id)
    return _case_link(case_id)


@bp.get("/")
@staff_required
def index():
    return redirect(url_for("ops.notifications"))


@bp.get("/notifications")
@staff_required
def notifications():
    rows = list_notifications(db.session, current_user)
    items = []
    for n in rows:
        params = n.params or {}
        single = single_alert(n.kind, params)  # one alert reads, and links, as a notice of its own
        items.append(
            {
                "row": n,
                "text": localized(staff_text(n.kind, params)),
                "link": _link(single, single.get("case_tenant_id"), single.get("case_id"))
                if single
                else _link(params, n.case_tenant_id, n.case_id),
                "lines": []
                if single
                else [
                    (localized(digest_item_text(i)), _link(i, i.get("case_tenant_id"), i.get("case_id")))
                    for i in params.get("items", [])
                ],
            }
        )
    return render_template(
        "ops/notifications.html",
        items=items,
        unread=unread_count(db.session, current_user),
        form=ActionForm(),
        calendar_missing=_calendar_warning(),
    )


@bp.post("/notifications/<int:notification_id>/read")
@staff_required
def read_notification(notification_id: int):
    _check_id(notification_id)
    notification = get_own_notification(db.session, current_user, notification_id)
    if notification is None:
        abort(404)
    if not ActionForm().validate_on_submit():
        abort(400)
    mark_read(db.session, notification)
    db.session.commit()
    return redirect(url_for("ops.notifications"))


@bp.post("/notifications/read-all")
@staff_required
def read_all_notifications():
    if not ActionForm().validate_on_submit():
        abort(400)
    mark_all_read(db.session, current_user)
    db.session.commit()
    return redirect(url_for("ops.notifications"))


@bp.get("/messages")
@staff_required
def messages():
    _require(*ADMINS)
    rows = list_rows(db.session, status="failed", tenant_id=current_user.tenant_id, limit=200)
    counts = outbox_counts(db.session, tenant_id=current_user.tenant_id)
    return render_template(
        "ops/messages.html",
        rows=rows,
        counts=counts,
        links={r.id: _case_link(r.case_id) for r in rows},
        form=ActionForm(),
    )


@bp.post("/messages/<int:message_id>/retry")
@staff_required
def retry_message(message_id: int):
    _check_id(message_id)
    if get_row(db.session, message_id, tenant_id=current_user.tenant_id) is None:
        abort(404)
    _require(*ADMINS)
    if not ActionForm().validate_on_submit():
        abort(400)
    try:
        row = retry_failed(db.session, message_id, tenant_id=current_user.tenant_id)
    except OutboxRowNotFound:
        abort(404)
    except OutboxError as exc:
        flash(localized_error(exc))
        return redirect(url_for("ops.messages"))
    db.session.commit()
    flash(_("Message %(id)s is queued again.", id=row.id))
    return redirect(url_for("ops.messages"))


@bp.get("/queues")
@staff_required
def queue_monitor():
    """Workers, the gateway, failed jobs and cron are the deployment's: the province's administrators only."""
    _require(Role.province_admin)
    from worker.monitor import snapshot

    transports = queues.get_transports()
    return render_template(
        "ops/queues.html",
        snap=snapshot(current_app.extensions["portal.redis"]),
        runs=list_runs(db.session),
        counts=outbox_counts(db.session, tenant_id=current_user.tenant_id),
        senders={"email": transports.mailer.describe(), "sms": transports.sms.describe()},
    )


@bp.route("/calendar", methods=["GET", "POST"])
@staff_required
def calendar():
    _require(Role.province_admin)
    form = CalendarForm()
    status = 200
    if form.validate_on_submit():
        upload = form.file.data
        try:
            loaded = load_calendar_year(db.session, upload.filename or "", upload.read(256 * 1024 + 1))
        except CalendarUploadError as exc:
            db.session.rollback()
            form.file.errors.append(localized_error(exc))
            status = 400
        else:
            from staff_site.audit import audit_change

            audit_change(
                "calendar_loaded",
                str(loaded.year),
                after={"holidays": loaded.holidays, "workdays": loaded.workdays, "file": upload.filename},
            )
            db.session.commit()
            flash(
                _(
                    "The %(year)s calendar is loaded (%(holidays)s holidays, %(workdays)s make-up working days);"
                    " %(changed)s provisional deadlines were recomputed.",
                    year=loaded.year,
                    holidays=loaded.holidays,
                    workdays=loaded.workdays,
                    changed=loaded.recomputed,
                )
            )
            return redirect(url_for("ops.calendar"))
    elif form.is_submitted():
        status = 400
    today = china_today()
    return (
        render_template(
            "ops/calendar.html",
            form=form,
            years=covered_years(db.session, today),
            calendar_missing=missing_calendar_year(db.session, today),
        ),
        status,
    )


# --- History anchors (the province's auditor) -----------------------------------------------------------------


def _is_province_auditor() -> bool:
    """Anchors cover every bureau: the province bureau's administrators (and auditor) only."""
    from tenants.models import Bureau

    bureau = db.session.get(Bureau, current_user.tenant_id)
    return bureau is not None and bureau.parent_id is None and current_user.has_role(*AUDITORS)


def _require_province_auditor() -> None:
    if not _is_province_auditor():
        abort(403)


AUDITORS = (Role.province_admin,)


@bp.get("/anchors")
@staff_required
def anchors():
    """The signed anchors of the case histories, newest first, each downloadable, and the key that checks them."""
    from portal.cases.anchors import list_anchor_keys, public_key_pem

    _require_province_auditor()
    keys = list(reversed(list_anchor_keys(current_app.extensions["portal.storage"])))[:500]
    return render_template("ops/anchors.html", keys=keys, public_key=public_key_pem())


@bp.get("/anchors/<path:key>")
@staff_required
def anchor_download(key: str):
    from portal.cases.anchors import PREFIX

    if not _is_province_auditor():
        abort(404)
    if not key.startswith(PREFIX) or ".." in key or not key.endswith(".json"):
        abort(404)
    storage = current_app.extensions["portal.storage"]
    try:
        storage.client.head_object(Bucket=storage.bucket, Key=key)
    except Exception:
        abort(404)
    return redirect(storage.presigned_url(key, key.rsplit("/", 1)[-1], expires=120))
