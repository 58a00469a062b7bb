"""Official documents: templates filled from a context, rendered to PDF and DOCX whose text can be read back."""

from __future__ import annotations

import re
from datetime import date, datetime
from io import BytesIO

import docx
import pypdf
import pytest

from portal.documents import (
    KINDS,
    RECEIPT,
    DocumentData,
    TemplateError,
    build_document,
    chinese_date,
    default_text,
    render_docx,
    render_pdf,
    validate_template,
)
from portal.documents.render import _CentredLine
from portal.workflow import DocumentKind

SHA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
BASE = {
    "case_kind": "review",
    "bureau_name": "长春市社会保险局",
    "case_number": "FC-2026-000123",
    "petitioner_name": "张三",
    "issued_on": date(2026, 11, 27),
    "doc_number": "长社保信复〔2026〕12号",
    "received_on": date(2026, 10, 9),
    "accepted_on": date(2026, 10, 20),
    "disputed_opinion": "长春市朝阳区社会保险局2026年9月1日作出的信访事项处理意见",
}
EXTRA = {
    DocumentKind.acceptance_notice: {"due_on": date(2026, 12, 2)},
    DocumentKind.non_acceptance_notice: {
        "reason": "已经或者依法应当通过诉讼途径解决",
        "explanation": "你反映的工伤认定争议已由长春市朝阳区人民法院立案受理。",
        "remedy": "请依照人民法院的裁判主张权利。",
    },
    DocumentKind.extension_notice: {
        "original_due_on": date(2026, 12, 2),
        "new_due_on": date(2027, 1, 1),
        "extension_days": 30,
        "reason": "需向长春市朝阳区社会保险局调取2015年至2020年的缴费档案",
    },
    DocumentKind.reading_slip: {
        "summary": "信访人反映其养老保险视同缴费年限核定有误，请求重新核定。",
        "proposed_handling": "建议由养老保险处牵头办理，信访办协调。",
        "complexity": "复杂（涉及多个业务处室、单位）",
        "proposed_units": "养老保险处（主办）、稽核处（协办）",
        "approver": "李四（分管信访工作的局领导）",
    },
    DocumentKind.formal_opinion: {
        "facts": "信访人于1985年参加工作。\n2020年办理退休时，视同缴费年限核定为20年。",
        "findings": "经调阅原始档案，信访人1985年至1990年的工作经历有招工审批表佐证，应当计入视同缴费年限。",
        "opinion": "撤销原处理意见中关于视同缴费年限的认定，由长春市朝阳区社会保险局重新核定。",
        "outcome": "撤销或变更原意见",
        "next_bureau_name": "吉林省社会保险局",
    },
    RECEIPT: {
        "received_on": datetime(2026, 10, 9, 14, 5),
        "acceptance_deadline": date(2026, 10, 30),
        "attachments": [("申请书.pdf", 123_456, SHA), ("原处理意见书扫描件.jpg", 2_345_678, "ab" * 32)],
    },
}
# What each kind must say, beyond the title, the bureau and the case number.
KEY_SENTENCES = {
    DocumentKind.acceptance_notice: ["本局决定予以受理", "2026年12月2日前作出复查意见"],
    DocumentKind.non_acceptance_notice: [
        "已由长春市朝阳区人民法院立案受理",
        "下步救济途径：请依照人民法院的裁判主张权利",
    ],
    DocumentKind.extension_notice: ["办理期限延长30日", "2027年1月1日", "需向长春市朝阳区社会保险局调取"],
    DocumentKind.reading_slip: ["养老保险处（主办）", "信访办拟办意见", "局领导批示"],
    DocumentKind.formal_opinion: [
        "视同缴费年限核定为20年",
        "如不服本复查意见，可自收到本意见书之日起30日内向吉林省社会保险局申请复核",
    ],
    RECEIPT: ["申请书.pdf", "原处理意见书扫描件.jpg", SHA, "2026年10月30日前"],
}
TITLES = {
    DocumentKind.acceptance_notice: "信访事项复查受理告知书",
    DocumentKind.non_acceptance_notice: "不予受理告知书",
    DocumentKind.extension_notice: "延期办理告知书",
    DocumentKind.reading_slip: "信访事项阅办单",
    DocumentKind.formal_opinion: "复查意见书",
    RECEIPT: "信访事项复查申请回执",
}


