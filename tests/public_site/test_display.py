"""Reading comfortably (适老化): the large-text switch, masked numbers on the review step, a language switch that
keeps what was typed, the skip link and the favicon."""

from __future__ import annotations

import re

from flask_babel import refresh

from tenants.tree import get_bureau
from tests.public_site.helpers import COUNTY, VALID_ID, fill, forms_of
from tests.public_site.test_apply import PETITIONER, page, step_of, to_review


def test_every_public_page_has_the_switches_the_skip_link_and_the_favicon(client):
    for path in ("/", "/apply", "/track", "/account/login", "/account/register"):
        html = page(client.get(path))
        assert 'class="skip-link" href="#main"' in html and 'id="main"' in html, path
        assert 'class="text-size"' in html and 'aria-pressed="false"' in html, path
        assert 'rel="icon"' in html and 'lang="en"' in html, path  # the language link names its language
    assert client.get("/static/favicon.svg").status_code == 200


def test_large_text_is_switched_on_and_remembered(client):
    response = client.get("/text-size?large=1&next=/track?number=X")
    assert response.status_code == 302 and response.headers["Location"].endswith("/track?number=X")
    assert "text_size=large" in response.headers["Set-Cookie"] and "Max-Age=31536000" in response.headers["Set-Cookie"]
    html = page(client.get("/apply"))
    assert '<html lang="zh-Hans-CN" class="large-text">' in html and 'aria-pressed="true"' in html
    assert "large=0" in html  # the switch now turns it off
    assert page(client.get("/track")).count('class="large-text"') == 1  # every page, not just one
    client.get("/text-size?large=0&next=/")
    assert 'class="large-text"' not in page(client.get("/"))


def test_the_switch_goes_back_only_inside_the_site(client):
    for target in ("https://evil.example/", "//evil.example/", "/\\evil"):
        response = client.get("/text-size", query_string={"large": "1", "next": target})
        assert response.status_code == 302 and response.headers["Location"] in ("/", "http://localhost/"), target


def test_the_review_step_masks_the_numbers_with_a_show_switch(client, dbs):
    review = to_review(client, dbs)
    masked_id = "*" * 14 + VALID_ID[-4:]
    block = re.search(r"<dt>身份证号码</dt><dd>(.*?)</dd>", review, re.S)
    assert block, review[:3000]
    shown = re.sub(r"<[^>]+>", "", block.group(1).split("<details")[0])
    assert re.sub(r"\s|末四位", "", shown) == masked_id
    assert f'<span class="full-value">{VALID_ID}</span>' in block.group(1) and "显示" in block.group(1)
    phone = re.search(r"<dt>联系电话</dt><dd>(.*?)</dd>", review, re.S)
    assert phone and "*******8000" in re.sub(r"<[^>]+>|\s|末四位", "", phone.group(1).split("<details")[0])


def test_switching_the_language_on_a_step_keeps_what_was_typed(client, dbs):
    html = page(client.get("/apply"))
    chosen = {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"}
    html = page(fill(client, html, chosen))
    assert step_of(html) == "petitioner"
    switch = re.search(r'<a [^>]*data-resend-form="apply-form"[^>]*>', html)  # site.js re-sends the form with it
    assert switch and 'data-action="/apply?lang=en"' in switch.group(0)
    assert 'data-go="edit:petitioner"' in switch.group(0) and 'lang="en"' in switch.group(0)
    typed = {**PETITIONER, "petitioner.name": "李四"}
    form = next(i for i, f in enumerate(forms_of(html)) if f["action"] == "/apply")
    refresh()  # the test's long app context caches the locale between requests; a browser's request would not
    english = page(fill(client, html, typed, go="edit:petitioner", form=form, path="/apply?lang=en"))
    refresh()
    assert step_of(english) == "petitioner" and 'lang="en"' in english[:200]
    assert 'value="李四"' in english and "About you" in english
    assert 'value="13800138000"' in english
    back = page(client.get("/apply?lang=zh"))
    assert step_of(back) == "dispute"
