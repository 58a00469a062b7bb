"""Render an official document (`DocumentData`) to PDF or DOCX bytes.

Pure module: no Flask, no SQLAlchemy, no I/O besides reading the committed font files. The layout follows
GB/T 9704-2012 (党政机关公文格式): A4 with a 156 x 225 mm text block (margins 37 top, 35 bottom, 28 left, 26 right),
body in 三号仿宋 on 22 lines of 28 characters, title in 二号 宋 (the free stand-in for 小标宋), first-level headings
("一、") in 黑体, the issuing bureau's name in red over the document number and a red rule (红头), for an upward
document (报告) the 签发人 on the document number's line and the letterhead lowered to 80 mm, 附件说明 after the
body, the signature and date at the lower right with the seal over them, page numbers "— 1 —" in 四号 under the
text block. Internal forms (the reading slip) have no letterhead and no document number: the bureau, the title and
the fields in a table.

Every face is embedded (subset) and every character gets a face that has it (`portal.documents.fonts`).
The end of a document never stands alone: the signature keeps at least three body lines with it, a table's last
two rows keep together and with what follows, a note stays with what it annotates, and no paragraph leaves one
line alone at the foot or the head of a page.

The PDF is tagged: /Lang zh-CN, /MarkInfo /Marked true and a structure tree (Document, H1 title, H2 headings, P,
Table/TR/TH/TD) built from marked content emitted while drawing; page numbers, rules and the seal's place are
artifacts. Rendering is deterministic: the same `DocumentData` gives the same bytes.

The DOCX carries the same text in the same order, names the same faces (with the usual Windows face as the
alternative Word uses when they are not installed), sets headings as Word headings and lays the page on the
official 22 lines of 28 characters.
"""

from __future__ import annotations

import re
from io import BytesIO
from xml.sax.saxutils import escape

import pikepdf
from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    HRFlowable,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus import paragraph as rl_paragraph

from portal.documents import fonts
from portal.documents.data import DocumentData, Heading, chinese_date, format_size
from portal.documents.fonts import BODY, HEADING, TITLE, Face

RED = "#D40000"
# Sizes in the Chinese 号 system: 三号 is 15.75 pt (Word rounds it to 16), which puts 28 characters on the
# 156 mm line as GB/T 9704 asks.
BODY_SIZE = 15.75  # 三号
DOCX_BODY_SIZE = 16  # Word's 三号, condensed by 0.25 pt so that 28 characters fill the line
BODY_LEADING = 225 * mm / 22  # 22 lines in the 225 mm text block (28.99 pt)
TITLE_SIZE = 22  # 二号
LETTERHEAD_SIZE = 30
PAGE_NUMBER_SIZE = 14  # 四号
TABLE_SIZE = 12  # 小四
NOTE_SIZE = 12
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
UPWARD_LETTERHEAD_MM = 80  # an upward document (报告, with 签发人) lowers the letterhead to 80 mm from the top
SEAL_DIAMETER_MM = 42  # the usual diameter of a bureau's seal
BLANK_CELL_MM = 30  # an empty form field is a box to write in by hand
CELL_PIECE_LINES = 4  # a long form value becomes rows of this many lines, which may fall on different pages
CELL_PADDING = 6
TEXT_WIDTH_MM = 210 - MARGINS_MM["left"] - MARGINS_MM["right"]  # 156 mm
LABEL_MM = 36  # the label column of a form: six characters of 小四
TAIL_LINES = 3  # body lines that stay with the signature
TAIL_ROWS = 2  # table rows that stay together at a table's end (with the signature and the note after them)
TAIL_FIELDS = 3  # a form's last fields that stay together (with at least three lines of text)
LANG = "zh-CN"

# Characters that XML (DOCX) refuses and that PDF text should not carry.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A first-level heading: "一、" and a short phrase without a full stop or comma ("一、基本事实"); written
# inline, the heading is the first sentence ("一、基本事实。信访人……").
_HEADING = re.compile(r"^[一二三四五六七八九十]{1,3}、")
_HEADING_MAX = 40


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _addressee_line(addressee: str) -> str:
    return addressee if addressee.endswith(("：", ":")) else addressee + "："


def heading_split(text: str) -> tuple[str, str] | None:
    """(heading, rest) when `text` is or starts with a first-level heading; None otherwise."""
    forced = isinstance(text, Heading)
    text = _clean(text).strip()
    if forced or (_HEADING.match(text) and len(text) <= _HEADING_MAX and not re.search(r"[。；！？，]", text[:-1])):
        return text, ""
    if _HEADING.match(text):
        end = text.find("。")
        if 0 < end <= _HEADING_MAX:
            return text[: end + 1], text[end + 1 :]
    return None


def _annex_lines(annexes: list[str]) -> list[str]:
    """附件说明: "附件：" and the annex's title, or "附件：1．" and one numbered line per annex (GB/T 9704 7.3.4).

    The numbers of the second and later lines stand under the first one's (the renderers indent them).
    """
    names = [_clean(a).strip() for a in annexes if _clean(a).strip()]
    if len(names) == 1:
        return [f"附件：{names[0]}"]
    return [f"{'附件：' if n == 1 else ''}{n}．{name}" for n, name in enumerate(names, 1)]


def _signer_line(data: DocumentData) -> tuple[str, str]:
    signer = data.signed_by_stand_in or data.signer or ""
    return _clean(data.doc_number or ""), f"签发人：{_clean(signer)}"


# --- PDF: faces ------------------------------------------------------------------------------------------


# reportlab's CJK wrapping keeps Japanese closing punctuation off the start of a line; add the Chinese full-width
# marks so that a line never starts with "，" or "：" (the mark hangs at the end of the line before instead).
_CHINESE_CANNOT_START = "，：；！？》”’…〉·"


def _setup() -> None:
    fonts.register()
    for module in (rl_paragraph, rl_textsplit):  # one copy for single-font paragraphs, one for mixed ones
        if _CHINESE_CANNOT_START not in module.ALL_CANNOT_START:
            module.ALL_CANNOT_START += _CHINESE_CANNOT_START


