"""The staff's identity pages on the ``identity`` blueprint (``portal.identity.blueprint``): provider sign-in, the
second factor, my sessions, my password, the sign-in administration.

``/staff/sso/*`` (provider sign-in), ``/staff/2fa*`` (second factor), ``/staff/sessions*`` (my sessions, sign out
everywhere), ``/staff/password``, ``/staff/identity-admin`` (effective configuration, the bureau's policy, the
sign-in log). The citizens' provider sign-in is ``public_site.identity``.
"""

from __future__ import annotations

import segno
from flask import abort, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from portal.accounts import tokens
from portal.accounts.models import StaffUser
from portal.accounts.operations import AccountError, change_own_password
from portal.extensions import db, login_limit
from portal.identity import oidc, web
from portal.identity import operations as ops
from portal.identity.blueprint import bp
from portal.identity.claims import (
    IdentityRefused,
    provider_asserted_mfa,
    read_staff_claims,
    second_factor_required,
)
from portal.identity.models import StaffTotp
from portal.identity.totp import provisioning_uri
from portal.identity.useragent import describe_user_agent
from portal.roles import SECURITY_ADMINS, Role
from portal.web import localized_error, safe_next
from staff_site.access import administered_user, security_admin_required, staff_required
from staff_site.audit import audit_change
from staff_site.identity_forms import CodeForm, EndSessionsForm, PasswordChangeForm, PolicyForm
from tenants.models import Bureau


@bp.context_processor
def _helpers() -> dict:
    return {"describe_user_agent": describe_user_agent}


ADMINS = (Role.bureau_admin, Role.province_admin)


# --- Staff: provider sign-in ------------------------------------------------------------------------------------


@bp.get("/staff/sso/login")
def staff_sso_login():
    back_to = safe_next(request.args.get("next")) or url_for("staff.home")
    return web.start_provider_sign_in("staff", back_to, url_for(".staff_sso_callback", _external=True))


@bp.get("/staff/sso/callback")
def staff_sso_callback():
    client = web.provider_client("staff")
    provider = web.state().settings.oidc_staff
    try:
        claims, id_token = oidc.finish(client)
    except oidc.ProviderFailed as exc:
        return web.provider_failed("staff", exc)
    try:
        staff_claims = read_staff_claims(claims, provider)
        user = ops.resolve_staff_identity(db.session, staff_claims, provider, now=web.now())
    except IdentityRefused as exc:
        db.session.rollback()
        common = {"method": "sso", "outcome": exc.reason, "at": web.now(), "client": web.client_info()}
        identifier = f"{provider.issuer} {claims.get('sub')}"
        if exc.bureau_id is not None:
            ops.record_staff_event(db.session, bureau_id=exc.bureau_id, username=identifier[-64:], **common)
        else:
            bureau_hint = str(claims.get(provider.claim("bureau") or "", "") or "")
            ops.record_attempt(db.session, realm="staff", identifier=identifier, bureau_hint=bureau_hint, **common)
        db.session.commit()
        return web.refused("staff", exc.reason, localized_error(exc), 403)
    mfa = provider_asserted_mfa(staff_claims.amr, staff_claims.acr, provider.mfa_acr)
    next_url = session.pop(web.NEXT, None) or url_for("staff.home")
    return web.begin_staff_sign_in(user, method="sso", next_url=next_url, id_token=id_token, provider_mfa=mfa)


# --- Staff: the second factor -----------------------------------------------------------------------------------


def _pending_or_restart():
    pending = web.pending_sign_in()
    if pending is None:
        flash(_("Your sign-in has expired. Please sign in again."))
    return pending


