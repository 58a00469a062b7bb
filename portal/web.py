"""What every request shares: the signed-in user, the tenant scope, security headers and error pages."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

from portal.accounts.operations import load_user
from portal.accounts.tokens import bearer_token, check_token
from portal.extensions import db, login_manager
from portal.identity.web import enforce_session
from tenants.scoping import TenantScope, scope_for_bureau, set_scope

#: The time every page shows: the bureaus' (and the regulation's days') time zone.
CHINA = ZoneInfo("Asia/Shanghai")

#: The reader's choice of large text (适老化), remembered by the browser for a year; set by the page's switch
#: (``portal/static/site.js``) or, without JavaScript, by ``public.text_size``.
TEXT_SIZE_COOKIE = "text_size"

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
    app.before_request(_refuse_control_characters)  # before anything reads the input
    app.before_request(enforce_session)  # the session registry's timeouts, before the scope is set
    app.before_request(_scope_request)
    app.before_request(_password_change_first)
    app.after_request(_add_security_headers)
    app.context_processor(_template_globals)
    app.add_template_filter(localized, "bi")
    app.add_template_filter(moment, "moment")
    app.register_error_handler(404, _not_found)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(CSRFError, _csrf_failed)
    app.register_error_handler(429, _too_many)
    app.register_error_handler(400, _bad_request)
    app.register_error_handler(405, _not_allowed)
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
        from flask import session

        from portal.petitioners.accounts import SESSION_VERSION, load_petitioner

        account = load_petitioner(db.session, int(raw_id))
        # Signing out raises the account's session version: a copied cookie of any earlier session stops working.
        if account is None or session.get(SESSION_VERSION) != account.session_version:
            return None
        return account
    return None


def _scope_request() -> None:
    """Give the request's database session the scope of the signed-in staff member, or none at all.

    On the API an ``Authorization: Bearer`` token signs the request in instead of the session cookie
    (``g.api_user``; ``g.api_bearer`` tells that a token was presented, valid or not).
    """
    token = bearer_token(request.headers.get("Authorization")) if request.path.startswith("/api/") else None
    g.api_bearer = token is not None
    g.api_user = None
    if token:
        from datetime import timedelta

        from portal.identity.web import now

        idle = timedelta(minutes=current_app.config["PORTAL_SETTINGS"].session_idle_minutes)
        checked = check_token(db.session, token, idle=idle, now=now())
        if checked.changed:
            db.session.commit()
        g.api_user = checked.user
    if g.api_bearer:
        scope = scope_for_bureau(db.session, g.api_user.tenant_id) if g.api_user is not None else None
    elif current_user.is_authenticated and hasattr(current_user, "tenant_id"):
        scope = scope_for_bureau(db.session, current_user.tenant_id)
    else:
        scope = None
    g.tenant_scope = scope
    set_scope(db.session, scope)


_OPEN_WHILE_PASSWORD_RESET = frozenset({"identity.password", "staff.logout", "static", "health.live", "health.ready"})


def _password_change_first():
    """After an administrator's reset, every staff page but "change password" and sign-out waits for the change."""
    if request.endpoint in _OPEN_WHILE_PASSWORD_RESET or g.get("api_bearer"):
        return None
    user = current_user._get_current_object() if current_user.is_authenticated else None
    if getattr(user, "must_change_password", False):
        from flask import redirect, url_for

        return redirect(url_for("identity.password"))
    return None


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
    return lang_of(str(get_locale() or ""))


def lang_of(locale: str) -> str:
    """The rule modules' language code (``"en"`` or ``"zh"``) of a locale such as ``zh_Hans_CN``."""
    return "en" if locale.startswith("en") else "zh"


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
    return add_security_headers(response, static=request.endpoint == "static", secure=request.is_secure)


def add_security_headers(response, *, static: bool, secure: bool):
    """The headers every answer carries (``static``: a static file, which keeps its caching; ``secure``: HTTPS)."""
    _secure(response.headers, static=static, secure=secure, origins=_provider_origins(current_app))
    return response


def kept_answer_headers(app: Flask, *, secure: bool) -> tuple[tuple[str, str], ...]:
    """What ``add_security_headers`` adds to a dynamic answer that carries none of these headers yet: the same for
    every such answer, so made once (``public_site.kept`` writes its answers' headers itself, without a context)."""
    return _answer_headers(secure, frozenset(_provider_origins(app)))


@lru_cache(maxsize=16)
def _answer_headers(secure: bool, origins: frozenset[str]) -> tuple[tuple[str, str], ...]:
    headers = Headers()
    _secure(headers, static=False, secure=secure, origins=origins)
    return tuple(headers.items())


def _secure(headers: Headers, *, static: bool, secure: bool, origins) -> None:
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    if origins and "Content-Security-Policy" in headers:
        # Signing out of single sign-on posts a form whose answer redirects to the provider's end-session
        # endpoint: form-action must allow exactly the configured providers, or the browser cancels it.
        csp = headers["Content-Security-Policy"]
        headers["Content-Security-Policy"] = csp.replace(
            "form-action 'self'", "form-action 'self' " + " ".join(sorted(origins))
        )
    if not static:
        # Staff pages, case pages, tracking answers and API responses carry personal data: no copy in any cache
        # (browser history, a shared proxy). Static files keep their caching.
        headers["Cache-Control"] = "no-store"
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")


