"""Kept tracking pages served before Flask: the petitioner's most frequent request at the cost of the page's key.

A browser that proved a case's code asks for its tracking page again and again, and the page rarely changes
(``public_site.track.case`` keeps it rendered). Through Flask that answer cost ~0.75 ms of Python, most of it the
request's machinery (contexts, the before- and after-request chains, the sign-in and scope look-ups), about three
times the bare-Flask floor of ``bench.baseline``. This WSGI layer answers such a request itself when the answer is
a kept page (or a 304), with what ``case`` would send: it reads the signed session as Flask does, applies the same
rules (``grants_case``, ``session_locale``, ``page_key``, ``page_tag``, ``add_security_headers``), and fills the
browser's own CSRF token in. Anything else goes to Flask untouched: another method or path, a query, a signed-in
account or verified identity, a message waiting to be shown, an unknown case, a delivery to record, a page not
kept yet (``tests/public_site/test_kept_pages.py`` holds the two answers equal).
"""

from __future__ import annotations

from flask import Flask, Response
from itsdangerous import BadSignature
from werkzeug.http import parse_cookie, parse_etags

from portal.extensions import session_locale
from portal.identity.web import CITIZEN
from portal.inputguard import has_control_characters
from portal.pagecache import etag_header
from portal.petitioners.operations import awaits_online_delivery
from portal.petitioners.tracking import find_number
from portal.web import TEXT_SIZE_COOKIE, add_security_headers, lang_of
from public_site.common import csrf_token_for, grants_case, stamps, today, with_token
from public_site.track import PAGE_PACKER, PAGES, STAMP_READ, page_key, page_tag

PREFIX = "/track/"


class KeptTrackingPages:
    def __init__(self, app: Flask, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app
        self.serializer = app.session_interface.get_signing_serializer(app)
        self.cookie_name = app.config["SESSION_COOKIE_NAME"]
        self.max_age = int(app.permanent_session_lifetime.total_seconds())

    def __call__(self, environ, start_response):
        response = self.kept_answer(environ)
        if response is None:
            return self.wsgi_app(environ, start_response)
        return response(environ, start_response)

    def kept_answer(self, environ) -> Response | None:
        number = self._number(environ)
        if number is None or self.serializer is None:
            return None
        cookies = parse_cookie(environ.get("HTTP_COOKIE"))
        data = self._session(cookies.get(self.cookie_name))
        if data is None or not grants_case(data, number):
            return None
        secret = data.get("csrf_token")
        if not isinstance(secret, str) or data.get("_flashes") or "_user_id" in data or CITIZEN in data:
            return None  # a new token, a message to show, an account or a verified identity: Flask's page
        lang = lang_of(session_locale(data))
        viewer = (False, False, cookies.get(TEXT_SIZE_COOKIE) == "large")  # as ``viewer_kind`` for this visitor
        with self.app.app_context():
            stamp = find_number(stamps(), number)
            environ[STAMP_READ] = (number, stamp)
            if stamp is None or awaits_online_delivery(stamp):
                return None
            key = page_key(stamp, today(), lang, viewer)
            if key is None:
                return None
            tag = page_tag(key, secret)
            if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(tag):
                response = Response(status=304, headers=etag_header(tag))
            else:
                kept = PAGES.get(key)
                if kept is None:
                    return None
                page = with_token(PAGE_PACKER.unpack(kept).decode(), csrf_token_for(self.app, secret))
                response = Response(page, mimetype="text/html", headers=etag_header(tag))
            response.vary.add("Cookie")  # as Flask marks an answer that read the session
            return add_security_headers(response, static=False, secure=environ.get("wsgi.url_scheme") == "https")

    @staticmethod
    def _number(environ) -> str | None:
        """The case number of a plain ``GET /track/<number>`` (decoded as Werkzeug routes it), else None."""
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("QUERY_STRING"):
            return None
        path = environ.get("PATH_INFO") or ""
        if not path.startswith(PREFIX):
            return None
        number = path[len(PREFIX) :].encode("latin-1").decode("utf-8", "replace")
        if not number or "/" in number or has_control_characters(number, multiline=False):
            return None
        return number

    def _session(self, value: str | None) -> dict | None:
        if not value:
            return None
        try:
            data = self.serializer.loads(value, max_age=self.max_age)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None
