"""The citizens' provider sign-in on the ``identity`` blueprint (``portal.identity.blueprint``): ``/citizen/sso/*``,
the real-name verification for the application form, which also opens the citizen's petitioner account.
"""

from __future__ import annotations

from flask import abort, flash, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal.extensions import db
from portal.identity import oidc, web
from portal.identity import operations as ops
from portal.identity.blueprint import bp
from portal.identity.claims import IdentityRefused, read_citizen_claims
from portal.web import localized_error, safe_next


@bp.get("/citizen/sso/login")
def citizen_sso_login():
    back_to = safe_next(request.args.get("next")) or url_for("public.home")
    return web.start_provider_sign_in("citizen", back_to, url_for(".citizen_sso_callback", _external=True))


@bp.get("/citizen/sso/callback")
def citizen_sso_callback():
    client = web.provider_client("citizen")
    provider = web.state().settings.oidc_citizen
    try:
        claims, id_token = oidc.finish(client)
    except oidc.ProviderFailed as exc:
        return web.provider_failed("citizen", exc)
    from portal.cases.queries import local_today

    at = web.now()
    try:
        identity = read_citizen_claims(claims, provider, verified_at=int(at.timestamp()), today=local_today())
    except IdentityRefused as exc:
        ops.record_attempt(
            db.session, realm="citizen", method="sso", outcome=exc.reason, at=at, client=web.client_info()
        )
        db.session.commit()
        return web.refused("citizen", exc.reason, localized_error(exc), 403)
    web.remember_citizen(identity, id_token)
    _open_petitioner_account(identity)
    ops.record_attempt(
        db.session,
        realm="citizen",
        method="sso",
        outcome="ok",
        at=at,
        client=web.client_info(),
        identifier=web.pii().hash(f"{identity.issuer}|{identity.subject}"),
        detail="verified: " + ", ".join(sorted(identity.locked_fields)),
    )
    db.session.commit()
    flash(_("The identity service has verified who you are."))
    return redirect(session.pop(web.NEXT, None) or url_for("public.home"))


def _open_petitioner_account(identity) -> None:
    """Sign the citizen in to their petitioner account (made or linked now), with their cases listed."""
    from flask_login import login_user

    from portal.petitioners.accounts import SESSION_VERSION, link_verified_citizen
    from portal.petitioners.models import Petitioner

    user = current_user._get_current_object() if current_user.is_authenticated else None
    current = user if isinstance(user, Petitioner) else None
    account = link_verified_citizen(
        db.session,
        web.pii(),
        issuer=identity.issuer,
        subject=identity.subject,
        id_number=identity.id_number,
        current=current,
    )
    session[SESSION_VERSION] = account.session_version or 0
    login_user(account)


@bp.post("/citizen/sso/logout")
def citizen_sso_logout():
    """End the verified identity and the petitioner session in this browser, and the provider's session."""
    from flask_login import logout_user

    from portal.petitioners.accounts import SESSION_VERSION, end_petitioner_sessions
    from portal.petitioners.models import Petitioner

    if web.state().citizen is None:
        abort(404)
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if isinstance(user, Petitioner):
        end_petitioner_sessions(db.session, user)
        db.session.commit()
        session.pop(SESSION_VERSION, None)
        logout_user()
    id_token = web.forget_citizen()
    flash(_("Your verified identity was removed from this browser."))
    back = url_for("public.home", _external=True)
    return redirect(web.provider_logout_url("citizen", id_token, back) or url_for("public.home"))
