"""The request side of identity: the session hook, the sign-in steps, and what other blueprints call.

Other code calls exactly these:

- ``enforce_session`` (``portal.web`` registers it before the tenant scope is set): ends staff sessions that are
  unknown, signed out elsewhere, idle or past their absolute limit; refuses password sign-in when it is off; lets
  a citizen's verified identity expire.
- ``staff_password_signed_in(username, outcome, next_url)`` (the staff login view, right after ``authenticate``):
  records the attempt; on success goes on to the second factor or signs in.
- ``sign_out_staff()`` (the staff logout view): ends this session, and the provider's when it has one.
- ``verified_identity()`` (the public site): the citizen's real-name data from the provider, or None.
- ``provider_client(realm)``, ``provider_failed(realm, exc)``, ``refused(...)`` (the provider sign-in pages of
  both sites, ``staff_site.identity`` and ``public_site.identity``): the provider's client or 404, and the
  refusal page.

The clock is injectable: ``app.extensions["portal.identity"].clock`` returns the current UTC time.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from portal.accounts.models import StaffUser
from portal.accounts.operations import LoginOutcome, LoginResult, load_user
from portal.extensions import db
from portal.identity import oidc
from portal.identity import operations as ops
from portal.identity.claims import VerifiedIdentity, second_factor_required
from portal.identity.settings import ProviderSettings

log = logging.getLogger(__name__)

SID = "identity.sid"  # the staff session's secret key (the registry stores its hash)
PENDING = "identity.pending"  # a staff sign-in waiting for its second factor
NEXT = "identity.next"  # where to go after a provider sign-in
CITIZEN = "identity.citizen"  # a citizen's verified identity, encrypted
CITIZEN_SEEN = "identity.citizen_seen"

PENDING_SECONDS = 10 * 60
MAX_SECOND_FACTOR_FAILURES = 5


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class IdentityState:
    """Per-app identity state: the configuration, the provider clients and the (replaceable) clock."""

    settings: object
    staff: object | None = None  # Authlib client of the staff provider
    citizen: object | None = None  # Authlib client of the citizens' provider
    clock: Callable[[], datetime] = field(default=_utcnow)

    def provider(self, realm: str) -> ProviderSettings | None:
        return self.settings.oidc_staff if realm == "staff" else self.settings.oidc_citizen


def state() -> IdentityState:
    return current_app.extensions["portal.identity"]


def now() -> datetime:
    return state().clock()


def client_info() -> ops.Client:
    return ops.Client.of(request.remote_addr, request.headers.get("User-Agent"))


def login_throttle():
    """The throttle of failed password sign-ins (``portal.accounts.throttle``), shared by the web and the API."""
    from portal.accounts.throttle import LoginThrottle

    settings = _settings()
    return LoginThrottle(
        current_app.extensions["portal.redis"],
        max_failures=settings.login_max_failures,
        lock_minutes=settings.login_lock_minutes,
    )


def pii():
    return current_app.extensions["portal.pii"]


def _settings():
    return current_app.config["PORTAL_SETTINGS"]


def _seal(data: dict) -> str:
    """Encrypt ``data`` for the (signed, not encrypted) session cookie."""
    return base64.urlsafe_b64encode(pii().encrypt(json.dumps(data, ensure_ascii=False))).decode()


def _unseal(value: str | None) -> dict | None:
    if not value:
        return None
    try:
        return json.loads(pii().decrypt(base64.urlsafe_b64decode(value.encode())))
    except Exception:  # a cookie from another key or a tampered one: as if there were none
        return None


# --- Provider sign-in, for the pages of both sites ------------------------------------------------------------


def refused(realm: str, reason: str, message: str | None, status: int):
    """The page of a sign-in that cannot go on (``reason``: an outcome of the sign-in log)."""
    return render_template("identity/refused.html", realm=realm, reason=reason, message=message), status


def provider_client(realm: str):
    """The Authlib client of the ``realm``'s provider; 404 when none is configured."""
    client = getattr(state(), realm)
    if client is None:
        abort(404)
    return client


