"""Citizen ID numbers (GB 11643-1999); their masks are ``portal.masking``'s.

Pure module: no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import unicodedata
from datetime import date

_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK_CHARS = "10X98765432"  # indexed by (weighted sum mod 11), ISO 7064 MOD 11-2

# First two digits: provinces of GB/T 2260, plus 81/82/83 (residence permits of Hong Kong, Macao and Taiwan
# residents) and 9x (permanent residence ID cards of foreigners, 2023 format).
_PROVINCE_CODES = frozenset(
    {11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46}
    | {50, 51, 52, 53, 54, 61, 62, 63, 64, 65, 71, 81, 82, 83}
)
_EARLIEST_BIRTH = date(1900, 1, 1)


class InvalidIdNumber(ValueError):
    """The value is not a valid citizen ID number; the messages say why."""

    def __init__(self, message_zh: str, message_en: str):
        super().__init__(message_en)
        self.message_zh = message_zh
        self.message_en = message_en


def check_char(first17: str) -> str:
    """Return the check character for the first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True))
    return _CHECK_CHARS[total % 11]


def validate_id_number(value: str, *, today: date | None = None) -> str:
    """Return the normalised 18-character ID number (upper-case X), or raise `InvalidIdNumber`."""
    if not isinstance(value, str):
        raise InvalidIdNumber("身份证号码应为文字。", "The ID number must be text.")
    # Full-width digits and letters typed with a Chinese input method become ASCII.
    normalized = unicodedata.normalize("NFKC", value).strip().replace(" ", "").upper()
    if len(normalized) != 18:
        raise InvalidIdNumber(
            f"身份证号码应为18位，您输入了{len(normalized)}位。",
            f"An ID number has 18 characters; this one has {len(normalized)}.",
        )
    body, last = normalized[:17], normalized[17]
    if not (body.isascii() and body.isdigit()) or last not in "0123456789X":
        raise InvalidIdNumber(
            "身份证号码前17位应为数字，最后一位为数字或X。",
            "The first 17 characters must be digits and the last a digit or X.",
        )
    province = int(body[:2])
    if province not in _PROVINCE_CODES and body[0] != "9":
        raise InvalidIdNumber(
            "身份证号码前6位的地区代码无效。",
            "The region code (first 6 digits) is not valid.",
        )
    try:
        born = date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        born = None
    if born is None or born < _EARLIEST_BIRTH or born > (today or date.today()):
        raise InvalidIdNumber(
            "身份证号码中的出生日期（第7至14位）无效。",
            "The date of birth (characters 7 to 14) is not valid.",
        )
    if check_char(body) != last:
        raise InvalidIdNumber(
            "身份证号码校验位不正确，请核对后重新输入。",
            "The check character does not match; please check the number.",
        )
    return normalized
