"""The composed formal opinion and the report to the committee, through the database, S3 and the render job.

The clerk writes the whole letter in one editor (pre-filled from the bureau's template for the case's kind and
outcome); the system prints one salutation and, to the petitioner, one remedy; the draft stored at submission is
what the leader sees and what signing issues, byte for byte.
"""

from __future__ import annotations

import hashlib
import io
import re
from datetime import date

import pytest
from sqlalchemy import func, select

import worker.jobs
from portal.attachments.models import Attachment
from portal.cases.actions import IncomingFile, take_action
from portal.cases.models import Case, CaseEvent
from portal.documents import DocumentData, render_pdf
from portal.documents.models import DocumentSequence, GeneratedDocument
from portal.documents.service import (
    DocumentSettingsError,
    get_reply_desk,
    get_reply_draft,
    get_signing_draft,
    preview_reply,
    set_template_override,
)
from portal.routing import COMMITTEE_NAME, OpinionKind
from portal.workflow import ActionRefused, CaseState, DocumentKind, Outcome
from tenants.scoping import scope_for_bureau, scoped, set_scope, system_scope
from tenants.tree import get_bureau
from tests.portal.cases.conftest import act, case_events, drive, load_case, staff_bureau, submit, transfer
from tests.portal.test_documents import docx_text, pdf_text
from worker.tasks.documents import render_pending_documents

CITY, PROVINCE = "220100", "220000"
DIVISION_SECRET = "原意见正确。"  # the division's internal opinion in the main path (conftest)
CONCLUSION_WORDS = {
    Outcome.upheld: "本局予以维持",
    Outcome.revoked: "本局决定予以撤销",
    Outcome.changed: "本局决定予以变更",
    Outcome.partly_changed: "予以部分变更",
}


@pytest.fixture
def pii(app):
    return app.extensions["portal.pii"]


@pytest.fixture
def storage(app):
    return app.extensions["portal.storage"]


@pytest.fixture
def city(dbs):
    return staff_bureau(dbs, CITY, "cc")


@pytest.fixture
def province(dbs):
    return staff_bureau(dbs, PROVINCE, "pv")


@pytest.fixture
def run_job(app, monkeypatch):
    monkeypatch.setattr(worker.jobs, "_app", app)
    return render_pending_documents


def take(dbs, pii, storage, user, case_id, action, today=date(2026, 9, 14), files=(), **payload):
    """Take an action the way the pages and the API do (with storage), in the user's scope, and commit."""
    set_scope(dbs, scope_for_bureau(dbs, user.tenant_id))
    try:
        result = take_action(dbs, pii, storage, case_id, action, user, payload, files=files, today=today)
    except Exception:
        dbs.rollback()
        raise
    dbs.commit()
    return result


def fill(text: str, words: str = "经本局调阅原始档案查明，信访人1985年参加工作，有招工审批表佐证。") -> str:
    """The clerk writes every 【…】 passage of the pre-fill."""
    return re.sub(r"【[^【】]*】", words, text)


def desk_of(dbs, staffed, case_id):
    with scoped(dbs, scope_for_bureau(dbs, staffed.bureau_id)):
        return get_reply_desk(dbs, load_case(dbs, case_id))


def draft_of(dbs, staffed, case_id):
    with scoped(dbs, scope_for_bureau(dbs, staffed.bureau_id)):
        return get_reply_draft(dbs, load_case(dbs, case_id))


def issued(dbs, storage, case_id) -> tuple[GeneratedDocument, bytes, Attachment]:
    with system_scope(dbs):
        document = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case_id, GeneratedDocument.kind == DocumentKind.formal_opinion
            )
        )
        pdf = dbs.scalar(
            select(Attachment).where(
                Attachment.tenant_id == document.tenant_id, Attachment.id == document.pdf_attachment_id
            )
        )
    return document, storage.get(pdf.storage_key), pdf


def events(dbs, case_id, action) -> list[CaseEvent]:
    return [e for e in case_events(dbs, case_id) if e.action == action]


