"""Case numbers and access codes: readable, unique, and not guessable from one another."""

from __future__ import annotations

import secrets
from datetime import date

from portal.workflow import CaseKind

# Crockford-style alphabet: no I, L, O, U, so numbers read aloud over the phone are not misheard.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PREFIX = {CaseKind.review: "FC", CaseKind.re_review: "FH"}  # 复查 / 复核


def new_case_number(kind: CaseKind, on: date) -> str:
    """E.g. ``FC2026-7K3M9Q2X``: kind and year for people, 40 random bits so numbers cannot be enumerated."""
    return f"{_PREFIX[kind]}{on.year}-" + "".join(secrets.choice(ALPHABET) for _ in range(8))


def new_access_code() -> str:
    """A one-time access code of 12 characters (60 random bits), shown grouped as ``XXXX-XXXX-XXXX``."""
    raw = "".join(secrets.choice(ALPHABET) for _ in range(12))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def normalise_code(value: str) -> str:
    """Accept codes typed with spaces, dashes or lower case; map look-alikes (O->0, I/L->1)."""
    cleaned = "".join(ch for ch in value.upper() if ch.isalnum())
    cleaned = cleaned.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))
    if len(cleaned) != 12:
        return cleaned
    return f"{cleaned[:4]}-{cleaned[4:8]}-{cleaned[8:]}"


def normalise_number(value: str) -> str:
    return "".join(value.split()).upper()
