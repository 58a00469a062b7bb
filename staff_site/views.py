"""Staff sign-in, sign-out and the staff home page."""

from __future__ import annotations

import logging

from flask import Blueprint, current_app, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user

from portal.accounts.models import StaffUser
from portal.accounts.operations import LoginResult, authenticate
from portal.extensions import db, login_limit
from portal.identity.web import login_throttle, sign_out_staff, staff_password_signed_in
from portal.roles import ROLE_LABELS
from portal.web import safe_next
from staff_site.access import staff_required
from staff_site.forms import LoginForm
from tenants.models import Bureau, Unit
from tenants.scoping import load_scoped

bp = Blueprint("staff", __name__, template_folder="templates")
log = logging.getLogger(__name__)


@bp.get("/keep-alive")
@staff_required
def keep_alive():
    """Count as activity (the session registry saw this request): the idle warning's "stay signed in" (site.js)."""
    return "", 204


@bp.app_context_processor
def _idle_seconds() -> dict:
    """How long a staff page may sit idle before the session ends, for the warning that comes before it."""
    settings = current_app.config["PORTAL_SETTINGS"]
    return {"staff_idle_seconds": settings.session_idle_minutes * 60}


@bp.app_context_processor
def _staff_signed_in() -> dict:
    """The staff header and idle warning are for staff only: a signed-in petitioner is not signed in as staff."""

    def signed_in() -> bool:
        return isinstance(current_user._get_current_object(), StaffUser)

    return {"staff_signed_in": signed_in}


@bp.route("/login", methods=["GET", "POST"])
@login_limit
def login():
    form = LoginForm()
    if form.validate_on_submit():
        settings = current_app.config["PORTAL_SETTINGS"]
        outcome = authenticate(
            db.session,
            form.username.data,
            form.password.data,
            max_failures=settings.login_max_failures,
            lock_minutes=settings.login_lock_minutes,
            throttle=login_throttle(),
            source=request.remote_addr,
        )
        db.session.commit()
        log.info("staff login", extra={"username": form.username.data, "result": str(outcome.result)})
        next_url = safe_next(request.args.get("next")) or url_for("staff.home")
        if (signed_in := staff_password_signed_in(form.username.data, outcome, next_url)) is not None:
            return signed_in  # portal.identity: second factor when needed, session registry, sign-in log
        if outcome.result == LoginResult.locked:
            form.form_errors.append(
                _(
                    "Too many failed attempts: please wait and try again after %(time)s.",
                    time=format_datetime(outcome.locked_until, "HH:mm:ss"),
                )
            )
        else:
            form.form_errors.append(_("Wrong username or password."))
        return render_template("staff/login.html", form=form), 401
    return render_template("staff/login.html", form=form)


@bp.post("/logout")
def logout():
    return sign_out_staff()  # ends the registered session, and the provider's one after a provider sign-in


@bp.get("/")
@staff_required
def home():
    unit = load_scoped(db.session, Unit, current_user.unit_id) if current_user.unit_id else None
    bureau = db.session.get(Bureau, current_user.tenant_id)
    roles = [ROLE_LABELS[r] for r in current_user.roles]
    return render_template("staff/home.html", bureau=bureau, unit=unit, roles=roles)


# The other pages of the staff site register on the same blueprint.
from staff_site import absences, cases, intake, materials, meetings  # noqa: E402,F401