def counts(dbs) -> tuple[int, int, int]:
    with system_scope(dbs):
        return (
            dbs.scalar(select(func.count()).select_from(CaseEvent)),
            dbs.scalar(select(func.count()).select_from(Attachment)),
            dbs.scalar(select(func.coalesce(func.sum(DocumentSequence.last_number), 0))),
        )


def review_case(dbs, pii, city) -> Case:
    return drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.drafting_reply)


def re_review_case(dbs, pii, province) -> Case:
    case = submit(dbs, pii, disputed_bureau_id=get_bureau(dbs, CITY).id, opinion_kind=OpinionKind.review).case
    assert str(case.kind) == "re_review"
    return drive(dbs, pii, province, case.id, CaseState.drafting_reply)


# --- one letter per kind and outcome --------------------------------------------------------------------------


@pytest.mark.parametrize("outcome", list(Outcome))
@pytest.mark.parametrize("kind", ["review", "re_review"])
def test_each_outcome_and_kind_issues_the_clerks_letter_as_previewed(
    dbs, pii, storage, city, province, run_job, kind, outcome
):
    staffed = city if kind == "review" else province
    case = review_case(dbs, pii, city) if kind == "review" else re_review_case(dbs, pii, province)
    desk = desk_of(dbs, staffed, case.id)
    label = "复查" if kind == "review" else "复核"
    assert desk.title == f"{label}意见书" and desk.addressee == "张三"
    letter = fill(desk.prefill[str(outcome)])
    assert CONCLUSION_WORDS[outcome] in letter
    assert DIVISION_SECRET not in letter  # the pre-fill holds no internal material
    assert any(r.text == DIVISION_SECRET for r in desk.references)  # it is shown beside the editor instead

    take(dbs, pii, storage, staffed.clerk, case.id, "submit_reply", text=letter, outcome=str(outcome))
    draft = draft_of(dbs, staffed, case.id)
    seen = storage.get(draft.pdf.storage_key)  # what the leader opens
    assert (
        hashlib.sha256(seen).hexdigest()
        == draft.sha256
        == events(dbs, case.id, "submit_reply")[-1].fields["draft"]["sha256"]
    )
    take(dbs, pii, storage, staffed.petitions_leader, case.id, "sign_reply", today=date(2026, 9, 15))
    assert run_job() == {"created": 4}  # acceptance notice, slip, instructed slip, the opinion

    document, body, pdf = issued(dbs, storage, case.id)
    assert body == seen and pdf.id == draft.pdf.id  # byte for byte what was seen
    sign = events(dbs, case.id, "sign_reply")[-1]
    assert sign.fields["draft_sha256"] == draft.sha256 == hashlib.sha256(body).hexdigest()
    assert document.doc_number == draft.doc_number == sign.fields["doc_number"]
    assert document.public and load_case(dbs, case.id).state is CaseState.replied

    words = pdf_text(body)
    assert words.count("张三：") == 1
    assert CONCLUSION_WORDS[outcome] in words
    assert DIVISION_SECRET not in words and "请养老保险处依规审查" not in words
    assert "《信访工作条例》" in words and "《信访条例》" not in words
    if kind == "review":
        assert words.count("申请复核") == 1
        assert "自收到本意见书之日起30日内向吉林省社会保险局申请复核" in words
        assert "为最终意见" not in words
    else:
        assert words.count("为最终意见") == 1 and words.count("不再受理") == 1
        assert "申请复核" not in words


def test_a_review_decided_by_the_province_names_the_committee_as_the_next_body(dbs, pii, storage, province, run_job):
    case = submit(dbs, pii, disputed_bureau_id=get_bureau(dbs, CITY).id, opinion_kind=OpinionKind.handling).case
    assert str(case.kind) == "review" and case.tenant_id == province.bureau_id
    drive(dbs, pii, province, case.id, CaseState.drafting_reply)
    desk = desk_of(dbs, province, case.id)
    assert f"30日内向{COMMITTEE_NAME}申请复核" in desk.remedy
    take(
        dbs, pii, storage, province.clerk, case.id, "submit_reply", text=fill(desk.prefill["upheld"]), outcome="upheld"
    )
    words = pdf_text(storage.get(draft_of(dbs, province, case.id).pdf.storage_key))
    assert words.count("申请复核") == 1 and COMMITTEE_NAME in words


