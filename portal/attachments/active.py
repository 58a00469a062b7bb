"""Active content in uploaded files: refused, with the reason (never neutralised: the file is evidence as sent).

- PDF: JavaScript (``/JavaScript``, ``/JS``), launch actions (``/Launch``), embedded files (``/EmbeddedFile``,
  ``/EmbeddedFiles``), rich media and XFA forms; also when hidden in compressed object streams or spelled with
  ``#xx`` escapes. Content after the end of the PDF (a second file glued on) is refused too.
- Any type: HTML or script markup in the raw bytes (a file that is a PDF or an image *and* a web page, which a
  browser could run).
- DOCX: a ``DOCTYPE`` in any XML part (entity expansion, external entities), relationships to external targets
  (an attached template on a server, linked images or objects; ordinary hyperlinks stay allowed), embedded OLE
  objects and ActiveX controls, and archives that would expand beyond reason.

No Flask here. ``active_content(fileobj, file_type)`` returns the problem (a code and the reason in zh and en),
or None.
"""

from __future__ import annotations

import io
import mmap
import re
import zipfile
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

MAX_SCAN_BYTES = 64 * 1024 * 1024  # decompressed PDF streams or DOCX parts read at most (a bomb is refused)
_TRAILER_SLACK = 1024  # bytes tolerated after the last %%EOF (whitespace, scanner padding)
_MAP_FROM = 1024 * 1024  # larger files are scanned through a memory map, not read into memory
_WHITESPACE = b" \t\n\r\x0b\x0c"  # what bytes.strip() removes

_PDF_NAMES = {
    "javascript": "pdf_javascript",
    "js": "pdf_javascript",
    "launch": "pdf_launch",
    "embeddedfile": "pdf_embedded_file",
    "embeddedfiles": "pdf_embedded_file",
    "richmedia": "pdf_rich_media",
    "xfa": "pdf_xfa",
}
_NAME = re.compile(rb"/([^\s/<>\[\]()%{}]+)")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_STREAM = re.compile(rb"stream\r?\n(.*?)endstream", re.S)
_MARKUP = re.compile(rb"<\s*(?:html|script|body|iframe|svg|object|embed)\b|<!doctype\s+html", re.I)
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.I)
_EXTERNAL = re.compile(rb"<Relationship\b[^>]*>", re.I)


@dataclass(frozen=True)
class ActiveContent:
    code: str
    zh: str
    en: str


_REASONS = {
    "pdf_javascript": ("该 PDF 含有 JavaScript 脚本", "This PDF contains JavaScript"),
    "pdf_launch": ("该 PDF 含有启动外部程序的动作", "This PDF contains an action that launches a program"),
    "pdf_embedded_file": ("该 PDF 内嵌了其他文件", "This PDF has other files embedded in it"),
    "pdf_rich_media": ("该 PDF 含有富媒体（Flash 等）内容", "This PDF contains rich media (Flash or similar)"),
    "pdf_xfa": ("该 PDF 是含脚本的 XFA 表单", "This PDF is an XFA form, which can run scripts"),
    "pdf_trailing_data": ("该 PDF 文件结尾之后还附加了其他内容", "This PDF has other content glued after its end"),
    "markup": ("该文件同时含有网页（HTML/脚本）代码", "This file also contains web page (HTML or script) code"),
    "docx_doctype": ("该 Word 文档含有 DOCTYPE 声明", "This Word document contains a DOCTYPE declaration"),
    "docx_external": (
        "该 Word 文档引用了外部资源（如网络上的模板或链接的对象）",
        "This Word document refers to outside resources (such as a template on a server or a linked object)",
    ),
    "docx_embedded": (
        "该 Word 文档内嵌了可执行的对象或 ActiveX 控件",
        "This Word document embeds executable objects or ActiveX controls",
    ),
    "too_complex": ("该文件解压后过大，无法检查", "This file expands to more than can be checked"),
}


def _problem(code: str) -> ActiveContent:
    zh, en = _REASONS[code]
    return ActiveContent(
        code,
        f"{zh}，出于安全原因不予接收。请另存为（或打印为）普通 PDF 或图片后重新上传。",
        f"{en}, so it is refused for safety. Save or print it as a plain PDF or an image and upload that.",
    )


