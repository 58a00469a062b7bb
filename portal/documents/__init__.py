"""Official documents: default texts, filling them from a context, and rendering to PDF and DOCX.

Pure package: no Flask, no SQLAlchemy. The caller gathers plain values, calls `build_document()`, then
`render_pdf()` / `render_docx()` and stores the bytes. The renderer (PDF, DOCX and font libraries, some 25 MB of
a web process) is imported at the first rendering, not with the package.
"""

from portal.documents.data import DocumentData, chinese_date, format_size
from portal.documents.templates import (
    KINDS,
    RECEIPT,
    TEMPLATES,
    TemplateError,
    TemplateProblem,
    allowed_placeholders,
    build_document,
    default_text,
    validate_template,
)

__all__ = [
    "KINDS",
    "RECEIPT",
    "TEMPLATES",
    "DocumentData",
    "TemplateError",
    "TemplateProblem",
    "allowed_placeholders",
    "build_document",
    "chinese_date",
    "default_text",
    "format_size",
    "render_docx",
    "render_pdf",
    "validate_template",
]


def render_pdf(data: DocumentData) -> bytes:
    from portal.documents.render import render_pdf as render

    return render(data)


def render_docx(data: DocumentData) -> bytes:
    from portal.documents.render import render_docx as render

    return render(data)