def context(kind: str, **changes) -> dict:
    return {**BASE, **EXTRA[kind], **changes}


def pdf_lines(data: bytes) -> list[str]:
    """The text lines of a PDF, without the page numbers ("— 1 —")."""
    reader = pypdf.PdfReader(BytesIO(data))
    lines = [line for page in reader.pages for line in page.extract_text().splitlines()]
    return [line for line in lines if not re.fullmatch(r"\s*— \d+ —\s*", line)]


def pdf_text(data: bytes) -> str:
    """All text of a PDF without whitespace (lines wrap anywhere in Chinese)."""
    return re.sub(r"\s+", "", "".join(pdf_lines(data)))


def docx_text(data: bytes) -> str:
    document = docx.Document(BytesIO(data))
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return re.sub(r"\s+", "", "".join(parts))


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_its_content_to_pdf_and_docx(kind):
    data = build_document(kind, context(kind))
    assert data.title == TITLES[kind]
    pdf = render_pdf(data)
    assert pdf.startswith(b"%PDF")
    expected = [TITLES[kind], "长春市社会保险局", "FC-2026-000123", "2026年11月27日", *KEY_SENTENCES[kind]]
    pdf_words, docx_words = pdf_text(pdf), docx_text(render_docx(data))
    for text in expected:
        assert squash(text) in pdf_words, text
        assert squash(text) in docx_words, text


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in (DocumentKind.reading_slip, RECEIPT)])
def test_letters_carry_number_addressee_and_seal_place(kind):
    data = build_document(kind, context(kind))
    assert data.addressee == "张三"
    assert data.seal
    words = pdf_text(render_pdf(data))
    assert "长社保信复〔2026〕12号" in words
    assert "张三：" in words
    assert "盖章处" in words
    assert "盖章处" in docx_text(render_docx(data))


def test_forms_have_no_seal_and_a_blank_box_for_the_instruction():
    slip = build_document(DocumentKind.reading_slip, context(DocumentKind.reading_slip))
    assert not slip.seal
    assert ("局领导批示", "") in slip.fields  # the sign-off line is left out until the leader instructs
    assert "盖章处" not in pdf_text(render_pdf(slip))

    instructed = build_document(
        DocumentKind.reading_slip,
        context(
            DocumentKind.reading_slip,
            instruction="同意，请养老保险处办理。",
            instructed_by="李四",
            instructed_on=date(2026, 10, 22),
        ),
    )
    assert ("局领导批示", "同意，请养老保险处办理。\n签批人：李四　　批示日期：2026年10月22日") in instructed.fields
    assert "签批人：李四" in pdf_text(render_pdf(instructed))


def test_re_review_opinion_says_it_is_final():
    data = build_document(DocumentKind.formal_opinion, context(DocumentKind.formal_opinion, case_kind="re_review"))
    assert data.title == "复核意见书"
    words = pdf_text(render_pdf(data))
    assert "本复核意见为最终意见" in words
    assert "申请复核" not in words


def test_review_opinion_needs_the_next_bureau_for_its_remedy():
    ctx = context(DocumentKind.formal_opinion)
    del ctx["next_bureau_name"]
    with pytest.raises(TemplateError) as error:
        build_document(DocumentKind.formal_opinion, ctx)
    assert error.value.placeholder == "next_bureau_name"


def test_values_with_line_breaks_become_paragraphs_and_full_stops_are_not_doubled():
    data = build_document(DocumentKind.formal_opinion, context(DocumentKind.formal_opinion))
    assert "信访人于1985年参加工作。" in data.paragraphs
    assert "2020年办理退休时，视同缴费年限核定为20年。" in data.paragraphs
    reject = build_document(
        DocumentKind.non_acceptance_notice, context(DocumentKind.non_acceptance_notice, reason="属于仲裁事项。")
    )
    assert any(p.startswith("不予受理的理由：属于仲裁事项。你反映") for p in reject.paragraphs)


