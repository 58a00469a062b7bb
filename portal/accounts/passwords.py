"""Password hashing with argon2id."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash to verify against when the username is unknown, so that a miss costs the same time as a hit.
_DUMMY_HASH = _hasher.hash("not-a-real-password")

MIN_LENGTH = 10


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def password_problem(password: str) -> tuple[str, str] | None:
    """Say what is wrong with a new password, as (English, Chinese), or None."""
    if len(password) < MIN_LENGTH:
        return (f"Password must be at least {MIN_LENGTH} characters.", f"密码至少需要{MIN_LENGTH}位。")
    if password.isdigit() or password.isalpha():
        return ("Password must mix letters with digits or symbols.", "密码须同时包含字母和数字（或符号）。")
    return None