def start_provider_sign_in(realm: str, back_to: str, callback_url: str):
    """Send the browser to the ``realm``'s provider (404 when none is configured); the callback goes on to
    ``back_to``."""
    client = provider_client(realm)
    session[NEXT] = back_to
    try:
        return oidc.start(client, callback_url)
    except oidc.ProviderFailed as exc:
        return provider_failed(realm, exc)


def provider_failed(realm: str, exc: oidc.ProviderFailed):
    """The provider did not complete the sign-in: log the attempt, say so (503 when it cannot be reached)."""
    ops.record_attempt(
        db.session,
        realm=realm,
        method="sso",
        outcome=exc.kind,
        at=now(),
        client=client_info(),
        detail=exc.detail,
    )
    db.session.commit()
    status = {"provider_unavailable": 503, "cancelled": 200}.get(exc.kind, 400)
    return refused(realm, exc.kind, None, status)


# --- The hook --------------------------------------------------------------------------------------------------


def enforce_session():
    """Run before every request, before the tenant scope is set (``portal.web.init_app``)."""
    if request.endpoint == "static":
        return None
    at = now()
    settings = _settings()
    kind, _sep, raw_id = (session.get("_user_id") or "").partition(":")
    if kind == "staff":
        result = ops.check_session(
            db.session,
            session.get(SID),
            int(raw_id) if raw_id.isdigit() else -1,
            now=at,
            idle=timedelta(minutes=settings.session_idle_minutes),
            absolute=timedelta(hours=settings.session_max_hours),
        )
        if result.changed:
            db.session.commit()
        if not result.ok:
            _forget_staff_login()
            if result.reason in ("idle", "absolute"):
                flash(_("Your session has expired. Please sign in again."))
            elif result.reason == "ended":
                flash(_("This session was ended. Please sign in again."))
    if request.endpoint == "staff.login" and request.method == "POST" and not _password_allowed():
        return _password_refused(at)
    _expire_citizen(at)
    return None


def _forget_staff_login() -> None:
    logout_user()
    session.pop(SID, None)
    g.pop("_login_user", None)


def _password_allowed(username: str | None = None) -> bool:
    settings = _settings()
    if settings.staff_password_login:
        return True
    name = (username if username is not None else request.form.get("username", "")).strip()
    return name in settings.staff_password_login_except


def _password_refused(at: datetime):
    username = request.form.get("username", "")[:64]
    ops.record_attempt(
        db.session,
        realm="staff",
        method="password",
        outcome="password_disabled",
        at=at,
        client=client_info(),
        identifier=username,
    )
    db.session.commit()
    return refused("staff", "password_disabled", None, 403)


def login_options() -> dict:
    """What the staff login page offers (template global)."""
    st = state()
    return {
        "sso": st.staff is not None,
        "password": _settings().staff_password_login,
        "bootstrap_only": not _settings().staff_password_login,
    }


# --- Staff sign-in ---------------------------------------------------------------------------------------------


def staff_password_signed_in(username: str, outcome: LoginOutcome, next_url: str):
    """Record a password sign-in attempt; on success return the response that continues it, else None.

    Called by the staff login view right after ``authenticate`` (which already committed its counters).
    """
    at = now()
    if outcome.result == LoginResult.ok:
        return begin_staff_sign_in(outcome.user, method="password", next_url=next_url)
    typed = (username or "").strip()[:64]
    from sqlalchemy import select

    from tenants.scoping import system_scope

    with system_scope(db.session):
        owner = db.session.execute(select(StaffUser.id, StaffUser.tenant_id).where(StaffUser.username == typed)).first()
    if owner is None:
        ops.record_attempt(
            db.session,
            realm="staff",
            method="password",
            outcome=str(outcome.result),
            at=at,
            client=client_info(),
            identifier=typed,
        )
    else:
        ops.record_staff_event(
            db.session,
            bureau_id=owner.tenant_id,
            method="password",
            outcome=str(outcome.result),
            at=at,
            client=client_info(),
            username=typed,
            detail=None,
        )
    db.session.commit()
    return None