def test_missing_placeholder_raises_naming_it():
    ctx = context(DocumentKind.acceptance_notice)
    del ctx["due_on"]
    with pytest.raises(TemplateError, match=r"\{due_on\}") as error:
        build_document(DocumentKind.acceptance_notice, ctx)
    assert error.value.placeholder == "due_on"
    with pytest.raises(TemplateError) as error:
        build_document(DocumentKind.acceptance_notice, {**ctx, "due_on": None})
    assert error.value.placeholder == "due_on"


def test_missing_issued_on_or_case_kind_raises():
    for key in ("issued_on", "case_kind", "bureau_name"):
        ctx = context(DocumentKind.acceptance_notice)
        del ctx[key]
        with pytest.raises(TemplateError) as error:
            build_document(DocumentKind.acceptance_notice, ctx)
        assert error.value.placeholder == key


def test_default_templates_are_valid():
    for kind in KINDS:
        assert validate_template(kind, default_text(kind)) == [], kind


def test_validate_template_flags_unknown_and_unsafe_placeholders():
    kind = DocumentKind.acceptance_notice
    problems = validate_template(kind, "{petitioner_name}：{due_on}前答复。{reason}{secret}{reason}")
    assert [(p.code, p.placeholder) for p in problems] == [
        ("unknown_placeholder", "reason"),
        ("unknown_placeholder", "secret"),
    ]
    assert "{reason}" in str(problems[0])
    codes = {p.code for p in validate_template(kind, "{case_number.__class__}{0}{due_on!r}{due_on:>20}")}
    assert codes == {"not_a_name", "format_spec"}
    assert [p.code for p in validate_template(kind, "未闭合 {case_number")] == ["syntax"]
    assert [p.code for p in validate_template(kind, "  \n ")] == ["empty"]
    assert validate_template(kind, "字面花括号 {{不是占位符}}，编号{case_number}。") == []
    assert [p.code for p in validate_template(DocumentKind.reading_slip, "没有冒号的一行")] == ["no_label"]
    assert validate_template("no_such_kind", "x")[0].code == "unknown_kind"


def test_override_replaces_the_text_and_is_checked():
    kind = DocumentKind.acceptance_notice
    text = "你的申请（{case_number}）已受理，{due_on}前办结。\n联系电话：0431-12345678。"
    data = build_document(kind, context(kind), overrides={kind.value: text, "extension_notice": "{bogus}"})
    assert data.paragraphs == ["你的申请（FC-2026-000123）已受理，2026年12月2日前办结。", "联系电话：0431-12345678。"]
    with pytest.raises(TemplateError) as error:
        build_document(kind, context(kind), overrides={kind.value: "{case_number}{bogus}"})
    assert error.value.placeholder == "bogus"


def test_override_of_a_form_defines_its_fields():
    kind = DocumentKind.reading_slip
    text = "编号：{case_number}\n批示：{instruction}\n　（{instructed_by}）"
    data = build_document(kind, context(kind), overrides={kind.value: text})
    assert data.fields == [("编号", "FC-2026-000123"), ("批示", "")]


def test_literal_braces_in_values_are_not_placeholders():
    kind = DocumentKind.acceptance_notice
    data = build_document(kind, context(kind, petitioner_name="{due_on}"))
    assert data.addressee == "{due_on}"


def test_long_text_wraps_over_several_pages():
    long_facts = "信访人反映其养老保险待遇核定有误，要求重新核定。" * 400  # about 9,600 characters, no spaces
    data = build_document(DocumentKind.formal_opinion, context(DocumentKind.formal_opinion, facts=long_facts))
    pdf = render_pdf(data)
    assert len(pypdf.PdfReader(BytesIO(pdf)).pages) >= 10
    lines = pdf_lines(pdf)
    body = [line.strip() for line in lines if "信访人反映" in line]
    assert len(body) > 300
    # 16 pt in the 156 mm text block: 27 characters, 28 when a comma hangs at the end
    assert max(len(line) for line in body) <= 28
    assert not [line for line in lines if line.strip().startswith(("，", "。", "：", "；"))]
    assert squash(long_facts) in pdf_text(pdf)
    assert long_facts in docx_text(render_docx(data))


