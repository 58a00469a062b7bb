"""Render an official document (`DocumentData`) to PDF or DOCX bytes.

Pure module: no Flask, no SQLAlchemy, no I/O. The layout follows GB/T 9704-2012 (党政机关公文格式) where it
matters to a reader: A4, 37 mm top and 28 mm left margins, body in 三号 (16 pt) with 28 pt lines and a two-character
first-line indent, 二号 title, the issuing bureau's name large and red on top (红头) with a red rule under the
document number, the signature and date at the lower right with the seal over them, Arabic-numeral dates.

PDF text uses reportlab's built-in CID font STSong-Light (Adobe-GB1), which is not embedded: Adobe readers carry
it, other viewers substitute an installed Chinese font (poppler needs poppler-data and one CJK font package), and
text extraction returns the Chinese characters. Characters outside the Basic Multilingual Plane (rare name
characters such as 𠮷) cannot be drawn by it; they stay in the text layer but show as blanks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from io import BytesIO
from xml.sax.saxutils import escape

from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from reportlab.lib import colors
from reportlab.lib import textsplit as rl_textsplit
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
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

FONT = "STSong-Light"
MONO = "Courier"
RED = "#D40000"
BODY_SIZE = 16  # 三号
BODY_LEADING = 28  # 22 lines in the 225 mm text block
TITLE_SIZE = 22  # 二号
LETTERHEAD_SIZE = 30
TABLE_SIZE = 12  # 小四
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
SEAL_DIAMETER_MM = 42  # the usual diameter of a bureau's seal
BLANK_CELL_MM = 30  # an empty form field is a box to write in by hand
CELL_PIECE_LINES = 4  # a long form value becomes rows of this many lines, which may fall on different pages
CELL_PADDING = 6
TEXT_WIDTH_MM = 210 - MARGINS_MM["left"] - MARGINS_MM["right"]  # 156 mm
LABEL_MM = 36  # the label column of a form: seven characters of 小四

# Characters that XML (DOCX) refuses and that PDF text should not carry.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass(kw_only=True)
class DocumentData:
    """Everything a document shows, as plain data; `build_document()` fills it from the templates."""

    kind: str
    title: str
    bureau_name: str
    doc_number: str | None = None
    addressee: str | None = None
    paragraphs: list[str] = field(default_factory=list)
    fields: list[tuple[str, str]] = field(default_factory=list)
    # (file name, size in bytes, SHA-256 hex digest)
    attachments: list[tuple[str, int, str]] = field(default_factory=list)
    issued_on: date
    footer_note: str | None = None
    seal: bool = True  # draw the marked place for the seal (not on internal forms and receipts)
    signature: bool = True  # end with the bureau's name and the date (a form may carry its dates in fields)
    # 代签 (§四.4): the leader signed for and the stand-in who signed, printed above the signature when set.
    signed_for: str | None = None
    signed_by: str | None = None

    @property
    def signer_note(self) -> str | None:
        if not (self.signed_for and self.signed_by):
            return None
        return f"签批：{self.signed_for}（{self.signed_by}代签）"


def chinese_date(value: date) -> str:
    """Format a date the official way: Arabic numerals, no leading zeros (GB/T 9704-2012 7.3.5.4)."""
    text = f"{value.year}年{value.month}月{value.day}日"
    if isinstance(value, datetime):
        text += f" {value.hour:02d}:{value.minute:02d}"
    return text


def format_size(size: int) -> str:
    """Return a file size for people, with the exact byte count that a receipt must show."""
    if size < 1024:
        return f"{size} 字节"
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}\n{size:,} 字节"


def _clean(text: str) -> str:
    return _CONTROL.sub("", text).replace("\r\n", "\n").replace("\r", "\n")


def _addressee_line(addressee: str) -> str:
    return addressee if addressee.endswith(("：", ":")) else addressee + "："


# --- PDF ----------------------------------------------------------------------------------------------


# reportlab's CJK wrapping keeps Japanese closing punctuation off the start of a line; add the Chinese full-width
# marks so that a line never starts with "，" or "：" (the mark hangs at the end of the line before instead).
_CHINESE_CANNOT_START = "，：；！？》”’…〉"


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    for module in (rl_paragraph, rl_textsplit):  # one copy for single-font paragraphs, one for mixed ones
        if _CHINESE_CANNOT_START not in module.ALL_CANNOT_START:
            module.ALL_CANNOT_START += _CHINESE_CANNOT_START


def _markup(text: str) -> str:
    """Escape text for a reportlab Paragraph, which would otherwise read <b>, <font> or & as markup."""
    return escape(_clean(text)).replace("\n", "<br/>")


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("body", fontName=FONT, fontSize=BODY_SIZE, leading=BODY_LEADING, wordWrap="CJK")
    return {
        "body": ParagraphStyle("body_indent", parent=base, firstLineIndent=2 * BODY_SIZE, alignment=TA_JUSTIFY),
        "plain": base,
        "caption": ParagraphStyle("caption", parent=base, keepWithNext=1),
        "centre": ParagraphStyle("centre", parent=base, alignment=TA_CENTER),
        # In a cell, a closing mark that hangs past the line end must stay inside the border: keep room for it.
        "cell": ParagraphStyle(
            "cell", parent=base, fontSize=TABLE_SIZE, leading=TABLE_SIZE * 1.5, rightIndent=TABLE_SIZE / 2
        ),
        "label": ParagraphStyle(
            "label", parent=base, fontSize=TABLE_SIZE, leading=TABLE_SIZE * 1.5, alignment=TA_CENTER
        ),
        "small": ParagraphStyle("small", parent=base, fontSize=10.5, leading=15, rightIndent=5),
        "mono": ParagraphStyle("mono", parent=base, fontName=MONO, fontSize=7, leading=10),
        "note": ParagraphStyle("note", parent=base, fontSize=12, leading=18, firstLineIndent=24),
    }


class _CentredLine(Flowable):
    """One centred line, optionally in simulated bold, shrunk to fit the frame width."""

    def __init__(self, text: str, size: float, color: str = "#000000", bold: bool = False, space_after=0.0):
        super().__init__()
        self.text, self.size, self.color, self.bold = _clean(text), size, colors.HexColor(color), bold
        self.spaceAfter = space_after
        self._size = size

    def wrap(self, avail_width, avail_height):
        width = pdfmetrics.stringWidth(self.text, FONT, self.size)
        self._size = self.size if width <= avail_width else self.size * avail_width / width
        self.width, self.height = avail_width, self._size * 1.35
        return self.width, self.height

    def draw(self):
        canvas, size = self.canv, self._size
        text_width = pdfmetrics.stringWidth(self.text, FONT, size)
        obj = canvas.beginText((self.width - text_width) / 2, size * 0.3)
        obj.setFont(FONT, size)
        if self.bold:
            # STSong-Light has no bold face: fill and stroke the outlines (text render mode 2).
            obj.setTextRenderMode(2)
            canvas.setLineWidth(size * 0.035)
        canvas.setFillColor(self.color)
        canvas.setStrokeColor(self.color)
        obj.textOut(self.text)
        canvas.drawText(obj)


class _Signature(Flowable):
    """The issuing bureau and the date at the lower right, with the seal's place over them."""

    def __init__(self, bureau: str, issued: str, seal: bool):
        super().__init__()
        self.bureau, self.issued, self.seal = _clean(bureau), issued, seal

    def wrap(self, avail_width, avail_height):
        self.width = avail_width
        self.height = SEAL_DIAMETER_MM * mm + 8 if self.seal else 2 * BODY_LEADING
        return self.width, self.height

    def _positions(self, size: float) -> tuple[float, float, float]:
        # GB/T 9704-2012 7.3.5.1: the date four characters from the right and the name centred over it; a name
        # longer than the date sits two characters from the right with the date centred under it.
        name_width = pdfmetrics.stringWidth(self.bureau, FONT, size)
        date_width = pdfmetrics.stringWidth(self.issued, FONT, size)
        if name_width <= date_width:
            centre = self.width - 4 * size - date_width / 2
        else:
            centre = max(self.width - 2 * size - name_width / 2, name_width / 2)
        return centre, centre - name_width / 2, centre - date_width / 2

    def draw(self):
        canvas = self.canv
        size = min(BODY_SIZE, BODY_SIZE * self.width / max(pdfmetrics.stringWidth(self.bureau, FONT, BODY_SIZE), 1))
        centre, name_x, date_x = self._positions(size)
        radius = SEAL_DIAMETER_MM * mm / 2
        name_y = self.height - radius - 4 - 6 if self.seal else BODY_LEADING + 6
        canvas.setFont(FONT, size)
        canvas.setFillColor(colors.black)
        canvas.drawString(name_x, name_y, self.bureau)
        canvas.drawString(date_x, name_y - BODY_LEADING, self.issued)
        if self.seal:
            # The seal presses on the name and the date, which sit below its centre (GB/T 9704-2012 7.3.5.1).
            cy = self.height - radius - 4
            canvas.setStrokeColor(colors.HexColor("#999999"))
            canvas.setLineWidth(0.8)
            canvas.setDash(4, 3)
            canvas.circle(centre, cy, radius)
            canvas.setDash()
            canvas.setFillColor(colors.HexColor("#999999"))
            canvas.setFont(FONT, 10)
            canvas.drawCentredString(centre, cy + radius * 0.45, "（盖章处）")


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


