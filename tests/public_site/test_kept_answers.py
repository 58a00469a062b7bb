"""Kept tracking pages and API answers given before Flask (``public_site.kept``): the same answer Flask gives, to
the same browsers and holders of the code only, a page with the browser's own working CSRF token, an API answer
counted on the tracking limits' own counters; everything else goes on to Flask."""

from __future__ import annotations

import re
import threading

import pytest
from limits import parse_many
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter

from portal.extensions import limiter
from portal.web import TEXT_SIZE_COOKIE
from public_site.kept import KeptTrackingAnswers
from tests.public_site.test_tracking_cache import api, applied, granted, token_of
from tests.staff_site.conftest import Browser

TOKEN = re.compile(r'(name="csrf_token"[^>]*value=")[^"]+(")')


class Layer:
    """What the layer answered itself (its paths, in order); ``bypassed`` sends every request on to Flask."""

    def __init__(self):
        self.answered: list[str] = []
        self.bypassed = False


@pytest.fixture
def layer(monkeypatch) -> Layer:
    seen = Layer()
    real = KeptTrackingAnswers.kept_answer

    def spy(self, environ):
        response = None if seen.bypassed else real(self, environ)
        if response is not None:
            seen.answered.append(environ["PATH_INFO"])
        return response

    monkeypatch.setattr(KeptTrackingAnswers, "kept_answer", spy)
    return seen


def by_flask(layer: Layer, browser, path, **headers):
    """Flask's own answer to ``browser``'s request (the layer stands aside)."""
    layer.bypassed = True
    try:
        return browser.get(path, headers=headers)
    finally:
        layer.bypassed = False


@pytest.mark.parametrize("large_text", [False, True])
def test_a_kept_page_is_answered_before_flask_exactly_as_flask_answers_it(app, dbs, layer, large_text):
    body = applied(app, dbs)
    browser = granted(app, body)
    if large_text:  # another kind of viewer, another kept page
        browser.client.set_cookie(TEXT_SIZE_COOKIE, "large", domain="localhost")
    url = f"/track/{body['number']}"
    rendered = browser.get(url)  # rendered by Flask, and kept
    assert rendered.status_code == 200 and layer.answered == []
    kept = browser.get(url)
    assert layer.answered == [url]
    flask = by_flask(layer, browser, url)
    assert (kept.status_code, flask.status_code) == (200, 200)
    assert TOKEN.sub(r"\1-\2", kept.get_data(as_text=True)) == TOKEN.sub(r"\1-\2", flask.get_data(as_text=True))
    assert sorted(kept.headers.items()) == sorted(flask.headers.items())
    assert ('class="large-text"' in kept.get_data(as_text=True)) is large_text

    not_modified = browser.get(url, headers={"If-None-Match": kept.headers["ETag"]})
    flask_not_modified = by_flask(layer, browser, url, **{"If-None-Match": kept.headers["ETag"]})
    assert layer.answered == [url, url]
    assert (not_modified.status_code, not_modified.get_data()) == (304, b"")
    assert sorted(not_modified.headers.items()) == sorted(flask_not_modified.headers.items())


def test_the_token_in_a_page_answered_early_works_on_the_pages_forms(app, dbs, layer):
    body = applied(app, dbs)
    browser = granted(app, body)
    url = f"/track/{body['number']}"
    browser.get(url)
    token = token_of(browser.get(url).get_data(as_text=True))
    assert layer.answered == [url]
    # "Stop following on this browser" is a form of the page: Flask-WTF accepts the token.
    forgot = browser.post("/track/forget", data={"csrf_token": token})
    assert forgot.status_code == 302
    assert browser.get(url).status_code == 302  # the grant is gone: the look-up is asked for, by Flask
    assert layer.answered == [url]


