"""RFC 6238 / RFC 4226 test vectors, the drift window, replay protection and recovery codes."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.identity import totp

RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()


@pytest.mark.parametrize(
    ("unix", "expected"),
    [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ],
)
def test_rfc6238_sha1_vectors(unix, expected):
    step = totp.time_step(datetime.fromtimestamp(unix, UTC))
    assert totp.hotp(totp._key(RFC_SECRET), step, digits=8) == expected


def test_rfc4226_hotp_vectors():
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(b"12345678901234567890", i) for i in range(10)] == expected


def test_match_step_accepts_one_step_of_drift_and_never_the_same_step_twice():
    secret = totp.new_secret()
    now = datetime(2026, 11, 27, 8, 0, 15, tzinfo=UTC)
    code = totp.code_at(secret, now)
    step = totp.match_step(secret, code, now)
    assert step == totp.time_step(now)
    assert totp.match_step(secret, code, now + timedelta(seconds=30)) == step  # typed a little late
    assert totp.match_step(secret, code, now + timedelta(seconds=90)) is None  # too late
    assert totp.match_step(secret, code, now, after_step=step) is None  # used already
    assert totp.match_step(secret, f" {code[:3]} {code[3:]} ", now) == step  # spaces are fine
    for bad in ("", "12345", "1234567", "abcdef", "١٢٣٤٥٦", None):
        assert totp.match_step(secret, bad, now) is None
    wide = code.translate({ord(d): chr(0xFF10 + int(d)) for d in "0123456789"})
    assert totp.match_step(secret, wide, now) == step  # typed with a Chinese input method


def test_secret_and_uri():
    secret = totp.new_secret()
    assert len(base64.b32decode(secret + "=" * (-len(secret) % 8))) == 20
    uri = totp.provisioning_uri(secret, "cc_clerk", "信访复查复核")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth" and parts.netloc == "totp"
    assert parse_qs(parts.query)["secret"] == [secret]


def test_recovery_codes():
    codes = totp.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    for code in codes:
        assert len(code) == 14 and code.count("-") == 2
        assert not set(code.replace("-", "")) & set("01IO")
    assert totp.normalise_recovery_code(" abcd-efgh ijkl ") == "ABCDEFGHIJKL"