def _fields_table(fields: list[tuple[str, str]], styles, width: float) -> Table:
    # A row cannot break across pages (reportlab's splitInRow loses the labels), so a long value becomes several
    # rows with no rule between them: they read as one cell and flow over pages.
    label_width = LABEL_MM * mm
    value_width = width - label_width - 2 * CELL_PADDING
    rows, heights, commands = [], [], []
    for label, value in fields:
        pieces = _cell_pieces(value, styles["cell"], value_width)
        first = len(rows)
        for number, piece in enumerate(pieces):
            rows.append([Paragraph(_markup(label) if number == 0 else "", styles["label"]), piece])
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
                ("BOX", (0, 0), (-1, -1), 0.75, colors.black),
                ("LINEAFTER", (0, 0), (0, -1), 0.75, colors.black),
                ("VALIGN", (0, 0), (0, -1), "MIDDLE"),
                ("VALIGN", (1, 0), (1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                *commands,
            ]
        )
    )
    return table


def _attachments_table(attachments: list[tuple[str, int, str]], styles, width: float) -> Table:
    widths = [12 * mm, 0, 30 * mm, 54 * mm]
    widths[1] = width - sum(widths)
    head = [Paragraph(t, styles["small"]) for t in ("序号", "文件名", "大小", "SHA-256 摘要")]
    rows = [head]
    for number, (name, size, digest) in enumerate(attachments, 1):
        rows.append(
            [
                Paragraph(str(number), styles["small"]),
                Paragraph(_markup(name), styles["small"]),
                Paragraph(_markup(format_size(size)), styles["small"]),
                Paragraph(_markup(_two_lines(digest)), styles["mono"]),
            ]
        )
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ]
        )
    )
    return table