def test_only_a_browser_that_proved_the_case_gets_its_kept_page(app, dbs, layer):
    mine, theirs = applied(app, dbs), applied(app, dbs)
    browser = granted(app, mine)
    granted(app, theirs).get(f"/track/{theirs['number']}")  # their page is kept
    stranger = Browser(app).get(f"/track/{theirs['number']}")
    mine_other = browser.get(f"/track/{theirs['number']}")
    forged = Browser(app)
    forged.client.set_cookie("session", "eyJ0cmFja2VkIjp7fX0.forged.signature", domain="localhost")
    forged_answer = forged.get(f"/track/{theirs['number']}")
    assert [a.status_code for a in (stranger, mine_other, forged_answer)] == [302, 302, 302]
    assert all("/track?number=" in a.headers["Location"] for a in (stranger, mine_other, forged_answer))
    assert layer.answered == []


@pytest.mark.parametrize("query", ["?lang=en", "?text=large"])
def test_a_request_with_a_query_goes_to_flask(app, dbs, layer, query):
    body = applied(app, dbs)
    browser = granted(app, body)
    url = f"/track/{body['number']}"
    browser.get(url)
    assert browser.get(url + query).status_code == 200
    assert layer.answered == []


# --- API answers ---------------------------------------------------------------------------------------------


def by_flask_api(layer: Layer, browser, body, **headers):
    layer.bypassed = True
    try:
        return api(browser, body, **headers)
    finally:
        layer.bypassed = False


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_kept_api_answer_is_given_before_flask_exactly_as_flask_gives_it(app, dbs, layer, lang):
    body = applied(app, dbs)
    client = Browser(app)
    if lang == "en":
        client.get("/track?lang=en")  # the session remembers the language, as for the pages
    url = f"/api/v1/applications/{body['number']}"
    rendered = api(client, body)  # rendered by Flask, and kept
    assert rendered.status_code == 200 and layer.answered == []
    kept = api(client, body)
    assert layer.answered == [url]
    flask = by_flask_api(layer, client, body)
    assert (kept.status_code, flask.status_code) == (200, 200)
    assert kept.get_json() == flask.get_json() == rendered.get_json()
    assert sorted(kept.headers.items()) == sorted(flask.headers.items())
    assert ("Application submitted and received" in kept.get_data(as_text=True)) is (lang == "en")

    etag = kept.headers["ETag"]
    not_modified = api(client, body, **{"If-None-Match": etag})
    flask_not_modified = by_flask_api(layer, client, body, **{"If-None-Match": etag})
    assert layer.answered == [url, url]
    assert (not_modified.status_code, not_modified.get_data()) == (304, b"")
    assert sorted(not_modified.headers.items()) == sorted(flask_not_modified.headers.items())


def test_a_kept_answer_over_https_carries_the_same_headers_as_flask(app, dbs, layer):
    body = applied(app, dbs)
    client = Browser(app)
    url = f"/api/v1/applications/{body['number']}"
    headers = {"X-Access-Code": body["access_code"]}
    assert client.get(url, headers=headers, base_url="https://localhost").status_code == 200  # kept
    kept = client.get(url, headers=headers, base_url="https://localhost")
    layer.bypassed = True
    flask = client.get(url, headers=headers, base_url="https://localhost")
    assert layer.answered == [url]
    assert kept.headers["Strict-Transport-Security"].startswith("max-age=")
    assert sorted(kept.headers.items()) == sorted(flask.headers.items())


def test_the_layer_answers_outside_any_context_as_under_gunicorn(app, dbs, layer):
    """The tests' browsers run each request inside an application context; a server's thread has none. The layer
    must not need one (the limits' settings, the stamps, the headers): it answers before Flask pushes any."""
    body = applied(app, dbs)
    browser = granted(app, body)
    page, answer = f"/track/{body['number']}", f"/api/v1/applications/{body['number']}"
    assert browser.get(page).status_code == 200 and api(browser, body).status_code == 200  # both kept
    got = {}

    def serve():  # a new thread: no context of the test's
        got["page"] = browser.client.get(page)
        got["api"] = browser.client.get(answer, headers={"X-Access-Code": body["access_code"]})

    thread = threading.Thread(target=serve)
    thread.start()
    thread.join()
    assert layer.answered == [page, answer]
    assert (got["page"].status_code, got["api"].status_code) == (200, 200)
    assert got["api"].get_json()["number"] == body["number"]