# --- whatever the clerk types ---------------------------------------------------------------------------------

WHOLE_LETTER = """\
复查意见书
长社保信复〔2026〕9号
张三同志：
你于2026年9月3日提出的复查申请收悉。
一、本局查明的事实
经本局调阅档案查明，你1985年参加工作。
二、复查结论
本局予以维持。
如你对本复查意见不服，可以自收到本意见书之日起30日内向吉林省社会保险局申请复核。
长春市社会保险局
2026年9月14日
"""


def test_a_clerk_who_types_a_whole_letter_still_gets_one_salutation_and_one_remedy(dbs, pii, storage, city, run_job):
    case = review_case(dbs, pii, city)
    take(dbs, pii, storage, city.clerk, case.id, "submit_reply", text=WHOLE_LETTER, outcome="upheld")
    take(dbs, pii, storage, city.petitions_leader, case.id, "sign_reply")
    run_job()
    words = pdf_text(issued(dbs, storage, case.id)[1])
    assert words.count("张三") == 1 and words.count("张三：") == 1
    assert words.count("申请复核") == 1
    assert words.count("复查意见书") == 1  # the title, once
    assert words.count("长春市社会保险局") == 2  # letterhead and signature, not a third time
    assert "经本局调阅档案查明，你1985年参加工作。" in words
    # The clerk's text is kept as typed in the history.
    assert events(dbs, case.id, "submit_reply")[-1].fields["text"] == WHOLE_LETTER.strip()


def test_internal_opinion_is_printed_only_when_the_clerk_writes_it(dbs, pii, storage, city, run_job):
    case = review_case(dbs, pii, city)
    letter = fill(desk_of(dbs, city, case.id).prefill["upheld"], f"承办单位认为：{DIVISION_SECRET}")
    take(dbs, pii, storage, city.clerk, case.id, "submit_reply", text=letter, outcome="upheld")
    words = pdf_text(storage.get(draft_of(dbs, city, case.id).pdf.storage_key))
    assert f"承办单位认为：{DIVISION_SECRET}" in words


# --- preview, return, sign ------------------------------------------------------------------------------------


def test_preview_changes_nothing_and_a_returned_draft_keeps_its_number(dbs, pii, storage, city, run_job):
    case = review_case(dbs, pii, city)
    letter = fill(desk_of(dbs, city, case.id).prefill["changed"])
    before = counts(dbs)
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        body, data = preview_reply(dbs, load_case(dbs, case.id), letter, today=date(2026, 9, 14))
    dbs.rollback()
    assert counts(dbs) == before
    assert data.doc_number == "长社保信复〔2026〕1号" and "长社保信复〔2026〕1号" in pdf_text(body)

    take(dbs, pii, storage, city.clerk, case.id, "submit_reply", text=letter, outcome="changed")
    first = draft_of(dbs, city, case.id)
    assert first.doc_number == "长社保信复〔2026〕1号"
    take(dbs, pii, storage, city.petitions_leader, case.id, "return_reply", reason="请写明变更后的养老金标准。")
    assert load_case(dbs, case.id).state is CaseState.drafting_reply
    desk = desk_of(dbs, city, case.id)
    assert any(r.text == "请写明变更后的养老金标准。" for r in desk.references)
    assert desk.reserved_number == "长社保信复〔2026〕1号"

    take(
        dbs,
        pii,
        storage,
        city.clerk,
        case.id,
        "submit_reply",
        text=letter + "\n变更后月养老金为3200元。",
        outcome="changed",
    )
    second = draft_of(dbs, city, case.id)
    assert second.doc_number == first.doc_number and second.sha256 != first.sha256
    # A leader who looked at the first draft cannot sign the second without opening it.
    with pytest.raises(ActionRefused) as refused:
        take(dbs, pii, storage, city.petitions_leader, case.id, "sign_reply", draft_sha256=first.sha256)
    assert refused.value.field == "draft_sha256" and "签发稿" in refused.value.message_zh
    take(dbs, pii, storage, city.petitions_leader, case.id, "sign_reply", draft_sha256=second.sha256)
    run_job()
    body = issued(dbs, storage, case.id)[1]
    assert hashlib.sha256(body).hexdigest() == second.sha256
    assert "变更后月养老金为3200元" in pdf_text(body)
    with system_scope(dbs):
        assert dbs.scalar(select(DocumentSequence.last_number).where(DocumentSequence.series == "复")) == 1


