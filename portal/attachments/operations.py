"""Receive uploads, attach them to a case, hand out download links and purge what nobody claimed.

Objects and rows must agree: a submission that fails leaves no object and no row behind. Object storage has no
transactions, so every object written inside a database transaction is registered on the session: it is deleted
again if that transaction does not commit (``_defer``). An uploaded file is written once: the upload stores it,
and the attachment that claims the upload keeps that very object, so claiming touches no storage at all. What
nobody claimed is purged. Operations flush; the request or job commits.
"""

from __future__ import annotations

import hashlib
import logging
import re
import tempfile
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

from boto3.s3.transfer import TransferConfig
from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session

from portal.attachments.active import active_content
from portal.attachments.models import Attachment, AttachmentSource, Upload
from portal.attachments.sniff import FileType, sniff
from portal.storage import Storage

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_FILES = 10
DOWNLOAD_SECONDS = 300
CLAIMABLE_FOR = timedelta(hours=24)  # an upload older than this is refused ("it may have expired")
# The purge starts an hour later, so that it never deletes the object of an upload that a claim in flight takes.
PURGE_AFTER = CLAIMABLE_FOR + timedelta(hours=1)
MAX_FILENAME = 200
CHUNK = 64 * 1024
SPOOL_IN_MEMORY = 1024 * 1024
# Multipart above 8 MiB in 5 MiB parts. s3transfer reads each part into memory; without threads the parts go
# one after another, so one part at most is held (a plain PUT streams from the file).
TRANSFER = TransferConfig(multipart_threshold=8 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024, use_threads=False)


class UploadError(Exception):
    """A refused upload or claim, with a code for the API and a message in Chinese and English."""

    code = "upload_error"
    status = 400

    def __init__(self, zh: str, en: str, upload_id: str | None = None):
        super().__init__(en)
        self.zh = zh
        self.en = en
        self.upload_id = upload_id

    def message(self, language: str = "zh") -> str:
        return self.en if language == "en" else self.zh


class UploadTooLarge(UploadError):
    code = "too_large"
    status = 413

    def __init__(self, max_bytes: int = MAX_FILE_BYTES):
        mb = f"{max_bytes / (1024 * 1024):g}"
        super().__init__(f"文件超过 {mb} MB 的上限。", f"The file is larger than the limit of {mb} MB.")


class TypeNotAllowed(UploadError):
    code = "type_not_allowed"
    status = 415

    def __init__(self):
        super().__init__(
            "只接受 PDF、JPEG、PNG 和 DOCX 文件（按文件内容识别，与文件名无关）。",
            "Only PDF, JPEG, PNG and DOCX files are accepted (recognised by their content, not their name).",
        )


class ActiveContentRefused(UploadError):
    """A file of an allowed type that carries active content (``portal.attachments.active``)."""

    code = "active_content"
    status = 422

    def __init__(self, problem):
        super().__init__(problem.zh, problem.en)
        self.reason = problem.code


class EmptyFile(UploadError):
    code = "empty_file"

    def __init__(self):
        super().__init__("文件是空的。", "The file is empty.")


class TooManyUploads(UploadError):
    code = "too_many"

    def __init__(self, limit: int = MAX_FILES):
        super().__init__(f"一次最多附 {limit} 个文件。", f"At most {limit} files can be attached.")


class UnknownUpload(UploadError):
    code = "unknown_upload"

    def __init__(self, upload_id: str):
        super().__init__(
            f"找不到上传的文件 {upload_id}：可能已超过 24 小时被清除，请重新上传。",
            f"Upload {upload_id} does not exist; it may have expired after 24 hours. Please upload it again.",
            upload_id,
        )


class UploadAlreadyUsed(UploadError):
    code = "already_used"
    status = 409

    def __init__(self, upload_id: str):
        super().__init__(
            f"上传的文件 {upload_id} 已被使用，不能再次附加。",
            f"Upload {upload_id} has already been attached and cannot be used again.",
            upload_id,
        )


