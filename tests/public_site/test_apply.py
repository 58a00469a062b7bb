"""The guided application on the pages: every step, errors beside the fields, files, the review, the receipt."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import select, text

from portal.attachments.models import Upload
from portal.cases.models import Outbox
from portal.cases.queries import local_today
from portal.workflow import CaseState
from tenants.scoping import system_scope
from tenants.tree import get_bureau
from tests.public_site.helpers import (
    COUNTY,
    VALID_ID,
    bucket_keys,
    case_by_number,
    case_files,
    counts,
    dates,
    docx_bytes,
    exe_bytes,
    fill,
    follow_steps,
    forms_of,
    new_browser,
    page_csrf,
    pdf_bytes,
    png_bytes,
)

PETITIONER = {
    "petitioner.name": "张三",
    "petitioner.id_number": VALID_ID,
    "petitioner.phone": "13800138000",
    "petitioner.email": "zs@example.com",
    "petitioner.address": "长春市南关区人民大街1号",
}


def opinion() -> dict:
    d = dates()
    return {
        "disputed.document_number": "南社保信〔2026〕3号",
        "disputed.issued_on": d["issued_on"],
        "disputed.received_on": d["received_on"],
    }


REQUEST = {"request": "请求撤销处理意见。", "facts_and_reasons": "处理意见认定事实不清。"}


def page(response, status=200) -> str:
    assert response.status_code == status, response.get_data(as_text=True)[:2000]
    return response.get_data(as_text=True)


def step_of(html: str) -> str:
    match = re.search(r'name="step" value="([a-z]+)"', html)
    return match.group(1) if match else ""


def to_review(client, dbs, files=()) -> str:
    """Fill every step with valid answers and return the review page."""
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    assert step_of(html) == "petitioner"
    html = page(fill(client, html, PETITIONER))
    assert step_of(html) == "opinion"
    html = page(fill(client, html, opinion()))
    assert step_of(html) == "request"
    html = page(fill(client, html, REQUEST))
    assert step_of(html) == "files"
    if files:
        html = page(fill(client, html, go="upload", files=list(files)))
        assert step_of(html) == "files"
    html = page(fill(client, html))
    assert step_of(html) == "review"
    return html


def submit(client, review_html: str):
    return fill(client, review_html, go="submit")


def test_home_page_leads_to_applying_and_tracking(client):
    html = page(client.get("/"))
    assert 'href="/apply"' in html and 'href="/track"' in html


def test_apply_with_two_attachments_then_the_receipt(client, dbs, storage):
    review = to_review(client, dbs, files=[(pdf_bytes(), "处理意见书.pdf"), (png_bytes(), "照片.png")])
    assert "处理意见书.pdf" in review and "照片.png" in review
    city = get_bureau(dbs, "220100")
    assert city.name in review  # says in words which bureau handles it
    assert "15个工作日" in review  # and how the acceptance deadline is counted
    response = submit(client, review)
    assert response.status_code == 302 and response.headers["Location"].endswith("/apply/receipt")

    receipt = page(client.get("/apply/receipt"))
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    code = re.search(r'id="access-code">([^<]+)<', receipt).group(1)
    case = case_by_number(dbs, number)
    assert case.tenant_id == city.id and case.state is CaseState.submitted
    assert sorted(f.filename for f in case_files(dbs, case)) == ["处理意见书.pdf", "照片.png"]
    for f in case_files(dbs, case):
        assert f.sha256 in receipt and f.storage_key in bucket_keys(storage, "uploads/")
    # The code is shown once: a second visit does not show it again.
    again = client.get("/apply/receipt")
    assert again.status_code == 302 and code not in client.get(again.headers["Location"]).get_data(as_text=True)
    # The code works for tracking, and only its hash is stored.
    assert client.get(f"/api/v1/applications/{number}", headers={"X-Access-Code": code}).status_code == 200
    assert code not in case.access_code_hash
    with system_scope(dbs):
        payloads = [o.payload for o in dbs.scalars(select(Outbox).where(Outbox.case_id == case.id))]
    assert payloads and all(code not in str(p) for p in payloads)


def test_printable_receipt_lists_the_files_and_the_deadline(client, dbs):
    pypdf = pytest.importorskip("pypdf")
    submit(client, to_review(client, dbs, files=[(pdf_bytes(), "证据一.pdf")]))
    receipt = page(client.get("/apply/receipt"))
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    response = client.get(f"/track/{number}/receipt.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(response.data)).pages)
    case = case_by_number(dbs, number)
    digest = case_files(dbs, case)[0].sha256
    compact = re.sub(r"\s", "", text)
    assert number in compact and "证据一.pdf" in compact and digest[:32] in compact
    assert "受理决定期限" in compact
    # Another browser, without the code, gets nothing.
    other = new_browser(client)
    assert other.get(f"/track/{number}/receipt.pdf").status_code == 404


@pytest.mark.parametrize(
    ("adcode", "kind", "says"),
    [
        ("220000", "handling", "吉林省人民政府信访事项复查复核委员会"),
        ("220000", "review", "复查复核委员会"),
        (COUNTY, "re_review", "最终意见"),
    ],
)
def test_province_and_re_review_opinions_are_stopped_before_the_form(client, dbs, adcode, kind, says):
    html = page(client.get("/apply"))
    stopped = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, adcode).id), "disputed.opinion_kind": kind})
    )
    assert says in stopped and 'id="f-petitioner-name"' not in stopped  # stopped before "who you are"
    assert 'href="/apply"' in stopped  # "change my answer": the first step again, with the answers kept
    back = page(client.get("/apply"))
    assert step_of(back) == "dispute" and "selected" in back and f'value="{kind}" checked' in back


def test_a_county_review_opinion_is_an_error_beside_the_kind(client, dbs):
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "review"}),
        422,
    )
    assert step_of(html) == "dispute" and "县级社会保险局不作出复查意见" in html


def test_missing_choices_are_marked(client):
    html = page(fill(client, page(client.get("/apply"))), 422)
    assert "请选择作出意见的社会保险局" in html and "请选择您不服的意见的种类" in html
    assert 'aria-invalid="true"' in html and 'class="error-summary"' in html


def test_errors_appear_beside_the_fields_and_no_input_is_lost(client, dbs):
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    wrong = {**PETITIONER, "petitioner.id_number": "110105194912310021", "petitioner.phone": "12345"}
    html = page(fill(client, html, wrong), 422)
    assert step_of(html) == "petitioner"
    assert "身份证号码校验位不正确" in html and "联系电话格式不正确" in html
    assert 'value="110105194912310021"' in html and 'value="长春市南关区人民大街1号"' in html
    assert re.search(r'id="f-petitioner-id_number"[^>]*aria-invalid="true"', html)
    # A reload shows the same page (the draft keeps what was typed, and the errors); the first step is kept too.
    assert page(client.get("/apply/petitioner"), 422) == html
    assert f'value="{get_bureau(dbs, COUNTY).id}" selected' in page(client.get("/apply"))
    fixed = page(fill(client, html, {"petitioner.id_number": VALID_ID, "petitioner.phone": "0431-88888888"}))
    assert step_of(fixed) == "opinion"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"disputed.issued_on": "2026-02-30"}, "不是有效的日期"),
        ({"disputed.received_on": "2000-01-01"}, "不能早于意见书的落款日期"),
        ({"disputed.issued_on": "2999-01-01"}, "不能晚于今天"),
        ({"disputed.document_number": ""}, "请填写意见书文号"),
    ],
)
def test_opinion_errors(client, dbs, values, message):
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    html = page(fill(client, html, PETITIONER))
    html = page(fill(client, html, {**opinion(), **values}), 422)
    assert step_of(html) == "opinion" and message in html


def test_back_and_change_keep_everything(client, dbs):
    review = to_review(client, dbs)
    html = page(fill(client, review, go="edit:petitioner"))
    assert step_of(html) == "petitioner" and 'value="张三"' in html
    html = page(fill(client, html, {"petitioner.name": "张三丰"}))
    html = page(fill(client, html, go="back"))
    assert step_of(html) == "petitioner" and 'value="张三丰"' in html
    assert "请求撤销处理意见。" not in html  # the other steps' answers stay in the draft, not in this page
    review = page(client.get("/apply/review"))
    assert "张三丰" in review and "请求撤销处理意见。" in review


def test_joint_petitioners_and_a_representative(client, dbs):
    from portal.cases.models import CaseParty
    from portal.idnumber import check_char

    second = "22010219800101123" + check_char("22010219800101123")
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    html = page(fill(client, html, PETITIONER, go="add_joint"))
    assert 'name="joint_petitioners.1.name"' in html
    html = page(
        fill(
            client,
            html,
            {
                "joint_petitioners.0.name": "李四",
                "joint_petitioners.0.id_number": second,
                "representative.name": "王律师",
                "representative.phone": "13900139000",
            },
        )
    )
    html = page(fill(client, html, opinion()))
    html = page(fill(client, html, REQUEST))
    review = page(fill(client, html))
    assert "李四" in review and "王律师" in review
    assert submit(client, review).status_code == 302
    number = re.search(r'id="case-number">([^<]+)<', page(client.get("/apply/receipt"))).group(1)
    case = case_by_number(dbs, number)
    with system_scope(dbs):
        roles = sorted(p.role for p in dbs.scalars(select(CaseParty).where(CaseParty.case_id == case.id)))
    assert roles == ["joint_petitioner", "petitioner", "representative"]


def test_script_tags_are_shown_escaped(client, dbs):
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    html = page(fill(client, html, {**PETITIONER, "petitioner.name": "<script>alert(1)</script>"}))
    html = page(fill(client, html, opinion()))
    html = page(fill(client, html, {**REQUEST, "request": '"><img src=x onerror=alert(2)>'}))
    review = page(fill(client, html))
    assert "<script>alert(1)</script>" not in review and "&lt;script&gt;alert(1)&lt;/script&gt;" in review
    assert "<img src=x" not in review and "&lt;img src=x onerror=alert(2)&gt;" in review
    assert submit(client, review).status_code == 302
    receipt = page(client.get("/apply/receipt"))
    number = re.search(r'id="case-number">([^<]+)<', receipt).group(1)
    tracking = page(client.get(f"/track/{number}"))
    assert "<script>alert(1)" not in tracking


# --- Files -------------------------------------------------------------------------------------------------------


def files_step(client, dbs) -> str:
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    html = page(fill(client, html, PETITIONER))
    html = page(fill(client, html, opinion()))
    html = page(fill(client, html, REQUEST))
    assert step_of(html) == "files"
    return html


def test_a_png_that_is_really_an_executable_is_refused(client, dbs):
    html = files_step(client, dbs)
    refused = page(fill(client, html, go="upload", files=[(exe_bytes(), "photo.png")]), 415)
    assert "只接受 PDF、JPEG、PNG 和 DOCX 文件" in refused and "photo.png" in refused
    assert step_of(refused) == "files" and 'value="张三"' in page(client.get("/apply/petitioner"))
    with system_scope(dbs):
        assert dbs.scalars(select(Upload)).all() == []


def test_path_traversal_names_are_cleaned(client, dbs):
    html = files_step(client, dbs)
    html = page(
        fill(
            client,
            html,
            go="upload",
            files=[(pdf_bytes(), "../../../etc/passwd.pdf"), (docx_bytes(), "C:\\Users\\x\\..\\申请书.docx")],
        )
    )
    with system_scope(dbs):
        names = sorted(u.filename for u in dbs.scalars(select(Upload)))
    assert "passwd.pdf" in names and any(n.endswith("申请书.docx") for n in names)
    assert not any("/" in n or "\\" in n or n.startswith(".") for n in names)
    assert all(n in html for n in names)


def test_oversized_files_are_refused_with_a_clear_message(client, dbs):
    html = files_step(client, dbs)
    big = b"%PDF-1.4\n" + b"0" * (20 * 1024 * 1024)
    refused = page(fill(client, html, go="upload", files=[(big, "big.pdf")]), 413)
    assert "20 MB" in refused and step_of(refused) == "files"
    with system_scope(dbs):
        assert dbs.scalars(select(Upload)).all() == []


def test_a_request_larger_than_allowed_gets_the_friendly_413_page(client, dbs, app, monkeypatch):
    html = files_step(client, dbs)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 8192)
    response = fill(client, html, go="upload", files=[(pdf_bytes() + b"0" * 10000, "a.pdf")])
    assert response.status_code == 413
    body = response.get_data(as_text=True)
    assert 'class="card"' in body and "<h1>" in body and "Traceback" not in body


def test_at_most_ten_files_and_a_file_can_be_removed(client, dbs):
    html = files_step(client, dbs)
    html = page(fill(client, html, go="upload", files=[(pdf_bytes(str(i)), f"{i}.pdf") for i in range(10)]))
    assert html.count('value="remove:') == 10 and 'name="file"' not in html
    too_many = page(fill(client, html, go="upload", files=[(pdf_bytes("x"), "x.pdf")]), 422)
    assert "最多只能附10个文件" in too_many
    first = re.search(r'value="remove:([0-9a-f-]+)"', html).group(1)
    html = page(fill(client, html, go=f"remove:{first}"))
    assert html.count('value="remove:') == 9


def test_forms_carry_csrf_and_refuse_without_it(client):
    html = page(client.get("/apply"))
    assert all(any(name == "csrf_token" for name, _v in f["fields"]) for f in forms_of(html))
    response = client.post("/apply", data={"step": "dispute", "go": "next"})
    assert response.status_code == 400


def test_a_file_expired_mid_submission_leaves_nothing_and_keeps_the_input(client, dbs, storage, owner_engine):
    review = to_review(client, dbs, files=[(pdf_bytes("1"), "1.pdf"), (pdf_bytes("2"), "2.pdf")])
    with owner_engine.begin() as conn:  # the second file has waited more than a day: it cannot be attached now
        conn.execute(text("UPDATE uploads SET created_at = now() - interval '25 hours' WHERE filename = '2.pdf'"))
    before = bucket_keys(storage)
    html = page(submit(client, review), 422)
    assert step_of(html) == "files" and "24 小时" in html and "1.pdf" in html
    assert "张三" in page(client.get("/apply/petitioner"))  # the draft kept the other steps
    assert counts(dbs) == {"cases": 0, "numbers": 0, "attachments": 0, "claimed": 0}
    assert bucket_keys(storage) == before


def test_submitting_is_throttled(client, dbs, app, monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_SUBMIT", "1 per hour")
    review = to_review(client, dbs)
    assert submit(client, review).status_code == 302
    client.get("/apply/receipt")
    response = submit(client, review)
    assert response.status_code == 429 and counts(dbs)["cases"] == 1


def test_late_application_is_flagged_on_the_review(client, dbs):
    html = page(client.get("/apply"))
    html = page(
        fill(client, html, {"disputed.bureau_id": str(get_bureau(dbs, COUNTY).id), "disputed.opinion_kind": "handling"})
    )
    html = page(fill(client, html, PETITIONER))
    long_ago = local_today().replace(day=1).toordinal() - 60
    from datetime import date

    html = page(
        fill(
            client,
            html,
            {
                **opinion(),
                "disputed.issued_on": date.fromordinal(long_ago - 2).isoformat(),
                "disputed.received_on": date.fromordinal(long_ago).isoformat(),
            },
        )
    )
    html = page(fill(client, html, REQUEST))
    review = page(fill(client, html))
    assert 'class="warning"' in review


def test_forged_forms_are_checked_like_any_other(client, dbs):
    token = page_csrf(page(client.get("/apply")))
    # A form that says it is the review, with answers of other steps: they are not taken, and the review is not
    # reached with the first step unanswered.
    forged = {"csrf_token": token, "step": "review", "go": "next", "disputed.bureau_id": "x' OR 1=1", **PETITIONER}
    html = page(follow_steps(client, client.post("/apply", data=forged)), 422)
    assert step_of(html) == "dispute" and "请选择作出意见的社会保险局" in html
    assert 'value="张三"' not in page(client.get("/apply/petitioner"))
    # A forged value on its own step is refused beside its field.
    bogus = {"disputed.bureau_id": "x' OR 1=1", "disputed.opinion_kind": "handling"}
    html = page(
        follow_steps(client, client.post("/apply", data={"csrf_token": token, "step": "dispute", **bogus})), 422
    )
    assert step_of(html) == "dispute" and "所选的社会保险局不存在" in html
    # Every step answered on the province's own opinion: the committee's page, at the review and at the submit.
    province = {"disputed.bureau_id": str(get_bureau(dbs, "220000").id), "disputed.opinion_kind": "handling"}
    for step, values in (
        ("dispute", province),
        ("petitioner", PETITIONER),
        ("opinion", opinion()),
        ("request", REQUEST),
    ):
        response = client.post("/apply", data={"csrf_token": token, "step": step, "go": "edit:review", **values})
    stopped = page(follow_steps(client, response))
    assert "复查复核委员会" in stopped and "Submit" not in stopped
    submitted = follow_steps(client, client.post("/apply/submit", data={"csrf_token": token, "go": "submit"}))
    assert "复查复核委员会" in page(submitted) and counts(dbs)["cases"] == 0


def test_a_second_application_on_the_same_opinion_asks_before_it_is_submitted(client, dbs):
    """§四.14: an open case of the same petitioner on the same document is named in plain words; confirm to go on."""
    first = submit(client, to_review(client, dbs))
    assert first.status_code == 302
    number = re.search(r'id="case-number">([^<]+)<', page(client.get("/apply/receipt"))).group(1)

    review = to_review(client, dbs)
    assert 'id="duplicate-warning"' in review and number in review and "无需重复申请" in review
    before = counts(dbs)
    refused = submit(client, review)
    html = page(refused, 409)
    assert number in html and 'name="confirm_duplicate"' in html
    assert counts(dbs) == before  # nothing submitted, nothing lost: the review page again
    confirmed = fill(client, html, {"confirm_duplicate": "1"}, go="submit")
    assert confirmed.status_code == 302
    second = re.search(r'id="case-number">([^<]+)<', page(client.get("/apply/receipt"))).group(1)
    assert case_by_number(dbs, second).duplicate_of_case_number == number


def test_after_a_final_re_review_the_same_matter_is_announced_as_not_accepted_again_and_may_still_be_sent(
    app, client, dbs
):
    """§四.14 (b): the petitioner's re-review of the city's review opinion was answered; applying again on that
    opinion, the review page says it will not be accepted again, and it can still be submitted (flagged)."""
    from tests.portal.cases.conftest import drive, staff_bureau
    from tests.portal.cases.conftest import submit as submit_case

    city = get_bureau(dbs, "220100")
    re_review = submit_case(
        dbs,
        app.extensions["portal.pii"],
        disputed_bureau_id=city.id,
        opinion_kind="review",
        document_number="长社保信复〔2026〕1号",
    ).case
    drive(dbs, app.extensions["portal.pii"], staff_bureau(dbs, "220000", "pv"), re_review.id, CaseState.replied)

    html = page(client.get("/apply"))
    html = page(fill(client, html, {"disputed.bureau_id": str(city.id), "disputed.opinion_kind": "review"}))
    html = page(fill(client, html, PETITIONER))
    html = page(fill(client, html, {**opinion(), "disputed.document_number": "长社保信复〔2026〕1号"}))
    html = page(fill(client, html, REQUEST))
    review = page(fill(client, html))
    assert step_of(review) == "review"
    warning = re.search(r'<p class="warning" id="repeat-warning">(.*?)</p>', review, re.S)
    assert warning and re_review.number in warning.group(1) and "不再受理" in warning.group(1)
    assert submit(client, review).status_code == 302  # told, not stopped
    number = re.search(r'id="case-number">([^<]+)<', page(client.get("/apply/receipt"))).group(1)
    assert case_by_number(dbs, number).repeat_of_case_number == re_review.number


def test_sending_the_review_page_twice_submits_once_and_shows_the_same_receipt(client, dbs):
    # A double click, or "resend" after the answer was lost: the page carries one Idempotency-Key per attempt.
    review = to_review(client, dbs)
    assert re.search(r'name="idempotency_key" value="[0-9a-f-]{36}"', review)
    first = submit(client, review)
    first_receipt = page(client.get(first.headers["Location"]))  # the browser never showed this one
    again = submit(client, review)
    assert again.status_code == 302 and again.headers["Location"].endswith("/apply/receipt")
    receipt = page(client.get("/apply/receipt"))
    code = re.search(r'id="access-code">([^<]+)<', receipt).group(1)
    assert code == re.search(r'id="access-code">([^<]+)<', first_receipt).group(1)
    assert counts(dbs)["cases"] == 1
    # A fresh review page is a new attempt: a second application (on the same opinion: confirmed, §四.14).
    assert fill(client, to_review(client, dbs), {"confirm_duplicate": "1"}, go="submit").status_code == 302
    assert counts(dbs)["cases"] == 2


def test_a_page_key_sent_again_with_other_answers_is_refused_and_nothing_is_submitted(client, dbs):
    review = to_review(client, dbs)
    assert submit(client, review).status_code == 302
    client.get("/apply/receipt")
    changed = fill(client, review, {"electronic_delivery": "1"}, go="submit")
    html = page(changed)
    assert "此页面已用于提交一份申请" in html and step_of(html) == "dispute"  # a new application starts afresh
    assert client.get("/apply/petitioner").headers["Location"] == "/apply"  # the draft went with the submission
    assert counts(dbs)["cases"] == 1
