"""Requests for materials from the bureau above, as the addressed (lower) bureau sees and answers them.

The addressee does not read the requesting bureau's case: it sees the request (number, content, due date) and
answers with text and files. ``perform_action`` lets it reach the case for ``provide_materials`` only.
"""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.cases.actions import take_action
from portal.cases.operations import CaseConflict, CaseNotFound
from portal.cases.queries import get_addressed_request, local_today
from portal.extensions import db
from portal.web import localized_error
from portal.workflow import ActionRefused, CaseAction
from staff_site.access import staff_required
from staff_site.case_forms import AnswerRequestForm
from staff_site.cases import REFUSAL_STATUS, incoming_files
from staff_site.views import bp


@bp.route("/requests/<int:request_id>", methods=["GET", "POST"])
@staff_required
def material_request(request_id: int):
    user, today = current_user._get_current_object(), local_today()
    item = get_addressed_request(db.session, user.tenant_id, request_id, today)
    if item is None:
        abort(404)
    form = AnswerRequestForm()
    status, error = 200, None
    if form.is_submitted():
        if item.request.answered_at is not None:
            status, error = 409, _("This request has already been answered.")
        elif not form.validate():
            status = 422
        else:
            try:
                take_action(
                    db.session,
                    current_app.extensions["portal.pii"],
                    current_app.extensions["portal.storage"],
                    item.case_id,
                    CaseAction.provide_materials,
                    user,
                    {"request_id": request_id, "content": (form.content.data or "").strip() or None},
                    files=incoming_files([form.files]),
                    today=today,
                )
                db.session.commit()
            except CaseNotFound:
                db.session.rollback()
                abort(404)
            except (CaseConflict, ActionRefused) as exc:
                db.session.rollback()
                status = 409 if isinstance(exc, CaseConflict) else REFUSAL_STATUS.get(exc.code, 422)
                field = getattr(exc, "field", None)
                if field in ("content", "files") and status == 422:
                    getattr(form, field).errors = [*getattr(form, field).errors, localized_error(exc)]
                else:
                    error = localized_error(exc)
            else:
                flash(_("Your answer has been sent to %(bureau)s.", bureau=item.from_bureau_name))
                return redirect(url_for("staff.queue"))
            item = get_addressed_request(db.session, user.tenant_id, request_id, today) or item
    return render_template("staff/request.html", item=item, form=form, error=error), status
