"""Uploads and attachments against the real S3 and PostgreSQL: type by content, size limit, claim, links, purge."""

import hashlib
import io
import secrets
import struct
import tracemalloc
import uuid
import zipfile
import zlib
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from portal.attachments.models import Attachment, AttachmentSource, Upload
from portal.attachments.operations import (
    CHUNK,
    EmptyFile,
    TooManyUploads,
    TypeNotAllowed,
    UnknownUpload,
    UploadAlreadyUsed,
    UploadTooLarge,
    claim_uploads,
    clean_filename,
    download_url,
    purge_stale_uploads,
    store_upload,
)
from portal.attachments.sniff import FileType, sniff
from tenants.scoping import TenantScope, scoped
from tenants.tree import get_bureau

MB20 = 20 * 1024 * 1024
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --- real minimal files ---------------------------------------------------------------------------------------


def pdf_bytes(text_line: str = "hello") -> bytes:
    body = (
        "%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        "2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
        f"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 200]>>endobj\n% {text_line}\n"
        "trailer<</Root 1 0 R>>\n%%EOF\n"
    )
    return body.encode()


def png_bytes() -> bytes:
    """A 1x1 red PNG: signature, IHDR, IDAT, IEND with their CRCs."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


# A 1x1 baseline JPEG (written by Pillow once; the project does not depend on it).
JPEG_1X1 = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123251d283a333d"
    "3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb0043011112121815182f1a1a2f634238"
    "426363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363636363ffc0"
    "0011080001000103012200021101031101ffc4001f0000010501010101010100000000000000000102030405060708090a0bffc400"
    "b5100002010303020403050504040000017d01020300041105122131410613516107227114328191a1082342b1c11552d1f0243362"
    "7282090a161718191a25262728292a3435363738393a434445464748494a535455565758595a636465666768696a737475767778"
    "797a838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8"
    "d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a"
    "0bffc400b51100020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109233352"
    "f0156272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a636465666768696a7374"
    "75767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3"
    "d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00c7a28a2b84fa83ffd9"
)


def zip_bytes(entries: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def docx_bytes(**extra: str) -> bytes:
    return zip_bytes(
        {
            "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            'package/2006/content-types"/>',
            "word/document.xml": '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body/></w:document>',
            **extra,
        }
    )


EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 50 + b"This program cannot be run in DOS mode"
HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"


# --- helpers ----------------------------------------------------------------------------------------------------


@pytest.fixture
def storage(app):
    return app.extensions["portal.storage"]


@pytest.fixture
def bureau_id(dbs):
    return get_bureau(dbs, "220102").id


@pytest.fixture
def case_id():
    """A case id of its own, so that the case prefix in the shared test bucket starts empty."""
    return secrets.randbelow(10**12) + 1


def bucket_keys(storage, prefix: str = "") -> set[str]:
    keys = set()
    for page in storage.client.get_paginator("list_objects_v2").paginate(Bucket=storage.bucket, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def post_file(client, data: bytes, name: str, declared: str = "application/octet-stream", query: str = ""):
    return client.post(
        f"/api/v1/uploads{query}",
        data={"file": (io.BytesIO(data), name, declared)},
        content_type="multipart/form-data",
    )


def upload_count(dbs) -> int:
    return dbs.scalar(select(func.count()).select_from(Upload))


def new_upload(dbs, storage, data: bytes | None = None, name: str = "证明.pdf") -> Upload:
    upload = store_upload(dbs, storage, io.BytesIO(data or pdf_bytes(uuid.uuid4().hex)), name)
    dbs.commit()
    return upload


def claim(dbs, storage, ids, bureau_id, case_id):
    with scoped(dbs, TenantScope.single(bureau_id)):
        return claim_uploads(
            dbs,
            storage,
            ids,
            bureau_id=bureau_id,
            case_id=case_id,
            source=AttachmentSource.petitioner,
            uploaded_by="petitioner",
        )


def attachments_of(dbs, bureau_id, case_id) -> list[Attachment]:
    with scoped(dbs, TenantScope.single(bureau_id)):
        return dbs.scalars(select(Attachment).where(Attachment.case_id == case_id)).all()


class EndlessStream:
    """A request body that never ends; counts what was read from it."""

    def __init__(self, head: bytes = b"%PDF-1.7\n"):
        self.head = head
        self.read_bytes = 0

    def read(self, size: int) -> bytes:
        chunk = (self.head if self.read_bytes == 0 else b"") + b"0" * size
        chunk = chunk[:size]
        self.read_bytes += len(chunk)
        return chunk


class SizedStream(EndlessStream):
    """A PDF of ``total`` bytes generated as it is read, so the test itself holds none of it."""

    def __init__(self, total: int):
        super().__init__()
        self.total = total

    def read(self, size: int) -> bytes:
        return super().read(min(size, self.total - self.read_bytes)) if self.read_bytes < self.total else b""


# --- the upload endpoint ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "content_type", "stored_name"),
    [
        (pdf_bytes(), "复查申请书.pdf", "application/pdf", "复查申请书.pdf"),
        (JPEG_1X1, "身份证正面.JPG", "image/jpeg", "身份证正面.JPG"),
        (png_bytes(), "screenshot.png", "image/png", "screenshot.png"),
        (docx_bytes(), "情况说明.docx", DOCX_TYPE, "情况说明.docx"),
    ],
    ids=["pdf", "jpeg", "png", "docx"],
)
def test_allowed_types_are_stored_with_hash_and_size(client, dbs, storage, data, name, content_type, stored_name):
    # The declared type is a lie on purpose: only the content counts.
    response = post_file(client, data, name, declared="text/plain")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["content_type"] == content_type
    assert body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["filename"] == stored_name
    upload = dbs.get(Upload, uuid.UUID(body["upload_id"]))
    assert upload.storage_key == f"uploads/{body['upload_id']}"
    assert upload.claimed_at is None
    assert (upload.size, upload.sha256, upload.content_type) == (len(data), body["sha256"], content_type)
    assert storage.get(upload.storage_key) == data
    head = storage.client.head_object(Bucket=storage.bucket, Key=upload.storage_key)
    assert head["ContentType"] == content_type


@pytest.mark.parametrize(
    ("data", "name", "stored_name"),
    [
        (JPEG_1X1, "scan.png", "scan.jpg"),
        (pdf_bytes(), "报告", "报告.pdf"),
        (png_bytes(), "photo.exe", "photo.png"),
        (docx_bytes(), "说明.doc", "说明.docx"),
    ],
)
def test_extension_is_corrected_to_the_detected_type(client, data, name, stored_name):
    response = post_file(client, data, name)
    assert response.status_code == 201
    assert response.get_json()["filename"] == stored_name


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (EXE, "photo.png"),
        (HTML, "letter.pdf"),
        (zip_bytes({"readme.txt": "not a document"}), "archive.docx"),
        (zip_bytes({"word/document.xml": "<w/>"}), "half.docx"),  # no [Content_Types].xml
        (EXE + docx_bytes(), "polyglot.docx"),  # a DOCX appended to a program is still a program
        (docx_bytes(**{"word/vbaProject.bin": "macros"}), "macro.docx"),  # a .docm renamed
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "anim.png"),
    ],
    ids=["exe-as-png", "html-as-pdf", "zip-not-docx", "zip-without-content-types", "exe-with-zip", "docm", "gif"],
)
def test_other_content_is_refused_with_415_and_leaves_nothing(client, dbs, storage, data, name):
    before = bucket_keys(storage)

    response = post_file(client, data, name, declared="application/pdf")

    assert response.status_code == 415
    error = response.get_json()["error"]
    assert error["code"] == "type_not_allowed"
    assert "只接受" in error["message"]
    assert bucket_keys(storage) == before
    assert upload_count(dbs) == 0


def test_error_message_follows_the_locale(client):
    response = post_file(client, EXE, "x.png", query="?lang=en")
    assert response.status_code == 415
    assert response.get_json()["error"]["message"].startswith("Only PDF, JPEG, PNG and DOCX")


def test_file_of_exactly_20_mb_is_accepted(client, dbs, storage):
    # Padded inside the PDF (a long comment line before the trailer): nothing may follow %%EOF.
    data = pdf_bytes("%" * (MB20 - len(pdf_bytes(""))))
    assert len(data) == MB20

    response = post_file(client, data, "big.pdf")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["size"] == MB20
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    # Above the multipart threshold: the parts must reassemble to the exact bytes.
    assert hashlib.sha256(storage.get(f"uploads/{body['upload_id']}")).hexdigest() == body["sha256"]


@pytest.mark.parametrize("extra", [1, 100 * 1024], ids=["one-byte-over", "request-over-limit"])
def test_too_large_is_refused_with_413_and_leaves_nothing(client, dbs, storage, extra):
    """One byte over is caught while streaming; far over is refused by the request size limit before parsing."""
    before = bucket_keys(storage)
    data = pdf_bytes() + b"%" * (MB20 + extra - len(pdf_bytes()))

    response = post_file(client, data, "big.pdf")

    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "too_large"
    assert "20 MB" in error["message"]
    assert bucket_keys(storage) == before
    assert upload_count(dbs) == 0


def test_missing_field_and_empty_file(client, dbs):
    missing = client.post("/api/v1/uploads", data={"other": "x"}, content_type="multipart/form-data")
    assert missing.status_code == 400
    assert missing.get_json()["error"]["code"] == "missing_file"

    empty = post_file(client, b"", "empty.pdf")
    assert empty.status_code == 400
    assert empty.get_json()["error"]["code"] == "empty_file"
    assert upload_count(dbs) == 0


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ('"../../etc/passwd.pdf"', "passwd.pdf"),
        ('"C:\\\\x\\\\y.pdf"', "y.pdf"),  # escaped as curl sends it
        ('"C:\\x\\y.pdf"', "xy.pdf"),  # unescaped: Werkzeug reads "C:xy.pdf"
        ('"..\\\\..\\\\boot.ini/.."', "file.pdf"),
    ],
)
def test_path_components_are_stripped_from_names(client, dbs, header, stored):
    boundary = "test-boundary-7f3a"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename={header}\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + pdf_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = client.post("/api/v1/uploads", data=body, content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 201
    assert response.get_json()["filename"] == stored
    assert dbs.get(Upload, uuid.UUID(response.get_json()["upload_id"])).filename == stored


def test_upload_is_documented_in_openapi(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    operation = paths["/uploads"]["post"]
    assert {"201", "400", "413", "415"} <= set(operation["responses"])
    assert "multipart/form-data" in operation["requestBody"]["content"]


# --- store_upload ---------------------------------------------------------------------------------------------


def test_store_upload_stops_reading_past_the_limit(dbs, storage):
    stream = EndlessStream()
    with pytest.raises(UploadTooLarge) as caught:
        store_upload(dbs, storage, stream, "endless.pdf", max_bytes=MB20)
    assert stream.read_bytes <= MB20 + CHUNK
    assert caught.value.code == "too_large" and caught.value.status == 413
    assert "20 MB" in caught.value.message("zh") and "20 MB" in caught.value.message("en")


def test_store_upload_does_not_hold_the_file_in_memory(dbs, storage):
    tracemalloc.start()
    try:
        upload = store_upload(dbs, storage, SizedStream(MB20), "big.pdf")
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dbs.commit()
    assert upload.size == MB20
    # One multipart part (5 MiB) plus the 1 MiB spool may be in memory, never the whole 20 MiB.
    assert peak < 12 * 1024 * 1024, f"peak {peak / 2**20:.1f} MiB"


def test_failed_insert_deletes_the_object(dbs, storage, owner_engine):
    before = bucket_keys(storage, "uploads/")
    # A real database failure on INSERT: another connection holds the table and ours gives up waiting.
    with owner_engine.begin() as other:
        other.execute(text("LOCK TABLE uploads IN ACCESS EXCLUSIVE MODE"))
        dbs.execute(text("SET LOCAL lock_timeout = '200ms'"))
        with pytest.raises(OperationalError, match="lock timeout"):
            store_upload(dbs, storage, io.BytesIO(pdf_bytes()), "a.pdf")
        dbs.rollback()
    assert bucket_keys(storage, "uploads/") == before
    assert upload_count(dbs) == 0


def test_rollback_after_store_deletes_the_object(dbs, storage):
    before = bucket_keys(storage, "uploads/")
    upload = store_upload(dbs, storage, io.BytesIO(pdf_bytes()), "a.pdf")
    assert upload.storage_key in bucket_keys(storage, "uploads/")

    dbs.rollback()

    assert bucket_keys(storage, "uploads/") == before
    assert upload_count(dbs) == 0


def test_empty_and_unknown_types_raise_errors_with_codes(dbs, storage):
    with pytest.raises(EmptyFile):
        store_upload(dbs, storage, io.BytesIO(b""), "a.pdf")
    with pytest.raises(TypeNotAllowed) as caught:
        store_upload(dbs, storage, io.BytesIO(EXE), "a.pdf")
    assert (caught.value.code, caught.value.status) == ("type_not_allowed", 415)


# --- claim ----------------------------------------------------------------------------------------------------


def test_claim_attaches_the_uploaded_objects_as_they_are(dbs, storage, bureau_id, case_id):
    first = new_upload(dbs, storage, pdf_bytes("first"), "申请书.pdf")
    second = new_upload(dbs, storage, png_bytes(), "照片.png")
    before = bucket_keys(storage)

    attachments = claim(dbs, storage, [str(first.id), second.id], bureau_id, case_id)
    dbs.commit()

    # Written once by the upload, kept by the attachment: no copy, nothing deleted.
    assert bucket_keys(storage) == before
    for attachment, upload, data in zip(attachments, (first, second), (pdf_bytes("first"), png_bytes()), strict=True):
        assert attachment.storage_key == upload.storage_key == f"uploads/{upload.id}"
        assert (attachment.tenant_id, attachment.case_id) == (bureau_id, case_id)
        assert (attachment.filename, attachment.size, attachment.sha256, attachment.content_type) == (
            upload.filename,
            upload.size,
            upload.sha256,
            upload.content_type,
        )
        assert attachment.source == AttachmentSource.petitioner
        assert storage.get(attachment.storage_key) == data
    dbs.expire_all()
    assert all(dbs.get(Upload, u.id).claimed_at is not None for u in (first, second))
    with scoped(dbs, TenantScope.single(bureau_id)):
        stored = dbs.scalars(select(Attachment).where(Attachment.case_id == case_id)).all()
    assert {a.storage_key for a in stored} == {first.storage_key, second.storage_key}


def test_claim_needs_no_storage(dbs, storage, bureau_id, case_id, monkeypatch):
    upload = new_upload(dbs, storage)
    monkeypatch.setattr(storage, "client", None)  # any storage call would fail

    (attachment,) = claim(dbs, storage, [upload.id], bureau_id, case_id)
    dbs.commit()

    assert attachment.storage_key == upload.storage_key


def test_claim_rolled_back_keeps_the_upload_unclaimed_with_its_object(dbs, storage, bureau_id, case_id):
    upload = new_upload(dbs, storage)
    claim(dbs, storage, [upload.id], bureau_id, case_id)

    dbs.rollback()

    assert upload.storage_key in bucket_keys(storage, "uploads/")
    dbs.expire_all()
    assert dbs.get(Upload, upload.id).claimed_at is None
    assert attachments_of(dbs, bureau_id, case_id) == []
    # Still claimable: the retry of a failed submission gets the same file.
    (attachment,) = claim(dbs, storage, [upload.id], bureau_id, case_id)
    assert storage.get(attachment.storage_key)


def test_claim_takes_at_most_ten(dbs, storage, bureau_id, case_id):
    uploads = [new_upload(dbs, storage) for _ in range(11)]

    with pytest.raises(TooManyUploads) as caught:
        claim(dbs, storage, [u.id for u in uploads], bureau_id, case_id)
    assert caught.value.code == "too_many"
    dbs.rollback()
    assert attachments_of(dbs, bureau_id, case_id) == []

    assert len(claim(dbs, storage, [u.id for u in uploads[:10]], bureau_id, case_id)) == 10
    dbs.commit()


def test_claimed_upload_cannot_be_claimed_again(dbs, storage, bureau_id, case_id):
    upload = new_upload(dbs, storage)
    claim(dbs, storage, [upload.id], bureau_id, case_id)
    dbs.commit()

    with pytest.raises(UploadAlreadyUsed) as caught:
        claim(dbs, storage, [upload.id], bureau_id, case_id + 1)
    assert caught.value.code == "already_used"
    assert caught.value.upload_id == str(upload.id)
    assert str(upload.id) in caught.value.message("zh")
    dbs.rollback()
    assert attachments_of(dbs, bureau_id, case_id + 1) == []


@pytest.mark.parametrize("unknown", [str(uuid.uuid4()), "not-a-uuid"])
def test_unknown_id_at_the_end_leaves_nothing_at_the_case(dbs, storage, bureau_id, case_id, unknown):
    good = [new_upload(dbs, storage) for _ in range(2)]

    with pytest.raises(UnknownUpload) as caught:
        claim(dbs, storage, [good[0].id, good[1].id, unknown], bureau_id, case_id)
    assert caught.value.code == "unknown_upload"
    assert caught.value.upload_id == unknown
    dbs.rollback()

    assert attachments_of(dbs, bureau_id, case_id) == []
    assert {u.storage_key for u in good} <= bucket_keys(storage, "uploads/")
    dbs.expire_all()
    assert all(dbs.get(Upload, u.id).claimed_at is None for u in good)


def test_an_upload_older_than_a_day_is_refused_and_purged_an_hour_later(dbs, storage, bureau_id, case_id, owner_engine):
    expired, purged = new_upload(dbs, storage), new_upload(dbs, storage)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE uploads SET created_at = now() - :age WHERE id = :id"),
            [{"age": timedelta(hours=24, minutes=1), "id": expired.id}, {"age": timedelta(hours=26), "id": purged.id}],
        )

    with pytest.raises(UnknownUpload) as caught:
        claim(dbs, storage, [expired.id], bureau_id, case_id)
    assert "24" in caught.value.message("zh") and caught.value.upload_id == str(expired.id)
    dbs.rollback()

    # The purge waits an hour more, so that it never takes the object of an upload a claim in flight is taking.
    assert purge_stale_uploads(dbs, storage) == 1
    dbs.commit()
    dbs.expire_all()
    assert dbs.get(Upload, purged.id) is None and purged.storage_key not in bucket_keys(storage)
    assert dbs.get(Upload, expired.id) is not None and expired.storage_key in bucket_keys(storage)


# --- download and purge ---------------------------------------------------------------------------------------


def test_presigned_link_downloads_the_exact_bytes(dbs, storage, bureau_id, case_id):
    data = docx_bytes()
    upload = new_upload(dbs, storage, data, "复查意见书.docx")
    (attachment,) = claim(dbs, storage, [upload.id], bureau_id, case_id)
    dbs.commit()

    url = download_url(storage, attachment)

    assert parse_qs(urlparse(url).query)["X-Amz-Expires"] == ["300"]
    response = requests.get(url, timeout=10)
    assert response.status_code == 200
    assert response.content == data
    assert "%E5%A4%8D%E6%9F%A5" in response.headers["Content-Disposition"]  # 复查, UTF-8 encoded
    tampered = url.replace(attachment.storage_key, f"{bureau_id}/{case_id}/other")
    assert requests.get(tampered, timeout=10).status_code == 403


def test_purge_removes_old_unclaimed_uploads_only(dbs, storage, bureau_id, case_id, owner_engine):
    old = new_upload(dbs, storage)
    fresh = new_upload(dbs, storage)
    claimed = new_upload(dbs, storage)
    claim(dbs, storage, [claimed.id], bureau_id, case_id)
    dbs.commit()
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE uploads SET created_at = now() - interval '26 hours' WHERE id IN (:a, :b)"),
            {"a": old.id, "b": claimed.id},
        )

    assert purge_stale_uploads(dbs, storage) == 1
    dbs.commit()

    dbs.expire_all()
    assert dbs.get(Upload, old.id) is None
    assert old.storage_key not in bucket_keys(storage, "uploads/")
    assert dbs.get(Upload, fresh.id) is not None
    assert fresh.storage_key in bucket_keys(storage, "uploads/")
    assert dbs.get(Upload, claimed.id) is not None
    assert claimed.storage_key in bucket_keys(storage)  # the attachment's file
    assert purge_stale_uploads(dbs, storage) == 0


# --- units ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "file_type", "expected"),
    [
        ("../../etc/passwd.pdf", FileType.pdf, "passwd.pdf"),
        ("C:\\x\\y.pdf", FileType.pdf, "y.pdf"),
        ("张三\x00的\u202egpj.pdf", FileType.pdf, "张三的gpj.pdf"),  # NUL and right-to-left override dropped
        ("  申请书.PDF  ", FileType.pdf, "申请书.PDF"),
        ("photo.jpeg", FileType.jpeg, "photo.jpeg"),
        ("v1.2 材料", FileType.png, "v1.2 材料.png"),
        ("证明.身份证", FileType.pdf, "证明.身份证.pdf"),
        ("", FileType.docx, "file.docx"),
        (None, FileType.pdf, "file.pdf"),
    ],
)
def test_clean_filename(raw, file_type, expected):
    assert clean_filename(raw, file_type) == expected


def test_clean_filename_caps_the_length_and_keeps_the_extension():
    name = clean_filename("长" * 300 + ".pdf", FileType.pdf)
    assert len(name) == 200
    assert name == "长" * 196 + ".pdf"


def test_sniff_rewinds_and_reads_content_only():
    spool = io.BytesIO(docx_bytes())
    assert sniff(spool) is FileType.docx
    assert spool.tell() == 0
    assert sniff(io.BytesIO(b"PK\x03\x04 broken zip")) is None
    assert sniff(io.BytesIO(b"")) is None