def _markup(text: str, chain: tuple[Face, ...] = BODY) -> str:
    """Escape text for a reportlab Paragraph and give each run the face that has its characters."""
    parts = []
    for face, part in fonts.runs(_clean(text), chain):
        escaped = escape(part).replace("\n", "<br/>")
        parts.append(escaped if face == chain[0] else f'<font name="{face.key}">{escaped}</font>')
    return "".join(parts)


def _draw_runs(canvas, x: float, y: float, text: str, chain: tuple[Face, ...], size: float) -> None:
    for face, part in fonts.runs(text, chain):
        canvas.setFont(face.key, size)
        canvas.drawString(x, y, part)
        x += fonts.string_width(part, (face,), size)


# --- PDF: tags -------------------------------------------------------------------------------------------


class _Elem:
    """A structure element: its role, its children (elements and marked-content references) in reading order."""

    def __init__(self, role: str, parent: _Elem | None = None):
        self.role, self.children = role, []
        if parent is not None:
            parent.children.append(self)

    def used(self) -> bool:
        return any(not isinstance(c, _Elem) or c.used() for c in self.children)


class _Tagger:
    """Emits marked content while reportlab draws, and remembers which element each piece belongs to."""

    def __init__(self):
        self.root = _Elem("Document")
        self.next_mcid: dict[int, int] = {}

    def begin(self, canvas, elem: _Elem | None) -> None:
        if elem is None:
            canvas._code.append("/Artifact BMC")
            return
        page = canvas.getPageNumber() - 1
        mcid = self.next_mcid.get(page, 0)
        self.next_mcid[page] = mcid + 1
        elem.children.append((page, mcid))
        canvas._code.append(f"/{elem.role} <</MCID {mcid}>> BDC")

    @staticmethod
    def end(canvas) -> None:
        canvas._code.append("EMC")


class _Tagged(Flowable):
    """A flowable whose drawing is marked as content of one structure element (or as an artifact)."""

    def __init__(self, inner: Flowable, elem: _Elem | None, tagger: _Tagger):
        super().__init__()
        self.inner, self.elem, self.tagger = inner, elem, tagger

    def __getattr__(self, name):
        if name == "inner":
            raise AttributeError(name)
        return getattr(self.inner, name)

    def wrapOn(self, canv, aW, aH):
        self.width, self.height = self.inner.wrapOn(canv, aW, aH)
        return self.width, self.height

    def wrap(self, aW, aH):
        self.width, self.height = self.inner.wrap(aW, aH)
        return self.width, self.height

    def splitOn(self, canv, aW, aH):
        return [_Tagged(part, self.elem, self.tagger) for part in self.inner.splitOn(canv, aW, aH)]

    def split(self, aW, aH):
        return [_Tagged(part, self.elem, self.tagger) for part in self.inner.split(aW, aH)]

    def drawOn(self, canvas, x, y, _sW=0):
        self.tagger.begin(canvas, self.elem)
        self.inner.drawOn(canvas, x, y, _sW)
        self.tagger.end(canvas)

    def getSpaceBefore(self):
        return self.inner.getSpaceBefore()

    def getSpaceAfter(self):
        return self.inner.getSpaceAfter()

    def getKeepWithNext(self):
        # platypus clears keepWithNext on the flowable itself once it has grouped it with the next one
        if "keepWithNext" in self.__dict__:
            return self.__dict__["keepWithNext"]
        return self.inner.getKeepWithNext()

    def minWidth(self):
        return self.inner.minWidth()


def _tag_pdf(raw: bytes, tagger: _Tagger, data: DocumentData) -> bytes:
    """Add the structure tree, the language and the marked flag to reportlab's PDF."""
    pdf = pikepdf.open(BytesIO(raw))
    pages = [page.obj for page in pdf.pages]
    tree = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.StructTreeRoot))
    parents: dict[int, dict[int, pikepdf.Object]] = {}

    def build(elem: _Elem, parent: pikepdf.Object) -> pikepdf.Object:
        node = pdf.make_indirect(
            pikepdf.Dictionary(Type=pikepdf.Name.StructElem, S=pikepdf.Name("/" + elem.role), P=parent)
        )
        kids = pikepdf.Array()
        for child in elem.children:
            if isinstance(child, _Elem):
                if child.used():
                    kids.append(build(child, node))
                continue
            page, mcid = child
            kids.append(pikepdf.Dictionary(Type=pikepdf.Name.MCR, Pg=pages[page], MCID=mcid))
            parents.setdefault(page, {})[mcid] = node
        node.K = kids
        return node

    tree.K = build(tagger.root, tree)
    nums = pikepdf.Array()
    for index, page in enumerate(pages):
        page.StructParents = index
        page.Tabs = pikepdf.Name.S
        marks = parents.get(index, {})
        nums.append(index)
        nums.append(pikepdf.Array([marks[m] for m in sorted(marks)]))
    tree.ParentTree = pdf.make_indirect(pikepdf.Dictionary(Nums=nums))
    tree.ParentTreeNextKey = len(pages)
    pdf.Root.StructTreeRoot = tree
    pdf.Root.MarkInfo = pikepdf.Dictionary(Marked=True)
    pdf.Root.Lang = pikepdf.String(LANG)
    pdf.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
    # reportlab's invariant mode dates every file 2000-01-01; the document's own date is deterministic too.
    issued = pikepdf.String(f"D:{data.issued_on:%Y%m%d}000000+08'00'")
    pdf.docinfo.CreationDate = pdf.docinfo.ModDate = issued
    with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as meta:
        meta["dc:title"] = _clean(data.title)
        meta["dc:creator"] = [_clean(data.bureau_name)]
        meta["dc:language"] = [LANG]
    out = BytesIO()
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()