def begin_staff_sign_in(
    user: StaffUser,
    *,
    method: str,
    next_url: str,
    id_token: str | None = None,
    provider_mfa: bool = False,
):
    """After the first factor: sign in, or ask for the second factor (set it up first when it is required)."""
    ops.end_session_by_key(db.session, session.get(SID), reason="signed_out", now=now())
    _forget_staff_login()
    session.pop(PENDING, None)
    if provider_mfa:
        finish_staff_sign_in(user, method=method, second_factor="provider", id_token=id_token)
        return redirect(next_url)
    enrolled = ops.has_second_factor(db.session, user)
    policy = ops.get_policy(db.session, user.tenant_id)
    required = second_factor_required(user.roles, policy, enforce=_settings().staff_2fa == "enforce")
    if not (enrolled or required):
        finish_staff_sign_in(user, method=method, second_factor=None, id_token=id_token)
        return redirect(next_url)
    session[PENDING] = {
        "user_id": user.id,
        "tenant_id": user.tenant_id,
        "method": method,
        "next": next_url,
        "at": int(time.time()),
        "failures": 0,
        "id_token": _seal({"t": id_token}) if id_token else None,
    }
    ops.record_staff_event(
        db.session,
        bureau_id=user.tenant_id,
        user=user,
        method=method,
        outcome="second_factor_needed",
        at=now(),
        client=client_info(),
    )
    db.session.commit()
    return redirect(url_for("identity.verify" if enrolled else "identity.setup"))


def finish_staff_sign_in(
    user: StaffUser, *, method: str, second_factor: str | None, id_token: str | None = None
) -> None:
    """Sign the user in: the Flask-Login session, a registry row, the log; commits."""
    session.pop(PENDING, None)
    login_user(user)
    key = ops.open_session(
        db.session,
        pii(),
        user,
        method=method,
        second_factor=second_factor,
        client=client_info(),
        now=now(),
        id_token=id_token,
    )
    session[SID] = key
    ops.record_staff_event(
        db.session,
        bureau_id=user.tenant_id,
        user=user,
        method=method,
        outcome="ok",
        second_factor=second_factor,
        at=now(),
        client=client_info(),
    )
    db.session.commit()


@dataclass(frozen=True)
class Pending:
    user: StaffUser
    method: str
    next_url: str
    id_token: str | None
    failures: int
    # Plain copies: still readable after a rollback has expired ``user`` (it cannot reload without a scope).
    user_id: int
    tenant_id: int
    username: str


def pending_sign_in() -> Pending | None:
    """The staff sign-in waiting for its second factor in this browser, or None (none, expired, account gone)."""
    data = session.get(PENDING)
    if not isinstance(data, dict):
        return None
    if int(time.time()) - int(data.get("at", 0)) > PENDING_SECONDS:
        session.pop(PENDING, None)
        return None
    user = load_user(db.session, int(data.get("user_id", -1)))
    if user is None or user.tenant_id != data.get("tenant_id"):
        session.pop(PENDING, None)
        return None
    token = (_unseal(data.get("id_token")) or {}).get("t")
    return Pending(
        user=user,
        method=data.get("method", "password"),
        next_url=data.get("next") or url_for("staff.home"),
        id_token=token,
        failures=int(data.get("failures", 0)),
        user_id=user.id,
        tenant_id=user.tenant_id,
        username=user.username,
    )


def count_second_factor_failure(user_id: int, tenant_id: int) -> None:
    """Count a wrong code against the account (``operations.count_second_factor_failure``); commits."""
    ops.count_second_factor_failure(db.session, user_id=user_id, tenant_id=tenant_id, now=now())
    db.session.commit()


def second_factor_failed(pending: Pending, outcome: str) -> bool:
    """Record a wrong code; after too many, drop the pending sign-in. Return whether it may be tried again."""
    failures = pending.failures + 1
    ops.record_staff_event(
        db.session,
        bureau_id=pending.tenant_id,
        user_id=pending.user_id,
        username=pending.username,
        method=pending.method,
        outcome=outcome,
        at=now(),
        client=client_info(),
    )
    db.session.commit()
    if failures >= MAX_SECOND_FACTOR_FAILURES:
        session.pop(PENDING, None)
        return False
    data = dict(session[PENDING])
    data["failures"] = failures
    session[PENDING] = data
    return True


