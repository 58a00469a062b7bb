"""Kept tracking pages and API answers served before Flask: the petitioner's most frequent requests at the cost of
the case's stamp.

A browser that proved a case's code asks for its tracking page again and again, and an app polls the API answer of
a case with its access code; both rarely change (``public_site.track.case`` and ``public_site.api.applications.
get_application`` keep them). Through Flask such an answer cost ~0.75 ms (a page) and ~1.1 ms (an API answer, with
its rate limits) of Python, most of it the request's machinery (contexts, the before- and after-request chains,
the sign-in and scope look-ups, Flask-Limiter's three Redis round trips), several times the bare-Flask floor of
``bench.baseline``. This WSGI layer gives such an answer itself when it is kept (or a 304), with what the view
would send: it reads the signed session as Flask does and applies the same rules (``grants_case`` or
``find_by_code``, ``session_locale``, the views' keys and tags, ``add_security_headers``'s); a page gets the
browser's own CSRF token, an API answer is counted against the tracking limits as the view's decorators count it
(``TrackingLimits``). Anything else goes to Flask untouched: another method or path, a query, a signed-in account
or verified identity, a message waiting to be shown, an unknown case or a wrong code, a delivery to record, an
answer not kept yet, a limit reached (``tests/public_site/test_kept_answers.py`` holds the answers equal).
"""

from __future__ import annotations

from functools import lru_cache
from typing import NamedTuple

from flask import Flask
from itsdangerous import BadSignature
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from redis.commands.core import Script
from redis.exceptions import RedisError
from werkzeug.http import parse_cookie, parse_etags

from portal.extensions import limiter, session_locale
from portal.identity.web import CITIZEN
from portal.inputguard import has_control_characters
from portal.pagecache import etag_header
from portal.petitioners.operations import awaits_online_delivery
from portal.petitioners.tracking import find_by_code, find_number
from portal.web import TEXT_SIZE_COOKIE, kept_answer_headers, lang_of
from public_site.api.applications import (
    ANSWER_PACKER,
    CODE_CHECKED,
    answer_key,
    case_number_key,
    kept_answer,
    link_window,
    track_limit,
    track_number_limit,
)
from public_site.common import csrf_token_for, grants_case, today, with_token
from public_site.track import PAGE_PACKER, PAGES, STAMP_READ, page_key, page_tag

PAGE_PREFIX = "/track/"
API_PREFIX = "/api/v1/applications/"


class KeptTrackingAnswers:
    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self.serializer = app.session_interface.get_signing_serializer(app)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.max_age = int(app.permanent_session_lifetime.total_seconds())
        self.limits = TrackingLimits(app)
        self.stamps, self.pii = app.extensions["portal.stamps"], app.extensions["portal.pii"]

    def __call__(self, environ, start_response):
        response = self.kept_answer(environ)
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def kept_answer(self, environ) -> WSGIAnswer | None:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING") or self.serializer is None:
            return None
        path = environ.get("PATH_INFO") or ""
        for prefix, answer in ((PAGE_PREFIX, self._page), (API_PREFIX, self._api_answer)):
            if path.startswith(prefix):
                number = _number(path[len(prefix) :])
                return answer(environ, number) if number is not None else None
        return None

    def _page(self, environ, number: str) -> WSGIAnswer | None:
        cookies = parse_cookie(environ.get("HTTP_COOKIE"))
        data = self._session(cookies.get(self.cookie_name))
        if data is None or not grants_case(data, number) or not _plain(data):
            return None
        secret = data.get("csrf_token")
        if not isinstance(secret, str):
            return None  # a new token: Flask's page
        lang = lang_of(session_locale(data))
        viewer = (False, False, cookies.get(TEXT_SIZE_COOKIE) == "large")  # as ``viewer_kind`` for this visitor
        stamp = find_number(self.stamps, number)
        environ[STAMP_READ] = (number, stamp)
        if stamp is None or awaits_online_delivery(stamp):
            return None
        key = page_key(stamp, today(), lang, viewer)
        if key is None:
            return None
        tag = page_tag(key, secret)
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(tag):
            return self._answer(environ, tag)
        kept = PAGES.get(key)
        if kept is None:
            return None
        page = with_token(PAGE_PACKER.unpack(kept).decode(), csrf_token_for(self.app, secret))
        return self._answer(environ, tag, page.encode(), "text/html; charset=utf-8")

    def _api_answer(self, environ, number: str) -> WSGIAnswer | None:
        code = environ.get("HTTP_X_ACCESS_CODE")
        if not code:
            return None
        data = self._session(parse_cookie(environ.get("HTTP_COOKIE")).get(self.cookie_name)) or {}  # Flask's too
        if not _plain(data):
            return None
        lang = lang_of(session_locale(data))
        stamp = find_by_code(self.stamps, self.pii, number, code)
        environ[CODE_CHECKED] = (number, code, stamp)
        if stamp is None or awaits_online_delivery(stamp):
            return None  # a wrong code is Flask's: its 404 counts against the case number's limit
        kept = kept_answer(answer_key(stamp, lang), link_window(stamp.number))
        if kept is None or not self.limits.count(environ, number):
            return None
        _window, tag, packed = kept
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(tag):
            return self._answer(environ, tag)
        return self._answer(environ, tag, ANSWER_PACKER.unpack(packed), self.app.json.mimetype)

    def _answer(self, environ, tag: str, body: bytes | None = None, content_type: str = "") -> WSGIAnswer:
        """The answer (``body`` None: 304) with the headers Flask's would carry: the entity tag, ``Vary: Cookie`` (as
        Flask marks an answer that read the session) and ``add_security_headers``'s, written out directly."""
        secure = environ.get("wsgi.url_scheme") == "https"
        headers = [*etag_header(tag).items(), ("Vary", "Cookie"), *kept_answer_headers(self.app, secure=secure)]
        if body is None:
            return WSGIAnswer("304 NOT MODIFIED", headers, b"")
        entity = [("Content-Type", content_type), ("Content-Length", str(len(body)))]
        return WSGIAnswer("200 OK", [*entity, *headers], body)

    def _session(self, value: str | None) -> dict | None:
        if not value:
            return None
        try:
            data = self.serializer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