# --- PDF: flowables --------------------------------------------------------------------------------------


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle(
        "body",
        fontName=BODY[0].key,
        fontSize=BODY_SIZE,
        leading=BODY_LEADING,
        wordWrap="CJK",
        allowWidows=0,
        allowOrphans=0,
    )
    return {
        "body": ParagraphStyle("body_indent", parent=base, firstLineIndent=2 * BODY_SIZE, alignment=TA_JUSTIFY),
        "heading": ParagraphStyle(
            "heading", parent=base, fontName=HEADING[0].key, firstLineIndent=2 * BODY_SIZE, keepWithNext=1
        ),
        "plain": base,
        # 附件说明: "附件：1．" two characters in, later numbers under the first, titles hanging after the number
        "annex": ParagraphStyle("annex", parent=base, leftIndent=7 * BODY_SIZE, firstLineIndent=-5 * BODY_SIZE),
        "annex_more": ParagraphStyle(
            "annex_more", parent=base, leftIndent=7 * BODY_SIZE, firstLineIndent=-2 * BODY_SIZE
        ),
        "caption": ParagraphStyle(
            "caption", parent=base, fontSize=TABLE_SIZE, leading=TABLE_SIZE * 1.5, spaceBefore=6, keepWithNext=1
        ),
        # The text of a form (the receipt's introduction): 三号 on a tighter line, so that the form fits a page.
        "form_body": ParagraphStyle(
            "form_body", parent=base, leading=BODY_SIZE * 1.5, firstLineIndent=2 * BODY_SIZE, alignment=TA_JUSTIFY
        ),
        "centre": ParagraphStyle("centre", parent=base, alignment=TA_CENTER),
        # In a cell, a closing mark that hangs past the line end must stay inside the border: keep room for it.
        "cell": ParagraphStyle(
            "cell", parent=base, fontSize=TABLE_SIZE, leading=TABLE_SIZE * 1.4, rightIndent=TABLE_SIZE / 2
        ),
        "label": ParagraphStyle(
            "label",
            parent=base,
            fontName=HEADING[0].key,
            fontSize=TABLE_SIZE,
            leading=TABLE_SIZE * 1.4,
            alignment=TA_CENTER,
        ),
        "small": ParagraphStyle("small", parent=base, fontSize=10.5, leading=15, rightIndent=5),
        "mono": ParagraphStyle("mono", parent=base, fontName=HEADING[0].key, fontSize=7, leading=10),
        "note": ParagraphStyle(
            "note", parent=base, fontSize=NOTE_SIZE, leading=NOTE_SIZE * 1.5, firstLineIndent=2 * NOTE_SIZE
        ),
    }


