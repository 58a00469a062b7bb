"""Time-based one-time passwords (RFC 6238, HMAC-SHA1, 6 digits, 30 s) and recovery codes.

Pure module: no Flask, no database. Implemented on ``hmac`` directly (about twenty lines) rather than adding a
dependency; the RFC's own test vectors check it (``tests/identity/test_totp.py``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import unicodedata
from datetime import datetime
from urllib.parse import quote, urlencode

STEP_SECONDS = 30
DIGITS = 6
#: Codes from one step before and after are accepted too (clock drift of the phone, typing time).
DRIFT_STEPS = 1
SECRET_BYTES = 20  # 160 bits, what RFC 4226 recommends for HMAC-SHA1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off paper without mistakes


def new_secret() -> str:
    """A fresh random secret in base32 (what authenticator apps take), without padding."""
    return base64.b32encode(secrets.token_bytes(SECRET_BYTES)).decode().rstrip("=")


def _key(secret: str) -> bytes:
    padded = secret.upper() + "=" * (-len(secret) % 8)
    return base64.b32decode(padded)


def hotp(key: bytes, counter: int, digits: int = DIGITS, digest=hashlib.sha1) -> str:
    """RFC 4226 HOTP value of ``counter``."""
    mac = hmac.new(key, struct.pack(">Q", counter), digest).digest()
    offset = mac[-1] & 0x0F
    number = struct.unpack(">I", mac[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(number % 10**digits).zfill(digits)


def time_step(at: datetime) -> int:
    return int(at.timestamp()) // STEP_SECONDS


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator shows at ``at`` (used by tests and by nothing else)."""
    return hotp(_key(secret), time_step(at))


def clean_code(raw: str | None) -> str:
    """What the person typed, without spaces or dashes; full-width digits (Chinese input) become ASCII."""
    text = unicodedata.normalize("NFKC", raw or "")
    return "".join(ch for ch in text if ch not in " -\t").strip()


def match_step(secret: str, code: str, at: datetime, *, after_step: int = 0) -> int | None:
    """The time step whose code equals ``code`` (within the drift window and later than ``after_step``), or None.

    Returning the step lets the caller store it, so that the same code (or an older one) is never accepted again.
    """
    code = clean_code(code)
    if len(code) != DIGITS or not (code.isascii() and code.isdigit()):
        return None
    key = _key(secret)
    now = time_step(at)
    found = None
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        # Compare every candidate in constant time and do not stop early.
        if hmac.compare_digest(hotp(key, step), code) and step > after_step and found is None:
            found = step
    return found


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    """The ``otpauth://`` URI that authenticator apps read from a QR code."""
    label = quote(f"{issuer}:{account}", safe="")
    query = urlencode({"secret": secret, "issuer": issuer, "algorithm": "SHA1", "digits": DIGITS, "period": 30})
    return f"otpauth://totp/{label}?{query}"


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    """Fresh single-use recovery codes like ``K7QD-M2XP-9RTA`` (60 bits each)."""
    codes = []
    for _ in range(count):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


def normalise_recovery_code(raw: str | None) -> str:
    """Upper case, no spaces or dashes: what is hashed and compared."""
    return clean_code(raw).upper()[:40]


def looks_like_totp(raw: str | None) -> bool:
    code = clean_code(raw)
    return len(code) == DIGITS and code.isascii() and code.isdigit()
