"""Stored documents against the real PostgreSQL and S3: cases driven through the workflow, then the render job."""

from __future__ import annotations

import hashlib
import threading
from datetime import date

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

import worker.jobs
from portal.attachments.models import Attachment, AttachmentSource
from portal.cases.models import Case, Outbox
from portal.documents.models import DocumentSequence, DocumentSettings, DocumentTemplate, GeneratedDocument
from portal.documents.service import (
    DocumentSettingsError,
    get_document_file,
    get_document_settings,
    list_documents,
    render_outbox_row,
    reset_template,
    set_letterhead,
    set_number_prefix,
    set_template_override,
)
from portal.documents.templates import MAX_TEMPLATE_CHARS, default_text
from portal.routing import OpinionKind
from portal.workflow import CaseState, DocumentKind
from tenants.scoping import CrossTenantWrite, TenantScope, scope_for_bureau, scoped, system_scope
from tenants.tree import get_bureau
from tests.portal.cases.conftest import act, drive, load_case, staff_bureau, submit
from tests.portal.test_documents import docx_text, pdf_text, squash
from worker.tasks.documents import process_row, render_pending_documents

CITY, PROVINCE, SIBLING_COUNTY = "220100", "220000", "220104"


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
def run_job(app, dbs, monkeypatch):
    """Run the real periodic job (its own app context, session and commits), as the worker would."""
    monkeypatch.setattr(worker.jobs, "_app", app)

    return render_pending_documents


# --- helpers ------------------------------------------------------------------------------------------------


def documents(dbs, case_id: int) -> list[GeneratedDocument]:
    with system_scope(dbs):
        return list(
            dbs.scalars(
                select(GeneratedDocument)
                .where(GeneratedDocument.case_id == case_id)
                .order_by(GeneratedDocument.event_seq, GeneratedDocument.id)
                .execution_options(populate_existing=True)
            )
        )


def render_rows(dbs, case_id: int | None = None) -> list[Outbox]:
    with system_scope(dbs):
        query = select(Outbox).where(Outbox.kind == "render_document")
        if case_id is not None:
            query = query.where(Outbox.case_id == case_id)
        return list(dbs.scalars(query.order_by(Outbox.id).execution_options(populate_existing=True)))


def attachment(dbs, tenant_id: int, attachment_id: int) -> Attachment:
    with system_scope(dbs):
        return dbs.scalar(select(Attachment).where(Attachment.tenant_id == tenant_id, Attachment.id == attachment_id))


def stored(dbs, storage, document: GeneratedDocument) -> tuple[bytes, bytes]:
    """The PDF and DOCX bytes as object storage has them (checked against the recorded digest)."""
    out = []
    for attachment_id in (document.pdf_attachment_id, document.docx_attachment_id):
        row = attachment(dbs, document.tenant_id, attachment_id)
        body = storage.get(row.storage_key)
        assert hashlib.sha256(body).hexdigest() == row.sha256 and len(body) == row.size
        assert row.source is AttachmentSource.generated
        assert row.storage_key.startswith(f"{document.tenant_id}/{document.case_id}/")
        out.append(body)
    return out[0], out[1]


def objects_under(storage, tenant_id: int, case_id: int) -> list[str]:
    listed = storage.client.list_objects_v2(Bucket=storage.bucket, Prefix=f"{tenant_id}/{case_id}/")
    return [o["Key"] for o in listed.get("Contents", [])]


def texts(dbs, storage, document: GeneratedDocument) -> tuple[str, str]:
    pdf, docx = stored(dbs, storage, document)
    return pdf_text(pdf), docx_text(docx)


def assert_says(dbs, storage, document: GeneratedDocument, *phrases: str) -> None:
    pdf_words, docx_words = texts(dbs, storage, document)
    for phrase in phrases:
        assert squash(phrase) in pdf_words, (document.kind, phrase)
        assert squash(phrase) in docx_words, (document.kind, phrase)