# --- bad input ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "zh", "en"),
    [
        ("   ", "不能为空", "empty"),
        ("张三：\n如不服本复查意见，可自收到本意见书之日起30日内向吉林省社会保险局申请复核。", "没有正文", "no body"),
        ("维持。" * 7000, "不能超过 20000 个字符", "longer than 20000"),
        ("一、本局查明的事实\n【请写明本局调查核实的事实。】\n本局予以维持。", "待填写", "fill in"),
    ],
)
def test_a_letter_that_cannot_be_sent_is_refused_and_changes_nothing(dbs, pii, storage, city, text, zh, en):
    case = review_case(dbs, pii, city)
    before = counts(dbs)
    keys = storage.client.list_objects_v2(Bucket=storage.bucket).get("KeyCount", 0)
    with pytest.raises(ActionRefused) as refused:
        take(dbs, pii, storage, city.clerk, case.id, "submit_reply", text=text, outcome="upheld")
    assert refused.value.code == "invalid" and refused.value.field == "text"
    assert zh in refused.value.message_zh or zh in refused.value.message_en
    assert en.lower() in refused.value.message_en.lower() or en in refused.value.message_zh
    assert counts(dbs) == before
    assert load_case(dbs, case.id).state is CaseState.drafting_reply
    assert storage.client.list_objects_v2(Bucket=storage.bucket).get("KeyCount", 0) == keys


def test_a_template_with_an_unknown_placeholder_is_refused_with_its_name(dbs, city):
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        for kind in ("formal_opinion", "committee_report"):
            with pytest.raises(DocumentSettingsError) as error:
                set_template_override(dbs, city.bureau_id, kind, "{petitioner_name}：{facts}{division_opinion}")
            names = [p.placeholder for p in error.value.problems]
            assert names == ["facts", "division_opinion"]
            assert "{facts}" in error.value.message_zh and "{facts}" in error.value.message_en


def test_a_bureaus_template_pre_fills_the_editor(dbs, pii, city):
    case = review_case(dbs, pii, city)
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        set_template_override(
            dbs,
            city.bureau_id,
            "formal_opinion",
            "{petitioner_name}的申请（{case_number}）。\n{conclusion}\n联系电话：0431-1。",
        )
        dbs.commit()
    desk = desk_of(dbs, city, case.id)
    assert desk.prefill["upheld"].startswith(f"张三的申请（{case.number}）。\n综上，")
    assert desk.prefill["upheld"].endswith("本局予以维持。\n联系电话：0431-1。")


# --- the committee ----------------------------------------------------------------------------------------------


