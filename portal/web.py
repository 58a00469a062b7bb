"""What every request shares: the signed-in user, the tenant scope, security headers and error pages."""

from __future__ import annotations

from urllib.parse import urlparse

from flask import Flask, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.accounts.operations import load_user
from portal.accounts.tokens import bearer_token, token_user
from portal.extensions import db, login_manager
from portal.identity.web import enforce_session
from tenants.scoping import TenantScope, scope_for_bureau, set_scope

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
}


def init_app(app: Flask) -> None:
    login_manager.login_view = "staff.login"
    login_manager.login_message = None
    login_manager.user_loader(_load_user)
    app.before_request(enforce_session)  # the session registry's timeouts, before the scope is set
    app.before_request(_scope_request)
    app.after_request(_add_security_headers)
    app.context_processor(_template_globals)
    app.add_template_filter(localized, "bi")
    app.register_error_handler(404, _not_found)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(429, _too_many)
    app.register_error_handler(500, _server_error)
    app.register_error_handler(HTTPException, _other_http_error)


def _load_user(user_id: str):
    """Staff sessions are ``staff:<id>``, petitioner sessions ``petitioner:<id>``: the two never mix."""
    kind, _sep, raw_id = user_id.partition(":")
    if not raw_id.isdigit():
        return None
    if kind == "staff":
        return load_user(db.session, int(raw_id))
    if kind == "petitioner":
        from portal.petitioners.accounts import load_petitioner

        return load_petitioner(db.session, int(raw_id))
    return None


def _scope_request() -> None:
    """Give the request's database session the scope of the signed-in staff member, or none at all.

    On the API an ``Authorization: Bearer`` token signs the request in instead of the session cookie
    (``g.api_user``; ``g.api_bearer`` tells that a token was presented, valid or not).
    """
    token = bearer_token(request.headers.get("Authorization")) if request.path.startswith("/api/") else None
    g.api_bearer = token is not None
    g.api_user = token_user(db.session, token) if token else None
    if g.api_bearer:
        scope = scope_for_bureau(db.session, g.api_user.tenant_id) if g.api_user is not None else None
    elif current_user.is_authenticated and hasattr(current_user, "tenant_id"):
        scope = scope_for_bureau(db.session, current_user.tenant_id)
    else:
        scope = None
    g.tenant_scope = scope
    set_scope(db.session, scope)


def current_scope() -> TenantScope | None:
    return g.get("tenant_scope")


def safe_next(target: str | None) -> str | None:
    """Only follow a ``next`` link inside this site (no scheme, no host, no ``//`` or backslash tricks)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parsed = urlparse(target)
    if parsed.scheme or parsed.netloc:
        return None
    return target


def is_english() -> bool:
    return str(get_locale() or "").startswith("en")


def current_lang() -> str:
    """``"en"`` or ``"zh"``: the language code the rule modules' texts are keyed by."""
    return "en" if is_english() else "zh"


def localized(pair) -> str:
    """Pick the current language from a ``(zh, en)`` pair, as the pure rule modules provide them."""
    if pair is None:
        return ""
    zh, en = pair
    return en if is_english() else zh


def localized_error(exc) -> str:
    """The message of an error from ``portal/`` rules (``message_zh`` / ``message_en``) in the current language."""
    return localized((exc.message_zh, exc.message_en))


def _add_security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response


def _template_globals() -> dict:
    locale = str(get_locale() or "zh_Hans_CN")
    return {"current_lang": "en" if locale.startswith("en") else "zh", "html_lang": locale.replace("_", "-")}


def wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _error(status: int, title: str, message: str):
    if wants_json():
        return jsonify(error={"code": status, "message": message}), status
    return render_template("error.html", status=status, title=title, message=message), status


def _not_found(_exc):
    return _error(404, _("Not found"), _("The page or record you asked for does not exist or is not yours to see."))


def _too_large(_exc):
    return _error(413, _("Too large"), _("What you sent is larger than allowed. Please send smaller files."))


def _csrf_failed(_exc):
    return _error(400, _("Form expired"), _("The form has expired. Please go back, reload the page and try again."))


def _too_many(_exc):
    return _error(429, _("Too many attempts"), _("Too many attempts from your address. Please wait and try again."))


def _server_error(_exc):
    # Flask logs the exception itself; the answer says nothing of it. The API always answers JSON, 500 included.
    return _error(500, _("Something went wrong"), _("Something went wrong on our side. Please try again later."))


def _other_http_error(exc: HTTPException):
    """Any other HTTP error (405, 400 ...): JSON on the API, Werkzeug's own page elsewhere."""
    if not wants_json() or exc.code is None:
        return exc
    return jsonify(error={"code": exc.code, "message": exc.description or exc.name}), exc.code
