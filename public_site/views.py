"""The public site's blueprint and home page; the pages themselves live in ``apply``, ``track`` and ``account``."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request

from portal.web import TEXT_SIZE_COOKIE, safe_next

bp = Blueprint("public", __name__, template_folder="templates")


@bp.context_processor
def _helpers() -> dict:
    from portal.cases.queries import explain_deadline
    from portal.web import is_english

    return {
        "explain": lambda data: explain_deadline(data, "en" if is_english() else "zh"),
        "bureau_contact": _bureau_contact,
        "committee_contact": _committee_contact,
    }


def _bureau_contact(bureau):
    """The public contact block of ``bureau`` (its petition office), for the help box of a page."""
    from portal.extensions import db
    from tenants.contacts import get_contact

    return get_contact(db.session, bureau)


def _committee_contact():
    from portal.extensions import db
    from tenants.contacts import get_committee_contact

    return get_committee_contact(db.session)


@bp.get("/")
def home():
    return render_template("public/home.html")


@bp.get("/text-size")
def text_size():
    """Switch large text on or off and go back (the switch's fallback without JavaScript); remembered for a year."""
    large = request.args.get("large") == "1"
    target = safe_next(request.args.get("next")) or "/"
    response = redirect(target.rstrip("?") or "/")
    response.set_cookie(TEXT_SIZE_COOKIE, "large" if large else "normal", max_age=365 * 24 * 3600, samesite="Lax")
    return response


from public_site import account, apply, track  # noqa: E402,F401  (routes register on import)