def _balanced_lines(text: str, chain: tuple[Face, ...], size: float, width: float) -> list[str]:
    """Break a title into as few lines as fit, of nearly equal length (GB/T 9704: 梯形或菱形)."""
    total = fonts.string_width(text, chain, size)
    count = max(1, int(-(-total // width)))
    while True:
        per = len(text) / count
        lines = [text[round(i * per) : round((i + 1) * per)] for i in range(count)]
        if all(fonts.string_width(line, chain, size) <= width for line in lines) or count >= len(text):
            return [line for line in lines if line]
        count += 1


class _CentredLine(Flowable):
    """Centred text in a heavier stroke (the title, the letterhead), on as few balanced lines as fit.

    `shrink`: one line shrunk to the width instead (the letterhead is one line).
    """

    def __init__(
        self,
        text: str,
        size: float,
        color: str = "#000000",
        bold: bool = False,
        space_after=0.0,
        chain: tuple[Face, ...] = TITLE,
        shrink: bool = True,
    ):
        super().__init__()
        self.text, self.size, self.color, self.bold = _clean(text).strip(), size, colors.HexColor(color), bold
        self.chain, self.shrink = chain, shrink
        self.spaceAfter = space_after
        self._size, self._lines = size, [self.text]

    def wrap(self, avail_width, avail_height):
        width = fonts.string_width(self.text, self.chain, self.size)
        if self.shrink:
            self._size = self.size if width <= avail_width else self.size * avail_width / width
            self._lines = [self.text]
        else:
            self._size, self._lines = self.size, _balanced_lines(self.text, self.chain, self.size, avail_width)
        self.width, self.height = avail_width, self._size * 1.35 * len(self._lines)
        return self.width, self.height

    def draw(self):
        canvas, size = self.canv, self._size
        canvas.saveState()
        if self.bold:
            # No free 小标宋: fill and stroke the outlines (text render mode 2) for the heavier title stroke.
            canvas._code.append("2 Tr")
            canvas.setLineWidth(size * 0.03)
        canvas.setFillColor(self.color)
        canvas.setStrokeColor(self.color)
        for number, line in enumerate(self._lines):
            width = fonts.string_width(line, self.chain, size)
            baseline = self.height - (number + 1) * size * 1.35 + size * 0.3
            _draw_runs(canvas, (self.width - width) / 2, baseline, line, self.chain, size)
        canvas.restoreState()


class _NumberLine(Flowable):
    """The document number at the left and 签发人 at the right, one character in from each side (7.2.4, 7.2.5)."""

    def __init__(self, number: str, signer: str, tagger: _Tagger, elem: _Elem):
        super().__init__()
        self.number, self.signer, self.tagger, self.elem = number, signer, tagger, elem

    def wrap(self, avail_width, avail_height):
        self.width, self.height = avail_width, BODY_LEADING
        return self.width, self.height

    def draw(self):
        canvas = self.canv
        baseline = BODY_LEADING * 0.3
        self.tagger.begin(canvas, self.elem)
        _draw_runs(canvas, BODY_SIZE, baseline, self.number, BODY, BODY_SIZE)
        width = fonts.string_width(self.signer, BODY, BODY_SIZE)
        _draw_runs(canvas, self.width - BODY_SIZE - width, baseline, self.signer, BODY, BODY_SIZE)
        self.tagger.end(canvas)


class _Signature(Flowable):
    """The issuing bureau and the date at the lower right, with the seal's place over them."""

    def __init__(self, bureau: str, issued: str, seal: bool, tagger: _Tagger, elem: _Elem, leading=BODY_LEADING):
        super().__init__()
        self.bureau, self.issued, self.seal = _clean(bureau).strip(), issued, seal
        self.tagger, self.elem, self.leading = tagger, elem, leading

    def wrap(self, avail_width, avail_height):
        self.width = avail_width
        self.height = SEAL_DIAMETER_MM * mm + 4 if self.seal else 2 * self.leading + 4
        return self.width, self.height

    def _positions(self, size: float) -> tuple[float, float, float]:
        # GB/T 9704-2012 7.3.5.1: the date four characters from the right and the name centred over it; a name
        # longer than the date sits two characters from the right with the date centred under it.
        name_width = fonts.string_width(self.bureau, BODY, size)
        date_width = fonts.string_width(self.issued, BODY, size)
        if name_width <= date_width:
            centre = self.width - 4 * size - date_width / 2
        else:
            centre = max(self.width - 2 * size - name_width / 2, name_width / 2)
        return centre, centre - name_width / 2, centre - date_width / 2

    def draw(self):
        canvas = self.canv
        size = min(BODY_SIZE, BODY_SIZE * self.width / max(fonts.string_width(self.bureau, BODY, BODY_SIZE), 1))
        centre, name_x, date_x = self._positions(size)
        radius = SEAL_DIAMETER_MM * mm / 2
        name_y = self.height - radius - 2 - 6 if self.seal else self.leading + 6
        canvas.setFillColor(colors.black)
        self.tagger.begin(canvas, self.elem)
        _draw_runs(canvas, name_x, name_y, self.bureau, BODY, size)
        _draw_runs(canvas, date_x, name_y - self.leading, self.issued, BODY, size)
        self.tagger.end(canvas)
        if self.seal:
            # The seal presses on the name and the date, which sit below its centre (GB/T 9704-2012 7.3.5.1).
            self.tagger.begin(canvas, None)
            cy = self.height - radius - 2
            canvas.setStrokeColor(colors.HexColor("#999999"))
            canvas.setLineWidth(0.8)
            canvas.setDash(4, 3)
            canvas.circle(centre, cy, radius)
            canvas.setDash()
            canvas.setFillColor(colors.HexColor("#999999"))
            label = "（盖章处）"
            canvas.setFont(TITLE[0].key, 10)
            canvas.drawString(centre - fonts.string_width(label, TITLE, 10) / 2, cy + radius * 0.45, label)
            self.tagger.end(canvas)


class _Story:
    """Builds the flowables of one document together with its structure elements."""

    def __init__(self, data: DocumentData, width: float):
        self.data, self.width, self.styles, self.tagger = data, width, _styles(), _Tagger()
        self.items: list[Flowable] = []
        self.compact = bool(data.fields or data.attachments)  # a form: less air around the head

    def tagged(self, flowable: Flowable, role: str | None, parent: _Elem | None = None) -> _Tagged:
        elem = None if role is None else _Elem(role, parent or self.tagger.root)
        return _Tagged(flowable, elem, self.tagger)

    def paragraph(self, text: str, style: str, role: str = "P", chain=BODY, parent=None) -> _Tagged:
        return self.tagged(Paragraph(_markup(text, chain), self.styles[style]), role, parent)

    def body_paragraph(self, text: str) -> _Tagged:
        split = heading_split(text)
        if split is None:
            return self.paragraph(text, "form_body" if self.compact else "body")
        heading, rest = split
        if not rest.strip():
            return self.paragraph(heading, "heading", "H2", HEADING)
        # An inline heading: the first sentence in 黑体, the rest of the paragraph in the body face.
        markup = f'<font name="{HEADING[0].key}">{_markup(heading, HEADING)}</font>{_markup(rest)}'
        return self.tagged(Paragraph(markup, self.styles["body"]), "P")

    # The parts of a document, top to bottom.

    def letterhead(self) -> None:
        data = self.data
        if data.signer:
            self.items.append(self.tagged(Spacer(1, (UPWARD_LETTERHEAD_MM - MARGINS_MM["top"]) * mm), None))
        air = BODY_LEADING * (0.3 if self.compact else 0.6)
        head = _CentredLine(data.bureau_name, LETTERHEAD_SIZE, RED, bold=True, space_after=air)
        self.items.append(self.tagged(head, "P"))
        if data.doc_number or data.signer:
            if data.signer:
                number, signer = _signer_line(data)
                self.items.append(_NumberLine(number, signer, self.tagger, _Elem("P", self.tagger.root)))
            else:
                self.items.append(self.paragraph(data.doc_number, "centre"))
        rule = HRFlowable(width="100%", thickness=1.5, color=colors.HexColor(RED), spaceBefore=4 * mm - 6)
        rule.spaceAfter = BODY_LEADING * (0.6 if self.compact else 1)
        self.items.append(self.tagged(rule, None))

    def internal_head(self) -> None:
        # An internal form: the bureau's name in black over the title, no red, no number.
        head = _CentredLine(self.data.bureau_name, BODY_SIZE, shrink=True, space_after=4)
        self.items.append(self.tagged(head, "P"))

    def title(self) -> None:
        after = BODY_LEADING * (0.4 if self.compact else 0.7)
        title = _CentredLine(self.data.title, TITLE_SIZE, bold=True, shrink=False, space_after=after)
        self.items.append(self.tagged(title, "H1"))

    def body(self) -> list[Flowable]:
        data, out = self.data, []
        if data.addressee:
            out.append(self.paragraph(_addressee_line(data.addressee), "plain"))
        out += [self.body_paragraph(text) for text in data.paragraphs if _clean(text).strip()]
        return out

    def fields_tables(self, fields: list[tuple[str, str]]) -> list[Flowable]:
        """The form's fields as a table; its last fields as a second table that starts where it ends."""
        if not fields:
            return []
        table = _Elem("Table", self.tagger.root)
        cut = max(0, len(fields) - TAIL_FIELDS)
        parts = [fields[:cut], fields[cut:]]
        return [self._fields_table(part, table) for part in parts if part]

    def _fields_table(self, fields: list[tuple[str, str]], table_elem: _Elem) -> Table:
        # A row cannot break across pages (reportlab's splitInRow loses the labels), so a long value becomes
        # several rows with no rule between them: they read as one cell and flow over pages.
        styles, width = self.styles, self.width
        label_width = LABEL_MM * mm
        value_width = width - label_width - 2 * CELL_PADDING
        rows, heights, commands = [], [], []
        for label, value in fields:
            row = _Elem("TR", table_elem)
            head, cell = _Elem("TH", row), _Elem("TD", row)
            pieces = _cell_pieces(value, styles["cell"], value_width)
            first = len(rows)
            for number, piece in enumerate(pieces):
                label_cell = Paragraph(_markup(label, HEADING) if number == 0 else "", styles["label"])
                rows.append([_Tagged(label_cell, head if number == 0 else None, self.tagger), self._in(piece, cell)])
                heights.append(None if value.strip() else BLANK_CELL_MM * mm)
            last = len(rows) - 1
            commands.append(("LINEBELOW", (0, last), (-1, last), 0.75, colors.black))
            if last > first:
                commands += [
                    ("VALIGN", (0, first), (0, first), "TOP"),
                    ("TOPPADDING", (0, first + 1), (-1, last), 0),
                    ("BOTTOMPADDING", (0, first), (-1, last - 1), 0),
                ]
        table = Table(rows, colWidths=[label_width, width - label_width], rowHeights=heights)
        table.setStyle(
            TableStyle(
                [
                    ("FONT", (0, 0), (-1, -1), BODY[0].key, TABLE_SIZE),  # else the table names Helvetica
                    ("BOX", (0, 0), (-1, -1), 0.75, colors.black),
                    ("LINEAFTER", (0, 0), (0, -1), 0.75, colors.black),
                    ("VALIGN", (0, 0), (0, -1), "MIDDLE"),
                    ("VALIGN", (1, 0), (1, -1), "TOP"),
                    ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                    ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3.5),
                    *commands,
                ]
            )
        )
        return table

    def _in(self, flowable: Flowable, elem: _Elem) -> _Tagged:
        return _Tagged(flowable, _Elem("P", elem), self.tagger)

    def attachments_tables(self) -> list[Flowable]:
        attachments = self.data.attachments
        if not attachments:
            return []
        caption = self.paragraph(f"提交的材料（共 {len(attachments)} 件）：", "caption")
        table = _Elem("Table", self.tagger.root)
        cut = max(0, len(attachments) - TAIL_ROWS)
        head = self._attachments_table(attachments[:cut], 1, table, header=True) if cut else None
        tail = self._attachments_table(attachments[cut:], cut + 1, table, header=not cut)
        return [caption, head, tail] if head else [caption, tail]

    def _attachments_table(self, attachments, start: int, table_elem: _Elem, header: bool) -> Table:
        styles = self.styles
        widths = [14 * mm, 0, 30 * mm, 54 * mm]
        widths[1] = self.width - sum(widths)
        rows = []
        if header:
            tr = _Elem("TR", table_elem)
            rows.append(
                [
                    self._in(Paragraph(t, styles["small"]), _Elem("TH", tr))
                    for t in ("序号", "文件名", "大小", "SHA-256 摘要")
                ]
            )
        for number, (name, size, digest) in enumerate(attachments, start):
            tr = _Elem("TR", table_elem)
            cells = [
                Paragraph(str(number), styles["small"]),
                Paragraph(_markup(name), styles["small"]),
                Paragraph(_markup(format_size(size)), styles["small"]),
                Paragraph(_markup(_two_lines(digest), HEADING), styles["mono"]),
            ]
            rows.append([self._in(cell, _Elem("TD", tr)) for cell in cells])
        table = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        commands = [
            ("FONT", (0, 0), (-1, -1), BODY[0].key, 10.5),
            ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            commands.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")))
        table.setStyle(TableStyle(commands))
        return table

    def annexes(self) -> list[Flowable]:
        lines = _annex_lines(self.data.annexes)
        if not lines:
            return []
        if len(lines) == 1:
            return [Spacer(1, BODY_LEADING), self.paragraph(lines[0], "body")]
        styles = ["annex"] + ["annex_more"] * (len(lines) - 1)
        return [
            Spacer(1, BODY_LEADING),
            *(self.paragraph(line, style) for line, style in zip(lines, styles, strict=True)),
        ]

    def signature(self) -> list[Flowable]:
        data = self.data
        if not data.signature:
            return []
        elem = _Elem("P", self.tagger.root)
        leading = BODY_SIZE * 1.5 if self.compact else BODY_LEADING
        signature = _Signature(data.bureau_name, chinese_date(data.issued_on), data.seal, self.tagger, elem, leading)
        # the seal's top within one line under the text (GB/T 9704-2012 7.3.5.1)
        ending: list[Flowable] = [Spacer(1, 4 if self.compact else 8), signature]
        if data.signer_note:
            ending.insert(0, self.paragraph(data.signer_note, "form_body" if self.compact else "body"))
        return ending

    def note(self) -> list[Flowable]:
        if not self.data.footer_note:
            return []
        return [Spacer(1, 4 if self.compact else 8), self.paragraph(self.data.footer_note, "note")]

    def tail_split(self, flowables: list[Flowable]) -> tuple[list[Flowable], list[Flowable]]:
        """Cut the trailing paragraphs so that the last TAIL_LINES lines can go with the signature."""
        tail: list[Flowable] = []
        lines = 0
        items = list(flowables)
        while items and lines < TAIL_LINES:
            last = items.pop()
            inner = last.inner if isinstance(last, _Tagged) else last
            if not isinstance(inner, Paragraph):
                tail.insert(0, last)
                break
            height = inner.wrap(self.width, 1e6)[1]
            count = round(height / inner.style.leading)
            need = TAIL_LINES - lines
            if count - need >= 2:  # split: at least two lines stay behind, exactly `need` go with the end
                parts = last.split(self.width, (count - need) * inner.style.leading + 0.5)
                if len(parts) == 2:
                    items.append(parts[0])
                    tail.insert(0, parts[1])
                    break
            tail.insert(0, last)
            lines += count
        return items, tail


def _cell_pieces(text: str, style: ParagraphStyle, width: float) -> list[Paragraph]:
    """Cut a long cell text into paragraphs of a few lines each that continue one another seamlessly."""
    paragraph, pieces = Paragraph(_markup(text), style), []
    height = CELL_PIECE_LINES * style.leading
    while paragraph.wrap(width, 1e6)[1] > height + 1:
        parts = paragraph.split(width, height)
        if len(parts) < 2:
            break
        pieces.append(parts[0])
        paragraph = parts[1]
    return [*pieces, paragraph]


def _two_lines(digest: str) -> str:
    """Break a 64-digit digest in the middle, so that it reads as two rows of 32."""
    return f"{digest[:32]}\n{digest[32:]}" if len(digest) == 64 and "\n" not in digest else digest


def render_pdf(data: DocumentData) -> bytes:
    """Render the document as a tagged A4 PDF with every face embedded."""
    _setup()
    buffer = BytesIO()
    page_width, page_height = A4
    left, right = MARGINS_MM["left"] * mm, MARGINS_MM["right"] * mm
    top, bottom = MARGINS_MM["top"] * mm, MARGINS_MM["bottom"] * mm
    # No frame padding: the text block is exactly the official 156 x 225 mm.
    frame = Frame(left, bottom, page_width - left - right, page_height - top - bottom, 0, 0, 0, 0, id="body")
    story = _Story(data, frame._width)

    def page_number(canvas, doc) -> None:
        # 四号 Arabic numerals with a dash each side, 7 mm under the text block (GB/T 9704-2012 7.5).
        canvas.saveState()
        story.tagger.begin(canvas, None)
        text = f"— {doc.page} —"
        size = PAGE_NUMBER_SIZE
        _draw_runs(
            canvas,
            (page_width - fonts.string_width(text, TITLE, size)) / 2,
            bottom - 7 * mm - size * 0.8,
            text,
            TITLE,
            size,
        )
        story.tagger.end(canvas)
        canvas.restoreState()

    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[PageTemplate("page", [frame], onPageEnd=page_number)],
        title=_clean(data.title),
        author=_clean(data.bureau_name),
        subject=data.kind,
        creator="petition review portal",
        lang=LANG,
        invariant=1,
        initialFontName=BODY[0].key,  # else reportlab names Helvetica, unembedded, on every page
    )
    if data.is_internal:
        story.internal_head()
    else:
        story.letterhead()
    story.title()
    items = story.items
    body = story.body()
    fields = story.fields_tables(data.fields)
    attachments = story.attachments_tables()
    ending = story.annexes() + story.signature() + story.note()
    # What ends the document keeps the end of what precedes it: three body lines, or a table's last rows.
    if fields or attachments:
        items += body
        tables = fields + attachments
        if fields:
            tables = [Spacer(1, 4), *tables]
        keep = [tables.pop()]
        if tables and isinstance(tables[-1], _Tagged):  # the attachments' caption stays with its rows
            keep.insert(0, tables.pop())
        items += tables
        items.append(KeepTogether(keep + ending))
    elif ending:
        before, tail = story.tail_split(body)
        items += before
        items.append(KeepTogether(tail + ending))
    else:
        items += body
    doc.build(items)
    return _tag_pdf(buffer.getvalue(), story.tagger, data)


# --- DOCX ---------------------------------------------------------------------------------------------


def _font(run, size: float, face: Face = BODY[0], bold: bool = False, color: str | None = None) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = face.family
    # Word picks the font of Chinese characters from w:eastAsia, which python-docx does not set by itself.
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), face.family)
    if color:
        run.font.color.rgb = RGBColor.from_string(color.lstrip("#"))


