"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask import current_app, g, request, session
from flask_babel import Babel, get_translations
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf import CSRFProtect

from portal.db import db

LANGUAGES = {"zh": "zh_Hans_CN", "en": "en"}
DEFAULT_LANGUAGE = "zh"

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# Rate-limit counters live in Redis; if Redis is down the limiter falls back to memory rather than refusing
# petitioners (Redis is never the source of truth).
limiter = Limiter(key_func=get_remote_address, swallow_errors=True, in_memory_fallback_enabled=True)


class Configured:
    """A rate limit from the settings (``portal.config``: RATELIMIT_*), read on every request: Flask-Limiter calls
    it in a request's context, ``of(app)`` reads it without one (``public_site.kept``)."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self) -> str:
        return self.of(current_app)

    def of(self, app) -> str:
        return app.config[self.name]


#: Sign-in attempts per client address: one allowance shared by every sign-in form, the second-factor forms and
#: the token endpoint (a decorator; only POSTs count).
login_limit = limiter.shared_limit(Configured("RATELIMIT_LOGIN"), scope="login", methods=["POST"])


def select_locale() -> str:
    """Simplified Chinese unless the visitor chose English (``?lang=en``, remembered in the session)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return session_locale(session)


def session_locale(data) -> str:
    """The locale a session's stored choice names (the default without one)."""
    return LANGUAGES.get(data.get("lang", DEFAULT_LANGUAGE), LANGUAGES[DEFAULT_LANGUAGE])


def request_translations():
    """The message catalog of this request, looked up once.

    Flask-Babel looks it up again for every message (the domain, the locale, a cache keyed by the locale's string:
    about 20 us a call), and a staff page renders hundreds of messages. This keeps it on ``g`` beside the locale
    object it was found for (Flask-Babel's own per-request state), so ``force_locale`` still switches languages.
    """
    try:
        state = g._get_current_object()  # one look-up through the proxy; plain attributes after that
    except RuntimeError:  # outside an application context
        return get_translations()
    locale = getattr(getattr(state, "_flask_babel", None), "babel_locale", None)
    cached = getattr(state, "_portal_translations", None)
    if cached is not None and locale is not None and cached[0] is locale:
        return cached[1]
    translations = get_translations()
    state._portal_translations = (getattr(getattr(state, "_flask_babel", None), "babel_locale", None), translations)
    return translations


def init_babel(app) -> None:
    """Flask-Babel with the app's locale rule, and template messages read from the request's catalog."""
    babel.init_app(app, locale_selector=select_locale, default_translation_directories="translations")
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: request_translations().ugettext(s),
        ngettext=lambda s, p, n: request_translations().ungettext(s, p, n),
        pgettext=lambda c, s: request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: request_translations().unpgettext(c, s, p, n),
        newstyle=True,
    )


__all__ = [
    "Configured",
    "babel",
    "csrf",
    "db",
    "init_babel",
    "limiter",
    "login_limit",
    "login_manager",
    "request_translations",
    "select_locale",
]