def review_to_reply(dbs, pii, city) -> Case:
    """A review at 长春市 from submission to the signed reply, with a return for revision and an extension."""
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "submit_slip",
        proposal="建议交养老保险处审查，稽核处协助。",
        complexity="complex",
        lead_unit_id=city.pension_unit,
        assisting_unit_ids=[city.audit_unit],
    )
    act(dbs, pii, city.petitions_leader, case.id, "instruct", instruction="请养老保险处依规审查，十日内报结果。")
    act(dbs, pii, city.clerk, case.id, "dispatch", note="阅办单及材料已交养老保险处。")
    act(dbs, pii, city.division, case.id, "submit_opinion", opinion="经审查，原处理意见正确。", needs_approval=True)
    act(dbs, pii, city.business_leader, case.id, "return_opinion", reason="请补充政策依据。")
    act(dbs, pii, city.clerk, case.id, "request_extension", days=20, reason="需向南关区社会保险局调取2015年缴费档案")
    act(dbs, pii, city.petitions_leader, case.id, "approve_extension", days=20)
    act(
        dbs,
        pii,
        city.division,
        case.id,
        "submit_opinion",
        opinion="经调阅南关区社会保险局档案，信访人2015年缴费记录完整，原处理意见认定事实清楚。",
        needs_approval=True,
    )
    act(dbs, pii, city.business_leader, case.id, "approve_opinion")
    act(dbs, pii, city.clerk, case.id, "submit_reply", text="维持南关区社会保险局的处理意见。", outcome="upheld")
    act(dbs, pii, city.petitions_leader, case.id, "sign_reply", today=date(2026, 10, 20))
    return load_case(dbs, case.id)


# --- the whole path -----------------------------------------------------------------------------------------


def test_a_driven_review_gets_one_numbered_document_per_outbox_row(dbs, pii, storage, city, run_job):
    case = review_to_reply(dbs, pii, city)
    rows = render_rows(dbs, case.id)
    assert [r.payload["document"] for r in rows] == [
        "acceptance_notice",
        "reading_slip",
        "reading_slip",
        "extension_notice",
        "formal_opinion",
    ]

    counts = run_job()
    assert counts == {"created": 5}
    docs = documents(dbs, case.id)
    assert [(d.kind, d.event_seq) for d in docs] == [
        (DocumentKind(r.payload["document"]), r.payload["seq"]) for r in rows
    ]
    assert all(r.status == "sent" and r.sent_at is not None and r.attempts == 1 for r in render_rows(dbs, case.id))
    numbers = {d.kind: d.doc_number for d in docs}
    assert numbers == {
        DocumentKind.acceptance_notice: "长社保信受〔2026〕1号",
        DocumentKind.reading_slip: "长社保信阅〔2026〕1号",
        DocumentKind.extension_notice: "长社保信延〔2026〕1号",
        DocumentKind.formal_opinion: "长社保信复〔2026〕1号",
    }
    # The slip with the leader's instruction is the same document: it keeps its number.
    slips = [d for d in docs if d.kind is DocumentKind.reading_slip]
    assert [s.doc_number for s in slips] == ["长社保信阅〔2026〕1号"] * 2
    assert [s.title for s in slips] == ["信访事项阅办单", "信访事项阅办单（已批示）"]
    assert [d.public for d in docs] == [True, False, False, True, True]

    acceptance, slip, instructed, extension, opinion = docs
    common = ("长春市社会保险局", "张三", case.number)
    assert_says(
        dbs,
        storage,
        acceptance,
        *common,
        "长社保信受〔2026〕1号",
        "信访事项复查受理告知书",
        "受理日期为2026年9月11日",
        "南关区社会保险局2026年9月1日作出的信访事项处理意见（南社保信〔2026〕3号）",
    )
    assert_says(
        dbs,
        storage,
        slip,
        *common,
        "建议交养老保险处审查，稽核处协助。",
        "养老保险处（主办）、稽核处（协办）",
        "复杂（涉及多个业务处室、单位）",
        "请求撤销处理意见，重新核定养老金。",
    )
    assert "请养老保险处依规审查" not in texts(dbs, storage, slip)[0]
    # An internal form: its register number names the file, the form itself carries no 发文字号.
    assert "长社保信阅〔2026〕1号" not in texts(dbs, storage, slip)[0]
    assert_says(
        dbs,
        storage,
        instructed,
        "请养老保险处依规审查，十日内报结果。",
        f"签批人：{city.petitions_leader.display_name}",
    )
    assert_says(
        dbs,
        storage,
        extension,
        *common,
        "长社保信延〔2026〕1号",
        "延期办理告知书",
        "办理期限延长20日",
        "需向南关区社会保险局调取2015年缴费档案",
    )
    assert_says(
        dbs,
        storage,
        opinion,
        "长春市社会保险局",
        "张三：",
        "长社保信复〔2026〕1号",
        "复查意见书",
        "维持南关区社会保险局的处理意见。",
        "如对本复查意见不服，可依照《信访工作条例》第三十五条、第三十六条的规定，自收到本意见书之日起30日内向"
        "吉林省社会保险局申请复核。",
        "2026年10月20日",
    )
    # The letter is the clerk's text: the division's internal opinion is not pasted into it.
    assert "信访人2015年缴费记录完整" not in texts(dbs, storage, opinion)[0]

    # Running again creates nothing: no rows, no objects.
    objects = objects_under(storage, case.tenant_id, case.id)
    assert len(objects) == 10
    assert run_job() == {}
    with system_scope(dbs):
        for row in render_rows(dbs, case.id):  # even a row put back by hand finds its document
            row.status = "pending"
        dbs.commit()
    assert run_job() == {"exists": 5}
    assert len(documents(dbs, case.id)) == 5
    assert sorted(objects_under(storage, case.tenant_id, case.id)) == sorted(objects)
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Attachment)) == 10