def _paragraph(
    document,
    text: str,
    size: float = DOCX_BODY_SIZE,
    *,
    align=None,
    indent: bool = False,
    style=None,
    leading: float | None = None,
    **font,
):
    paragraph = document.add_paragraph(style=style)
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(max(size * 1.75, BODY_LEADING))
    if size < DOCX_BODY_SIZE:
        fmt.line_spacing = Pt(size * 1.5)
    if leading:
        fmt.line_spacing = Pt(leading)
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.widow_control = True
    if align is not None:
        paragraph.alignment = align
    if indent:
        fmt.first_line_indent = Pt(2 * size)
    if text:
        _font(paragraph.add_run(_clean(text)), size, **font)
    return paragraph


def _bottom_border(paragraph, color: str) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "6"), ("w:color", color.lstrip("#"))):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _cell_text(cell, text: str, size: float, *, align=None, face: Face = BODY[0], grey: bool = False):
    paragraph = cell.paragraphs[0] if not cell.paragraphs[0].runs else cell.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(2), Pt(2)
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    if align is not None:
        paragraph.alignment = align
    run = paragraph.add_run(_clean(text))
    _font(run, size, face)
    if grey:
        run.font.color.rgb = RGBColor(0x99, 0x99, 0x99)
    return paragraph


def _table(document, rows: int, widths_mm: list[float], style: str | None = "Table Grid"):
    """Add a table with fixed column widths (Word and LibreOffice read them from the grid and the cells)."""
    table = document.add_table(rows=rows, cols=len(widths_mm))
    if style:
        table.style = style
    table.autofit = False
    for column, width in zip(table._tbl.tblGrid.gridCol_lst, widths_mm, strict=True):
        column.w = Mm(width)
    return table


