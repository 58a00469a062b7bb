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