def _provider_origins(app: Flask) -> set[str]:
    """The origins of the configured identity providers and of their end-session endpoints (once discovered)."""
    state = app.extensions.get("portal.identity")
    if state is None:
        return set()
    origins = set()
    for realm in ("staff", "citizen"):
        provider = state.provider(realm)
        if provider is None:
            continue
        urls = [provider.issuer]
        client = getattr(state, realm, None)
        metadata = getattr(client, "server_metadata", None) or {}
        if metadata.get("end_session_endpoint"):
            urls.append(metadata["end_session_endpoint"])
        for url in urls:
            parsed = urlparse(url)
            if parsed.scheme in ("http", "https") and parsed.netloc:
                origins.add(f"{parsed.scheme}://{parsed.netloc}")
    return origins


def lang_href(code: str) -> tuple[str, bool]:
    """Where the language switch leads, and whether in a new tab.

    Reloading a provider's callback would redeem its code a second time (a bogus failed sign-in), and reloading
    the answer of a form would lose what it showed once (recovery codes, a temporary password): those pages
    switch on the site's home page instead, the answer of a form in a new tab so that it stays on screen.
    """
    from flask import url_for

    endpoint = request.endpoint or ""
    if endpoint.endswith("_sso_callback") or request.method != "GET":
        home = url_for("staff.home") if request.path.startswith("/staff") else url_for("public.home")
        return f"{home}?lang={code}", request.method != "GET"
    return f"?lang={code}", False


def _template_globals() -> dict:
    locale = str(get_locale() or "zh_Hans_CN")
    english = locale.startswith("en")
    return {
        # Punctuation between a label and a value: full-width in Chinese sentences, ASCII in English ones.
        "colon": ": " if english else "：",
        "lp": " (" if english else "（",
        "rp": ")" if english else "）",
        "comma": ", " if english else "，",
        "current_lang": lang_of(locale),
        "html_lang": locale.replace("_", "-"),
        "large_text": request.cookies.get(TEXT_SIZE_COOKIE) == "large",
        "lang_href": lang_href,
    }


def moment(value: datetime | None, seconds: bool = False) -> str:
    """A point in time in China time, as the pages write days (``public/macros.html``'s ``day``): 2026年12月6日 17:05
    in Chinese, 2026-12-06 17:05 in English. (Babel's ``datetimeformat`` would load the CLDR data of both
    languages, about 4 MB, into every web worker for this.)"""
    if value is None:
        return ""
    local = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(CHINA)
    clock = local.strftime("%H:%M:%S" if seconds else "%H:%M")
    if is_english():
        return f"{local:%Y-%m-%d} {clock}"
    return f"{local.year}年{local.month}月{local.day}日 {clock}"


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


def _bad_request(_exc):
    return _error(400, _("Bad request"), _("The request could not be understood. Please go back and try again."))


def _not_allowed(_exc):
    return _error(405, _("Not allowed"), _("This address does not take that kind of request."))


#: Fields of a request body may hold line breaks and tabs (long texts); nothing else may hold a control character.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _refuse_control_characters():
    """One guard for every form and API route: NUL and other control characters are refused with 422."""
    from portal.inputguard import control_character_fields, has_control_characters

    fields = control_character_fields((request.view_args or {}).items(), multiline=False)
    fields += control_character_fields(request.args.items(multi=True), multiline=False)
    if request.method in _BODY_METHODS:
        if request.is_json:
            body = request.get_json(silent=True)
            if isinstance(body, dict):
                fields += control_character_fields(body.items(), multiline=True)
            elif isinstance(body, list):
                fields += control_character_fields(enumerate(body), multiline=True, prefix="body")
        else:
            fields += control_character_fields(request.form.items(multi=True), multiline=True)
            for name, upload in request.files.items(multi=True):
                if upload.filename and has_control_characters(upload.filename, multiline=False):
                    fields.append(name)
    if not fields:
        return None
    names = list(dict.fromkeys(fields))
    text = _("Contains a control character (such as NUL) that is not allowed here.")
    if wants_json():
        return jsonify(errors=dict.fromkeys(names, text)), 422
    message = _("These fields contain characters that are not allowed: %(fields)s.", fields=", ".join(names))
    return render_template("error.html", status=422, title=_("Invalid input"), message=message), 422


def _too_many(exc):
    body, status = _error(
        429, _("Too many attempts"), _("Too many attempts from your address. Please wait and try again.")
    )
    # The limit's whole window: an upper bound of the wait, without reading the counter back from Redis.
    window = getattr(getattr(getattr(exc, "limit", None), "limit", None), "get_expiry", None)
    return body, status, ({"Retry-After": str(window())} if window else {})


def _server_error(_exc):
    # Flask logs the exception itself; the answer says nothing of it. The API always answers JSON, 500 included.
    return _error(500, _("Something went wrong"), _("Something went wrong on our side. Please try again later."))


def _other_http_error(exc: HTTPException):
    """Any other HTTP error (405, 400 ...): JSON on the API, Werkzeug's own page elsewhere."""
    if not wants_json() or exc.code is None:
        return exc
    return jsonify(error={"code": exc.code, "message": exc.description or exc.name}), exc.code