def _add_row(table, widths_mm: list[float], header: bool = False):
    row = table.add_row()
    for cell, width in zip(row.cells, widths_mm, strict=True):
        cell.width = Mm(width)
    properties = row._tr.get_or_add_trPr()
    properties.append(OxmlElement("w:cantSplit"))  # a row never breaks across pages
    if header:
        properties.append(OxmlElement("w:tblHeader"))  # repeated at the top of each page
    return row


def _keep_rows_together(rows) -> None:
    """Word keeps table rows on one page when their paragraphs keep with the next."""
    for row in rows:
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.keep_with_next = True


def _dashed_box(table) -> None:
    borders = OxmlElement("w:tblBorders")
    for side in ("top", "left", "bottom", "right"):
        edge = OxmlElement(f"w:{side}")
        for key, value in (("w:val", "dashed"), ("w:sz", "6"), ("w:color", "999999")):
            edge.set(qn(key), value)
        borders.append(edge)
    table._tbl.tblPr.append(borders)


def _text_width_mm(text: str, size: float) -> float:
    return sum(size if ord(ch) > 0x2E7F else size / 2 for ch in text) * 25.4 / 72


def _page_number_footer(section) -> None:
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _font(paragraph.add_run("— "), PAGE_NUMBER_SIZE, TITLE[0])
    page = OxmlElement("w:fldSimple")
    page.set(qn("w:instr"), "PAGE")
    paragraph._p.append(page)  # the next run goes after it
    _font(paragraph.add_run(" —"), PAGE_NUMBER_SIZE, TITLE[0])