def test_list_documents_gives_working_links_and_hides_internal_ones_from_the_public(dbs, pii, storage, city, run_job):
    case = review_to_reply(dbs, pii, city)
    run_job()
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        staff_view = list_documents(dbs, storage, case)
        public_view = list_documents(dbs, storage, case, public_only=True)
    assert [d.title for d in staff_view] == [
        "信访事项复查受理告知书",
        "信访事项阅办单",
        "信访事项阅办单（已批示）",
        "延期办理告知书",
        "复查意见书",
    ]
    assert [d.title for d in public_view] == ["信访事项复查受理告知书", "延期办理告知书", "复查意见书"]
    assert all(d.docx_url is None for d in public_view)
    first = staff_view[0]
    assert first.doc_number == "长社保信受〔2026〕1号"
    assert first.pdf_filename == "信访事项复查受理告知书（长社保信受〔2026〕1号）.pdf"
    pdf = requests.get(first.pdf_url, timeout=10)
    docx = requests.get(first.docx_url, timeout=10)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert "长社保信受〔2026〕1号" in pdf_text(pdf.content)
    assert docx.status_code == 200 and "长社保信受〔2026〕1号" in docx_text(docx.content)

    # Supervision reads, a sibling bureau sees nothing.
    with scoped(dbs, scope_for_bureau(dbs, get_bureau(dbs, PROVINCE).id)):
        assert len(list_documents(dbs, storage, case)) == 5
    with scoped(dbs, scope_for_bureau(dbs, get_bureau(dbs, SIBLING_COUNTY).id)):
        assert list_documents(dbs, storage, case) == []
        assert get_document_file(dbs, case, first.id, "pdf") is None
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        assert get_document_file(dbs, case, first.id, "docx").content_type.endswith("document")
        assert get_document_file(dbs, case, first.id, "docx", public_only=True) is None
        assert get_document_file(dbs, case, staff_view[1].id, "pdf", public_only=True) is None
        assert get_document_file(dbs, case, first.id, "exe") is None


def test_non_acceptance_notice_carries_the_reason_and_the_remedy(dbs, pii, storage, city, run_job):
    case = submit(dbs, pii).case
    act(
        dbs,
        pii,
        city.clerk,
        case.id,
        "reject",
        reason="litigation",
        explanation="你反映的养老金核定争议已由长春市南关区人民法院立案受理。",
        remedy="请依照人民法院的裁判主张权利。",
    )
    assert run_job() == {"created": 1}
    (notice,) = documents(dbs, case.id)
    assert notice.kind is DocumentKind.non_acceptance_notice and notice.public
    assert notice.doc_number == "长社保信不受〔2026〕1号"
    assert_says(
        dbs,
        storage,
        notice,
        "长春市社会保险局",
        "张三",
        "不予受理告知书",
        "长社保信不受〔2026〕1号",
        "不予受理的理由：已经或者依法应当通过诉讼途径解决。你反映的养老金核定争议已由长春市南关区人民法院立案受理。",
        "下步救济途径：请依照人民法院的裁判主张权利。",
    )