class WSGIAnswer(NamedTuple):
    status: str
    headers: list[tuple[str, str]]
    body: bytes

    def __call__(self, environ, start_response):
        start_response(self.status, self.headers)
        return [self.body]


def _number(segment: str) -> str | None:
    """The case number of a path's last segment (decoded as Werkzeug routes it), else None."""
    number = segment.encode("latin-1").decode("utf-8", "replace")
    if not number or "/" in number or has_control_characters(number, multiline=False):
        return None
    return number


def _plain(session: dict) -> bool:
    """No message to show, no account and no verified identity: nothing Flask would do besides the answer."""
    return not session.get("_flashes") and "_user_id" not in session and CITIZEN not in session


# Each counter is tested first; only when every limit allows one more are the counting ones increased, as
# Flask-Limiter's fixed windows count (INCRBY, and EXPIRE on a window's first hit). A refusal changes nothing: Flask
# then answers, counting as its decorators do. KEYS: the counters; LIMITS (written into the script, so that a call
# sends only the keys): per counter its amount, its window in seconds and 1 to count or 0 to test only (a limit
# counted on refusals alone: ``deduct_when``).
COUNT_IF_ALLOWED = """
for i, key in ipairs(KEYS) do
    if tonumber(redis.call("get", key) or "0") + 1 > LIMITS[i][1] then
        return 0
    end
end
for i, key in ipairs(KEYS) do
    if LIMITS[i][3] == 1 and redis.call("incrby", key, 1) == 1 then
        redis.call("expire", key, LIMITS[i][2])
    end
end
return 1
"""


def count_script(limits: tuple[tuple[int, int, int], ...]) -> str:
    """``COUNT_IF_ALLOWED`` for the counters ``limits`` (amount, window, counts), in the order of its keys."""
    table = ", ".join(f"{{{amount}, {window}, {counts}}}" for amount, window, counts in limits)
    return f"local LIMITS = {{{table}}}\n{COUNT_IF_ALLOWED}"


class TrackingLimits:
    """Counts a tracking answer given before Flask against the limits of the view's decorators
    (``public_site.api.applications``: ``track_limit`` per client address, counted on every answer, and
    ``track_number_limit`` per case number, counted on a wrong code and tested on every answer), on Flask-Limiter's
    own counters (its keys, windows and storage) and in one Redis round trip instead of its three."""

    def __init__(self, app: Flask):
        self.app = app
        self._storage = None  # the storage the scripts below were registered on
        self._scripts: dict[tuple, Script] = {}  # by the limits written into them (they change with the settings)

    def count(self, environ, number: str) -> bool:
        """True: the answer is counted (or limits are off). False: Flask answers (a limit reached, the limiter on
        its in-memory fallback, Redis unreachable), and nothing was counted here."""
        if not limiter.enabled:
            return True
        strategy = limiter.limiter  # the in-memory fallback's while Redis is away
        if not isinstance(strategy, FixedWindowRateLimiter) or not isinstance(strategy.storage, RedisStorage):
            return False
        storage = strategy.storage
        config = self.app.config
        prefix = [config["RATELIMIT_KEY_PREFIX"]] if config.get("RATELIMIT_KEY_PREFIX") else []
        address = environ.get("REMOTE_ADDR") or "127.0.0.1"  # ``get_remote_address``, behind ProxyFix
        # The limits, their scopes and which ones count every answer come from the decorators themselves; only
        # their keys are worked out here, from the WSGI environment instead of the request.
        counters = [
            (item, (*prefix, key, decorator.scope), 0 if decorator.deduct_when else 1)
            for decorator, key in ((track_limit, address), (track_number_limit, case_number_key(number)))
            for item in _limits(decorator.limit_provider.of(self.app))
        ]
        keys = [storage.prefixed_key(item.key_for(*identifiers)) for item, identifiers, _ in counters]
        limits = tuple((item.amount, item.get_expiry(), counts) for item, _, counts in counters)
        try:
            return self._script(storage, limits)(keys=keys) == 1
        except RedisError:
            return False

    def _script(self, storage: RedisStorage, limits: tuple) -> Script:
        if self._storage is not storage:
            self._storage, self._scripts = storage, {}
        script = self._scripts.get(limits)
        if script is None:
            script = self._scripts[limits] = storage.get_connection().register_script(count_script(limits))
        return script


@lru_cache(maxsize=32)
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))