def test_the_headers_written_out_are_those_add_security_headers_gives(app, monkeypatch):
    """With identity providers configured (their origins in the CSP's form-action) and without, HTTP and HTTPS."""
    from werkzeug.wrappers import Response

    from portal import web

    for origins in (set(), {"https://id.example.org", "https://sso.example.net"}):
        monkeypatch.setattr(web, "_provider_origins", lambda _app, found=origins: found)
        for secure in (False, True):
            with app.app_context():
                expected = web.add_security_headers(Response(), static=False, secure=secure).headers
            written = web.kept_answer_headers(app, secure=secure)
            assert sorted(written) == sorted((k, v) for k, v in expected.items() if k not in ("Content-Type",))
            assert all(origin in dict(written)["Content-Security-Policy"] for origin in origins)


def test_a_wrong_code_or_another_case_goes_to_flask(app, dbs, layer):
    mine, theirs = applied(app, dbs), applied(app, dbs)
    client = Browser(app)
    assert api(client, theirs).status_code == 200  # their answer is kept
    wrong = api(client, {**theirs, "access_code": mine["access_code"]})
    missing = client.get(f"/api/v1/applications/{theirs['number']}")
    unknown = api(client, {**theirs, "number": "FC2026-ZZZZZZZZ"})
    assert [r.status_code for r in (wrong, missing, unknown)] == [404, 404, 404]
    assert layer.answered == []


def test_the_api_answers_given_early_count_on_the_limits_of_the_views(app, dbs, layer, monkeypatch):
    body = applied(app, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK", "3 per minute")
    client = Browser(app)
    url = f"/api/v1/applications/{body['number']}"
    assert api(client, body).status_code == 200  # Flask's, counted by its decorator: 1
    assert [api(client, body).status_code for _ in range(2)] == [200, 200]  # the layer's: 2 and 3
    assert layer.answered == [url, url]
    refused = api(client, body)  # the layer counts nothing and stands aside; Flask refuses
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"
    assert layer.answered == [url, url]
    (minute,) = parse_many("3 per minute")
    counted = limiter.limiter.storage.get(minute.key_for("127.0.0.1", "track"))
    assert counted == 4  # three answers and Flask's refusal: the layer's refusal counted nothing
    # The page's look-up is counted on the same counter (one allowance per address for both).
    lookup = Browser(app)
    token = token_of(lookup.get("/track").get_data(as_text=True))
    form = {"csrf_token": token, "number": body["number"], "code": body["access_code"]}
    assert lookup.post("/track", data=form).status_code == 429


def test_wrong_codes_for_a_number_stop_its_early_answers_too(app, dbs, layer, monkeypatch):
    body = applied(app, dbs)
    monkeypatch.setitem(app.config, "RATELIMIT_TRACK_NUMBER", "2 per hour")
    client = Browser(app)
    url = f"/api/v1/applications/{body['number']}"
    assert [api(client, body).status_code for _ in range(2)] == [200, 200]
    assert layer.answered == [url]  # a right code counts nothing on the number's limit
    for code in ("AAAA-BBBB-0001", "AAAA-BBBB-0002"):
        assert api(client, {**body, "access_code": code}).status_code == 404  # Flask's, counted
    refused = api(client, body)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "3600"
    assert layer.answered == [url]


def test_with_the_counters_unreachable_the_api_answer_is_flasks(app, dbs, layer):
    body = applied(app, dbs)
    client = Browser(app)
    assert api(client, body).status_code == 200  # kept
    # Redis away (a port nothing listens on): the layer cannot count, so it stands aside; Flask-Limiter falls back
    # to counting in memory and the answer is given all the same (``portal.extensions.limiter``).
    limiter._storage = RedisStorage("redis://127.0.0.1:1/0", socket_connect_timeout=1)
    limiter._limiter = FixedWindowRateLimiter(limiter._storage)
    assert api(client, body).status_code == 200
    assert layer.answered == []
