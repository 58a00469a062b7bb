"""Personal data at rest: AES-GCM encryption and keyed hashes for search, from one configured key.

ID numbers, phones and addresses are stored encrypted; the ID number (and phone) also get a keyed hash so that
"same petitioner" and "search by ID number" are indexed equality look-ups without decrypting anything.

Ciphertexts of a table's column carry associated data naming the table, the column and the row's key
(``context("case_parties", "phone_enc", tenant_id, id)``, format 2): a ciphertext moved to another row or column
no longer decrypts. Format 1 (no associated data) is what rows written before had, and what values without a row
(the session cookie's sealed data) use; ``portal pii rewrap`` moves stored rows to format 2.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"  # no associated data
_VERSION_AAD = b"\x02"  # associated data: table, column, row key


def context(table: str, column: str, *key) -> bytes:
    """The associated data of one stored value: its table, column and row key."""
    return f"{table}.{column}:{':'.join(str(k) for k in key)}".encode()


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal-pii:" + purpose).derive(master.encode())


class PersonalData:
    """Encrypt, decrypt and hash personal data with keys derived from ``PII_KEY``."""

    def __init__(self, master_key: str):
        self._aead = AESGCM(_derive(master_key, b"encrypt"))
        self._hash_key = _derive(master_key, b"hash")

    def encrypt(self, value: str | None, aad: bytes | None = None) -> bytes | None:
        """Encrypt ``value``; with ``aad`` (``context(...)``) the ciphertext is bound to that row and column."""
        if value is None or value == "":
            return None
        nonce = os.urandom(12)
        version = _VERSION if aad is None else _VERSION_AAD
        return version + nonce + self._aead.encrypt(nonce, value.encode(), aad)

    def decrypt(self, blob: bytes | None, aad: bytes | None = None) -> str | None:
        """Decrypt; a format-2 ciphertext needs the ``aad`` it was written with (else ``InvalidTag``)."""
        if not blob:
            return None
        blob = bytes(blob)
        if blob[:1] == _VERSION:
            return self._aead.decrypt(blob[1:13], blob[13:], None).decode()
        if blob[:1] == _VERSION_AAD:
            if aad is None:
                raise ValueError("This personal data is bound to a row: give its context.")
            return self._aead.decrypt(blob[1:13], blob[13:], aad).decode()
        raise ValueError("Unknown personal-data format.")

    def rewrap(self, blob: bytes | None, aad: bytes) -> bytes | None:
        """A format-1 ciphertext re-encrypted bound to ``aad``; format 2 is returned as it is."""
        if not blob or bytes(blob)[:1] != _VERSION:
            return blob
        return self.encrypt(self.decrypt(blob), aad)

    def hash(self, value: str | None) -> str | None:
        """Keyed hash of a normalised value (upper case, no spaces): equal inputs give equal hashes."""
        if not value:
            return None
        normal = "".join(value.split()).upper()
        return hmac.new(self._hash_key, normal.encode(), hashlib.sha256).hexdigest()

    def matches(self, value: str, expected_hash: str | None) -> bool:
        """Compare in constant time (for access codes and similar secrets)."""
        actual = self.hash(value) or ""
        return hmac.compare_digest(actual, expected_hash or "")
