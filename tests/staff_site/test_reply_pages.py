"""The formal opinion on the staff pages: one editor with the internal material beside it, a preview before it
counts, the leader reading the stored draft, and signing issuing exactly that draft."""

from __future__ import annotations

import hashlib
import html
import re

import pytest
from sqlalchemy import func, select

import worker.jobs
from portal.attachments.models import Attachment
from portal.cases.models import CaseEvent
from portal.documents.models import GeneratedDocument
from portal.workflow import CaseState, DocumentKind
from tenants.scoping import system_scope
from tests.portal.cases.conftest import drive
from tests.portal.test_documents import pdf_text
from tests.staff_site.conftest import act_page, alert, case_row, form_values, sign_in, submit_case
from worker.tasks.documents import render_pending_documents

DIVISION_OPINION = "原意见正确。"  # what the division wrote on the main path (tests/portal/cases/conftest.py)


@pytest.fixture
def run_job(app, monkeypatch):
    monkeypatch.setattr(worker.jobs, "_app", app)
    return render_pending_documents


def _drafting(dbs, pii, city):
    return drive(dbs, pii, city, submit_case(dbs, pii).id, CaseState.drafting_reply)


def _editor_text(page_html: str) -> str:
    match = re.search(r'<textarea[^>]*name="text"[^>]*>(.*?)</textarea>', page_html, re.S)
    return html.unescape(match.group(1)).lstrip("\r\n").replace("\r\n", "\n")


def _written(text: str) -> str:
    return re.sub(r"【[^【】]*】", "经本局调阅原始档案查明，信访人1985年参加工作。", text)


def _counts(dbs, case_id):
    with system_scope(dbs):
        return (
            dbs.scalar(select(func.count()).select_from(CaseEvent).where(CaseEvent.case_id == case_id)),
            dbs.scalar(select(func.count()).select_from(Attachment).where(Attachment.case_id == case_id)),
        )


def test_the_editor_is_pre_filled_and_shows_the_internal_material_beside_it(app, dbs, pii, city):
    case = _drafting(dbs, pii, city)
    clerk = sign_in(app, city.clerk)
    page = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply").get_data(as_text=True)
    text = _editor_text(page)
    assert re.match(r"你于\d{4}年\d+月\d+日提出的信访事项复查申请（案件编号：", text), text[:80]
    assert "一、本局查明的事实" in text and "本局予以维持。" in text
    assert DIVISION_OPINION not in text and "张三：" not in text and "申请复核" not in text
    aside = page.split('class="reply-references"', 1)[1]
    assert DIVISION_OPINION in aside and "参考材料（不打印）" in aside
    assert "如对本复查意见不服" in page  # the remedy is shown as the fixed part the system prints
    revoked = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply?outcome=revoked").get_data(as_text=True)
    assert "本局决定予以撤销" in _editor_text(revoked)
    assert re.search(r'<option[^>]*selected[^>]*value="revoked"|<option[^>]*value="revoked"[^>]*selected', revoked)


