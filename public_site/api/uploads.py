"""File uploads, before any case exists: the petitioner (or staff) uploads, then names the upload ids."""

from __future__ import annotations

import hashlib

from botocore.exceptions import BotoCoreError, ClientError
from flask import current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from portal import idempotency
from portal.api.openapi import SCHEMAS, document
from portal.attachments.operations import MAX_FILE_BYTES, UploadError, UploadTooLarge, store_upload
from portal.extensions import db
from portal.web import localized
from public_site.api import bp
from public_site.api.applications import IDEMPOTENCY_HEADER, idempotency_claim, upload_limit

# Room for the multipart boundary and part headers around the one file.
_REQUEST_OVERHEAD = 64 * 1024

SCHEMAS["Upload"] = {
    "type": "object",
    "properties": {
        "upload_id": {"type": "string", "format": "uuid", "description": "Name it when submitting."},
        "filename": {"type": "string", "description": "Sanitised; the extension matches the content."},
        "size": {"type": "integer", "description": "Bytes."},
        "content_type": {
            "type": "string",
            "enum": [
                "application/pdf",
                "image/jpeg",
                "image/png",
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ],
        },
        "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
    },
    "required": ["upload_id", "filename", "size", "content_type", "sha256"],
}
SCHEMAS.setdefault(
    "Error",
    {
        "type": "object",
        "properties": {
            "error": {
                "type": "object",
                "properties": {"code": {"type": ["string", "integer"]}, "message": {"type": "string"}},
                "required": ["code", "message"],
            }
        },
        "required": ["error"],
    },
)


def _error_response(description: str) -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


document(
    "/uploads",
    "post",
    {
        "summary": "Upload one file to attach to an application later.",
        "description": (
            "PDF, JPEG, PNG or DOCX, recognised by the content (the name and the declared type are ignored), at"
            " most 20 MB. Unclaimed uploads are deleted after 24 hours. An application takes at most 10."
            " Messages are in Chinese, or English with `?lang=en`."
        ),
        "parameters": [IDEMPOTENCY_HEADER],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                }
            },
        },
        "responses": {
            "201": {
                "description": "Stored.",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Upload"}}},
            },
            "400": _error_response(
                "No `file` field (`missing_file`), an empty file (`empty_file`) or an invalid `Idempotency-Key`"
                " (`idempotency_key_invalid`)."
            ),
            "413": _error_response("Larger than 20 MB (`too_large`)."),
            "415": _error_response("Not a PDF, JPEG, PNG or DOCX (`type_not_allowed`)."),
            "422": _error_response(
                "Active content (`active_content`): a PDF with JavaScript, launch actions or embedded files, a"
                " file that is also a web page, a DOCX with a DOCTYPE, outside references or embedded objects;"
                " or an `Idempotency-Key` used for another file (`idempotency_key_reused`)."
            ),
            "503": _error_response("File storage is unavailable; nothing was saved (`storage_unavailable`)."),
        },
    },
)


# Anonymous and costly: limited per client address (RATELIMIT_UPLOAD, shared with the application pages).
@bp.post("/uploads")
@upload_limit
def create_upload():
    """Store one file from the multipart field ``file``; answer with its upload id."""
    # Refuse an oversized body before it is read (Werkzeug checks Content-Length, or counts a chunked body);
    # never looser than the application's MAX_CONTENT_LENGTH.
    limit = MAX_FILE_BYTES + _REQUEST_OVERHEAD
    request.max_content_length = min(limit, current_app.config.get("MAX_CONTENT_LENGTH") or limit)
    try:
        file = request.files.get("file")
    except RequestEntityTooLarge:
        return _error(UploadTooLarge(MAX_FILE_BYTES))
    if file is None:
        return _error_body(
            "missing_file", 400, "请选择要上传的文件（表单字段 file）。", "Choose a file to upload (form field `file`)."
        )
    claim, stop = idempotency_claim("upload", _file_fingerprint(file))
    if stop is not None:
        return stop
    storage = current_app.extensions["portal.storage"]
    try:
        # Werkzeug has spooled the part to a temporary file; its stream is read in chunks, never whole.
        upload = store_upload(db.session, storage, file.stream, file.filename, max_bytes=MAX_FILE_BYTES)
        body = {
            "upload_id": str(upload.id),
            "filename": upload.filename,
            "size": upload.size,
            "content_type": upload.content_type,
            "sha256": upload.sha256,
        }
        if claim is not None:
            idempotency.finish(db.session, claim, 201, body)
        db.session.commit()
    except UploadError as exc:
        db.session.rollback()
        return _error(exc)
    except (BotoCoreError, ClientError):
        db.session.rollback()
        return _error_body(
            "storage_unavailable",
            503,
            "文件存储暂时不可用，文件没有保存，请稍后再试。",
            "File storage is unavailable just now; the file was not saved. Please try again later.",
        )
    except Exception:
        db.session.rollback()  # deletes the object already stored
        raise
    return jsonify(body), 201


def _file_fingerprint(file) -> bytes:
    """The name and content of the uploaded part (read in chunks, then rewound), for the idempotency check."""
    digest = hashlib.sha256((file.filename or "").encode() + b"\x00")
    if request.headers.get("Idempotency-Key") is not None:
        for chunk in iter(lambda: file.stream.read(1 << 16), b""):
            digest.update(chunk)
        file.stream.seek(0)
    return digest.hexdigest().encode()


def _error(exc: UploadError):
    return _error_body(exc.code, exc.status, exc.zh, exc.en)


def _error_body(code: str, status: int, zh: str, en: str):
    return jsonify(error={"code": code, "message": localized((zh, en))}), status