def test_escalated_re_review_cites_the_review_opinion_and_is_final(dbs, pii, storage, city, province, run_job):
    review = review_to_reply(dbs, pii, city)
    run_job()
    from portal.cases.history import Actor
    from portal.cases.operations import perform_action

    with system_scope(dbs):
        result = perform_action(
            dbs,
            pii,
            review.id,
            "escalate",
            Actor("petitioner", None, "张三"),
            {"reason": "不服复查意见。"},
            today=date(2026, 10, 25),
        )
        dbs.commit()
    re_review = result.new_case
    drive(dbs, pii, province, re_review.id, CaseState.replied, today=date(2026, 10, 27))
    assert run_job() == {"created": 4}
    docs = documents(dbs, re_review.id)
    numbers = [d.doc_number for d in docs]
    assert numbers[0] == "吉社保信受〔2026〕1号"  # another bureau starts at 1
    assert numbers[-1] == "吉社保信核〔2026〕1号"
    assert_says(
        dbs,
        storage,
        docs[0],
        "吉林省社会保险局",
        "信访事项复核受理告知书",
        "长春市社会保险局2026年10月20日作出的信访事项复查意见（长社保信复〔2026〕1号）",
    )
    assert_says(dbs, storage, docs[-1], "复核意见书", "维持原意见", "本复核意见为最终意见")
    assert "申请复核" not in texts(dbs, storage, docs[-1])[0]


def test_numbers_count_per_bureau_year_and_series(dbs, pii, city, province, run_job):
    cases = [submit(dbs, pii).case for _ in range(3)]
    for case in cases:
        act(dbs, pii, city.clerk, case.id, "accept")
    late = submit(dbs, pii, today=date(2026, 12, 30)).case
    act(dbs, pii, city.clerk, late.id, "accept", today=date(2027, 1, 5))
    at_province = submit(dbs, pii, disputed_bureau_id=get_bureau(dbs, CITY).id, opinion_kind=OpinionKind.review).case
    assert at_province.tenant_id == province.bureau_id
    act(dbs, pii, province.clerk, at_province.id, "accept")
    rejected = submit(dbs, pii).case
    act(dbs, pii, city.clerk, rejected.id, "reject", reason="outside_scope", explanation="不属于本局。", remedy="无。")
    run_job()
    got = {c.id: documents(dbs, c.id)[0].doc_number for c in [*cases, late, at_province, rejected]}
    assert [got[c.id] for c in cases] == ["长社保信受〔2026〕1号", "长社保信受〔2026〕2号", "长社保信受〔2026〕3号"]
    assert got[late.id] == "长社保信受〔2027〕1号"
    assert got[at_province.id] == "吉社保信受〔2026〕1号"
    assert got[rejected.id] == "长社保信不受〔2026〕1号"
    with system_scope(dbs):
        sequences = {(s.tenant_id, s.year, s.series): s.last_number for s in dbs.scalars(select(DocumentSequence))}
    assert sequences == {
        (city.bureau_id, 2026, "受"): 3,
        (city.bureau_id, 2027, "受"): 1,
        (city.bureau_id, 2026, "不受"): 1,
        (province.bureau_id, 2026, "受"): 1,
    }


# --- bureau settings ----------------------------------------------------------------------------------------