def test_preview_shows_the_exact_pdf_and_changes_nothing(app, dbs, pii, city):
    case = _drafting(dbs, pii, city)
    clerk = sign_in(app, city.clerk)
    page = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply").get_data(as_text=True)
    letter = _written(_editor_text(page))
    before = _counts(dbs, case.id)
    response = clerk.post(
        f"/staff/cases/{case.id}/actions/submit_reply",
        data={**form_values(page), "text": letter, "outcome": "upheld", "preview": "1"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    words = pdf_text(response.data)
    assert words.count("张三：") == 1 and words.count("申请复核") == 1 and "长社保信复〔2026〕1号" in words
    assert DIVISION_OPINION not in words
    # The same through the preview route, and a letter with a passage left to write is refused on its field.
    direct = clerk.post(
        f"/staff/cases/{case.id}/reply-preview", data={**form_values(page), "text": letter, "outcome": "upheld"}
    )
    assert direct.mimetype == "application/pdf" and pdf_text(direct.data) == words
    unfilled = clerk.post(
        f"/staff/cases/{case.id}/actions/submit_reply",
        data={**form_values(page), "text": _editor_text(page), "outcome": "upheld", "preview": "1"},
        content_type="multipart/form-data",
    )
    assert unfilled.status_code == 422 and "待填写" in unfilled.get_data(as_text=True)
    assert _counts(dbs, case.id) == before and case_row(dbs, case.id).state is CaseState.drafting_reply


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("", "此项为必填项", "This field is required"),
        ("维持。" * 7000, "20000", "20000"),
        ("一、本局查明的事实\n【请写明】\n本局予以维持。", "待填写", "fill in"),
    ],
)
def test_a_bad_letter_gets_a_field_error_in_either_language_and_changes_nothing(app, dbs, pii, city, text, zh, en):
    case = _drafting(dbs, pii, city)
    before = _counts(dbs, case.id)
    for lang, expected in (("zh", zh), ("en", en)):
        clerk = sign_in(app, city.clerk)
        clerk.get(f"/staff/?lang={lang}")  # the language is remembered in the session
        response = act_page(clerk, case.id, "submit_reply", {"text": text, "outcome": "upheld"})
        assert response.status_code == 422, alert(response)
        body = response.get_data(as_text=True)
        # The error sits beside the field (above it, since the accessibility walk) and the field points to it.
        textarea = re.search(r'<textarea[^>]*\bname="text"[^>]*>', body).group(0)
        assert 'aria-invalid="true"' in textarea, textarea
        described_by = re.search(r'aria-describedby="([^"]*)"', textarea).group(1).split()
        assert "text-error" in described_by, textarea
        field = re.search(r'<div class="field[^"]*has-error">(.*?)</div>', body, re.S).group(1)
        assert 'name="text"' in field
        error = re.search(r'<p class="error" id="text-error">(.*?)</p>', field, re.S).group(1)
        assert expected in html.unescape(error), error
    assert _counts(dbs, case.id) == before and case_row(dbs, case.id).state is CaseState.drafting_reply


def test_the_leader_reads_the_stored_draft_returns_it_and_signs_what_was_read(app, dbs, pii, city, run_job):
    case = _drafting(dbs, pii, city)
    clerk, leader = sign_in(app, city.clerk), sign_in(app, city.petitions_leader)
    page = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply").get_data(as_text=True)
    letter = _written(_editor_text(page))
    assert act_page(clerk, case.id, "submit_reply", {"text": letter, "outcome": "upheld"}).status_code == 302

    sign_page = leader.get(f"/staff/cases/{case.id}/actions/sign_reply").get_data(as_text=True)
    assert "打开签发稿（PDF）" in sign_page and "长社保信复〔2026〕1号" in sign_page
    first = leader.get(f"/staff/cases/{case.id}/reply-draft.pdf")
    assert first.mimetype == "application/pdf"
    assert first.headers["X-Content-SHA256"] == hashlib.sha256(first.data).hexdigest()
    assert first.headers["X-Content-SHA256"][:16] in sign_page

    # Returned with a reason: the clerk gets the letter back as written, and the reason beside it.
    returned = act_page(leader, case.id, "return_reply", {"reason": "请补充政策依据。"})
    assert returned.status_code == 302
    again = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply").get_data(as_text=True)
    assert _editor_text(again).strip() == letter.strip() and "请补充政策依据。" in again
    revised = letter + "\n依据《社会保险法》第十六条。"
    assert act_page(clerk, case.id, "submit_reply", {"text": revised, "outcome": "upheld"}).status_code == 302

    # A sign form opened before the new draft (the old digest) is refused; a fresh one signs.
    stale = act_page(leader, case.id, "sign_reply", {"draft_sha256": first.headers["X-Content-SHA256"]})
    assert stale.status_code == 422 and "您查看的签发稿不是当前待签发的正式意见" in alert(stale)
    draft = leader.get(f"/staff/cases/{case.id}/reply-draft.pdf")
    assert draft.data != first.data and "依据《社会保险法》第十六条" in pdf_text(draft.data)
    assert act_page(leader, case.id, "sign_reply", {"comment": "同意。"}).status_code == 302
    assert case_row(dbs, case.id).state is CaseState.replied
    run_job()
    with system_scope(dbs):
        document = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case.id, GeneratedDocument.kind == DocumentKind.formal_opinion
            )
        )
        pdf = dbs.get(Attachment, (document.tenant_id, document.pdf_attachment_id))
        sign = dbs.scalar(select(CaseEvent).where(CaseEvent.case_id == case.id, CaseEvent.action == "sign_reply"))
    issued = app.extensions["portal.storage"].get(pdf.storage_key)
    assert issued == draft.data
    assert sign.fields["draft_sha256"] == hashlib.sha256(issued).hexdigest() == draft.headers["X-Content-SHA256"]
    # The history shows the draft's digest to anyone who reads the case.
    history = leader.get(f"/staff/cases/{case.id}").get_data(as_text=True)
    assert draft.headers["X-Content-SHA256"] in history


