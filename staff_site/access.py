"""Access checks shared by staff views."""

from __future__ import annotations

from functools import wraps

from flask import abort
from flask_login import current_user, login_required

from portal.accounts.models import StaffUser


def staff_required(view):
    """Require a signed-in staff member (petitioner accounts are not staff)."""

    @wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not isinstance(current_user._get_current_object(), StaffUser):
            abort(404)
        return view(*args, **kwargs)

    return wrapper


MAX_ID = 2**63 - 1


def security_admin_required() -> StaffUser:
    """The signed-in security administrator (roles, second factors, sessions, password resets), or 403."""
    from portal.roles import SECURITY_ADMINS

    user = current_user._get_current_object()
    if not user.has_role(*SECURITY_ADMINS):
        abort(403)
    return user


def at_province(user: StaffUser) -> bool:
    from portal.extensions import db
    from tenants.models import Bureau

    bureau = db.session.get(Bureau, user.tenant_id)
    return bureau is not None and bureau.parent_id is None


def administered_user(user_id: int) -> StaffUser:
    """An account the signed-in administrator may see on the account pages, or 404.

    Their own bureau's accounts; every bureau's for the province's security administrator (the global view is the
    province's). A lower bureau's account is another administrator's: not found, like another city's.
    """
    from portal.extensions import db
    from portal.roles import SECURITY_ADMINS
    from tenants.scoping import load_scoped

    if not 0 < user_id <= MAX_ID:
        abort(404)
    admin = current_user._get_current_object()
    user = load_scoped(db.session, StaffUser, user_id)  # the request's scope: this bureau and those below it
    if user is None:
        abort(404)
    everywhere = admin.has_role(*SECURITY_ADMINS) and at_province(admin)
    if user.tenant_id != admin.tenant_id and not everywhere:
        abort(404)
    return user
