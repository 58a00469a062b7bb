"""Official documents: default texts, filling them from a context, and rendering to PDF and DOCX.

Pure package: no Flask, no SQLAlchemy. The caller gathers plain values, calls `build_document()`, then
`render_pdf()` / `render_docx()` and stores the bytes.
"""

from portal.documents.render import DocumentData, chinese_date, format_size, render_docx, render_pdf
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