def test_bureau_settings_change_the_documents(dbs, pii, storage, city, run_job):
    bureau_id = city.bureau_id
    with scoped(dbs, scope_for_bureau(dbs, bureau_id)):
        settings = get_document_settings(dbs, bureau_id)
        assert (settings.letterhead, settings.number_prefix) == ("长春市社会保险局", "长社保信")
        assert settings.letterhead_is_default and settings.number_prefix_is_default and settings.overrides == {}
        assert settings.example_number("formal_opinion", "re_review", 2026, 12) == "长社保信核〔2026〕12号"
        text_value = (
            "{petitioner_name}同志：你的申请（{case_number}）已于{accepted_on}受理，"
            "<script>alert(1)</script>我局将于{due_on}前答复。\r\n咨询电话：0431-88888888。"
        )
        set_template_override(dbs, bureau_id, "acceptance_notice", text_value, updated_by="cc_admin")
        set_letterhead(dbs, bureau_id, "  长春市社会保险事业管理局  ", updated_by="cc_admin")
        set_number_prefix(dbs, bureau_id, "长市社保信", updated_by="cc_admin")
        dbs.commit()
        settings = get_document_settings(dbs, bureau_id)
    assert settings.letterhead == "长春市社会保险事业管理局" and not settings.letterhead_is_default
    assert settings.overrides["acceptance_notice"].endswith("\n咨询电话：0431-88888888。")
    assert settings.updated_by == "cc_admin"

    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    run_job()
    (notice,) = documents(dbs, case.id)
    assert notice.doc_number == "长市社保信受〔2026〕1号"
    assert_says(
        dbs,
        storage,
        notice,
        "长春市社会保险事业管理局",
        "<script>alert(1)</script>我局将于",
        "咨询电话：0431-88888888。",
        "长市社保信受〔2026〕1号",
    )
    assert "本局决定予以受理" not in texts(dbs, storage, notice)[0]

    # Back to the defaults.
    with scoped(dbs, scope_for_bureau(dbs, bureau_id)):
        assert reset_template(dbs, bureau_id, "acceptance_notice") is True
        assert reset_template(dbs, bureau_id, "acceptance_notice") is False
        set_letterhead(dbs, bureau_id, "")
        set_number_prefix(dbs, bureau_id, None)
        # Saving the default text is no override.
        assert set_template_override(dbs, bureau_id, "extension_notice", default_text("extension_notice")) is None
        dbs.commit()
        settings = get_document_settings(dbs, bureau_id)
    assert settings.letterhead == "长春市社会保险局" and settings.number_prefix == "长社保信"
    assert settings.overrides == {}


@pytest.mark.parametrize(
    ("kind", "value", "code"),
    [
        ("acceptance_notice", "{petitioner_name}：{bogus}", "unknown_placeholder"),
        ("acceptance_notice", "{case_number.__class__}", "not_a_name"),
        ("acceptance_notice", "未闭合 {case_number", "syntax"),
        ("acceptance_notice", "   ", "empty"),
        ("acceptance_notice", "字" * (MAX_TEMPLATE_CHARS + 1), "too_long"),
        ("acceptance_notice", 42, "not_text"),
        ("reading_slip", "没有冒号的一行", "no_label"),
        ("no_such_kind", "{case_number}", "unknown_kind"),
    ],
)
def test_an_invalid_override_is_refused_and_changes_nothing(dbs, city, kind, value, code):
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        with pytest.raises(DocumentSettingsError) as error:
            set_template_override(dbs, city.bureau_id, kind, value)
        assert code in [p.code for p in error.value.problems]
        assert error.value.message_zh and error.value.message_en
        dbs.commit()
        assert dbs.scalar(select(func.count()).select_from(DocumentTemplate)) == 0


@pytest.mark.parametrize(
    ("operation", "value"),
    [
        (set_letterhead, "长" * 61),
        (set_letterhead, "第一行\n第二行"),
        (set_letterhead, ["长春"]),
        (set_number_prefix, "长社保信2026"),
        (set_number_prefix, "长〔社保〕"),
        (set_number_prefix, "长 社保信"),
        (set_number_prefix, "长" * 21),
    ],
)
def test_bad_letterhead_or_prefix_is_refused(dbs, city, operation, value):
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        with pytest.raises(DocumentSettingsError):
            operation(dbs, city.bureau_id, value)
        dbs.commit()
        assert dbs.scalar(select(func.count()).select_from(DocumentSettings)) == 0


