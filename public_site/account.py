"""Petitioner accounts (optional): register, sign in and out, "my applications", claim a case with its code."""

from __future__ import annotations

import logging

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import login_user, logout_user
from sqlalchemy import select

from portal.cases.models import Case
from portal.extensions import Configured, db, limiter, login_limit
from portal.petitioners.accounts import (
    SESSION_VERSION,
    AccountProblem,
    SignInResult,
    authenticate_petitioner,
    end_petitioner_sessions,
    list_linked,
    register_petitioner,
    sign_in_name,
)
from portal.petitioners.operations import claim_case
from portal.petitioners.tracking import find_by_code
from portal.web import safe_next
from portal.workflow import KIND_LABELS, STATE_PUBLIC
from public_site.api.applications import track_limit, track_number_limit
from public_site.apply import discard_draft
from public_site.common import current_petitioner, grant, pii, stamps
from public_site.views import bp
from tenants.models import Bureau
from tenants.scoping import TenantScope, scoped

log = logging.getLogger(__name__)


@bp.route("/account/register", methods=["GET", "POST"])
@limiter.limit(Configured("RATELIMIT_REGISTER"), methods=["POST"])
def register():
    if current_petitioner():
        return redirect(url_for("public.my_applications"))
    errors: dict[str, AccountProblem] = {}
    login = request.form.get("login", "")[:300]
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("password_again", ""):
            errors["password_again"] = AccountProblem(
                "password_again", "两次输入的密码不一致。", "The two passwords are not the same."
            )
        else:
            try:
                account = register_petitioner(db.session, pii(), login, password)
                db.session.commit()
            except AccountProblem as exc:
                db.session.rollback()
                errors[exc.field] = exc
            else:
                _sign_in(account)
                flash(_("Your account is ready. Applications you submit while signed in appear here."))
                return redirect(url_for("public.my_applications"))
    status = 422 if errors else 200
    return render_template("public/account/register.html", login=login, errors=errors), status


@bp.route("/account/login", methods=["GET", "POST"])
@login_limit
def sign_in():
    if current_petitioner():
        return redirect(url_for("public.my_applications"))
    login = request.form.get("login", "")[:300]
    error = None
    if request.method == "POST":
        settings = current_app.config["PORTAL_SETTINGS"]
        outcome = authenticate_petitioner(
            db.session,
            pii(),
            login,
            request.form.get("password", ""),
            max_failures=settings.login_max_failures,
            lock_minutes=settings.login_lock_minutes,
        )
        db.session.commit()
        if outcome.result is SignInResult.ok:
            _sign_in(outcome.account)
            return redirect(safe_next(request.args.get("next")) or url_for("public.my_applications"))
        if outcome.result is SignInResult.locked:
            error = _(
                "Too many failed attempts: this account is locked until %(time)s.",
                time=format_datetime(outcome.locked_until, "short"),
            )
        else:
            error = _("Wrong mobile number, email or password.")
        return render_template("public/account/login.html", login=login, error=error), 401
    return render_template("public/account/login.html", login=login, error=error)


def _sign_in(account) -> None:
    session[SESSION_VERSION] = account.session_version or 0
    login_user(account)


@bp.post("/account/logout")
def sign_out():
    if account := current_petitioner():
        end_petitioner_sessions(db.session, account)
        discard_draft()  # the application in progress goes with the session
        db.session.commit()
        session.pop(SESSION_VERSION, None)
        logout_user()
        from portal.identity.web import forget_citizen

        forget_citizen()  # the verified identity ends with the session
        flash(_("You have signed out."))
    return redirect(url_for("public.home"))


def _cases_page(account, *, number: str = "", error: str | None = None, status: int = 200):
    rows = []
    for ref in list_linked(db.session, account.id):
        with scoped(db.session, TenantScope.single(ref.tenant_id)):
            case = db.session.scalar(select(Case).where(Case.id == ref.case_id))
            bureau = db.session.get(Bureau, ref.tenant_id)
        if case is not None:
            rows.append(
                {"case": case, "bureau": bureau, "state": STATE_PUBLIC[case.state], "kind": KIND_LABELS[case.kind]}
            )
    who = sign_in_name(pii(), account)
    return render_template("public/account/cases.html", rows=rows, who=who, number=number, error=error), status


@bp.get("/account")
def my_applications():
    account = current_petitioner()
    if account is None:
        return redirect(url_for("public.sign_in", next=url_for("public.my_applications")))
    return _cases_page(account)


@bp.post("/account/claim")
@track_limit
@track_number_limit
def claim():
    """Add a case to "my applications" by proving its number and access code."""
    account = current_petitioner()
    if account is None:
        return redirect(url_for("public.sign_in"))
    number = request.form.get("number", "")[:40]
    ref = find_by_code(stamps(), pii(), number, request.form.get("code", ""))
    if ref is None:
        error = _("No application matches this number and access code. Check both and try again.")
        return _cases_page(account, number=number, error=error, status=404)
    claim_case(db.session, account.id, ref)
    db.session.commit()
    grant(ref.number)
    flash(_("Application %(number)s is now in your list.", number=ref.number))
    return redirect(url_for("public.my_applications"))
