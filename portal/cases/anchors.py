"""Anchors: signed snapshots of every case history's head, kept outside PostgreSQL (object storage).

An anchor lists, for each case, the number of its entries and the hash of its last entry, at one moment. It is
signed with Ed25519 (a key derived from ``HISTORY_KEY``; the public key is printed by ``portal case anchor-key``
and shown to the province's auditor, who can check every anchor without any secret). Anchors are written by the
worker every ``ANCHOR_MINUTES`` (``portal case anchor``) under ``anchors/YYYY/MM/DD/`` in the bucket; a bucket
with versioning (or object lock) keeps overwritten or deleted anchors too.

``check_against_anchors`` compares the database with the anchors: an entry that an anchor covers must still be
there with the hash the anchor recorded. Together with the keyed chain (``portal.cases.history``) this catches
an event rewritten by the database owner, and entries cut off the end of a history, which a chain alone cannot.
No Flask here.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session

from portal.cases.history import ChainProblem, history_key
from portal.cases.models import Case, CaseEvent
from tenants.scoping import system_scope

PREFIX = "anchors/"
FORMAT = "portal-history-anchor/1"


class AnchorInvalid(ValueError):
    """An object under ``anchors/`` whose signature does not verify (or that is no anchor at all)."""


def _signing_key(key: bytes | None = None) -> Ed25519PrivateKey:
    seed = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal-history-anchor").derive(
        key or history_key()
    )
    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_pem(key: bytes | None = None) -> str:
    """The public key that verifies every anchor (for the auditor)."""
    public = _signing_key(key).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _canonical(document: dict) -> bytes:
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def build_anchor(session: Session, *, now: datetime) -> dict:
    """The heads of every case, now (system scope: one anchor covers the whole deployment)."""
    with system_scope(session):
        rows = session.execute(
            select(Case.tenant_id, Case.id, Case.number, Case.event_count, Case.last_event_hash).order_by(
                Case.tenant_id, Case.id
            )
        ).all()
    return {
        "format": FORMAT,
        "created_at": now.astimezone(UTC).isoformat(timespec="seconds"),
        "cases": [[r.tenant_id, r.id, r.number, r.event_count, r.last_event_hash] for r in rows],
    }


def sign(document: dict, key: bytes | None = None) -> bytes:
    """The anchor file: the document and its Ed25519 signature, as JSON."""
    signature = _signing_key(key).sign(_canonical(document))
    envelope = {"anchor": document, "signature": base64.b64encode(signature).decode()}
    return json.dumps(envelope, ensure_ascii=False, indent=1).encode()


def verify(blob: bytes, public_key: Ed25519PublicKey | None = None) -> dict:
    """The anchor document of a signed file; raise ``AnchorInvalid`` when the signature does not hold."""
    public_key = public_key or _signing_key().public_key()
    try:
        envelope = json.loads(blob)
        document = envelope["anchor"]
        public_key.verify(base64.b64decode(envelope["signature"]), _canonical(document))
    except (ValueError, KeyError, TypeError, InvalidSignature) as exc:
        raise AnchorInvalid("The anchor's signature does not verify.") from exc
    if document.get("format") != FORMAT:
        raise AnchorInvalid("Not a history anchor.")
    return document


def anchor_key(now: datetime) -> str:
    at = now.astimezone(UTC)
    return f"{PREFIX}{at:%Y/%m/%d}/{at:%Y%m%dT%H%M%S%fZ}.json"


def write_anchor(session: Session, storage, *, now: datetime | None = None) -> tuple[str, int]:
    """Sign the heads of every case and store them; return the object key and how many cases it covers."""
    now = now or datetime.now(UTC)
    document = build_anchor(session, now=now)
    key = anchor_key(now)
    storage.put(key, sign(document), "application/json")
    return key, len(document["cases"])


def list_anchor_keys(storage) -> list[str]:
    """Every anchor in the bucket, oldest first."""
    keys: list[str] = []
    paginator = storage.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket, Prefix=PREFIX):
        keys += [item["Key"] for item in page.get("Contents", [])]
    return sorted(keys)


@dataclass(frozen=True)
class AnchorCheck:
    anchors: int  # how many anchors were read
    problems: list[ChainProblem]
    invalid: list[str]  # anchors whose signature failed


def check_against_anchors(session: Session, storage, *, case: Case | None = None) -> AnchorCheck:
    """Compare the database with every anchor: each covered head must still be there, with its recorded hash.

    Returns the first problem per case (the earliest anchored entry that differs or is missing).
    """
    keys = list_anchor_keys(storage)
    heads: dict[tuple[int, int], dict[int, tuple[str, str, str]]] = {}
    invalid: list[str] = []
    for key in keys:
        try:
            document = verify(storage.get(key))
        except AnchorInvalid:
            invalid.append(key)
            continue
        for tenant_id, case_id, number, count, head in document["cases"]:
            if count and (case is None or (tenant_id, case_id) == (case.tenant_id, case.id)):
                heads.setdefault((tenant_id, case_id), {})[count] = (head, number, document["created_at"])
    problems: list[ChainProblem] = []
    with system_scope(session):
        for (tenant_id, case_id), by_seq in sorted(heads.items()):
            stored = dict(
                session.execute(
                    select(CaseEvent.seq, CaseEvent.hash).where(
                        CaseEvent.tenant_id == tenant_id,
                        CaseEvent.case_id == case_id,
                        CaseEvent.seq.in_(list(by_seq)),
                    )
                ).all()
            )
            for seq in sorted(by_seq):
                head, number, created_at = by_seq[seq]
                if seq not in stored:
                    problems.append(
                        ChainProblem(case_id, number, seq, f"entry {seq}, anchored at {created_at}, is missing")
                    )
                    break
                if stored[seq] != head:
                    problems.append(
                        ChainProblem(case_id, number, seq, f"entry {seq} differs from the anchor of {created_at}")
                    )
                    break
    return AnchorCheck(anchors=len(keys), problems=problems, invalid=invalid)
