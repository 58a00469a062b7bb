"""Back, reload and a language switch keep the application: every form answers with a redirect (Post/Redirect/Get)
to a page built from the draft kept server-side, sealed, and deleted with the submission."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from flask_babel import refresh
from sqlalchemy import func, select, text

from portal.attachments.models import Upload
from portal.petitioners.drafts import ApplicationDraft, load_draft
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.public_site.helpers import COUNTY, VALID_ID, counts, new_browser, page_csrf, pdf_bytes
from tests.public_site.test_apply import PETITIONER, REQUEST, opinion, page, step_of, to_review

DISPUTE = {"disputed.bureau_id": None, "disputed.opinion_kind": "handling"}


def post(client, step: str, values: dict, go: str = "next", path: str = "/apply"):
    token = page_csrf(client.get("/apply").get_data(as_text=True))
    return client.post(path, data={"csrf_token": token, "step": step, "go": go, **values})


def draft_rows(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(ApplicationDraft))


def the_draft(client, dbs):
    with client.session_transaction() as session:
        draft_id = session.get("apply_draft")
    return load_draft(dbs, client.application.extensions["portal.pii"], draft_id, now=datetime.now(UTC))


def test_every_form_answers_with_a_redirect_to_the_next_steps_page(client, dbs):
    dispute = {**DISPUTE, "disputed.bureau_id": str(get_bureau(dbs, COUNTY).id)}
    steps = [("dispute", dispute, "/apply/petitioner"), ("petitioner", PETITIONER, "/apply/opinion")]
    steps += [("opinion", opinion(), "/apply/request"), ("request", REQUEST, "/apply/files")]
    for step, values, following in steps:
        response = post(client, step, values)
        assert (response.status_code, response.headers["Location"]) == (303, following), step
        shown = client.get(following)
        # The page carries personal data: never stored in a cache, so Back fetches it again from the draft.
        assert shown.status_code == 200 and shown.headers["Cache-Control"] == "no-store"
    response = post(client, "files", {}, path="/apply/files")
    assert (response.status_code, response.headers["Location"]) == (303, "/apply/review")
    assert client.get("/apply/review").status_code == 200
    # Back from the review: the page before it, again by a redirect.
    assert post(client, "review", {}, go="back").headers["Location"] == "/apply/files"


def test_back_and_reload_show_every_step_filled_from_the_draft(client, dbs, storage):
    to_review(client, dbs, files=[(pdf_bytes(), "处理意见书.pdf")])
    first = page(client.get("/apply"))
    assert f'value="{get_bureau(dbs, COUNTY).id}" selected' in first and 'value="handling" checked' in first
    about = page(client.get("/apply/petitioner"))
    for value in ("张三", VALID_ID, "13800138000", "zs@example.com", "长春市南关区人民大街1号"):
        assert f'value="{value}"' in about
    assert f'value="{opinion()["disputed.document_number"]}"' in page(client.get("/apply/opinion"))
    assert REQUEST["facts_and_reasons"] in page(client.get("/apply/request"))
    assert "处理意见书.pdf" in page(client.get("/apply/files"))
    review = page(client.get("/apply/review"))
    assert "张三" in review and "处理意见书.pdf" in review
    # The pages no longer carry the other steps' answers in hidden fields: the draft holds them.
    assert 'type="hidden" name="petitioner.' not in review and 'name="uploads"' not in review
    # The draft names the uploads; their bytes are in object storage until the submission claims them.
    with system_scope(dbs):
        upload = dbs.scalar(select(Upload))
    assert the_draft(client, dbs).uploads == [str(upload.id)] and upload.claimed_at is None


def test_the_draft_is_sealed_and_deleted_with_the_submission(client, dbs, owner_engine):
    review = to_review(client, dbs)
    with owner_engine.connect() as conn:
        sealed = bytes(conn.scalar(text("SELECT sealed FROM application_drafts")))
    assert "张三".encode() not in sealed and VALID_ID.encode() not in sealed and b"13800138000" not in sealed
    token = re.search(r'name="idempotency_key" value="([^"]+)"', review).group(1)
    response = client.post(
        "/apply/submit", data={"csrf_token": page_csrf(review), "idempotency_key": token, "go": "submit"}
    )
    assert response.headers["Location"].endswith("/apply/receipt") and counts(dbs)["cases"] == 1
    assert draft_rows(dbs) == 0
    # Back from the receipt: the review is gone with the draft; a new application starts empty.
    assert client.get("/apply/review").headers["Location"] == "/apply"
    assert 'value="张三"' not in page(client.get("/apply")) and draft_rows(dbs) == 0


def test_a_refused_step_shows_its_errors_again_on_reload_and_changes_nothing_else(client, dbs):
    post(client, "dispute", {**DISPUTE, "disputed.bureau_id": str(get_bureau(dbs, COUNTY).id)})
    post(client, "petitioner", PETITIONER)
    post(client, "opinion", opinion())
    before = the_draft(client, dbs)
    wrong = {**PETITIONER, "petitioner.id_number": "110105194912310021"}
    response = post(client, "petitioner", wrong)
    assert response.headers["Location"] == "/apply/petitioner"
    for _ in range(2):  # shown, then reloaded: the same errors beside the same typed values
        html = page(client.get("/apply/petitioner"), 422)
        assert "身份证号码校验位不正确" in html and 'value="110105194912310021"' in html
    after = the_draft(client, dbs)
    assert {k: v for k, v in after.values.items() if k != "petitioner.id_number"} == {
        k: v for k, v in before.values.items() if k != "petitioner.id_number"
    }
    assert counts(dbs)["cases"] == 0
    # The review cannot be reached past the refused step.
    assert client.get("/apply/review").headers["Location"] == "/apply/petitioner"
    # The next form sent clears the errors.
    post(client, "petitioner", PETITIONER)
    assert "身份证号码校验位不正确" not in page(client.get("/apply/petitioner"))


def test_another_browser_sees_nothing_of_the_draft(client, dbs):
    to_review(client, dbs)
    other = new_browser(client)
    assert other.get("/apply/petitioner").headers["Location"] == "/apply"
    assert other.get("/apply/review").headers["Location"] == "/apply"
    assert "selected" not in other.get("/apply").get_data(as_text=True).split('id="f-disputed-bureau_id"')[1][:200]


def test_a_draft_unchanged_for_a_day_is_not_shown_and_a_new_one_starts(client, dbs, owner_engine):
    to_review(client, dbs)
    first = the_draft(client, dbs).id
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE application_drafts SET updated_at = updated_at - interval '25 hours'"))
    assert client.get("/apply/petitioner").headers["Location"] == "/apply"
    post(client, "dispute", {**DISPUTE, "disputed.bureau_id": str(get_bureau(dbs, COUNTY).id)})
    assert the_draft(client, dbs).id != first and step_of(page(client.get("/apply/petitioner"))) == "petitioner"


def test_the_language_switch_keeps_the_typed_page_and_the_draft(client, dbs):
    """The switch re-sends the form to ``/apply?lang=en`` (site.js): the answer is the same step, in English."""
    post(client, "dispute", {**DISPUTE, "disputed.bureau_id": str(get_bureau(dbs, COUNTY).id)})
    post(client, "petitioner", PETITIONER)
    typed = {**opinion(), "disputed.document_number": "南社保信〔2026〕9号"}
    response = post(client, "opinion", typed, go="edit:opinion", path="/apply?lang=en")
    assert response.headers["Location"] == "/apply/opinion?lang=en"
    refresh()  # the test's long app context caches the locale between requests; a browser's request would not
    english = page(client.get(response.headers["Location"]))
    assert 'lang="en"' in english[:200] and 'value="南社保信〔2026〕9号"' in english
    refresh()
    about = page(client.get("/apply/petitioner"))
    assert 'lang="en"' in about[:200] and 'value="张三"' in about  # still English, and the earlier step kept
    # Without JavaScript the link itself (?lang=zh) shows the step from the draft.
    refresh()
    chinese = page(client.get("/apply/opinion?lang=zh"))
    assert 'lang="zh-Hans-CN"' in chinese[:200] and 'value="南社保信〔2026〕9号"' in chinese


def test_a_link_to_a_step_without_an_application_starts_at_the_beginning(client):
    for path in ("/apply/petitioner", "/apply/opinion", "/apply/request", "/apply/files", "/apply/review"):
        assert client.get(path).headers["Location"] == "/apply", path
    assert client.get("/apply/stopped").headers["Location"] == "/apply"
    assert client.get("/apply/nonsense").status_code == 404


def test_the_petitioner_can_delete_what_was_entered(client, dbs):
    review = to_review(client, dbs)
    assert "删除我填写的内容" in review and draft_rows(dbs) == 1
    response = client.post("/apply/discard", data={"csrf_token": page_csrf(review)})
    assert (response.status_code, response.headers["Location"]) == (303, "/apply")
    assert "您填写的内容已删除。" in page(client.get("/apply"))
    assert draft_rows(dbs) == 0 and client.get("/apply/petitioner").headers["Location"] == "/apply"
    # Nothing to delete on a fresh start; without the page's token nothing happens.
    assert "删除我填写的内容" not in page(client.get("/apply"))
    to_review(client, dbs)
    assert client.post("/apply/discard").status_code == 400 and draft_rows(dbs) == 1


def test_signing_out_deletes_the_application_in_progress(client, dbs):
    from tests.public_site.test_accounts import register, sign_out

    assert register(client).status_code == 302
    to_review(client, dbs)
    assert draft_rows(dbs) == 1
    assert sign_out(client).status_code == 302
    assert draft_rows(dbs) == 0 and client.get("/apply/review").headers["Location"] == "/apply"