def test_a_bureau_cannot_change_another_bureaus_settings(dbs, city):
    county = get_bureau(dbs, SIBLING_COUNTY).id
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):  # an ancestor supervises, never writes
        with pytest.raises(CrossTenantWrite):
            set_template_override(dbs, county, "acceptance_notice", "{case_number}")
        dbs.rollback()
        with pytest.raises(CrossTenantWrite):
            set_letterhead(dbs, county, "朝阳区")
        dbs.rollback()
    with scoped(dbs, scope_for_bureau(dbs, county)):
        assert get_document_settings(dbs, city.bureau_id).overrides == {}  # reads defaults, sees no rows


# --- failures -----------------------------------------------------------------------------------------------


def test_a_template_that_cannot_be_filled_fails_the_row_and_stores_nothing(dbs, pii, storage, city, run_job):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    # A text saved before a placeholder was withdrawn: it bypasses today's check, the renderer refuses it.
    with scoped(dbs, TenantScope.single(city.bureau_id)):
        dbs.add(DocumentTemplate(tenant_id=city.bureau_id, kind="acceptance_notice", text="{case_number}{withdrawn}"))
        dbs.commit()
    assert run_job() == {"failed": 1}
    (row,) = render_rows(dbs, case.id)
    assert row.status == "failed"
    assert "{withdrawn}" in row.last_error and "受理告知书" in row.last_error and "acceptance notice" in row.last_error
    assert case.number in row.last_error
    assert documents(dbs, case.id) == []
    assert objects_under(storage, case.tenant_id, case.id) == []
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Attachment)) == 0
        assert dbs.scalar(select(func.count()).select_from(DocumentSequence)) == 0  # no number used

    # Fixed by the administrator and retried by hand: the number is still 1.
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        reset_template(dbs, city.bureau_id, "acceptance_notice")
        dbs.commit()
    with system_scope(dbs):
        row = dbs.scalar(select(Outbox).where(Outbox.id == row.id))
        row.status = "pending"
        dbs.commit()
    assert run_job() == {"created": 1}
    assert documents(dbs, case.id)[0].doc_number == "长社保信受〔2026〕1号"


@pytest.fixture
def failing_insert(owner_engine, dbs):
    """Make the database refuse new generated documents (a real error, after the objects were uploaded)."""
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(
            text(
                "CREATE FUNCTION test_refuse_document() RETURNS trigger LANGUAGE plpgsql AS"
                " $$ BEGIN RAISE EXCEPTION 'disk full (test)'; END $$"
            )
        )
        conn.execute(
            text(
                "CREATE TRIGGER test_refuse_document BEFORE INSERT ON generated_documents"
                " FOR EACH ROW EXECUTE FUNCTION test_refuse_document()"
            )
        )
    yield
    dbs.rollback()  # the test's session must not hold a lock on the table while the trigger is dropped
    with owner_engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '10s'"))
        conn.execute(text("DROP TRIGGER IF EXISTS test_refuse_document ON generated_documents"))
        conn.execute(text("DROP FUNCTION IF EXISTS test_refuse_document()"))


def test_a_failed_database_write_leaves_no_object_and_the_row_retries(dbs, pii, storage, city, run_job, failing_insert):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    assert run_job() == {"retry": 1}
    (row,) = render_rows(dbs, case.id)
    assert row.status == "pending" and row.attempts == 1 and "disk full (test)" in row.last_error
    assert row.next_attempt_at > row.created_at
    assert objects_under(storage, case.tenant_id, case.id) == []
    assert documents(dbs, case.id) == []
    with system_scope(dbs):
        assert dbs.scalar(select(func.count()).select_from(Attachment)) == 0
        assert dbs.scalar(select(func.count()).select_from(DocumentSequence)) == 0


def test_objects_go_again_when_the_callers_transaction_rolls_back(dbs, pii, storage, city):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    (row,) = render_rows(dbs, case.id)
    with system_scope(dbs):
        result = render_outbox_row(dbs, storage, pii, row)
        assert result.status == "created"
        assert len(objects_under(storage, case.tenant_id, case.id)) == 2
        dbs.rollback()
    assert objects_under(storage, case.tenant_id, case.id) == []
    assert documents(dbs, case.id) == []