def _two_lines(digest: str) -> str:
    """Break a 64-digit digest in the middle, so that it reads as two rows of 32."""
    return f"{digest[:32]}\n{digest[32:]}" if len(digest) == 64 and "\n" not in digest else digest


def _page_number(canvas, doc) -> None:
    canvas.saveState()
    canvas.setFont(FONT, 14)
    canvas.drawCentredString(A4[0] / 2, 20 * mm, f"— {doc.page} —")
    canvas.restoreState()


def render_pdf(data: DocumentData) -> bytes:
    """Render the document as an A4 PDF."""
    _register_font()
    styles = _styles()
    buffer = BytesIO()
    page_width, page_height = A4
    left, right = MARGINS_MM["left"] * mm, MARGINS_MM["right"] * mm
    top, bottom = MARGINS_MM["top"] * mm, MARGINS_MM["bottom"] * mm
    # No frame padding: the text block is exactly the official 156 x 225 mm.
    frame = Frame(left, bottom, page_width - left - right, page_height - top - bottom, 0, 0, 0, 0, id="body")
    doc = BaseDocTemplate(
        buffer,
        pagesize=A4,
        pageTemplates=[PageTemplate("page", [frame], onPageEnd=_page_number)],
        title=_clean(data.title),
        author=_clean(data.bureau_name),
        subject=data.kind,
        creator="petition review portal",
    )
    width = frame._width
    story: list[Flowable] = [_CentredLine(data.bureau_name, LETTERHEAD_SIZE, RED, bold=True, space_after=14)]
    if data.doc_number:
        story.append(Paragraph(_markup(data.doc_number), styles["centre"]))
    story.append(HRFlowable(width="100%", thickness=1.5, color=colors.HexColor(RED), spaceBefore=4, spaceAfter=24))
    story.append(_CentredLine(data.title, TITLE_SIZE, bold=True, space_after=BODY_LEADING - 8))
    if data.addressee:
        story.append(Paragraph(_markup(_addressee_line(data.addressee)), styles["plain"]))
    story.extend(Paragraph(_markup(text), styles["body"]) for text in data.paragraphs)
    if data.fields:
        story += [Spacer(1, 6), _fields_table(data.fields, styles, width)]
    if data.attachments:
        story += [Spacer(1, 8), Paragraph(f"提交的材料（共 {len(data.attachments)} 件）：", styles["caption"])]
        story.append(_attachments_table(data.attachments, styles, width))
    if data.signature:
        ending: list[Flowable] = [Spacer(1, 10), _Signature(data.bureau_name, chinese_date(data.issued_on), data.seal)]
        if data.signer_note:
            ending.insert(0, Paragraph(_markup(data.signer_note), styles["plain"]))
        if isinstance(story[-1], Paragraph):
            ending.insert(0, story.pop())  # keep the last paragraph with the signature
        story.append(KeepTogether(ending))
    if data.footer_note:
        story += [Spacer(1, 8), Paragraph(_markup(data.footer_note), styles["note"])]
    doc.build(story)
    return buffer.getvalue()