def store_upload(
    session: Session, storage: Storage, stream: BinaryIO, filename: str | None, *, max_bytes: int = MAX_FILE_BYTES
) -> Upload:
    """Stream ``stream`` to its object (``uploads/<id>``, kept by the attachment that claims it); record the upload.

    The file is spooled to disk (in memory up to 1 MiB) while it is hashed and counted; reading stops as soon as
    it passes ``max_bytes``. The type comes from the content alone.
    """
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY) as spool:
        digest = hashlib.sha256()
        size = 0
        while chunk := stream.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise UploadTooLarge(max_bytes)
            digest.update(chunk)
            spool.write(chunk)
        if size == 0:
            raise EmptyFile()
        file_type = sniff(spool)
        if file_type is None:
            raise TypeNotAllowed()
        if problem := active_content(spool, file_type):
            raise ActiveContentRefused(problem)
        upload_id = uuid.uuid4()
        upload = Upload(
            id=upload_id,
            filename=clean_filename(filename, file_type),
            size=size,
            content_type=file_type.content_type,
            sha256=digest.hexdigest(),
            storage_key=f"uploads/{upload_id}",  # kept as it is by the attachment that claims it
        )
        spool.seek(0)
        extra = {"ContentType": upload.content_type, "Metadata": {"sha256": upload.sha256}}
        if size < TRANSFER.multipart_threshold:  # one PUT: without the transfer manager's machinery around it
            storage.client.put_object(Bucket=storage.bucket, Key=upload.storage_key, Body=spool, **extra)
        else:
            storage.client.upload_fileobj(spool, storage.bucket, upload.storage_key, ExtraArgs=extra, Config=TRANSFER)
    try:
        session.add(upload)
        session.flush()
    except Exception:
        _delete_quietly(storage, [upload.storage_key])
        raise
    _defer(session, _ON_ROLLBACK, storage, [upload.storage_key])
    return upload


def claim_uploads(
    session: Session,
    storage: Storage,
    upload_ids: Sequence[str | uuid.UUID],
    *,
    bureau_id: int,
    case_id: int,
    source: AttachmentSource,
    uploaded_by: str,
) -> list[Attachment]:
    """Attach the uploads ``upload_ids`` to case ``case_id`` of bureau ``bureau_id``.

    Every upload must exist, be unclaimed and be younger than ``CLAIMABLE_FOR``. Each attachment takes over its
    upload's object (no copy, no deletion: nothing to undo if the transaction does not commit). ``storage`` is
    not used; it stays in the signature of the operations that attach files.
    """
    ids = _parse_ids(upload_ids)
    if len(ids) > MAX_FILES:
        raise TooManyUploads(MAX_FILES)
    if not ids:
        return []
    # Locked, so that two submissions cannot claim the same upload, nor the purge remove it meanwhile.
    expired = Upload.created_at < func.now() - CLAIMABLE_FOR
    found = {
        u.id: (u, too_old)
        for u, too_old in session.execute(select(Upload, expired).where(Upload.id.in_(ids)).with_for_update())
    }
    for upload_id in ids:
        upload, too_old = found.get(upload_id, (None, False))
        if upload is not None and upload.claimed_at is not None:
            raise UploadAlreadyUsed(str(upload_id))
        if upload is None or too_old:
            raise UnknownUpload(str(upload_id))
    now = datetime.now(UTC)
    attachments = []
    for upload_id in ids:
        upload = found[upload_id][0]
        attachments.append(
            Attachment(
                tenant_id=bureau_id,
                case_id=case_id,
                filename=upload.filename,
                size=upload.size,
                content_type=upload.content_type,
                sha256=upload.sha256,
                storage_key=upload.storage_key,
                source=source,
                uploaded_by=uploaded_by,
            )
        )
        upload.claimed_at = now
    session.add_all(attachments)
    session.flush()
    return attachments


def download_url(storage: Storage, attachment, *, expires: int = DOWNLOAD_SECONDS) -> str:
    """Return a short-lived link to the file (an ``Attachment``, or any copy with its ``storage_key`` and
    ``filename``); call it only after the requester has been authorised."""
    return storage.presigned_url(attachment.storage_key, attachment.filename, expires=expires)


