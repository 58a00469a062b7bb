"""Kept tracking pages answered before Flask (``public_site.kept``): the same answer Flask gives, to the same
browsers only, with the browser's own working CSRF token; everything else goes on to Flask."""

from __future__ import annotations

import re

import pytest

from portal.web import TEXT_SIZE_COOKIE
from public_site.kept import KeptTrackingPages
from tests.public_site.test_tracking_cache import applied, granted, token_of
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
    real = KeptTrackingPages.kept_answer

    def spy(self, environ):
        response = None if seen.bypassed else real(self, environ)
        if response is not None:
            seen.answered.append(environ["PATH_INFO"])
        return response

    monkeypatch.setattr(KeptTrackingPages, "kept_answer", spy)
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