def test_long_form_field_flows_over_pages_and_keeps_the_other_fields():
    kind = DocumentKind.reading_slip
    summary = "信访人反映用人单位未足额缴纳社会保险费。" * 500
    data = build_document(kind, context(kind, summary=summary))
    pdf = render_pdf(data)
    assert len(pypdf.PdfReader(BytesIO(pdf)).pages) >= 8
    words = pdf_text(pdf)
    assert f"信访事项摘要{summary}信访办拟办意见" in words
    assert "局领导批示填单日期2026年11月27日" in words


def test_hostile_text_appears_literally():
    hostile = '<script>alert("x")</script> & <b>加粗</b> <font color="red">红</font> &amp; <br/>'
    kind = DocumentKind.non_acceptance_notice
    data = build_document(
        kind,
        context(kind, explanation=hostile, petitioner_name="<b>王五</b>", doc_number="A&B〔2026〕1号"),
    )
    data.fields = [("<i>栏目</i>", hostile)]
    data.attachments = [("<img src=x>.pdf", 10, SHA)]
    words = pdf_text(render_pdf(data))
    for text in (hostile, "<b>王五</b>：", "A&B〔2026〕1号", "<i>栏目</i>", "<img src=x>.pdf"):
        assert squash(text) in words, text
    assert squash(hostile) in docx_text(render_docx(data))


def test_control_characters_are_dropped():
    kind = DocumentKind.acceptance_notice
    data = build_document(kind, context(kind, petitioner_name="赵\x00六\x0b"))
    assert "赵六：" in pdf_text(render_pdf(data))
    assert "赵六：" in docx_text(render_docx(data))


def test_long_bureau_name_and_title_shrink_to_the_line():
    line = _CentredLine("吉林省长白山保护开发区池北区社会保险局" * 2, 30)
    width, _ = line.wrap(442, 800)
    assert width == 442
    assert line._size < 30
    kind = DocumentKind.acceptance_notice
    data = build_document(kind, context(kind, bureau_name="吉林省长白山保护开发区池北区社会保险事业管理局"))
    assert "吉林省长白山保护开发区池北区社会保险事业管理局" in pdf_text(render_pdf(data))


def test_docx_sets_the_east_asian_font():
    kind = DocumentKind.acceptance_notice
    document = docx.Document(BytesIO(render_docx(build_document(kind, context(kind)))))
    body = next(p for p in document.paragraphs if "本局决定予以受理" in p.text)
    fonts = body.runs[0]._element.rPr.rFonts
    # The face the PDF embeds, with the usual Windows face as the alternative Word takes when it is not installed.
    assert fonts.get("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}eastAsia") == "Zhuque Fangsong"
    table = next(p for p in document.part.package.parts if p.partname == "/word/fontTable.xml").blob.decode()
    assert '<w:font w:name="Zhuque Fangsong"><w:altName w:val="仿宋"/>' in table
    head = document.paragraphs[0]
    assert head.text == "长春市社会保险局"
    assert str(head.runs[0].font.color.rgb) == "D40000"
    assert document.sections[0].top_margin.mm == pytest.approx(37, abs=0.1)
    assert document.sections[0].left_margin.mm == pytest.approx(28, abs=0.1)


def test_pdf_is_a4_with_metadata():
    kind = DocumentKind.extension_notice
    reader = pypdf.PdfReader(BytesIO(render_pdf(build_document(kind, context(kind)))))
    box = reader.pages[0].mediabox
    assert (round(float(box.width)), round(float(box.height))) == (595, 842)
    assert reader.metadata.title == "延期办理告知书"
    assert reader.metadata.author == "长春市社会保险局"


def test_render_works_on_plain_data_without_templates():
    data = DocumentData(
        kind="custom",
        title="情况说明",
        bureau_name="吉林省社会保险局",
        paragraphs=["第一段。", "第二段。"],
        issued_on=date(2026, 1, 5),
    )
    words = pdf_text(render_pdf(data))
    assert "情况说明" in words and "第二段。" in words and "2026年1月5日" in words
    assert "第一段。" in docx_text(render_docx(data))


def test_chinese_date_uses_arabic_numerals_without_leading_zeros():
    assert chinese_date(date(2026, 1, 5)) == "2026年1月5日"
    assert chinese_date(datetime(2026, 1, 5, 9, 3)) == "2026年1月5日 09:03"
