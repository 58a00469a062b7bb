"""How the documents print: every kind rendered and read back with a PDF parser.

Every face embedded, every character of the input in the text layer (names with "·" and rare characters), no
page with fewer than three body lines, the one-page documents on one page, internal forms without a letterhead,
a tagged PDF (language, structure tree), a DOCX with the same text and structure, deterministic bytes.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import date
from io import BytesIO

import docx
import pypdf
import pytest
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject

from portal.documents import KINDS, RECEIPT, DocumentData, build_document, render_docx, render_pdf
from portal.documents import fonts as faces
from portal.documents.data import Heading, chinese_date
from portal.documents.render import heading_split
from portal.workflow import DocumentKind, Outcome
from tests.portal.test_documents import context, squash

NAME = "巴特尔·那顺"  # a name with the middle dot
RARE = "䶮堃燚犇喆昇玥珺"  # rare name characters (䶮 is in Extension A)
FACTS = (
    f"信访人{NAME}于1985年参加工作，其子女王䶮、李堃、张燚、赵犇、钱喆、孙昇、周玥、吴珺的证明材料附卷。\n"
    "2020年办理退休时，视同缴费年限核定为20年。"
)
OUTCOMES = {
    Outcome.upheld: "维持原意见",
    Outcome.changed: "撤销或变更原意见",
    Outcome.partly_changed: "部分变更原意见",
}


def print_context(kind: str, **changes) -> dict:
    """The test context with the name and the rare characters where the kind prints them."""
    extra = {"petitioner_name": NAME}
    if kind == DocumentKind.formal_opinion:
        extra["letter"] = (
            f"一、本局查明的事实\n{FACTS}\n二、认定意见及依据\n经调阅原始档案，招工审批表可以佐证。\n三、复查结论\n本局予以维持。"
        )
    if kind == DocumentKind.reading_slip:
        extra["summary"] = f"信访人反映其养老保险视同缴费年限核定有误；其子女{RARE}的证明附后。"
    return context(kind, **{**extra, **changes})


def every_document() -> list[tuple[str, DocumentData]]:
    documents = []
    for kind in KINDS:
        if kind == DocumentKind.formal_opinion:
            for case_kind in ("review", "re_review"):
                for outcome, label in OUTCOMES.items():
                    data = build_document(kind, print_context(kind, case_kind=case_kind, outcome=label))
                    documents.append((f"{kind}-{case_kind}-{outcome}", data))
        else:
            documents.append((str(kind), build_document(kind, print_context(kind))))
    documents.append(("report", report()))
    return documents


def report() -> DocumentData:
    """An upward document (报告) with 签发人 and 附件说明, as the renderer receives it."""
    return DocumentData(
        kind="committee_report",
        title="关于巴特尔·那顺信访事项复查情况的报告",
        bureau_name="长春市社会保险局",
        doc_number="长社保信呈〔2026〕3号",
        signer="王䶮",
        addressee="吉林省人民政府信访事项复查复核委员会",
        paragraphs=[
            f"省政府信访事项复查复核委员会转来的{NAME}信访事项复查申请（案件编号：FC-2026-000123），本局已办结。",
            Heading("一、基本情况"),
            "信访人于1985年参加工作，2020年办理退休。",
            "二、复查结论",
            "本局认定原处理意见认定事实清楚，维持原处理意见。",
            "特此报告。",
        ],
        annexes=["复查意见书", "信访事项办理过程材料目录"],
        issued_on=date(2026, 11, 27),
    )


DOCUMENTS = every_document()
IDS = [name for name, _ in DOCUMENTS]


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[DocumentData, bytes]]:
    return {name: (data, render_pdf(data)) for name, data in DOCUMENTS}


def text_of(pdf: bytes) -> str:
    """The PDF's text without whitespace and without the page numbers (a paragraph may cross a page)."""
    return re.sub(r"—\d+—", "", squash("".join(page.extract_text() for page in reader_of(pdf).pages)))


def reader_of(pdf: bytes) -> pypdf.PdfReader:
    return pypdf.PdfReader(BytesIO(pdf))


