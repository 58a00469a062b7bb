"""Personal data at rest: AES-GCM encryption and keyed hashes for search, from one configured key.

ID numbers, phones and addresses are stored encrypted; the ID number (and phone) also get a keyed hash so that
"same petitioner" and "search by ID number" are indexed equality look-ups without decrypting anything.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"


def _derive(master: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"portal-pii:" + purpose).derive(master.encode())


class PersonalData:
    """Encrypt, decrypt and hash personal data with keys derived from ``PII_KEY``."""

    def __init__(self, master_key: str):
        self._aead = AESGCM(_derive(master_key, b"encrypt"))
        self._hash_key = _derive(master_key, b"hash")

    def encrypt(self, value: str | None) -> bytes | None:
        if value is None or value == "":
            return None
        nonce = os.urandom(12)
        return _VERSION + nonce + self._aead.encrypt(nonce, value.encode(), None)

    def decrypt(self, blob: bytes | None) -> str | None:
        if not blob:
            return None
        blob = bytes(blob)
        if blob[:1] != _VERSION:
            raise ValueError("Unknown personal-data format.")
        return self._aead.decrypt(blob[1:13], blob[13:], None).decode()

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
