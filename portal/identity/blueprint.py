"""The ``identity`` blueprint: one name for the sign-in pages of both sites (``url_for("identity.…")``).

Its pages live in the sites they serve and join it when the app factory imports them: ``staff_site.identity``
(``/staff/sso/*`` provider sign-in, ``/staff/2fa*`` second factor, ``/staff/sessions*``, ``/staff/password``,
``/staff/identity-admin``) and ``public_site.identity`` (``/citizen/sso/*``, real-name verification for the
application form). What both need stays here: the provider clients and the identity state, built when the
blueprint is registered; the template globals; the ``portal identity`` commands.
"""

from __future__ import annotations

import click
from flask import Blueprint
from sqlalchemy import select

from portal.accounts.models import StaffUser
from portal.extensions import db
from portal.identity import oidc, web
from portal.identity import operations as ops

bp = Blueprint("identity", __name__, cli_group="identity")


@bp.record_once
def _setup(state) -> None:
    """Registering the blueprint builds the app's provider clients and the identity state."""
    app = state.app
    settings = app.config["PORTAL_SETTINGS"]
    staff, citizen = oidc.register_clients(app, settings.oidc_staff, settings.oidc_citizen)
    app.extensions["portal.identity"] = web.IdentityState(settings=settings, staff=staff, citizen=citizen)


@bp.app_template_global("identity_login_options")
def _login_options() -> dict:
    return web.login_options()


@bp.app_template_global("verified_identity")
def _verified_identity():
    return web.verified_identity()


# --- Command line: `portal identity link`, `portal identity reset-2fa` ------------------------------------------


@bp.cli.command("link")
@click.option("--username", required=True, help="The staff account.")
@click.option("--subject", required=True, help="The identity's subject (sub) at the provider.")
@click.option("--issuer", default=None, help="The provider's issuer (default: OIDC_STAFF_ISSUER).")
def link_command(username: str, subject: str, issuer: str | None) -> None:
    """Register in advance which provider identity signs in as a staff account."""
    from tenants.scoping import system_scope

    issuer = issuer or (web.state().settings.oidc_staff.issuer if web.state().settings.oidc_staff else None)
    if not issuer:
        raise click.UsageError("Give --issuer or set OIDC_STAFF_ISSUER.")
    with system_scope(db.session):
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise click.UsageError(f"No staff account {username!r}.")
    try:
        ops.link_identity(db.session, user, issuer=issuer.rstrip("/"), subject=subject)
    except ops.IdentityProblem as exc:
        raise click.UsageError(exc.message_en) from exc
    db.session.commit()
    click.echo(f"{username} signs in as {subject!r} at {issuer}")


@bp.cli.command("reset-2fa")
@click.option("--username", required=True)
def reset_command(username: str) -> None:
    """Remove a staff member's authenticator and recovery codes (they set up a new one at next sign-in)."""
    from tenants.scoping import TenantScope, scoped, system_scope

    with system_scope(db.session):
        user = db.session.scalar(select(StaffUser).where(StaffUser.username == username))
    if user is None:
        raise click.UsageError(f"No staff account {username!r}.")
    with scoped(db.session, TenantScope.single(user.tenant_id)):
        ops.remove_second_factor(db.session, user)
        db.session.commit()
    click.echo(f"The second factor of {username} was removed.")