# --- DOCX ---------------------------------------------------------------------------------------------

BODY_FONT = "仿宋"
HEAD_FONT = "宋体"


def _font(run, size: float, east_asia: str = BODY_FONT, bold: bool = False, color: str | None = None) -> None:
    run.font.size = Pt(size)
    run.font.bold = bold
    run.font.name = "Times New Roman"
    # Word picks the font of Chinese characters from w:eastAsia, which python-docx does not set by itself.
    run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), east_asia)
    if color:
        run.font.color.rgb = RGBColor.from_string(color.lstrip("#"))


def _paragraph(document, text: str, size: float = BODY_SIZE, *, align=None, indent: bool = False, **font):
    paragraph = document.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.line_spacing_rule, fmt.line_spacing = WD_LINE_SPACING.EXACTLY, Pt(size * 1.75)
    fmt.space_before = fmt.space_after = Pt(0)
    if align is not None:
        paragraph.alignment = align
    if indent:
        fmt.first_line_indent = Pt(2 * size)
    _font(paragraph.add_run(_clean(text)), size, **font)
    return paragraph


def _bottom_border(paragraph, color: str) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "12"), ("w:space", "6"), ("w:color", color.lstrip("#"))):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


def _cell_text(cell, text: str, size: float, *, align=None, mono: bool = False, grey: bool = False):
    paragraph = cell.paragraphs[0] if not cell.paragraphs[0].runs else cell.add_paragraph()
    fmt = paragraph.paragraph_format
    fmt.space_before, fmt.space_after = Pt(2), Pt(2)
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    if align is not None:
        paragraph.alignment = align
    run = paragraph.add_run(_clean(text))
    _font(run, size)
    if mono:
        run.font.name = "Consolas"
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