def test_a_transferred_case_ends_in_a_report_to_the_committee(dbs, pii, storage, province, run_job):
    case = transfer(dbs, pii, province).case
    act(dbs, pii, province.clerk, case.id, "request_extension", days=10, reason="需向长春市社会保险局调取档案。")
    act(dbs, pii, province.petitions_leader, case.id, "approve_extension", days=10)
    drive(dbs, pii, province, case.id, CaseState.drafting_reply)
    desk = desk_of(dbs, province, case.id)
    assert desk.kind == "committee_report" and desk.addressee == COMMITTEE_NAME and desk.remedy is None
    assert desk.title == "关于张三信访事项复查办理情况的报告"
    assert desk.signer == province.petitions_leader.display_name
    letter = fill(desk.prefill["upheld"])
    assert letter.startswith("你委转来的张三信访事项（吉信复委转〔2026〕7号") and letter.endswith("特此报告。")
    record = IncomingFile(
        io.BytesIO(render_pdf(DocumentData(kind="x", title="笔录", bureau_name="x", issued_on=date(2026, 9, 1)))),
        "调查笔录.pdf",
    )
    take(dbs, pii, storage, province.clerk, case.id, "submit_reply", files=[record], text=letter, outcome="upheld")
    take(dbs, pii, storage, province.petitions_leader, case.id, "sign_reply")
    assert load_case(dbs, case.id).state is CaseState.reported
    run_job()
    document, body, _ = issued(dbs, storage, case.id)
    words = pdf_text(body)
    assert not document.public and document.title == "关于张三信访事项复查办理情况的报告"
    assert words.count(f"{COMMITTEE_NAME}：") == 1
    assert f"签发人：{province.petitions_leader.display_name}" in words
    assert "附件：调查笔录" in words
    assert "张三：" not in words and "申请复核" not in words and "特此报告。" in words
    assert words.count("特此报告") == 1

    with system_scope(dbs):
        extension = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case.id, GeneratedDocument.kind == DocumentKind.extension_notice
            )
        )
        pdf = dbs.get(Attachment, (extension.tenant_id, extension.pdf_attachment_id))
    words = pdf_text(storage.get(pdf.storage_key))
    assert not extension.public
    assert f"{COMMITTEE_NAME}：" in words and "张三：" not in words
    assert "你委转来的张三信访事项（吉信复委转〔2026〕7号" in words
    assert "因需向长春市社会保险局调取档案，需要延长办理期限" in words and "特此报告" in words
    assert f"签发人：{province.petitions_leader.display_name}" in words


def test_only_the_named_signer_signs_a_report(dbs, pii, storage, province):
    from portal.roles import Role
    from tests.helpers import make_staff

    case = drive(dbs, pii, province, transfer(dbs, pii, province).case.id, CaseState.drafting_reply)
    other = make_staff(dbs, PROVINCE, Role.petitions_leader, username="pv_pl2")
    take(
        dbs,
        pii,
        storage,
        province.clerk,
        case.id,
        "submit_reply",
        text=fill(desk_of(dbs, province, case.id).prefill["upheld"]),
        outcome="upheld",
    )
    with pytest.raises(ActionRefused) as refused:
        take(dbs, pii, storage, other, case.id, "sign_reply")
    assert refused.value.code == "forbidden" and province.petitions_leader.display_name in refused.value.message_zh
    assert load_case(dbs, case.id).state is CaseState.awaiting_signature


# --- 代签: a stand-in declared for signing (§四.4) ----------------------------------------------------------------


def away(dbs, staffed, on: date, stand_in, *, slip: bool, signing: bool) -> None:
    """The petitions leader is away on ``on`` and declared ``stand_in`` for the slip and/or signing."""
    from portal.accounts.absences import add_absence

    with scoped(dbs, scope_for_bureau(dbs, staffed.bureau_id)):
        add_absence(
            dbs,
            staffed.bureau_id,
            user_id=staffed.petitions_leader.id,
            starts_on=on,
            ends_on=on,
            stand_in_id=stand_in.id,
            stand_in_slip=slip,
            stand_in_signing=signing,
        )
        dbs.commit()


def signing_draft_of(dbs, staffed, case_id, user, on):
    with scoped(dbs, scope_for_bureau(dbs, staffed.bureau_id)):
        return get_signing_draft(dbs, load_case(dbs, case_id), user, on)


def issued_docx(dbs, storage, document) -> bytes:
    with system_scope(dbs):
        docx = dbs.get(Attachment, (document.tenant_id, document.docx_attachment_id))
    return storage.get(docx.storage_key)