def active_content(fileobj: BinaryIO, file_type) -> ActiveContent | None:
    """The active content found in the seekable ``fileobj`` of type ``file_type`` (rewound afterwards), or None."""
    from portal.attachments.sniff import FileType

    fileobj.seek(0)
    try:
        if file_type is FileType.docx:
            code = _docx_problem(fileobj)
        else:
            with _contents(fileobj) as data:
                code = _pdf_problem(data) if file_type is FileType.pdf else None
                if code is None and _MARKUP.search(data):
                    code = "markup"
        return _problem(code) if code else None
    finally:
        fileobj.seek(0)


@contextmanager
def _contents(fileobj: BinaryIO):
    """The bytes of ``fileobj``: a read-only memory map for a large file on disk (a 20 MB upload is not copied
    into memory), else the bytes read."""
    size = fileobj.seek(0, io.SEEK_END)
    fileobj.seek(0)
    mapped = None
    if size >= _MAP_FROM:
        try:
            fileobj.flush()
            mapped = mmap.mmap(fileobj.fileno(), 0, access=mmap.ACCESS_READ)
        except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
            mapped = None
    if mapped is None:
        yield fileobj.read()
        return
    try:
        yield mapped
    finally:
        mapped.close()


def _names(data: bytes) -> set[str]:
    found = set()
    for raw in _NAME.findall(data):
        name = _HEX_ESCAPE.sub(lambda m: bytes([int(m.group(1), 16)]), raw)
        found.add(name.decode("latin-1").lower())
    return found


def _dangerous_name(data) -> str | None:
    for name in _names(data):
        if name in _PDF_NAMES:
            return _PDF_NAMES[name]
    return None


def _trailing_length(data, start: int) -> int:
    """``len(data[start:].strip())`` without copying the tail."""
    first = start
    while first < len(data) and data[first] in _WHITESPACE:
        first += 1
    last = len(data)
    while last > first and data[last - 1] in _WHITESPACE:
        last -= 1
    return last - first


def _pdf_problem(data) -> str | None:
    """``data`` is bytes or a memory map: no copy of the whole file is made, and each stream is inflated and
    checked in turn (the raw bytes first, then the streams in order)."""
    end = data.rfind(b"%%EOF")
    if end != -1 and _trailing_length(data, end + 5) > _TRAILER_SLACK:
        return "pdf_trailing_data"
    if found := _dangerous_name(data):
        return found
    view = memoryview(data)
    budget = MAX_SCAN_BYTES
    try:
        for match in _STREAM.finditer(data):
            try:
                inflater = zlib.decompressobj()
                text = inflater.decompress(view[match.start(1) : match.end(1)], budget)
            except zlib.error:
                continue
            if inflater.unconsumed_tail:
                return "too_complex"
            budget -= len(text)
            if found := _dangerous_name(text):
                return found
            if budget <= 0:
                return "too_complex"
    finally:
        view.release()
    return None


def _docx_problem(fileobj: BinaryIO) -> str | None:
    try:
        with zipfile.ZipFile(fileobj) as archive:
            infos = archive.infolist()
            if sum(i.file_size for i in infos) > MAX_SCAN_BYTES:
                return "too_complex"
            for info in infos:
                name = info.filename.lower()
                if name.startswith(("word/activex/", "word/embeddings/oleobject")) or name.endswith(".bin"):
                    return "docx_embedded"
            for info in infos:
                name = info.filename.lower()
                if not name.endswith((".xml", ".rels")):
                    continue
                part = archive.read(info)
                if _DOCTYPE.search(part):
                    return "docx_doctype"
                if name.endswith(".rels"):
                    for relationship in _EXTERNAL.findall(part):
                        external = re.search(rb'TargetMode\s*=\s*["\']External["\']', relationship, re.I)
                        hyperlink = re.search(rb'Type\s*=\s*["\'][^"\']*/hyperlink["\']', relationship, re.I)
                        if external and not hyperlink:
                            return "docx_external"
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return "too_complex"
    return None
