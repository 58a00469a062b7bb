"""Flask extensions, created unbound and initialised in ``create_app``."""

from __future__ import annotations

from flask import current_app, request, session
from flask_babel import Babel
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


def configured(name: str):
    """The rate limit ``name`` from the settings (``portal.config``: RATELIMIT_*), read on every request."""
    return lambda: current_app.config[name]


#: Sign-in attempts per client address: one allowance shared by every sign-in form, the second-factor forms and
#: the token endpoint (a decorator; only POSTs count).
login_limit = limiter.shared_limit(configured("RATELIMIT_LOGIN"), scope="login", methods=["POST"])


def select_locale() -> str:
    """Simplified Chinese unless the visitor chose English (``?lang=en``, remembered in the session)."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
    return LANGUAGES[session.get("lang", DEFAULT_LANGUAGE)]


__all__ = ["babel", "configured", "csrf", "db", "limiter", "login_limit", "login_manager", "select_locale"]
