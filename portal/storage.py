"""Object storage (S3-compatible) through boto3: the only way files are stored or read.

Every call has a bounded wait: a connect timeout, a read timeout (the longest silence while a response is
awaited, not the whole transfer) and one retry, so a storage server that is down or paused costs a request a few
seconds, never minutes. The readiness probe uses its own client with shorter waits and no retry. Links handed to
browsers are signed for ``S3_PUBLIC_ENDPOINT_URL`` when it is set (the address browsers reach), never for the
internal endpoint.
"""

from __future__ import annotations

from typing import BinaryIO

import boto3
from botocore.config import Config as BotoConfig

from portal.config import Settings

# Seconds. A call waits at most about (connect or read timeout) x attempts before it raises.
CONNECT_TIMEOUT = 2
READ_TIMEOUT = 4
ATTEMPTS = 2
PROBE_TIMEOUT = 1


def _client(settings: Settings, endpoint_url: str | None, *, connect: float, read: float, attempts: int):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=settings.s3_secret_access_key,
        region_name=settings.s3_region,
        config=BotoConfig(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=connect,
            read_timeout=read,
            retries={"total_max_attempts": attempts, "mode": "standard"},
        ),
    )


class Storage:
    def __init__(self, settings: Settings):
        self.bucket = settings.s3_bucket
        self.client = _client(
            settings, settings.s3_endpoint_url, connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, attempts=ATTEMPTS
        )
        self._probe = _client(settings, settings.s3_endpoint_url, connect=PROBE_TIMEOUT, read=PROBE_TIMEOUT, attempts=1)
        # Signing needs no network: this client only builds the URLs browsers follow.
        self._public = (
            _client(settings, settings.s3_public_endpoint_url, connect=CONNECT_TIMEOUT, read=READ_TIMEOUT, attempts=1)
            if settings.s3_public_endpoint_url
            else self.client
        )

    def ensure_bucket(self) -> None:
        existing = {b["Name"] for b in self.client.list_buckets().get("Buckets", [])}
        if self.bucket not in existing:
            self.client.create_bucket(Bucket=self.bucket)

    def check(self) -> None:
        """Raise if the bucket cannot be reached (within about a second)."""
        self._probe.head_bucket(Bucket=self.bucket)

    def put(self, key: str, body: BinaryIO | bytes, content_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=body, ContentType=content_type)

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def presigned_url(self, key: str, filename: str, expires: int = 300) -> str:
        return self._public.generate_presigned_url(
            "get_object",
            Params={
                "Bucket": self.bucket,
                "Key": key,
                "ResponseContentDisposition": f"attachment; filename*=UTF-8''{_quote(filename)}",
            },
            ExpiresIn=expires,
        )


def _quote(name: str) -> str:
    from urllib.parse import quote

    return quote(name, safe="")
