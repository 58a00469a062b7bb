"""The petition review portal: ``create_app()`` reads like a table of contents."""

from __future__ import annotations

import logging

from flask import Flask
from redis import Redis
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.config import Settings, load_settings
from portal.extensions import csrf, db, init_babel, limiter, login_manager
from portal.logs import configure_logging
from portal.pii import PersonalData
from portal.storage import Storage

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> Flask:
    """Build the web application from ``settings`` (default: the environment, validated)."""
    settings = settings or load_settings()
    configure_logging(settings.log_level, settings.log_format)

    app = Flask(__name__, template_folder="templates", static_folder="static")
    _configure(app, settings)
    app.url_map.converters["int"] = DatabaseIdConverter

    from portal.i18n import ensure_compiled

    ensure_compiled()  # .mo files are build products; a fresh checkout compiles them here
    db.init_app(app)
    _sign_tenant_scopes(app, settings)
    from portal.cases.history import configure_history_key

    configure_history_key(settings.history_key)
    csrf.init_app(app)
    init_babel(app)
    limiter.init_app(app)
    # Every limit of the portal is a route's decorator, which checks its own limits; the limiter's before-request
    # pass is for default and blueprint limits, of which there are none: it only cost every request its look-ups.
    app.before_request_funcs[None].remove(limiter._check_request_limit)
    login_manager.init_app(app)
    app.extensions["portal.redis"] = Redis.from_url(settings.redis_url, socket_timeout=2, socket_connect_timeout=2)
    app.extensions["portal.storage"] = Storage(settings)
    app.extensions["portal.pii"] = PersonalData(settings.pii_key)
    from portal.petitioners.tracking import StampReader  # the composition root's imports stay light (no circle)

    app.extensions["portal.stamps"] = StampReader(settings.database_url)

    from portal import health, web

    web.init_app(app)
    app.register_blueprint(health.bp)

    # The composition root: the only module of portal/ that imports the sites (tests/test_import_rules.py).
    from portal.api import register_api
    from portal.identity.blueprint import bp as identity_bp
    from public_site import identity as _citizen_sign_in  # noqa: F401  (its pages join the identity blueprint)
    from public_site.api import bp as public_api_bp
    from public_site.views import bp as public_bp
    from staff_site import identity as _staff_identity  # noqa: F401  (its pages join the identity blueprint)
    from staff_site.admin import bp as staff_admin_bp
    from staff_site.api import bp as staff_api_bp
    from staff_site.audit import bp as staff_audit_bp
    from staff_site.ops import bp as staff_ops_bp
    from staff_site.supervision import bp as supervision_bp
    from staff_site.views import bp as staff_bp

    app.register_blueprint(public_bp)
    app.register_blueprint(identity_bp)  # /staff/sso, /staff/2fa, /staff/sessions, /citizen/sso, ...
    app.register_blueprint(staff_bp, url_prefix="/staff")
    app.register_blueprint(staff_ops_bp, url_prefix="/staff/ops")
    app.register_blueprint(staff_admin_bp, url_prefix="/staff/admin")
    app.register_blueprint(staff_audit_bp, url_prefix="/staff/audit")
    app.register_blueprint(supervision_bp, url_prefix="/staff/supervision")
    register_api(app, public_api_bp, staff_api_bp)  # /api/v1: one prefix, one OpenAPI document

    from portal.cli import register_app_commands

    register_app_commands(app)
    from public_site.kept import KeptTrackingAnswers

    app.wsgi_app = KeptTrackingAnswers(app, app.wsgi_app)  # a kept tracking page or API answer, before Flask
    if settings.proxy_hops:
        # Behind PROXY_HOPS reverse proxies: the client address (rate limits, logs, the session registry), scheme
        # and host come from the last PROXY_HOPS X-Forwarded-* values, the ones our own proxies wrote. A client's
        # forged values sit further left and are ignored; with 0 hops every such header is ignored.
        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    return app


def _sign_tenant_scopes(app: Flask, settings: Settings) -> None:
    """The app's connections sign every tenant scope they set (the database checks it: ``tenants.rls``)."""
    from portal.dbsetup import scope_key_from_secret
    from tenants.scoping import sign_scopes_on

    with app.app_context():
        sign_scopes_on(db.engine, scope_key_from_secret(settings.secret_key))


class DatabaseIdConverter(IntegerConverter):
    """``<int:...>`` ids fit PostgreSQL's BIGINT: a larger number is simply not found (404), never a 500."""

    def __init__(self, map, *args, **kwargs):
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def _configure(app: Flask, settings: Settings) -> None:
    app.config.update(
        PORTAL_SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        SQLALCHEMY_DATABASE_URI=settings.database_url,
        # No SQL parameters (names, ID numbers, request texts) in error messages and logs.
        SQLALCHEMY_ENGINE_OPTIONS={
            "pool_pre_ping": True,
            "hide_parameters": True,
            "connect_args": {"connect_timeout": 5},
        },
        TESTING=settings.env == "test",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.is_production,
        REMEMBER_COOKIE_SECURE=settings.is_production,
        MAX_CONTENT_LENGTH=220 * 1024 * 1024,
        RATELIMIT_STORAGE_URI=settings.redis_url,
        # No X-RateLimit-* headers on every limited answer: reading each limit's window back cost the tracking
        # API two Redis round trips per request; a refusal still says when to try again (``web._too_many``).
        RATELIMIT_HEADERS_ENABLED=False,
        BABEL_DEFAULT_LOCALE="zh_Hans_CN",
        BABEL_DEFAULT_TIMEZONE="Asia/Shanghai",
        WTF_CSRF_TIME_LIMIT=None,
        JSON_AS_ASCII=False,
    )
    app.config.update(settings.rate_limits)  # read per request by the rate-limited views
    app.json.ensure_ascii = False
