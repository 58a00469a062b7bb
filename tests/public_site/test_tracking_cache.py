"""Kept tracking pages and answers: revalidated with ETag/304, rebuilt when anything shown changes, never handed to
anyone who has not proved the case, nor in another language or to another kind of viewer, and always with the
browser's own CSRF token."""

from __future__ import annotations

import re

import worker.jobs
from portal.cases.queries import local_today
from tests.helpers import csrf_token
from tests.portal.cases.conftest import act
from tests.public_site.helpers import application_json, case_by_number, fill, forms_of
from tests.public_site.test_accounts import register
from tests.staff_site.conftest import Browser
from worker.tasks.documents import render_pending_documents


def applied(app, dbs) -> dict:
    response = Browser(app).post("/api/v1/applications", json=application_json(dbs))
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def granted(app, body) -> Browser:
    """A browser of its own that proved the number and access code of ``body``'s case."""
    browser = Browser(app)
    token = csrf_token(browser, "/track")
    response = browser.post("/track", data={"csrf_token": token, "number": body["number"], "code": body["access_code"]})
    assert response.status_code == 302
    return browser


def token_of(page: str) -> str:
    tokens = set(re.findall(r'name="csrf_token"[^>]*value="([^"]+)"', page))
    assert len(tokens) == 1, tokens
    return tokens.pop()


def api(browser, body, **headers):
    return browser.get(
        f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": body["access_code"], **headers}
    )


