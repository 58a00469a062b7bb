"""Recognise the allowed file types by their content; the declared type and the name's ending are ignored."""

from __future__ import annotations

import enum
import zipfile
from typing import BinaryIO


class FileType(enum.Enum):
    """An allowed type: (MIME type, canonical extension, other extensions that mean the same)."""

    pdf = ("application/pdf", "pdf", ())
    jpeg = ("image/jpeg", "jpg", ("jpeg", "jpe"))
    png = ("image/png", "png", ())
    docx = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "docx", ())

    @property
    def content_type(self) -> str:
        return self.value[0]

    @property
    def extension(self) -> str:
        return self.value[1]

    @property
    def extensions(self) -> tuple[str, ...]:
        return (self.value[1], *self.value[2])


_MAGIC = (
    (b"%PDF-", FileType.pdf),
    (b"\xff\xd8\xff", FileType.jpeg),
    (b"\x89PNG\r\n\x1a\n", FileType.png),
)
_DOCX_REQUIRED = ("[Content_Types].xml", "word/document.xml")


def sniff(fileobj: BinaryIO) -> FileType | None:
    """Return the type of the seekable ``fileobj`` (rewound afterwards), or None when it is not allowed."""
    fileobj.seek(0)
    head = fileobj.read(8)
    try:
        for magic, file_type in _MAGIC:
            if head.startswith(magic):
                return file_type
        # The local header must open the file: zipfile alone finds an archive appended to anything (an EXE).
        if head.startswith(b"PK\x03\x04") and _is_docx(fileobj):
            return FileType.docx
        return None
    finally:
        fileobj.seek(0)


def _is_docx(fileobj: BinaryIO) -> bool:
    """A Word document: a ZIP whose central directory lists the OOXML parts of a document and no macros."""
    fileobj.seek(0)
    try:
        with zipfile.ZipFile(fileobj) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return False
    # A macro-enabled document (.docm) renamed to .docx carries a VBA project: refuse it.
    return all(name in names for name in _DOCX_REQUIRED) and "word/vbaProject.bin" not in names
