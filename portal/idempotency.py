"""Idempotency keys: a retried submission returns the first result and never creates a second one.

A client sends ``Idempotency-Key: <its own random value>`` with ``POST /api/v1/uploads`` or
``POST /api/v1/applications`` (the public form sends one per attempt, in a hidden field). The first request with a
key inserts a row under a unique constraint in the same transaction as the work it does, so:

- the same key again within ``TTL`` returns the stored response (status and body), creating nothing;
- two requests with one key at the same moment: the second waits on the unique index until the first commits,
  then returns its response (or, if the first rolled back, does the work itself);
- the same key with a different body is refused (``KeyReused``): it is a client bug, not a retry;
- a request that failed (rolled back) leaves no row, so its retry does the work.

Nothing is kept in clear: the key is stored as a keyed hash (HMAC with a key derived from ``PII_KEY``), the body
as a hash, and the response (which holds the application's access code, otherwise stored only as a hash) is
encrypted with a key derived from ``PII_KEY`` *and the idempotency key itself*, so only the holder of the key can
read it back, even with the database and ``PII_KEY`` in hand.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, LargeBinary, String, delete, func, select
from sqlalchemy import UniqueConstraint as Unique
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Mapped, Session, mapped_column

from portal.db import Base, utcnow_column

TTL = timedelta(hours=24)
MAX_KEY_LENGTH = 200
SCOPES = ("upload", "application")


class IdempotencyRecord(Base):
    """One idempotency key's first result. Not tenant-owned: it is written before (or without) a bureau."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Unique("scope", "key_hash"),
        CheckConstraint("scope IN ('upload', 'application')", name="scope_known"),
        Index("ix_idempotency_keys_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    scope: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int | None] = mapped_column(Integer)
    sealed_response: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = utcnow_column()


class KeyInvalid(ValueError):
    """The header's value is empty, too long or not printable ASCII."""

    message_zh = f"Idempotency-Key 应为 1 至 {MAX_KEY_LENGTH} 个可打印的 ASCII 字符。"
    message_en = f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters."


class KeyReused(Exception):
    """The key was used within the last 24 hours for a request with a different body."""

    message_zh = "这个 Idempotency-Key 已用于内容不同的另一次提交；新的提交请使用新的 Idempotency-Key。"
    message_en = "This Idempotency-Key was used for a different request; use a new key for a new submission."


@dataclass(frozen=True)
class Replay:
    status: int
    body: dict


@dataclass
class Claim:
    """The caller holds the key for this transaction: do the work, then ``finish``."""

    record_id: int
    _sealer: AESGCM


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not all(33 <= ord(ch) <= 126 for ch in key):
        raise KeyInvalid()
    return key


def fingerprint(payload: object) -> str:
    """A stable hash of a request body (JSON with sorted keys, or the caller's own bytes)."""
    if isinstance(payload, bytes):
        return hashlib.sha256(payload).hexdigest()
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _hkdf(material: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material)


def _key_hash(master: str, scope: str, key: str) -> str:
    lookup_key = _hkdf(master.encode(), b"portal-idempotency:lookup")
    return hmac.new(lookup_key, f"{scope}\x00{key}".encode(), hashlib.sha256).hexdigest()


def _sealer(master: str, scope: str, key: str) -> AESGCM:
    return AESGCM(_hkdf(f"{master}\x00{scope}\x00{key}".encode(), b"portal-idempotency:seal"))


def begin(session: Session, master: str, scope: str, key: str, request_hash: str, *, now: datetime) -> Replay | Claim:
    """Claim ``key`` for this transaction, or return the first result of it.

    Raises ``KeyReused`` when the key's first request had another body. Only flushes; the caller commits the claim
    together with the work (``finish``), or rolls both back.
    """
    assert scope in SCOPES
    key_hash = _key_hash(master, scope, key)
    sealer = _sealer(master, scope, key)
    # A key older than TTL is forgotten (housekeeping deletes them too; this makes the rule exact).
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.scope == scope,
            IdempotencyRecord.key_hash == key_hash,
            IdempotencyRecord.created_at < now - TTL,
        )
    )
    # Waits on the unique index while another transaction holds the same key, then inserts or does nothing.
    inserted = session.scalar(
        insert(IdempotencyRecord)
        .values(scope=scope, key_hash=key_hash, request_hash=request_hash)
        .on_conflict_do_nothing(index_elements=["scope", "key_hash"])
        .returning(IdempotencyRecord.id)
    )
    if inserted is not None:
        return Claim(inserted, sealer)
    first = session.execute(
        select(IdempotencyRecord.request_hash, IdempotencyRecord.status, IdempotencyRecord.sealed_response).where(
            IdempotencyRecord.scope == scope, IdempotencyRecord.key_hash == key_hash
        )
    ).one()
    if not hmac.compare_digest(first.request_hash, request_hash):
        raise KeyReused()
    blob = bytes(first.sealed_response)
    body = json.loads(sealer.decrypt(blob[:12], blob[12:], None))
    return Replay(first.status, body)


def finish(session: Session, claim: Claim, status: int, body: dict) -> None:
    """Record the response of the claimed request (in the same transaction as its work)."""
    nonce = os.urandom(12)
    sealed = nonce + claim._sealer.encrypt(nonce, json.dumps(body, ensure_ascii=False).encode(), None)
    record = session.get(IdempotencyRecord, claim.record_id)
    record.status = status
    record.sealed_response = sealed
    session.flush()


def purge_expired(session: Session, *, now: datetime) -> int:
    """Delete keys older than ``TTL``; return how many (housekeeping)."""
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - TTL))
    return result.rowcount or 0


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(IdempotencyRecord)) or 0