# --- Staff sign-out ---------------------------------------------------------------------------------------------


def sign_out_staff(*, everywhere: bool = False):
    """End this browser's staff session (or all of the user's), and the provider's session when it can be."""
    from flask_login import current_user

    at = now()
    key = session.get(SID)
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if everywhere and isinstance(user, StaffUser):
        ops.end_all_sessions(db.session, user, now=at, reason="everywhere", keep_key=key)
    row = ops.end_session_by_key(db.session, key, reason="everywhere" if everywhere else "signed_out", now=at)
    id_token = ops.session_id_token(pii(), row)
    db.session.commit()
    _forget_staff_login()
    flash(_("You have signed out everywhere.") if everywhere else _("You have signed out."))
    target = url_for("staff.login")
    if row is not None and row.method == "sso":
        target = provider_logout_url("staff", id_token, url_for("staff.login", _external=True)) or target
    return redirect(target)


def provider_logout_url(realm: str, id_token: str | None, back: str) -> str | None:
    """The provider's end-session URL (RP-initiated logout), or None when it has none or cannot be reached."""
    client = getattr(state(), realm)
    if client is None:
        return None
    try:
        if not client.load_server_metadata().get("end_session_endpoint"):
            return None
        return client.create_logout_url(post_logout_redirect_uri=back, id_token_hint=id_token)["url"]
    except Exception:  # the provider is down: sign out here at least
        log.warning("provider end-session URL unavailable", extra={"realm": realm}, exc_info=True)
        return None


# --- Citizens ---------------------------------------------------------------------------------------------------


def remember_citizen(identity: VerifiedIdentity, id_token: str | None) -> None:
    session[CITIZEN] = _seal({"identity": identity.as_dict(), "id_token": id_token})
    session[CITIZEN_SEEN] = int(now().timestamp())


def forget_citizen() -> str | None:
    """Drop the verified identity; return its ID token (for the provider's sign-out)."""
    data = _unseal(session.pop(CITIZEN, None)) or {}
    session.pop(CITIZEN_SEEN, None)
    return data.get("id_token")


def _expire_citizen(at: datetime) -> None:
    if CITIZEN not in session:
        return
    settings = _settings()
    data = _unseal(session.get(CITIZEN)) or {}
    started = int((data.get("identity") or {}).get("verified_at", 0))
    seen = int(session.get(CITIZEN_SEEN, 0))
    ts = int(at.timestamp())
    if ts - started >= settings.session_max_hours * 3600 or ts - seen >= settings.session_idle_minutes * 60:
        forget_citizen()
        flash(_("Your identity verification has expired. Please verify again if you need it."))
    elif ts - seen >= 60:
        session[CITIZEN_SEEN] = ts


def verified_identity() -> VerifiedIdentity | None:
    """The citizen's real-name data from the identity provider in this browser, or None.

    ``name``, ``id_number``, ``phone`` and ``email`` are what the provider asserted (None where it said nothing;
    an invalid ID number is never passed on). ``locked_fields`` names the application fields to show read-only:
    on submission take those values from here, not from the form. Expires with ``SESSION_IDLE_MINUTES`` of
    inactivity and ``SESSION_MAX_HOURS`` after verification.
    """
    data = _unseal(session.get(CITIZEN))
    if not data or not isinstance(data.get("identity"), dict):
        return None
    fields = data["identity"]
    try:
        identity = VerifiedIdentity(**{k: fields.get(k) for k in VerifiedIdentity.__dataclass_fields__})
    except TypeError:
        return None
    settings = _settings()
    ts = int(now().timestamp())
    if ts - int(identity.verified_at or 0) >= settings.session_max_hours * 3600:
        return None
    if ts - int(session.get(CITIZEN_SEEN, 0)) >= settings.session_idle_minutes * 60:
        return None
    return identity
