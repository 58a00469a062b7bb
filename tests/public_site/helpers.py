"""Helpers for the petitioner's side, on pages and API: real files, a valid application, uploads, staff actions."""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import select

from portal.attachments.models import Attachment, Upload
from portal.cases.models import Case, CaseNumber, MaterialRequest
from portal.cases.queries import local_today
from tenants.scoping import system_scope
from tenants.tree import get_bureau

VALID_ID = "11010519491231002X"
COUNTY = "220102"  # 南关区, under 长春市 (220100)


def pdf_bytes(text: str = "hello") -> bytes:
    return (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        f"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n% {text}\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    ).encode()


def png_bytes() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def exe_bytes() -> bytes:
    """The start of a Windows executable (MZ header, PE signature): what a renamed .exe looks like."""
    return b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 44 + b"PE\x00\x00" + b"\x00" * 200


def docx_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def dates() -> dict[str, str]:
    today = local_today()
    return {
        "issued_on": (today - timedelta(days=5)).isoformat(),
        "received_on": (today - timedelta(days=3)).isoformat(),
    }


def application_json(session, attachments=(), **changes) -> dict:
    """A valid API application against a 南关区 handling opinion; ``changes`` use ``a__b`` paths."""
    body = {
        "petitioner": {
            "name": "张三",
            "id_number": VALID_ID,
            "phone": "13800138000",
            "email": "zs@example.com",
            "address": "长春市南关区人民大街1号",
        },
        "disputed": {
            "bureau_id": get_bureau(session, COUNTY).id,
            "opinion_kind": "handling",
            "document_number": "南社保信〔2026〕3号",
            **dates(),
        },
        "request": "请求撤销处理意见，重新核定养老金。",
        "facts_and_reasons": "处理意见认定事实不清。",
        "attachments": list(attachments),
        # Tests submit this same application many times: confirmed, as a petitioner may (§四.14 duplicates are
        # tested with confirm_duplicate=False).
        "confirm_duplicate": True,
    }
    for path, value in changes.items():
        target = body
        *parents, last = path.split("__")
        for part in parents:
            target = target[part]
        if value is ...:
            target.pop(last, None)
        else:
            target[last] = value
    return body


def api_upload(client, data: bytes, name: str) -> dict:
    response = client.post(
        "/api/v1/uploads", data={"file": (io.BytesIO(data), name)}, content_type="multipart/form-data"
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def bucket_keys(storage, prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for page in storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def all_cases(session) -> list[Case]:
    with system_scope(session):
        return list(session.scalars(select(Case).order_by(Case.id).execution_options(populate_existing=True)))


def case_by_number(session, number: str) -> Case:
    with system_scope(session):
        return session.scalar(select(Case).where(Case.number == number).execution_options(populate_existing=True))


def case_files(session, case: Case) -> list[Attachment]:
    with system_scope(session):
        return list(
            session.scalars(
                select(Attachment)
                .where(Attachment.tenant_id == case.tenant_id, Attachment.case_id == case.id)
                .order_by(Attachment.id)
            )
        )


def counts(session) -> dict[str, int]:
    from sqlalchemy import func

    with system_scope(session):
        return {
            "cases": session.scalar(select(func.count()).select_from(Case)),
            "numbers": session.scalar(select(func.count()).select_from(CaseNumber)),
            "attachments": session.scalar(select(func.count()).select_from(Attachment)),
            "claimed": session.scalar(select(func.count()).select_from(Upload).where(Upload.claimed_at.isnot(None))),
        }


def open_requests(session, case: Case) -> list[MaterialRequest]:
    with system_scope(session):
        return list(
            session.scalars(
                select(MaterialRequest)
                .where(MaterialRequest.case_id == case.id, MaterialRequest.answered_at.is_(None))
                .execution_options(populate_existing=True)
            )
        )


def page_csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "no CSRF token on the page"
    return match.group(1)


# --- Filling the pages like a browser ----------------------------------------------------------------------------


class _FormParser(HTMLParser):
    """Collect each form's action, method, enctype and current field values (what a browser would send)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self.forms.append({"action": a.get("action"), "enctype": a.get("enctype"), "fields": [], "buttons": []})
        elif not self.forms:
            return
        fields = self.forms[-1]["fields"]
        if tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("radio", "checkbox"):
                if "checked" in a:
                    fields.append((a["name"], a.get("value", "on")))
            elif kind not in ("file", "submit"):
                fields.append((a["name"], a.get("value", "")))
        elif tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value", ""), a.get("formaction")))
        elif tag == "textarea":
            self._textarea = a.get("name")
            fields.append((self._textarea, ""))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            fields.append((self._select, a.get("value", "")))

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea and self.forms:
            name, value = self.forms[-1]["fields"][-1]
            self.forms[-1]["fields"][-1] = (name, value + data)


def forms_of(page: str) -> list[dict]:
    parser = _FormParser()
    parser.feed(page)
    return parser.forms


def fill(
    client,
    page: str,
    values: dict | None = None,
    *,
    go: str | None = "next",
    form: int | None = None,
    files=None,
    path: str | None = None,
):
    """Submit a form of ``page`` with its current values changed by ``values``, pressing the button ``go``.

    The form is number ``form``, else the first with a ``go`` button, else the page's first (not the header's
    sign-out form). ``files`` is a list of (bytes, name). Like a browser, the redirect of the application's forms to
    the page of the next step (Post/Redirect/Get) is followed; the redirect to the receipt is left to the test.
    """
    forms = forms_of(page)
    if form is not None:
        chosen = forms[form]
    elif go is not None:
        chosen = next(f for f in forms if any(b[0] == "go" for b in f["buttons"]))
    else:  # the page's own form, not the sign-out form of the header
        chosen = next(f for f in forms if not (f["action"] or "").endswith("/account/logout"))
    data: dict[str, list] = {}
    for name, value in chosen["fields"]:
        data.setdefault(name, []).append(value)
    for name, value in (values or {}).items():
        data[name] = value if isinstance(value, list) else [value]
    action = path or chosen["action"]
    if go is not None:
        data["go"] = [go]
        for name, value, formaction in chosen["buttons"]:
            if name == "go" and value == go and formaction:
                action = formaction
    if files is not None:
        data["file"] = [(io.BytesIO(content), name) for content, name in files]
        return follow_steps(client, client.post(action, data=data, content_type="multipart/form-data"))
    return follow_steps(client, client.post(action, data=data))


def follow_steps(client, response):
    """Follow redirects to the application's step pages (``/apply``, ``/apply/<step>``), as the browser would."""
    while response.status_code in (302, 303):
        target = urlsplit(response.headers["Location"])
        if not target.path.startswith("/apply") or target.path == "/apply/receipt":
            break
        response = client.get(target.path + (f"?{target.query}" if target.query else ""))
    return response


def new_browser(client):
    """Another browser (its own cookies) on the same app.

    The test's database fixture keeps one app context open for the whole test, so ``g`` outlives a request: drop
    what Flask-WTF and Flask-Login cache there (the CSRF token, the signed-in user), or the new browser would be
    handed the first browser's.
    """
    from flask import g

    g.pop("csrf_token", None)
    g.pop("_login_user", None)
    return client.application.test_client()