def _grid(section) -> None:
    """The official line pitch (22 lines); no character grid, which LibreOffice spreads over the whole line."""
    sect = section._sectPr
    for old in sect.findall(qn("w:docGrid")):
        sect.remove(old)
    grid = OxmlElement("w:docGrid")
    grid.set(qn("w:linePitch"), str(round(BODY_LEADING * 20)))
    sect.append(grid)


def _name_faces(document) -> None:
    """Declare each face in the font table with the usual Windows face as its alternative name."""
    part = next((p for p in document.part.package.parts if p.partname == "/word/fontTable.xml"), None)
    if part is None:
        return
    from docx.oxml import parse_xml

    table = parse_xml(part.blob)
    for face in fonts.FACES:
        entry = OxmlElement("w:font")
        entry.set(qn("w:name"), face.family)
        alt = OxmlElement("w:altName")
        alt.set(qn("w:val"), face.windows)
        charset = OxmlElement("w:charset")
        charset.set(qn("w:val"), "86")  # GB2312
        family = OxmlElement("w:family")
        family.set(qn("w:val"), "modern" if face is fonts.HEI else "roman")
        for child in (alt, charset, family):
            entry.append(child)
        table.append(entry)
    from lxml import etree

    part._blob = etree.tostring(table, xml_declaration=True, encoding="UTF-8", standalone=True)


def _style_heading(document, name: str, size: float, face: Face, *, align=None, outline: int = 0):
    style = document.styles[name]
    style.font.size, style.font.bold, style.font.italic = Pt(size), False, False
    style.font.color.rgb = RGBColor(0, 0, 0)
    style.font.name = face.family
    fonts_element = style.element.get_or_add_rPr().get_or_add_rFonts()
    for attribute in ("w:eastAsia", "w:ascii", "w:hAnsi"):
        fonts_element.set(qn(attribute), face.family)
    for attribute in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts_element.attrib.pop(qn(attribute), None)
    fmt = style.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.keep_with_next = True
    if align is not None:
        fmt.alignment = align
    # The Title style draws a border under itself in the default template: not in an official document.
    ppr = style.element.get_or_add_pPr()
    for border in ppr.findall(qn("w:pBdr")):
        ppr.remove(border)
    return style