def test_a_stand_in_signs_the_draft_with_daiqian_and_both_names_and_the_leader_signs_the_draft_itself(
    dbs, pii, storage, city, run_job
):
    """§四.4: the stand-in opens and signs the stored draft re-rendered with 代签; the leader's own signature
    issues the stored draft byte for byte; a stand-in for the slip only cannot sign."""
    slip_day, signing_day = date(2026, 9, 15), date(2026, 9, 16)
    absent, stand_in = city.petitions_leader, city.business_leader
    daiqian = f"签批：{absent.display_name}（{stand_in.display_name}代签）"
    case = review_case(dbs, pii, city)
    take(
        dbs,
        pii,
        storage,
        city.clerk,
        case.id,
        "submit_reply",
        text=fill(desk_of(dbs, city, case.id).prefill["upheld"]),
        outcome="upheld",
    )
    stored = draft_of(dbs, city, case.id)
    stored_pdf = storage.get(stored.pdf.storage_key)
    assert "代签" not in pdf_text(stored_pdf)

    # Declared for the slip only: the draft as stored, and no power to sign.
    away(dbs, city, slip_day, stand_in, slip=True, signing=False)
    assert signing_draft_of(dbs, city, case.id, stand_in, slip_day) == stored
    before = counts(dbs)
    with pytest.raises(ActionRefused) as refused:
        take(dbs, pii, storage, stand_in, case.id, "sign_reply", today=slip_day)
    assert refused.value.code == "forbidden" and counts(dbs) == before

    # Declared for signing: the stand-in sees the draft with 代签 and both names, with its own digest.
    away(dbs, city, signing_day, stand_in, slip=False, signing=True)
    copy = signing_draft_of(dbs, city, case.id, stand_in, signing_day)
    assert copy.signed_for == absent.display_name and copy.body is not None
    assert copy.sha256 == hashlib.sha256(copy.body).hexdigest() != stored.sha256
    words = pdf_text(copy.body)
    assert daiqian in words and stored.doc_number in words
    assert words.replace(daiqian, "") == pdf_text(stored_pdf)  # the same letter, number and date otherwise
    # The leader (away or not) and the clerk see the stored draft.
    assert signing_draft_of(dbs, city, case.id, absent, signing_day) == stored
    assert signing_draft_of(dbs, city, case.id, city.clerk, signing_day) == stored

    # The stored draft's digest (not what the stand-in signs) and a stale one are refused, changing nothing.
    for digest, words_zh in ((stored.sha256, "代签"), ("0" * 64, "签发稿")):
        with pytest.raises(ActionRefused) as refused:
            take(dbs, pii, storage, stand_in, case.id, "sign_reply", today=signing_day, draft_sha256=digest)
        assert refused.value.field == "draft_sha256" and words_zh in refused.value.message_zh
        assert counts(dbs) == before and load_case(dbs, case.id).state is CaseState.awaiting_signature

    take(dbs, pii, storage, stand_in, case.id, "sign_reply", today=signing_day, draft_sha256=copy.sha256)
    run_job()
    document, body, pdf = issued(dbs, storage, case.id)
    assert body == copy.body and pdf.id != stored.pdf.id  # byte for byte what the stand-in opened
    assert document.doc_number == stored.doc_number
    assert daiqian in docx_text(issued_docx(dbs, storage, document))
    sign = events(dbs, case.id, "sign_reply")[-1]
    assert sign.fields["on_behalf_of"] == absent.id and sign.fields["draft_sha256"] == copy.sha256
    assert sign.fields["signed_copy"]["sha256"] == copy.sha256

    # The leader signing in person, the same day, issues the stored draft byte for byte.
    other = review_case(dbs, pii, city)
    letter = fill(desk_of(dbs, city, other.id).prefill["upheld"])
    take(dbs, pii, storage, city.clerk, other.id, "submit_reply", text=letter, outcome="upheld")
    own = draft_of(dbs, city, other.id)
    take(dbs, pii, storage, absent, other.id, "sign_reply", today=signing_day, draft_sha256=own.sha256)
    run_job()
    _, body, pdf = issued(dbs, storage, other.id)
    assert pdf.id == own.pdf.id and body == storage.get(own.pdf.storage_key) and "代签" not in pdf_text(body)
    assert events(dbs, other.id, "sign_reply")[-1].fields.get("on_behalf_of") is None


def test_a_stand_ins_signature_without_storage_at_hand_still_issues_the_copy_with_daiqian(
    dbs, pii, storage, city, run_job
):
    """Signed outside the pages and the API (no storage passed): the copy is rendered when it is issued, the same
    bytes as the stand-in's preview."""
    on, stand_in = date(2026, 9, 16), city.principal
    case = review_case(dbs, pii, city)
    take(
        dbs,
        pii,
        storage,
        city.clerk,
        case.id,
        "submit_reply",
        text=fill(desk_of(dbs, city, case.id).prefill["revoked"]),
        outcome="revoked",
    )
    away(dbs, city, on, stand_in, slip=False, signing=True)
    copy = signing_draft_of(dbs, city, case.id, stand_in, on)
    act(dbs, pii, stand_in, case.id, "sign_reply", on, draft_sha256=copy.sha256)
    run_job()
    body = issued(dbs, storage, case.id)[1]
    assert body == copy.body
    assert f"签批：{city.petitions_leader.display_name}（{stand_in.display_name}代签）" in pdf_text(body)