def test_a_stand_in_declared_for_signing_reads_and_signs_the_draft_with_daiqian(app, dbs, pii, city, run_job):
    """§四.4 on the pages: the stand-in's draft says 代签 with both names; its digest is what they sign."""
    from portal.accounts.absences import add_absence
    from portal.cases.queries import local_today
    from tenants.scoping import scope_for_bureau, scoped

    case = _drafting(dbs, pii, city)
    clerk = sign_in(app, city.clerk)
    page = clerk.get(f"/staff/cases/{case.id}/actions/submit_reply").get_data(as_text=True)
    assert (
        act_page(
            clerk, case.id, "submit_reply", {"text": _written(_editor_text(page)), "outcome": "upheld"}
        ).status_code
        == 302
    )
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        add_absence(
            dbs,
            city.bureau_id,
            user_id=city.petitions_leader.id,
            starts_on=local_today(),
            ends_on=local_today(),
            stand_in_id=city.principal.id,
            stand_in_slip=False,
            stand_in_signing=True,
        )
        dbs.commit()
    daiqian = f"签批：{city.petitions_leader.display_name}（{city.principal.display_name}代签）"
    leader, stand_in = sign_in(app, city.petitions_leader), sign_in(app, city.principal)
    stored = leader.get(f"/staff/cases/{case.id}/reply-draft.pdf")
    assert "代签" not in pdf_text(stored.data)
    copy = stand_in.get(f"/staff/cases/{case.id}/reply-draft.pdf")
    digest = copy.headers["X-Content-SHA256"]
    assert digest == hashlib.sha256(copy.data).hexdigest() != stored.headers["X-Content-SHA256"]
    assert daiqian in pdf_text(copy.data)
    sign_page = stand_in.get(f"/staff/cases/{case.id}/actions/sign_reply").get_data(as_text=True)
    assert digest[:16] in sign_page and f"您作为{city.petitions_leader.display_name}指定的代签人签发" in sign_page
    assert re.search(rf'name="draft_sha256"[^>]*value="{digest}"|value="{digest}"[^>]*name="draft_sha256"', sign_page)

    # The stored draft's digest (the leader's page) is not what the stand-in signs.
    refused = act_page(stand_in, case.id, "sign_reply", {"draft_sha256": stored.headers["X-Content-SHA256"]})
    assert refused.status_code == 422 and "您代签的正式意见应注明“代签”及双方姓名" in alert(refused)
    assert case_row(dbs, case.id).state is CaseState.awaiting_signature
    signed = act_page(stand_in, case.id, "sign_reply", {"comment": "同意。", "draft_sha256": digest})
    assert signed.status_code == 302
    run_job()
    with system_scope(dbs):
        document = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case.id, GeneratedDocument.kind == DocumentKind.formal_opinion
            )
        )
        pdf = dbs.get(Attachment, (document.tenant_id, document.pdf_attachment_id))
    issued = app.extensions["portal.storage"].get(pdf.storage_key)
    assert issued == copy.data and daiqian in pdf_text(issued)


def test_the_admin_previews_a_template_and_an_unknown_placeholder_is_refused_by_name(app, dbs, city):
    from portal.roles import Role
    from tests.helpers import make_staff

    admin = sign_in(app, make_staff(dbs, "220100", Role.bureau_admin, username="cc_admin_t"))
    url = "/staff/admin/documents/template?kind=formal_opinion"
    page = admin.get(url).get_data(as_text=True)
    values = form_values(page)
    preview = admin.post(url, data={**values, "text": "{petitioner_name}的申请。\n{conclusion}", "preview": "1"})
    assert preview.mimetype == "application/pdf"
    assert "张三的申请。" in pdf_text(preview.data) and "本局予以维持" in pdf_text(preview.data)
    refused = admin.post(url, data={**values, "text": "{petitioner_name}：{division_opinion}"})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "{division_opinion}" in body
    with system_scope(dbs):
        from portal.documents.models import DocumentTemplate

        assert dbs.scalar(select(func.count()).select_from(DocumentTemplate)) == 0