def test_two_workers_on_one_row_make_one_document(app, dbs, pii, storage, city):
    """The second worker does not see the first one's uncommitted document; the unique key stops it."""
    from portal.extensions import db

    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    (row,) = render_rows(dbs, case.id)
    with system_scope(dbs):
        first = render_outbox_row(dbs, storage, pii, row)  # flushed, not committed: holds the number's lock
    assert first.status == "created"
    outcome = {}

    def second_worker():
        with app.app_context(), Session(db.engine) as other, system_scope(other):
            other_row = other.scalar(select(Outbox).where(Outbox.id == row.id))
            outcome["result"] = render_outbox_row(other, storage, pii, other_row)
            other.commit()

    worker_thread = threading.Thread(target=second_worker)
    worker_thread.start()
    worker_thread.join(timeout=1.5)
    assert worker_thread.is_alive()  # waiting for the sequence row the first worker holds
    dbs.commit()
    worker_thread.join(timeout=30)
    assert outcome["result"].status == "exists"
    docs = documents(dbs, case.id)
    assert len(docs) == 1 and docs[0].doc_number == "长社保信受〔2026〕1号"
    assert len(objects_under(storage, case.tenant_id, case.id)) == 2  # the loser's objects were deleted
    with system_scope(dbs):
        assert dbs.scalar(select(DocumentSequence.last_number)) == 1  # and its number given back


def test_a_row_naming_a_missing_event_fails_clearly(dbs, pii, city):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    (row,) = render_rows(dbs, case.id)
    with system_scope(dbs):
        row.payload = {**row.payload, "seq": 99}
        dbs.commit()
    storage = None  # never reached: nothing is uploaded for a row that cannot be filled
    with system_scope(dbs):
        result = render_outbox_row(dbs, storage, pii, row)
        dbs.commit()
    assert result.status == "failed" and "99" in result.error
    with system_scope(dbs):
        row.payload = {"document": "no_such_document", "seq": 1}
        row.status = "pending"
        dbs.commit()
        assert render_outbox_row(dbs, storage, pii, row).status == "failed"
        assert "no_such_document" in row.last_error


def test_process_row_skips_rows_that_are_not_pending(dbs, pii, storage, city):
    case = submit(dbs, pii).case
    act(dbs, pii, city.clerk, case.id, "accept")
    (row,) = render_rows(dbs, case.id)
    with system_scope(dbs):
        row.status = "failed"
        dbs.commit()
    assert process_row(dbs, storage, pii, row.tenant_id, row.id) is None
    assert documents(dbs, case.id) == []


def test_a_formal_opinion_signed_by_a_declared_stand_in_says_daiqian_with_both_names(dbs, pii, storage, city, run_job):
    """§四.4 (issue 14): the stand-in declared for signing signs; the document shows 代签 with both names."""
    from portal.accounts.absences import add_absence

    case = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.awaiting_signature)
    with scoped(dbs, scope_for_bureau(dbs, city.bureau_id)):
        add_absence(
            dbs,
            city.bureau_id,
            user_id=city.petitions_leader.id,
            starts_on=date(2026, 9, 11),
            ends_on=date(2026, 9, 11),
            stand_in_id=city.business_leader.id,
            stand_in_slip=False,
            stand_in_signing=True,
        )
        dbs.commit()
    act(dbs, pii, city.business_leader, case.id, "sign_reply")
    run_job()
    (opinion,) = [d for d in documents(dbs, case.id) if d.kind is DocumentKind.formal_opinion]
    signer, absent = city.business_leader.display_name, city.petitions_leader.display_name
    assert_says(dbs, storage, opinion, f"签批：{absent}（{signer}代签）")
    # Signed by the leader in person: no 代签 line.
    other = drive(dbs, pii, city, submit(dbs, pii).case.id, CaseState.replied, today=date(2026, 9, 14))
    run_job()
    (own,) = [d for d in documents(dbs, other.id) if d.kind is DocumentKind.formal_opinion]
    assert "代签" not in squash(texts(dbs, storage, own)[0])