@bp.route("/staff/2fa/verify", methods=["GET", "POST"])
@login_limit
def verify():
    """The second step of a sign-in: an authenticator code or a recovery code."""
    pending = _pending_or_restart()
    if pending is None:
        return redirect(url_for("staff.login"))
    if not ops.has_second_factor(db.session, pending.user):
        return redirect(url_for(".setup"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            used = ops.verify_second_factor(db.session, web.pii(), pending.user, form.code.data, now=web.now())
        except ops.SecondFactorDelayed as exc:
            db.session.rollback()
            form.code.errors.append(localized_error(exc))
            return render_template("identity/verify.html", form=form), 429
        except ops.IdentityProblem as exc:
            db.session.rollback()
            web.count_second_factor_failure(pending.user_id, pending.tenant_id)
            if not web.second_factor_failed(pending, "second_factor_failed"):
                flash(_("Too many wrong codes. Please sign in again."))
                return redirect(url_for("staff.login"))
            form.code.errors.append(localized_error(exc))
            return render_template("identity/verify.html", form=form), 401
        web.finish_staff_sign_in(pending.user, method=pending.method, second_factor=used, id_token=pending.id_token)
        if used == "recovery":
            remaining = ops.remaining_recovery_codes(db.session, pending.user)
            flash(_("You signed in with a recovery code; %(n)d remain. Make new ones if few are left.", n=remaining))
        return redirect(pending.next_url)
    return render_template("identity/verify.html", form=form)


def _setup_user():
    """Who sets up an authenticator here: a sign-in that requires one, or the signed-in staff member."""
    pending = web.pending_sign_in()
    if pending is not None:
        return pending.user, pending
    if current_user.is_authenticated and isinstance(current_user._get_current_object(), StaffUser):
        return current_user._get_current_object(), None
    return None, None


@bp.route("/staff/2fa/setup", methods=["GET", "POST"])
@login_limit
def setup():
    """Set up an authenticator app: scan the code, confirm with the first code, keep the recovery codes."""
    user, pending = _setup_user()
    if user is None:
        flash(_("Please sign in first."))
        return redirect(url_for("staff.login"))
    if ops.has_second_factor(db.session, user):
        return redirect(url_for(".verify" if pending else ".security"))
    secret = ops.pending_secret(db.session, web.pii(), user)
    if secret is None:
        secret = ops.start_enrolment(db.session, web.pii(), user)
        db.session.commit()
    uri = provisioning_uri(secret, user.username, _("Petition review portal"))
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = ops.confirm_enrolment(db.session, web.pii(), user, form.code.data, now=web.now())
        except ops.IdentityProblem as exc:
            db.session.rollback()
            if pending is not None and not web.second_factor_failed(pending, "second_factor_failed"):
                flash(_("Too many wrong codes. Please sign in again."))
                return redirect(url_for("staff.login"))
            form.code.errors.append(localized_error(exc))
            status = 422
        else:
            db.session.commit()
            if pending is not None:
                web.finish_staff_sign_in(user, method=pending.method, second_factor="totp", id_token=pending.id_token)
                continue_url = pending.next_url
            else:
                continue_url = url_for(".security")
            return render_template("identity/recovery_codes.html", codes=codes, continue_url=continue_url)
    return render_template("identity/setup.html", form=form, secret=secret, qr=qr, required=pending is not None), status


def _is_required(user: StaffUser) -> bool:
    policy = ops.get_policy(db.session, user.tenant_id)
    return second_factor_required(user.roles, policy, enforce=web.state().settings.staff_2fa == "enforce")


@bp.get("/staff/2fa")
@staff_required
def security():
    """My second factor: whether it is set up and required, how many recovery codes remain."""
    user = current_user._get_current_object()
    return render_template(
        "identity/security.html",
        enrolled=ops.has_second_factor(db.session, user),
        required=_is_required(user),
        remaining=ops.remaining_recovery_codes(db.session, user),
        form=CodeForm(),
    )


@bp.post("/staff/2fa/recovery-codes")
@staff_required
@login_limit
def new_recovery_codes():
    """New recovery codes (the old ones stop working); confirmed with a current authenticator code."""
    user = current_user._get_current_object()
    form = CodeForm()
    if not ops.has_second_factor(db.session, user):
        abort(404)
    if form.validate_on_submit():
        try:
            ops.verify_second_factor(db.session, web.pii(), user, form.code.data, now=web.now())
            codes = ops.replace_recovery_codes(db.session, web.pii(), user)
        except ops.IdentityProblem as exc:
            ids = (user.id, user.tenant_id)
            db.session.rollback()
            if not isinstance(exc, ops.SecondFactorDelayed):
                web.count_second_factor_failure(*ids)
            form.code.errors.append(localized_error(exc))
        else:
            db.session.commit()
            return render_template("identity/recovery_codes.html", codes=codes, continue_url=url_for(".security"))
    return _security_with_errors(user, form)


@bp.post("/staff/2fa/remove")
@staff_required
@login_limit
def remove():
    """Remove my authenticator (only where it is not required), confirmed with a current code."""
    user = current_user._get_current_object()
    form = CodeForm()
    if not ops.has_second_factor(db.session, user):
        abort(404)
    if _is_required(user):
        flash(_("Your role or your bureau requires a second factor: it cannot be removed."))
        return redirect(url_for(".security"))
    if form.validate_on_submit():
        try:
            ops.verify_second_factor(db.session, web.pii(), user, form.code.data, now=web.now())
            ops.remove_own_second_factor(db.session, user)
        except ops.IdentityProblem as exc:
            ids = (user.id, user.tenant_id)
            db.session.rollback()
            if not isinstance(exc, ops.SecondFactorDelayed):
                web.count_second_factor_failure(*ids)
            form.code.errors.append(localized_error(exc))
        else:
            db.session.commit()
            flash(_("Your authenticator was removed."))
            return redirect(url_for(".security"))
    return _security_with_errors(user, form)


def _security_with_errors(user: StaffUser, form: CodeForm):
    page = render_template(
        "identity/security.html",
        enrolled=True,
        required=_is_required(user),
        remaining=ops.remaining_recovery_codes(db.session, user),
        form=form,
    )
    return page, 422


# --- Staff: my sessions -----------------------------------------------------------------------------------------


@bp.get("/staff/sessions")
@staff_required
def sessions():
    """My signed-in browsers, this one marked, with "end" buttons and "sign out everywhere"."""
    user = current_user._get_current_object()
    rows = ops.list_sessions(db.session, user)
    current = ops.find_session(db.session, session.get(web.SID))
    return render_template(
        "identity/sessions.html",
        rows=rows,
        current_id=current.id if current else None,
        form=EndSessionsForm(),
        api_tokens=tokens.list_tokens(db.session, user, now=web.now()),
        now=web.now(),
    )


@bp.post("/staff/sessions/<int:session_id>/end")
@staff_required
def end_session(session_id: int):
    user = current_user._get_current_object()
    current = ops.find_session(db.session, session.get(web.SID))
    if current is not None and current.id == session_id:
        return web.sign_out_staff()
    if ops.end_own_session(db.session, user, session_id, now=web.now()) is None:
        abort(404)
    db.session.commit()
    flash(_("The session was ended."))
    return redirect(url_for(".sessions"))


@bp.post("/staff/sessions/end")
@staff_required
def end_sessions():
    """End my other sessions, or every one including this (sign out everywhere)."""
    user = current_user._get_current_object()
    form = EndSessionsForm()
    if not form.validate_on_submit():
        rows = ops.list_sessions(db.session, user)
        current = ops.find_session(db.session, session.get(web.SID))
        page = render_template(
            "identity/sessions.html",
            rows=rows,
            current_id=current.id if current else None,
            form=form,
            api_tokens=tokens.list_tokens(db.session, user, now=web.now()),
            now=web.now(),
        )
        return page, 422
    if form.which.data == "all":
        return web.sign_out_staff(everywhere=True)
    ended = ops.end_all_sessions(db.session, user, now=web.now(), reason="ended_by_user", keep_key=session.get(web.SID))
    db.session.commit()
    if ended:
        flash(ngettext("%(num)d other session was ended.", "%(num)d other sessions were ended.", ended))
    else:
        flash(_("There was no other session to end."))
    return redirect(url_for(".sessions"))


@bp.post("/staff/sessions/tokens/<int:token_id>/revoke")
@staff_required
def revoke_token(token_id: int):
    """Revoke one of my API tokens."""
    user = current_user._get_current_object()
    if tokens.revoke_own_token(db.session, user, token_id, now=web.now()) is None:
        abort(404)
    db.session.commit()
    flash(_("The API token was revoked."))
    return redirect(url_for(".sessions"))


# --- Staff: my password -----------------------------------------------------------------------------------------


@bp.route("/staff/password", methods=["GET", "POST"])
@staff_required
@login_limit
def password():
    """Change my password (the current one confirms it is me); my other sessions and my API tokens end."""
    user = current_user._get_current_object()
    form = PasswordChangeForm()
    status = 200
    if request.method == "POST":
        status = 422
        if form.validate_on_submit():
            try:
                change_own_password(
                    db.session, user, current=form.current.data, new=form.new.data, keep_key=session.get(web.SID)
                )
            except AccountError as exc:
                db.session.rollback()
                field = form.current if "current password is wrong" in exc.message_en else form.new
                field.errors.append(localized_error(exc))
            else:
                db.session.commit()
                flash(_("Your password was changed. Your other sessions and API tokens have ended."))
                return redirect(url_for("staff.home"))
    return render_template("identity/password.html", form=form, forced=user.must_change_password), status


# --- Staff: administration --------------------------------------------------------------------------------------


def _require_admin() -> StaffUser:
    """The page is the system and security administrators'; changes are the security administrator's alone."""
    user = current_user._get_current_object()
    if not user.has_role(*ADMINS, *SECURITY_ADMINS):
        abort(403)
    return user


@bp.route("/staff/identity-admin", methods=["GET", "POST"])
@staff_required
def admin():
    """The effective identity configuration (read-only), this bureau's second-factor rule, the sign-in log."""
    user = _require_admin()
    form = PolicyForm()
    status = 200
    if request.method == "POST":
        security_admin_required()
        before = ops.get_policy(db.session, user.tenant_id)
        if not form.validate_on_submit():
            status = 422
        else:
            try:
                ops.set_policy(
                    db.session, bureau_id=user.tenant_id, second_factor=form.second_factor.data, by=user, now=web.now()
                )
            except ops.IdentityProblem as exc:
                db.session.rollback()
                form.second_factor.errors.append(localized_error(exc))
                status = 422
            else:
                audit_change(
                    "second_factor_rule_set",
                    "identity-admin",
                    before={"second_factor": before},
                    after={"second_factor": form.second_factor.data},
                )
                db.session.commit()
                flash(_("The second-factor rule of this bureau was saved."))
                return redirect(url_for(".admin"))
    policy = ops.get_policy(db.session, user.tenant_id)
    if request.method == "GET":
        form.second_factor.data = policy
    staff = list(
        db.session.scalars(
            select(StaffUser).where(StaffUser.tenant_id == user.tenant_id).order_by(StaffUser.username).limit(500)
        )
    )
    enrolled = set(
        db.session.scalars(
            select(StaffTotp.user_id).where(StaffTotp.tenant_id == user.tenant_id, StaffTotp.confirmed_at.is_not(None))
        )
    )
    settings = web.state().settings
    enforce = settings.staff_2fa == "enforce"
    return render_template(
        "identity/admin.html",
        settings=settings,
        bureau=db.session.get(Bureau, user.tenant_id),
        form=form,
        policy=policy,
        staff=staff,
        enrolled=enrolled,
        required={u.id for u in staff if second_factor_required(u.roles, policy, enforce=enforce)},
        events=ops.list_staff_events(db.session, user.tenant_id),
        attempts=ops.list_attempts(db.session) if user.has_role(Role.province_admin) else None,
        reset_form=CodeForm(),
    ), status


@bp.post("/staff/identity-admin/users/<int:user_id>/reset-2fa")
@staff_required
def reset_second_factor(user_id: int):
    """Remove a colleague's authenticator and recovery codes (lost phone); they set up a new one at next sign-in."""
    user = administered_user(user_id)  # another bureau's account: not found (the province's sees every bureau)
    admin_user = security_admin_required()  # separation of administrators: not the system administrator's
    reset_second_factor_of(user, admin_user)
    db.session.commit()
    flash(_("The second factor of %(name)s was reset.", name=user.display_name))
    return redirect(url_for(".admin"))


def reset_second_factor_of(user: StaffUser, admin_user: StaffUser) -> None:
    """The security administrator's reset: remove the factor, audit it, and note it in the sign-in log; flushes."""
    before = {"second_factor": ops.has_second_factor(db.session, user)}
    ops.remove_second_factor(db.session, user)
    audit_change("second_factor_reset", user.username, before=before, after={"second_factor": False})
    ops.record_staff_event(
        db.session,
        bureau_id=user.tenant_id,
        user=user,
        method="admin",
        outcome="second_factor_reset",
        at=web.now(),
        client=web.client_info(),
        detail=f"by {admin_user.username}",
    )