def _add_row(table, widths_mm: list[float]):
    row = table.add_row()
    for cell, width in zip(row.cells, widths_mm, strict=True):
        cell.width = Mm(width)
    return row


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
    _font(paragraph.add_run("— "), 14, HEAD_FONT)
    page = OxmlElement("w:fldSimple")
    page.set(qn("w:instr"), "PAGE")
    paragraph._p.append(page)  # the next run goes after it
    _font(paragraph.add_run(" —"), 14, HEAD_FONT)


def render_docx(data: DocumentData) -> bytes:
    """Render the document as an editable DOCX with the same content as the PDF."""
    document = Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    normal = document.styles["Normal"]
    normal.font.name, normal.font.size = "Times New Roman", Pt(BODY_SIZE)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    document.core_properties.title = _clean(data.title)
    document.core_properties.author = _clean(data.bureau_name)
    document.core_properties.subject = data.kind
    centre, right = WD_ALIGN_PARAGRAPH.CENTER, WD_ALIGN_PARAGRAPH.RIGHT

    head = _paragraph(
        document, data.bureau_name, LETTERHEAD_SIZE, align=centre, east_asia=HEAD_FONT, bold=True, color=RED
    )
    if data.doc_number:
        head = _paragraph(document, data.doc_number, align=centre)
    _bottom_border(head, RED)
    title = _paragraph(document, data.title, TITLE_SIZE, align=centre, east_asia=HEAD_FONT, bold=True)
    title.paragraph_format.space_before, title.paragraph_format.space_after = Pt(24), Pt(14)
    if data.addressee:
        _paragraph(document, _addressee_line(data.addressee))
    body = [_paragraph(document, text, indent=True, align=WD_ALIGN_PARAGRAPH.JUSTIFY) for text in data.paragraphs]

    if data.fields:
        widths = [LABEL_MM, TEXT_WIDTH_MM - LABEL_MM]
        table = _table(document, 0, widths)
        for label, value in data.fields:
            row = _add_row(table, widths)
            _cell_text(row.cells[0], label, TABLE_SIZE, align=centre)
            _cell_text(row.cells[1], value, TABLE_SIZE)
            if not value.strip():
                row.height, row.height_rule = Mm(BLANK_CELL_MM), WD_ROW_HEIGHT_RULE.AT_LEAST
    if data.attachments:
        caption = _paragraph(document, f"提交的材料（共 {len(data.attachments)} 件）：", TABLE_SIZE)
        caption.paragraph_format.space_before = Pt(8)
        caption.paragraph_format.keep_with_next = True
        widths = [12, TEXT_WIDTH_MM - 96, 30, 54]
        table = _table(document, 0, widths)
        for cell, text in zip(_add_row(table, widths).cells, ("序号", "文件名", "大小", "SHA-256 摘要"), strict=True):
            _cell_text(cell, text, 10.5)
        for number, (name, size, digest) in enumerate(data.attachments, 1):
            cells = _add_row(table, widths).cells
            for cell, text in zip(cells[:3], (str(number), name, format_size(size)), strict=True):
                _cell_text(cell, text, 10.5)
            _cell_text(cells[3], _two_lines(digest), 7, mono=True)

    if body and data.signature:
        body[-1].paragraph_format.keep_with_next = True  # the last paragraph stays with the signature
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
        cant_split = OxmlElement("w:cantSplit")
        row._tr.get_or_add_trPr().append(cant_split)
        _cell_text(row.cells[0], "（盖章处）", 9, align=centre, grey=True)
        for text in (data.bureau_name, issued):
            _cell_text(row.cells[0], text, BODY_SIZE, align=centre).paragraph_format.space_before = Pt(6)
    elif data.signature:
        for text, indent in ((data.bureau_name, 2), (issued, 4)):
            paragraph = _paragraph(document, text, align=right)
            paragraph.paragraph_format.right_indent = Pt(indent * BODY_SIZE)
            paragraph.paragraph_format.keep_with_next = text == data.bureau_name
    if data.footer_note:
        note = _paragraph(document, data.footer_note, TABLE_SIZE, indent=True)
        note.paragraph_format.space_before = Pt(12)
    _page_number_footer(section)

    buffer = BytesIO()
    document.save(buffer)
    return buffer.getvalue()