def purge_stale_uploads(
    session: Session, storage: Storage, older_than: timedelta = PURGE_AFTER, *, limit: int = 1000
) -> int:
    """Delete up to ``limit`` uploads never claimed within ``older_than``: objects first, then rows.

    Objects go first so that a failure never leaves a file without its row (the next run retries). Rows whose
    object could not be deleted are kept. Returns how many uploads were purged.
    """
    stale = session.scalars(
        select(Upload)
        .where(Upload.claimed_at.is_(None), Upload.created_at < func.now() - older_than)
        .order_by(Upload.created_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not stale:
        return 0
    failed = _delete_objects(storage, [u.storage_key for u in stale])
    purged = [u.id for u in stale if u.storage_key not in failed]
    if purged:
        session.execute(delete(Upload).where(Upload.id.in_(purged)))
        session.flush()
    return len(purged)


def clean_filename(raw: str | None, file_type: FileType) -> str:
    """Return a safe display name: no path, no control characters, at most 200 characters, the right extension.

    Chinese and other letters are kept. The extension is the detected type's: a JPEG named ``scan.png`` becomes
    ``scan.jpg``.
    """
    name = unicodedata.normalize("NFC", raw or "")
    name = re.split(r"[\\/]", name)[-1]  # POSIX and Windows paths alike
    # A drive letter left over when the client sent "C:\x\y.pdf" unescaped (the parser takes "\" as an escape).
    name = re.sub(r"^[A-Za-z]:", "", name)
    # Control and format characters (e.g. the right-to-left override that disguises "exe.pdf").
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Zl", "Zp"))
    name = name.strip().strip(".").strip()
    stem, dot, ext = name.rpartition(".")
    if not (dot and stem and ext.isascii() and ext.isalnum() and len(ext) <= 5):
        stem, ext = name, ""  # no extension, or one we would not recognise as such
    if ext.lower() not in file_type.extensions:
        ext = file_type.extension
    stem = stem.rstrip(". ") or "file"
    return f"{stem[: MAX_FILENAME - len(ext) - 1]}.{ext}"


def _parse_ids(upload_ids: Iterable[str | uuid.UUID]) -> list[uuid.UUID]:
    """Parse the ids, dropping repeats; a malformed id is simply unknown."""
    ids: list[uuid.UUID] = []
    for raw in upload_ids:
        try:
            upload_id = raw if isinstance(raw, uuid.UUID) else uuid.UUID(str(raw))
        except ValueError:
            raise UnknownUpload(str(raw)[:40]) from None
        if upload_id not in ids:
            ids.append(upload_id)
    return ids


def _delete_objects(storage: Storage, keys: list[str]) -> set[str]:
    """Delete ``keys`` in batches; return the keys that could not be deleted."""
    failed: set[str] = set()
    for start in range(0, len(keys), 1000):
        batch = keys[start : start + 1000]
        try:
            response = storage.client.delete_objects(
                Bucket=storage.bucket, Delete={"Objects": [{"Key": k} for k in batch], "Quiet": True}
            )
        except Exception:
            log.exception("cannot delete objects", extra={"keys": batch})
            failed.update(batch)
            continue
        for error in response.get("Errors", []):
            log.warning("cannot delete object", extra={"key": error.get("Key"), "error": error.get("Code")})
            failed.add(error.get("Key"))
    return failed


def _delete_quietly(storage: Storage, keys: list[str]) -> None:
    """Best-effort clean-up: log what cannot be deleted rather than hide the error that caused it."""
    if keys:
        _delete_objects(storage, keys)


# Objects written in the session's current transaction: deleted again if it does not commit.
_ON_ROLLBACK = "portal.attachments.delete_on_rollback"


def _defer(session: Session, when: str, storage: Storage, keys: list[str]) -> None:
    if keys:
        session.info.setdefault(when, []).append((storage, keys))


def _run(pending: list[tuple[Storage, list[str]]]) -> None:
    for storage, keys in pending:
        _delete_quietly(storage, keys)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: the outer transaction may still roll back
    session.info.pop(_ON_ROLLBACK, None)


@event.listens_for(Session, "after_transaction_end")
def _after_rollback(session: Session, transaction) -> None:
    """The outermost transaction ended without a commit (rollback or close): undo the objects it wrote."""
    if transaction.parent is not None:
        return
    _run(session.info.pop(_ON_ROLLBACK, []))
