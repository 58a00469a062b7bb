"""A leader's own out-of-office periods and stand-ins at ``/staff/absences`` (§四.4: "the stand-in the absent leader
declared").

Thin handlers over ``portal.accounts.absences``, the same rules and audit entries as the administrator's page: a
leader declares for themself only (the form has no "who" field), names leaders of their own bureau, and ends or
cancels only their own declarations (anyone else's answers 404).
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts import absences
from portal.cases.queries import local_today
from portal.extensions import db
from portal.web import localized_error
from staff_site.access import staff_required
from staff_site.admin_forms import AbsenceDeclarationForm, ActionForm
from staff_site.audit import audit_change
from staff_site.views import bp

MAX_ID = 2**63 - 1


def _leader():
    user = current_user._get_current_object()
    if not absences.is_leader(user):
        abort(403)
    return user


@bp.route("/absences", methods=["GET", "POST"])
@staff_required
def absences_page():
    """The leader's own periods away (declare, end, cancel) and those in which others declared them stand-in."""
    user, today = _leader(), local_today()
    leaders = absences.list_leaders(db.session, user.tenant_id)
    form = AbsenceDeclarationForm()
    form.prepare([u for u in leaders if u.id != user.id])
    if form.validate_on_submit():
        powers = form.stand_in_powers.data or ()
        try:
            absence = absences.declare_absence(
                db.session,
                user,
                today=today,
                starts_on=form.starts_on.data,
                ends_on=form.ends_on.data,
                stand_in_id=form.stand_in_id.data,
                stand_in_slip="slip" in powers,
                stand_in_signing="signing" in powers,
                note=form.note.data,
            )
        except absences.AbsenceError as exc:
            db.session.rollback()
            field = getattr(form, exc.field, None) if exc.field else None
            if field is not None:
                field.errors = [*field.errors, localized_error(exc)]
            else:
                form.form_errors.append(localized_error(exc))
        else:
            after = absences.describe(db.session, absence)
            audit_change("absence_recorded", after["leader"], after=after)
            db.session.commit()
            flash(_("Your absence is declared."))
            return redirect(url_for("staff.absences_page"))
    return (
        render_template(
            "staff/absences.html",
            form=form,
            rows=absences.list_own_absences(db.session, user),
            standing_in=absences.list_standing_in(db.session, user, today),
            names={u.id: u.display_name for u in leaders},
            today=today,
            action_form=ActionForm(),
        ),
        400 if form.is_submitted() else 200,
    )


@bp.post("/absences/<int:absence_id>/end")
@staff_required
def absence_end(absence_id: int):
    """End a current period before today (the leader is back), or cancel one that has not begun."""
    user = current_user._get_current_object()
    absence = absences.get_own_absence(db.session, user, absence_id) if 0 < absence_id <= MAX_ID else None
    if absence is None:
        abort(404)
    _leader()
    if not ActionForm().validate_on_submit():
        abort(400)
    before = absences.describe(db.session, absence)
    try:
        outcome = absences.end_absence(db.session, absence, local_today())
    except absences.AbsenceError as exc:
        db.session.rollback()
        flash(localized_error(exc))
        return redirect(url_for("staff.absences_page"))
    if outcome == "cancelled":
        audit_change("absence_cancelled", before["leader"], before=before)
        flash(_("The declaration is cancelled."))
    else:
        audit_change("absence_ended", before["leader"], before=before, after=absences.describe(db.session, absence))
        flash(_("The absence is ended: you are back from today."))
    db.session.commit()
    return redirect(url_for("staff.absences_page"))
