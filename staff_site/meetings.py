"""Coordination meetings (§四.13): the petition office proposes, the leader in charge decides, minutes follow.

Thin handlers over ``portal.cases.meetings``: load (404 outside the user's bureau), validate the form's shape, call
one operation, commit, redirect; a refusal shows its message at the field it concerns and changes nothing.
"""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional

from portal.cases.context import BureauStaff
from portal.cases.meetings import (
    STATUS_LABELS,
    case_numbers_of,
    decide_meeting,
    get_meeting,
    is_office,
    list_meetings,
    may_decide,
    propose_meeting,
    record_minutes,
)
from portal.cases.queries import local_today
from portal.extensions import db
from portal.web import localized_error
from portal.workflow import LONG_TEXT_MAX, SHORT_TEXT_MAX, ActionRefused
from staff_site.access import staff_required
from staff_site.case_forms import REQUIRED, MultiCheckboxField
from staff_site.cases import REFUSAL_STATUS
from staff_site.views import bp


class ProposeMeetingForm(FlaskForm):
    topic = StringField(_l("Topic"), validators=[InputRequired(REQUIRED), Length(max=SHORT_TEXT_MAX)])
    meeting_on = DateField(
        _l("Meeting date"), validators=[InputRequired(_l("Enter a date (YYYY-MM-DD)."))], format="%Y-%m-%d"
    )
    unit_ids = MultiCheckboxField(_l("Units attending"))  # "none chosen" is judged by the operation
    case_numbers = StringField(
        _l("Related cases"),
        validators=[Optional(), Length(max=2000)],
        description=_l("Numbers of this bureau's cases, separated by commas; none for a common problem."),
    )
    reason = TextAreaField(
        _l("Why a meeting"), validators=[Optional(), Length(max=LONG_TEXT_MAX)], render_kw={"rows": 4}
    )


class DecideMeetingForm(FlaskForm):
    decision = RadioField(
        _l("Decision"),
        choices=[("approve", _l("Approve the meeting")), ("decline", _l("Decline the meeting"))],
        validators=[InputRequired(REQUIRED)],
    )
    comment = TextAreaField(
        _l("Comment (required to decline)"),
        validators=[Optional(), Length(max=LONG_TEXT_MAX)],
        render_kw={"rows": 3},
    )


class MinutesForm(FlaskForm):
    minutes = TextAreaField(
        _l("Minutes"), validators=[InputRequired(REQUIRED), Length(max=LONG_TEXT_MAX)], render_kw={"rows": 10}
    )


def _user():
    return current_user._get_current_object()


def _context(meetings):
    user = _user()
    staff = BureauStaff(db.session, user.tenant_id)
    names = {u.id: u.display_name for u in staff.leaders}
    return {
        "units": {u.id: u.name for u in staff.units.values()},
        "people": names,
        "case_numbers": case_numbers_of(db.session, meetings),
        "status_labels": STATUS_LABELS,
        "staff": staff,
    }


def _field_error(form: FlaskForm, exc: ActionRefused) -> str | None:
    """Put the refusal on its field; return it as a page error when no field of the form matches."""
    field = form._fields.get(exc.field) if exc.field else None
    if field is not None and exc.code == "invalid":
        field.errors = [*field.errors, localized_error(exc)]
        return None
    return localized_error(exc)


@bp.get("/meetings")
@staff_required
def meetings():
    """The bureau's coordination meetings, those awaiting a decision first."""
    user = _user()
    rows = list_meetings(db.session, user.tenant_id)
    ctx = _context(rows)
    today = local_today()
    mine = {m.id for m in rows if m.status == "proposed" and may_decide(user, m, ctx["staff"], today)}
    return render_template("staff/meetings.html", meetings=rows, mine=mine, today=today, office=is_office(user), **ctx)


