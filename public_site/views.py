"""The public site's blueprint and home page; the pages themselves live in ``apply``, ``track`` and ``account``."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("public", __name__, template_folder="templates")


@bp.context_processor
def _helpers() -> dict:
    from portal.cases.queries import explain_deadline
    from portal.web import is_english

    return {"explain": lambda data: explain_deadline(data, "en" if is_english() else "zh")}


@bp.get("/")
def home():
    return render_template("public/home.html")


from public_site import account, apply, track  # noqa: E402,F401  (routes register on import)