def test_the_page_answers_304_to_its_etag_and_stays_no_store(app, dbs):
    body = applied(app, dbs)
    browser = granted(app, body)
    page = browser.get(f"/track/{body['number']}")
    tag = page.headers["ETag"]
    assert page.status_code == 200 and tag.startswith('W/"')
    assert page.headers["Cache-Control"] == "no-store"  # personal data: never stored by a browser or a proxy
    again = browser.get(f"/track/{body['number']}", headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == tag
    assert again.headers["Cache-Control"] == "no-store"
    other = browser.get(f"/track/{body['number']}", headers={"If-None-Match": 'W/"something-else"'})
    assert other.status_code == 200 and other.headers["ETag"] == tag
    # Without the grant the tag opens nothing: the look-up is asked for.
    stranger = Browser(app).get(f"/track/{body['number']}", headers={"If-None-Match": tag})
    assert stranger.status_code == 302 and "/track?number=" in stranger.headers["Location"]


def test_the_api_answers_304_to_its_etag_only_with_the_code(app, dbs):
    body = applied(app, dbs)
    browser = Browser(app)
    first = api(browser, body)
    tag = first.headers["ETag"]
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    again = api(browser, body, **{"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b"" and again.headers["ETag"] == tag
    wrong = browser.get(
        f"/api/v1/applications/{body['number']}", headers={"X-Access-Code": "AAAA-BBBB-CCCC", "If-None-Match": tag}
    )
    assert wrong.status_code == 404 and "ETag" not in wrong.headers


def test_a_staff_action_changes_the_kept_page_and_the_answer(app, dbs, pii, city):
    body = applied(app, dbs)
    browser = granted(app, body)
    before = browser.get(f"/track/{body['number']}")
    answer = api(browser, body)
    assert "已收到您的申请，正在审查是否受理" in before.get_data(as_text=True)
    assert answer.get_json()["state"] == "submitted"
    act(dbs, pii, city.clerk, case_by_number(dbs, body["number"]).id, "accept", today=local_today())
    after = browser.get(f"/track/{body['number']}", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != before.headers["ETag"]
    assert "您的申请已受理，正在安排办理" in after.get_data(as_text=True)
    changed = api(browser, body, **{"If-None-Match": answer.headers["ETag"]})
    assert changed.status_code == 200 and changed.get_json()["state"] == "accepted"


def test_a_document_stored_by_the_worker_changes_the_kept_page(app, dbs, pii, city, monkeypatch):
    body = applied(app, dbs)
    browser = granted(app, body)
    act(dbs, pii, city.clerk, case_by_number(dbs, body["number"]).id, "accept", today=local_today())
    kept = browser.get(f"/track/{body['number']}").get_data(as_text=True)
    assert "信访事项复查受理告知书" not in kept  # the notice is rendered off the request path, by the worker
    monkeypatch.setattr(worker.jobs, "_app", app)
    render_pending_documents()
    page = browser.get(f"/track/{body['number']}").get_data(as_text=True)
    assert "信访事项复查受理告知书" in page
    assert any(d["filename"].startswith("信访事项复查受理告知书") for d in api(browser, body).get_json()["documents"])


def test_a_kept_page_is_never_shown_to_a_browser_without_the_case(app, dbs):
    mine, theirs = applied(app, dbs), applied(app, dbs)
    me, them = granted(app, mine), granted(app, theirs)
    their_page = them.get(f"/track/{theirs['number']}")
    assert their_page.status_code == 200
    # Their page is kept; my browser proved only my case and is sent to the look-up for theirs.
    response = me.get(f"/track/{theirs['number']}", headers={"If-None-Match": their_page.headers["ETag"]})
    assert response.status_code == 302 and "/track?number=" in response.headers["Location"]
    my_page = me.get(f"/track/{mine['number']}").get_data(as_text=True)
    assert mine["number"] in my_page and theirs["number"] not in my_page
    # The API: their number with my code is an unknown number to me.
    other = me.get(f"/api/v1/applications/{theirs['number']}", headers={"X-Access-Code": mine["access_code"]})
    assert other.status_code == 404


def test_a_kept_page_is_kept_per_language_and_kind_of_viewer(app, dbs):
    body = applied(app, dbs)
    browser = granted(app, body)
    url = f"/track/{body['number']}"
    chinese = browser.get(url)
    assert "已收到您的申请" in chinese.get_data(as_text=True)
    assert browser.get(f"{url}?lang=en").status_code == 200  # the choice is remembered in the session
    english = browser.get(url)
    assert english.status_code == 200 and english.headers["ETag"] != chinese.headers["ETag"]
    assert '<html lang="en"' in english.get_data(as_text=True)
    assert "已收到您的申请" not in english.get_data(as_text=True)
    assert browser.get(f"{url}?lang=zh").status_code == 200
    back = browser.get(url)
    assert back.headers["ETag"] == chinese.headers["ETag"] and "已收到您的申请" in back.get_data(as_text=True)

    # A signed-in petitioner who claimed the case sees their account's menu, not the anonymous one kept before.
    account = Browser(app)
    register(account)
    page = account.get("/account").get_data(as_text=True)
    claim = next(i for i, f in enumerate(forms_of(page)) if (f["action"] or "").endswith("/account/claim"))
    claimed = fill(account, page, {"number": body["number"], "code": body["access_code"]}, go=None, form=claim)
    assert claimed.status_code == 302
    assert "/account/logout" not in chinese.get_data(as_text=True)
    signed_in = account.get(url).get_data(as_text=True)
    assert "/account/logout" in signed_in and body["number"] in signed_in
    # Large text is the reader's own setting.
    browser.client.set_cookie("text_size", "large")
    assert 'class="large-text"' in browser.get(url).get_data(as_text=True)


def test_each_browser_gets_its_own_csrf_token_without_a_session_write(app, dbs):
    body = applied(app, dbs)
    first, second = granted(app, body), granted(app, body)
    url = f"/track/{body['number']}"
    one = first.get(url)
    two = second.get(url)  # the page kept for the first browser, with the second's token
    assert one.status_code == two.status_code == 200
    assert token_of(one.get_data(as_text=True)) != token_of(two.get_data(as_text=True))
    assert "Set-Cookie" not in one.headers and "Set-Cookie" not in two.headers  # the session is not written
    # Each token works in its own browser: stop following the case on the second one.
    page = two.get_data(as_text=True)
    forget = next(i for i, f in enumerate(forms_of(page)) if (f["action"] or "").endswith("/track/forget"))
    assert fill(second, page, go=None, form=forget).status_code == 302
    assert second.get(url).status_code == 302
    assert first.get(url).status_code == 200


def test_a_message_waiting_for_the_page_is_shown_once_and_not_kept(app, dbs):
    body = applied(app, dbs)
    browser = granted(app, body)
    url = f"/track/{body['number']}"
    browser.get(url)  # kept
    confirm = browser.get(f"{url}/withdraw").get_data(as_text=True)
    done = fill(browser, confirm, {"reason": "已协商解决。"}, go=None)
    assert done.status_code == 302
    shown = browser.get(url).get_data(as_text=True)
    assert "您的申请已撤回。" in shown and "申请已撤回，办理终止" in shown
    again = browser.get(url).get_data(as_text=True)
    assert "您的申请已撤回。" not in again and "申请已撤回，办理终止" in again  # the message once, the state always


def test_an_api_answer_with_files_carries_links_valid_for_at_least_five_minutes(app, dbs, storage):
    from urllib.parse import parse_qs, urlparse

    from tests.public_site.helpers import api_upload, pdf_bytes

    browser = Browser(app)
    upload = api_upload(browser, pdf_bytes(), "证据.pdf")
    response = browser.post("/api/v1/applications", json=application_json(dbs, [upload["upload_id"]]))
    body = response.get_json()
    answer = api(browser, body).get_json()
    link = urlparse(answer["attachments"][0]["url"])
    # Signed once per five-minute window, for that window + 5 min: whenever served, valid for 5 more minutes at least.
    assert int(parse_qs(link.query)["X-Amz-Expires"][0]) == 600
    assert api(browser, body).get_json() == answer  # kept within the window


def test_the_link_windows_of_cases_begin_at_moments_of_their_own():
    from public_site.api.applications import LINK_WINDOW_SECONDS, link_window

    start = 1_800_000_000
    seconds = range(start, start + 2 * LINK_WINDOW_SECONDS)
    changes = {}
    for number in (f"FC2026-{i:08d}" for i in range(20)):
        changes[number] = [t for t in seconds if link_window(number, t + 1) != link_window(number, t)]
    # Each case's links are signed again once every five minutes...
    assert all(len(moments) == 2 and moments[1] - moments[0] == LINK_WINDOW_SECONDS for moments in changes.values())
    # ...not all cases at the same moment.
    assert len({moments[0] for moments in changes.values()}) > 10


def test_a_renamed_bureau_and_a_new_contact_block_change_the_kept_page(app, dbs, owner_engine):
    from sqlalchemy import text

    from tenants.contacts import set_contact
    from tenants.scoping import TenantScope, scoped
    from tenants.tree import get_bureau

    body = applied(app, dbs)
    browser = granted(app, body)
    url = f"/track/{body['number']}"
    kept = browser.get(url)
    assert "长春市社会保险局" in kept.get_data(as_text=True)
    city = get_bureau(dbs, "220100")
    with scoped(dbs, TenantScope.single(city.id)):  # the bureau administrator's page, in this process
        set_contact(dbs, city, address="长春市人民大街1号", phone="0431-88888888", hours="工作日 9:00-17:00")
        dbs.commit()
    page = browser.get(url, headers={"If-None-Match": kept.headers["ETag"]})
    assert page.status_code == 200 and "0431-88888888" in page.get_data(as_text=True)
    with owner_engine.begin() as conn:  # another process, or an administrator at the database
        conn.execute(text("UPDATE bureaus SET name = '长春市社会保险事业管理局' WHERE id = :i"), {"i": city.id})
    renamed = browser.get(url).get_data(as_text=True)
    assert "长春市社会保险事业管理局" in renamed
    assert api(browser, body).get_json()["handled_by"]["name"] == "长春市社会保险事业管理局"


def test_a_kept_page_is_compressed_and_served_whole(app, dbs):
    """Kept pages are compressed: a worker holds thousands in its budget (an LRU thrashes when a round of
    readers outgrows it), and the page served from one is the page rendered."""
    from public_site.track import PAGES

    PAGES.clear()
    body = applied(app, dbs)
    browser = granted(app, body)
    first = browser.get(f"/track/{body['number']}")
    assert len(PAGES) == 1 and PAGES.size * 2 < len(first.get_data())
    again = browser.get(f"/track/{body['number']}")
    assert again.get_data() == first.get_data()