def test_a_report_signed_by_a_stand_in_names_both_as_its_signer(dbs, pii, storage, province, run_job):
    """A report to the committee names its 签发人: a stand-in declared for signing signs it as 代签."""
    on, absent, stand_in = date(2026, 9, 16), province.petitions_leader, province.business_leader
    case = drive(dbs, pii, province, transfer(dbs, pii, province).case.id, CaseState.drafting_reply)
    letter = fill(desk_of(dbs, province, case.id).prefill["upheld"])
    take(dbs, pii, storage, province.clerk, case.id, "submit_reply", text=letter, outcome="upheld")
    away(dbs, province, on, stand_in, slip=False, signing=True)
    copy = signing_draft_of(dbs, province, case.id, stand_in, on)
    header = f"签发人：{absent.display_name}（{stand_in.display_name}代签）"
    assert header in pdf_text(copy.body) and "签批：" not in pdf_text(copy.body)
    # Nobody else signs the report that names its 签发人 (the principal leader was not declared).
    with pytest.raises(ActionRefused) as refused:
        take(dbs, pii, storage, province.principal, case.id, "sign_reply", today=on)
    assert refused.value.code == "forbidden"
    take(dbs, pii, storage, stand_in, case.id, "sign_reply", today=on, draft_sha256=copy.sha256)
    assert load_case(dbs, case.id).state is CaseState.reported
    run_job()
    document, body, _ = issued(dbs, storage, case.id)
    assert body == copy.body and not document.public
    assert header in pdf_text(body) and header in docx_text(issued_docx(dbs, storage, document))


# --- the extension notice and the law ---------------------------------------------------------------------------


def test_the_extension_notice_gives_the_reason_and_the_new_date_without_implying_a_miss(
    dbs, pii, storage, city, run_job
):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    act(dbs, pii, city.clerk, case.id, "request_extension", days=20, reason="需向南关区社会保险局调取2015年缴费档案。")
    act(dbs, pii, city.petitions_leader, case.id, "approve_extension", days=20)
    assert run_job() == {"created": 2}
    with system_scope(dbs):
        notice = dbs.scalar(
            select(GeneratedDocument).where(
                GeneratedDocument.case_id == case.id, GeneratedDocument.kind == DocumentKind.extension_notice
            )
        )
        pdf = dbs.get(Attachment, (notice.tenant_id, notice.pdf_attachment_id))
    words = pdf_text(storage.get(pdf.storage_key))
    assert "未能" not in words and "逾期" not in words
    assert "因需向南关区社会保险局调取2015年缴费档案，需要延长办理期限" in words
    assert re.search(r"办理期限延长20日，办结期限延至2026年\d+月\d+日", words)
    assert "张三：" in words and notice.public


def test_documents_cite_the_regulation_in_force(dbs, pii, storage, city, run_job):
    case = submit(dbs, pii).case
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "reject",
        reason="outside_scope",
        explanation="不属于本局职责。",
        remedy="向有关部门反映。",
    )
    run_job()
    with system_scope(dbs):
        notice = dbs.scalar(select(GeneratedDocument).where(GeneratedDocument.case_id == case.id))
        pdf = dbs.get(Attachment, (notice.tenant_id, notice.pdf_attachment_id))
    words = pdf_text(storage.get(pdf.storage_key))
    assert "《信访工作条例》" in words and "吉社保〔2021〕58号" in words and "《信访条例》" not in words
    from portal.cases.calendar import get_step_rules
    from portal.workflow import Step

    with system_scope(dbs):
        assert get_step_rules(dbs)[Step.escalation_window].ref == "《信访工作条例》第三十五条、第三十六条"
