"""The audit log at ``/staff/audit``: read and exported by the audit administrator only; ``audit_change`` writes it."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user

from portal import audit
from portal.extensions import db
from portal.roles import AUDIT_ADMINS
from staff_site.access import staff_required

bp = Blueprint("audit", __name__, template_folder="templates")


def audit_change(action: str, target: str, *, before: dict | None = None, after: dict | None = None) -> None:
    """Record the signed-in administrator's change (in their bureau, from this request's address); flushes."""
    audit.record(
        db.session,
        bureau_id=current_user.tenant_id,
        actor=current_user,
        action=action,
        target=target,
        before=before,
        after=after,
        ip=request.remote_addr,
        user_agent=request.headers.get("User-Agent"),
        at=datetime.now(UTC),
    )


def _require_auditor() -> None:
    if not current_user.has_role(*AUDIT_ADMINS):
        abort(403)


@bp.get("/")
@staff_required
def index():
    """The newest entries of this bureau and the bureaus below it (the request's scope)."""
    _require_auditor()
    action = (request.args.get("action") or "").strip()[:60] or None
    return render_template("audit/index.html", entries=audit.list_entries(db.session, action=action), action=action)


@bp.get("/export.csv")
@staff_required
def export():
    _require_auditor()
    entries = audit.list_entries(db.session, limit=100_000)
    body = "\ufeff" + audit.export_csv(entries)  # a BOM, so that spreadsheet programs read the Chinese correctly
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": "attachment; filename=audit-log.csv"},
    )