def resolve(value):
    return value.get_object() if isinstance(value, IndirectObject) else value


def page_fonts(resources) -> list[DictionaryObject]:
    """Every font a page's resources name, including those of its form XObjects."""
    resources = resolve(resources) or {}
    found = [resolve(f) for f in (resolve(resources.get("/Font")) or {}).values()]
    for xobject in (resolve(resources.get("/XObject")) or {}).values():
        xobject = resolve(xobject)
        if xobject.get("/Subtype") == "/Form":
            found += page_fonts(xobject.get("/Resources"))
    return found


def is_embedded(font: DictionaryObject) -> bool:
    if font.get("/Subtype") == "/Type3":
        return True  # drawn by its own glyph procedures
    if font.get("/Subtype") == "/Type0":
        font = resolve(resolve(font["/DescendantFonts"])[0])
    descriptor = resolve(font.get("/FontDescriptor"))
    return descriptor is not None and any(k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3"))


def page_lines(page) -> list[str]:
    lines = [line.strip() for line in page.extract_text().splitlines()]
    return [line for line in lines if line and not re.fullmatch(r"— \d+ —", line)]


def body_lines(page, data: DocumentData) -> list[str]:
    """A page's text lines without the page number, the signature and the seal's place."""
    ending = {squash(data.bureau_name), squash(chinese_date(data.issued_on)), "（盖章处）"}
    return [line for line in page_lines(page) if squash(line) not in ending]


def input_text(data: DocumentData) -> str:
    parts = [data.title, data.bureau_name, data.addressee or "", *data.paragraphs, chinese_date(data.issued_on)]
    parts += [part for field in data.fields for part in field]
    parts += [f"{name}{size}{digest}" for name, size, digest in data.attachments]
    parts += [data.footer_note or "", *data.annexes, data.signer or ""]
    if not data.is_internal:
        parts.append(data.doc_number or "")
    return "".join(parts)


def structure(reader: pypdf.PdfReader) -> list[str]:
    """The roles of the structure tree, depth first."""
    roles: list[str] = []

    def walk(node) -> None:
        node = resolve(node)
        if isinstance(node, ArrayObject):
            for child in node:
                walk(child)
            return
        if not isinstance(node, DictionaryObject) or node.get("/Type") == "/MCR":
            return
        if "/S" in node:
            roles.append(str(node["/S"])[1:])
        if "/K" in node:
            walk(node["/K"])

    walk(reader.trailer["/Root"]["/StructTreeRoot"]["/K"])
    return roles


@pytest.mark.parametrize("name", IDS)
def test_every_font_is_embedded(rendered, name):
    _, pdf = rendered[name]
    for page in reader_of(pdf).pages:
        fonts = page_fonts(page.get("/Resources"))
        assert fonts
        for font in fonts:
            assert is_embedded(font), f"{font.get('/BaseFont')} is not embedded"
            assert font.get("/BaseFont") not in ("/Helvetica", "/STSong-Light", "/Times-Roman", "/Courier")


@pytest.mark.parametrize("name", IDS)
def test_every_character_of_the_input_is_in_the_text_and_has_a_face(rendered, name):
    data, pdf = rendered[name]
    extracted = text_of(pdf)
    wanted = squash(input_text(data))
    assert not sorted({c for c in wanted if c not in extracted})
    for paragraph in data.paragraphs:  # whole paragraphs, in order, not only their characters
        assert squash(paragraph) in extracted
    assert faces.missing(wanted, faces.BODY) == []


def test_names_with_a_middle_dot_and_rare_characters_print(rendered):
    for name in ("acceptance_notice", "formal_opinion-review-upheld", "reading_slip", "report"):
        _, pdf = rendered[name]
        text = text_of(pdf)
        assert NAME in text, name
    opinion = squash(reader_of(rendered["formal_opinion-review-upheld"][1]).pages[0].extract_text())
    assert all(char in opinion for char in RARE)
    # the body face itself has them (no fallback needed), and the dot is not the fallback's
    assert all(faces.has(faces.FANGSONG, char) for char in RARE + "·")


@pytest.mark.parametrize("name", IDS)
def test_no_page_has_fewer_than_three_body_lines(rendered, name):
    data, pdf = rendered[name]
    for number, page in enumerate(reader_of(pdf).pages, 1):
        assert len(body_lines(page, data)) >= 3, (name, number, page_lines(page))


@pytest.mark.parametrize("name", ["receipt", "reading_slip", "acceptance_notice", "extension_notice"])
def test_one_page_documents_are_one_page(rendered, name):
    assert len(reader_of(rendered[name][1]).pages) == 1


@pytest.mark.parametrize("case_kind", ["review", "re_review"])
def test_a_short_formal_opinion_is_one_page(case_kind):
    """A composed letter that fits one page (salutation, three sections, remedy: eleven lines and the seal)."""
    label = "复查" if case_kind == "review" else "复核"
    remedy = (
        "如不服本复查意见，可自收到本意见书之日起30日内向吉林省社会保险局申请复核。"
        if case_kind == "review"
        else "本复核意见为最终意见。"
    )
    data = DocumentData(
        kind="formal_opinion",
        title=f"{label}意见书",
        bureau_name="长春市社会保险局",
        doc_number="长社保信复〔2026〕12号",
        addressee=NAME,
        paragraphs=[
            f"你的{label}申请（FC-2026-000123）收悉，现答复如下：",
            "一、基本事实",
            "你于1985年参加工作，2020年退休，视同缴费年限核定为20年。",
            f"二、{label}认定",
            "原处理意见认定事实清楚，适用政策正确，程序合法。",
            f"三、{label}意见",
            "本局决定维持原处理意见。",
            remedy,
        ],
        issued_on=date(2026, 11, 27),
    )
    assert len(reader_of(render_pdf(data)).pages) == 1


def test_the_signature_never_stands_alone():
    """Whatever the length, the last page holds at least three body lines besides the signature."""
    kind = DocumentKind.formal_opinion
    sentence = "经调阅原始档案，信访人的工作经历有招工审批表佐证。"
    for count in range(8, 40, 3):
        data = build_document(kind, print_context(kind, findings=sentence * count))
        pages = reader_of(render_pdf(data)).pages
        last = body_lines(pages[-1], data)
        assert len(last) >= 3, (count, last)
        assert "盖章处" in pages[-1].extract_text()


def test_a_long_form_keeps_its_last_rows_together_and_the_receipt_its_note():
    kind = DocumentKind.reading_slip
    for count in range(20, 60, 7):
        data = build_document(kind, print_context(kind, summary="信访人反映用人单位未足额缴纳社会保险费。" * count))
        pages = reader_of(render_pdf(data)).pages
        assert len(body_lines(pages[-1], data)) >= 3, count
    receipt = build_document(RECEIPT, print_context(RECEIPT))
    many = replace(receipt, attachments=[(f"材料{n}.pdf", 1000 * n, "ab" * 32) for n in range(1, 30)])
    pages = reader_of(render_pdf(many)).pages
    last = pages[-1].extract_text()
    assert "本回执由系统自动生成" in last and "材料29.pdf" in last and "材料28.pdf" in last
    assert len(body_lines(pages[-1], many)) >= 3


def test_internal_forms_have_no_letterhead_and_no_number(rendered):
    data, pdf = rendered["reading_slip"]
    assert data.doc_number  # the service numbers it; the form does not print it
    text = squash(reader_of(pdf).pages[0].extract_text())
    assert squash(data.doc_number) not in text
    assert "盖章处" not in text
    red = re.compile(rb"(^|\s)0?\.831373 0 0 (rg|RG)")  # #D40000
    assert not red.search(reader_of(pdf).pages[0].get_contents().get_data())
    assert red.search(reader_of(rendered["acceptance_notice"][1]).pages[0].get_contents().get_data())


def test_an_upward_report_carries_its_signer_and_annexes(rendered):
    data, pdf = rendered["report"]
    first = [squash(line) for line in page_lines(reader_of(pdf).pages[0])]
    assert first.index("长社保信呈〔2026〕3号") + 1 == first.index("签发人：王䶮")  # one line, left and right
    assert first.index("签发人：王䶮") < first.index(squash(data.title))
    lines = [squash(line) for page in reader_of(pdf).pages for line in page_lines(page)]
    assert "附件：1．复查意见书" in lines
    assert "2．信访事项办理过程材料目录" in lines


@pytest.mark.parametrize("name", IDS)
def test_the_pdf_is_tagged_with_language_and_structure(rendered, name):
    data, pdf = rendered[name]
    reader = reader_of(pdf)
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "zh-CN"
    assert root["/MarkInfo"]["/Marked"] is True or root["/MarkInfo"]["/Marked"] == pypdf.generic.BooleanObject(True)
    roles = structure(reader)
    assert roles[0] == "Document" and roles.count("H1") == 1 and "P" in roles
    if data.fields or data.attachments:
        assert {"Table", "TR", "TD"} <= set(roles)
    if name.startswith("formal_opinion"):
        assert roles.count("H2") == 3  # 一、二、三、
    # every piece of marked content belongs to an element of the tree, page by page
    nums = root["/StructTreeRoot"]["/ParentTree"]["/Nums"]
    for index, page in enumerate(reader.pages):
        content = page.get_contents().get_data().decode("latin-1")
        mcids = [int(m) for m in re.findall(r"<</MCID (\d+)>> BDC", content)]
        assert mcids == list(range(len(mcids)))
        assert page["/StructParents"] == index
        assert len(resolve(nums[2 * index + 1])) == len(mcids)
        assert content.count("BDC") + content.count("BMC") == content.count("EMC")


def test_first_level_headings_are_recognised():
    assert heading_split("一、本局查明的事实") == ("一、本局查明的事实", "")
    assert heading_split("十二、其他") == ("十二、其他", "")
    assert heading_split(Heading("结论")) == ("结论", "")
    assert heading_split("一、基本事实。信访人于1985年参加工作。") == ("一、基本事实。", "信访人于1985年参加工作。")
    assert heading_split("一、经查，信访人于1985年参加工作") is None  # a sentence, not a heading
    assert heading_split("信访人于1985年参加工作。") is None
    assert heading_split("（一）第二层标题") is None


def test_rendering_is_deterministic_and_dated_by_the_document():
    data = build_document(DocumentKind.formal_opinion, print_context(DocumentKind.formal_opinion))
    pdf = render_pdf(data)
    assert pdf == render_pdf(data)
    assert reader_of(pdf).metadata["/CreationDate"] == "D:20261127000000+08'00'"


@pytest.mark.parametrize("name", IDS)
def test_the_docx_has_the_same_text_faces_and_structure(rendered, name):
    data, pdf = rendered[name]
    document = docx.Document(BytesIO(render_docx(data)))
    paragraphs = [p for p in document.paragraphs if p.text.strip()]
    texts = [squash(p.text) for p in paragraphs]
    # the same paragraphs in the same order as the PDF's text
    pdf_words = text_of(pdf)
    position = 0
    for text in texts:
        found = pdf_words.find(text, position)
        assert found >= 0, text
        position = found + len(text)
    cells = squash("".join(c.text for t in document.tables for r in t.rows for c in r.cells))
    for label, value in data.fields:
        assert squash(label + value) in cells
    # headings are Word headings, the title is the Title style
    assert next(p for p in paragraphs if squash(p.text) == squash(data.title)).style.name == "Title"
    headings = [p.text for p in paragraphs if p.style.name == "Heading 1"]
    if name.startswith("formal_opinion"):
        assert [h[:2] for h in headings] == ["一、", "二、", "三、"]
    # the faces the PDF embeds are the faces the DOCX names
    named = {
        f.get(docx.oxml.ns.qn("w:eastAsia"))
        for f in document.element.body.iter(docx.oxml.ns.qn("w:rFonts"))
        if f.get(docx.oxml.ns.qn("w:eastAsia"))
    }
    assert named <= {face.family for face in faces.FACES}
    assert document.core_properties.language == "zh-CN"
    red = any(
        r.font.color and r.font.color.rgb and str(r.font.color.rgb) == "D40000" for p in paragraphs for r in p.runs
    )
    assert red == (not data.is_internal)