@bp.route("/meetings/new", methods=["GET", "POST"])
@staff_required
def meeting_new():
    """The petition office proposes a meeting; the leader in charge must approve it before it is held."""
    user, today = _user(), local_today()
    if not is_office(user):
        abort(403)
    staff = BureauStaff(db.session, user.tenant_id)
    form = ProposeMeetingForm()
    form.unit_ids.choices = [
        (str(u.id), u.name) for u in sorted(staff.units.values(), key=lambda u: u.id) if str(u.kind) == "division"
    ] + [(str(u.id), u.name) for u in sorted(staff.units.values(), key=lambda u: u.id) if str(u.kind) != "division"]
    status, error = 200, None
    if form.is_submitted():
        if not form.validate():
            status = 422
        else:
            numbers = re.split(r"[\s,，、;；]+", form.case_numbers.data or "")
            try:
                meeting = propose_meeting(
                    db.session,
                    user,
                    topic=form.topic.data,
                    meeting_on=form.meeting_on.data,
                    unit_ids=form.unit_ids.data or [],
                    case_numbers=[n.strip() for n in numbers if n.strip()],
                    reason=form.reason.data,
                    today=today,
                )
                db.session.commit()
            except ActionRefused as exc:
                db.session.rollback()
                status, error = REFUSAL_STATUS.get(exc.code, 422), _field_error(form, exc)
            else:
                flash(_("The meeting is proposed; it waits for the leader's decision."))
                return redirect(url_for("staff.meeting_detail", meeting_id=meeting.id))
    elif not form.meeting_on.data:
        form.meeting_on.data = today
    return render_template("staff/meeting_new.html", form=form, error=error), status


def _detail(meeting, *, decide_form=None, minutes_form=None, error=None, status=200):
    user, today = _user(), local_today()
    ctx = _context([meeting])
    can_decide = meeting.status == "proposed" and may_decide(user, meeting, ctx["staff"], today)
    can_record = meeting.status == "approved" and is_office(user)
    return (
        render_template(
            "staff/meeting.html",
            meeting=meeting,
            decide_form=decide_form or DecideMeetingForm(),
            minutes_form=minutes_form or MinutesForm(),
            can_decide=can_decide,
            can_record=can_record,
            error=error,
            today=today,
            **ctx,
        ),
        status,
    )


def _load(meeting_id: int):
    meeting = get_meeting(db.session, _user().tenant_id, meeting_id)
    if meeting is None:
        abort(404)
    return meeting


@bp.get("/meetings/<int:meeting_id>")
@staff_required
def meeting_detail(meeting_id: int):
    return _detail(_load(meeting_id))


@bp.post("/meetings/<int:meeting_id>/decision")
@staff_required
def meeting_decide(meeting_id: int):
    """The leader in charge (or their stand-in, or the principal leader) approves or declines the meeting."""
    meeting = _load(meeting_id)
    form = DecideMeetingForm()
    if not form.validate():
        return _detail(meeting, decide_form=form, status=422)
    try:
        decide_meeting(
            db.session,
            _user(),
            meeting_id,
            approve=form.decision.data == "approve",
            comment=form.comment.data,
            today=local_today(),
        )
        db.session.commit()
    except LookupError:
        db.session.rollback()
        abort(404)
    except ActionRefused as exc:
        db.session.rollback()
        error = _field_error(form, exc)
        return _detail(_load(meeting_id), decide_form=form, error=error, status=REFUSAL_STATUS.get(exc.code, 422))
    flash(_("Decision recorded."))
    return redirect(url_for("staff.meeting_detail", meeting_id=meeting_id))


@bp.post("/meetings/<int:meeting_id>/minutes")
@staff_required
def meeting_minutes(meeting_id: int):
    """The petition office records the minutes of an approved meeting once it has been held."""
    meeting = _load(meeting_id)
    form = MinutesForm()
    if not form.validate():
        return _detail(meeting, minutes_form=form, status=422)
    try:
        record_minutes(db.session, _user(), meeting_id, minutes=form.minutes.data, today=local_today())
        db.session.commit()
    except LookupError:
        db.session.rollback()
        abort(404)
    except ActionRefused as exc:
        db.session.rollback()
        error = _field_error(form, exc)
        return _detail(_load(meeting_id), minutes_form=form, error=error, status=REFUSAL_STATUS.get(exc.code, 422))
    flash(_("Minutes recorded."))
    return redirect(url_for("staff.meeting_detail", meeting_id=meeting_id))