def render_docx(data: DocumentData) -> bytes:
    """Render the document as an editable DOCX with the same content, faces and structure as the PDF."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    section.footer_distance = Mm(MARGINS_MM["bottom"] - 7 - 7)
    _grid(section)
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = BODY[0].family, Pt(DOCX_BODY_SIZE)
    rpr = normal.element.get_or_add_rPr()
    rpr.get_or_add_rFonts().set(qn("w:eastAsia"), BODY[0].family)
    # 16 pt characters condensed by 0.25 pt: 28 of them on the 156 mm line, as GB/T 9704 asks
    spacing = OxmlElement("w:spacing")
    spacing.set(qn("w:val"), "-5")
    later = ("w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:lang")
    follower = next((child for child in rpr if child.tag in {qn(t) for t in later}), None)
    if follower is None:
        rpr.append(spacing)
    else:
        follower.addprevious(spacing)  # the schema's order: spacing before the size
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), LANG)
    lang.set(qn("w:eastAsia"), LANG)
    rpr.append(lang)
    _style_heading(document, "Title", TITLE_SIZE, TITLE[0], align=WD_ALIGN_PARAGRAPH.CENTER)
    _style_heading(document, "Heading 1", DOCX_BODY_SIZE, HEADING[0])
    _name_faces(document)
    document.core_properties.title = _clean(data.title)
    document.core_properties.author = _clean(data.bureau_name)
    document.core_properties.subject = data.kind
    document.core_properties.language = LANG
    centre, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT
    # A form (fields, attachments) sets its text on a tighter line, as the PDF does, to fit its page.
    compact = bool(data.fields or data.attachments)
    leading = DOCX_BODY_SIZE * 1.5 if compact else None

    if data.is_internal:
        _paragraph(document, data.bureau_name, align=centre, face=TITLE[0])
    else:
        if data.signer:
            lowered = _paragraph(document, "")
            lowered.paragraph_format.space_before = Mm(UPWARD_LETTERHEAD_MM - MARGINS_MM["top"] - 10)
        head = _paragraph(
            document, data.bureau_name, LETTERHEAD_SIZE, align=centre, face=TITLE[0], bold=True, color=RED
        )
        if data.signer:
            number, signer = _signer_line(data)
            head = _paragraph(document, "")
            fmt = head.paragraph_format
            fmt.left_indent = fmt.right_indent = Pt(DOCX_BODY_SIZE)
            fmt.tab_stops.add_tab_stop(Mm(TEXT_WIDTH_MM) - Pt(2 * DOCX_BODY_SIZE), WD_TAB_ALIGNMENT.RIGHT)
            _font(head.add_run(f"{number}\t{signer}"), DOCX_BODY_SIZE)
        elif data.doc_number:
            head = _paragraph(document, data.doc_number, align=centre)
        _bottom_border(head, RED)
    title = _paragraph(document, data.title, TITLE_SIZE, align=centre, face=TITLE[0], bold=True, style="Title")
    title.paragraph_format.space_before = Pt(10 if compact else 24)
    title.paragraph_format.space_after = Pt(6 if compact else 14)
    if data.addressee:
        _paragraph(document, _addressee_line(data.addressee))
    body = []
    for text in data.paragraphs:
        if not _clean(text).strip():
            continue
        split = heading_split(text)
        if split and not split[1].strip():
            body.append(_paragraph(document, split[0], indent=True, style="Heading 1", face=HEADING[0]))
        elif split:
            paragraph = _paragraph(document, split[0], indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY, face=HEADING[0])
            _font(paragraph.add_run(_clean(split[1])), DOCX_BODY_SIZE)
            body.append(paragraph)
        else:
            body.append(_paragraph(document, text, indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY, leading=leading))

    ends_with_table = False
    if data.fields:
        widths = [LABEL_MM, TEXT_WIDTH_MM - LABEL_MM]
        table = _table(document, 0, widths)
        rows = []
        for label, value in data.fields:
            row = _add_row(table, widths)
            _cell_text(row.cells[0], label, TABLE_SIZE, align=centre, face=HEADING[0])
            _cell_text(row.cells[1], value, TABLE_SIZE)
            if not value.strip():
                row.height, row.height_rule = Mm(BLANK_CELL_MM), WD_ROW_HEIGHT_RULE.AT_LEAST
            rows.append(row)
        _keep_rows_together(rows[-TAIL_FIELDS:-1])
        ends_with_table = rows
    if data.attachments:
        caption = _paragraph(document, f"提交的材料（共 {len(data.attachments)} 件）：", TABLE_SIZE)
        caption.paragraph_format.space_before = Pt(8)
        caption.paragraph_format.keep_with_next = True
        widths = [14, TEXT_WIDTH_MM - 98, 30, 54]
        table = _table(document, 0, widths)
        header = _add_row(table, widths, header=True)
        for cell, text in zip(header.cells, ("序号", "文件名", "大小", "SHA-256 摘要"), strict=True):
            _cell_text(cell, text, 10.5)
        rows = []
        for number, (name, size, digest) in enumerate(data.attachments, 1):
            cells = _add_row(table, widths).cells
            for cell, text in zip(cells[:3], (str(number), name, format_size(size)), strict=True):
                _cell_text(cell, text, 10.5)
            _cell_text(cells[3], _two_lines(digest), 7, face=HEADING[0])
            rows.append(table.rows[-1])
        _keep_rows_together(rows[-TAIL_ROWS:-1])
        ends_with_table = rows

    annexes = _annex_lines(data.annexes)
    if annexes:
        _paragraph(document, "").paragraph_format.keep_with_next = True
        for number, line in enumerate(annexes):
            paragraph = _paragraph(document, line, indent=len(annexes) == 1)
            if len(annexes) > 1:
                fmt = paragraph.paragraph_format
                fmt.left_indent = Pt(7 * DOCX_BODY_SIZE)
                fmt.first_line_indent = Pt((-5 if number == 0 else -2) * DOCX_BODY_SIZE)
            body.append(paragraph)

    follows = data.signature or data.footer_note
    if follows and ends_with_table:
        _keep_rows_together(ends_with_table[-TAIL_ROWS:])
    elif follows:
        # The last paragraphs (about three lines) stay with the signature.
        lines = 0
        for paragraph in reversed(body):
            paragraph.paragraph_format.keep_with_next = True
            lines += max(1, -(-len(paragraph.text) // 28))
            if lines >= TAIL_LINES:
                break
    issued = chinese_date(data.issued_on)
    if data.signature and data.signer_note:
        _paragraph(document, data.signer_note).paragraph_format.keep_with_next = True
    if data.signature and data.seal:
        # Word cannot lay a circle over text without floating shapes: the name and the date sit in a dashed box
        # that marks where the seal goes, at the right as in the PDF.
        spacer = _paragraph(document, "")
        spacer.paragraph_format.keep_with_next = True
        width = min(TEXT_WIDTH_MM, max(SEAL_DIAMETER_MM * 1.5, _text_width_mm(data.bureau_name, BODY_SIZE) + 12))
        box = _table(document, 0, [width], style=None)
        box.alignment = WD_TABLE_ALIGNMENT.RIGHT
        _dashed_box(box)
        row = _add_row(box, [width])
        row.height, row.height_rule = Mm(SEAL_DIAMETER_MM * 0.8), WD_ROW_HEIGHT_RULE.AT_LEAST
        _cell_text(row.cells[0], "（盖章处）", 9, align=centre, grey=True)
        for text in (data.bureau_name, issued):
            _cell_text(row.cells[0], text, DOCX_BODY_SIZE, align=centre).paragraph_format.space_before = Pt(6)
        if data.footer_note:
            _keep_rows_together([row])
    elif data.signature:
        for text, indent in ((data.bureau_name, 2), (issued, 4)):
            paragraph = _paragraph(document, text, align=right, leading=leading)
            paragraph.paragraph_format.right_indent = Pt(indent * DOCX_BODY_SIZE)
            paragraph.paragraph_format.keep_with_next = text == data.bureau_name or bool(data.footer_note)
    if data.footer_note:
        note = _paragraph(document, data.footer_note, NOTE_SIZE, indent=True)
        note.paragraph_format.space_before = Pt(4 if compact else 12)
    _page_number_footer(section)

    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()
