"""Files of petitioners and staff: uploads before a case exists, attachments of a case, in object storage."""

from portal.attachments.models import Attachment, AttachmentSource, Upload
from portal.attachments.operations import (
    EmptyFile,
    TooManyUploads,
    TypeNotAllowed,
    UnknownUpload,
    UploadAlreadyUsed,
    UploadError,
    UploadTooLarge,
    claim_uploads,
    download_url,
    purge_stale_uploads,
    store_upload,
)

__all__ = [
    "Attachment",
    "AttachmentSource",
    "EmptyFile",
    "TooManyUploads",
    "TypeNotAllowed",
    "UnknownUpload",
    "Upload",
    "UploadAlreadyUsed",
    "UploadError",
    "UploadTooLarge",
    "claim_uploads",
    "download_url",
    "purge_stale_uploads",
    "store_upload",
]
