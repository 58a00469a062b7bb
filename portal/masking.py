"""One masker for personal data: what screens and logs show of an ID number, a phone number, an e-mail address,
a postal address or a name.

Pure module. Every mask keeps a few characters at the ends and stars the middle (``mask``); the caller chooses the
width. Screens star one character per hidden one, so that the reader still sees the shape (``138****5678``);
logs pass ``stars`` for a fixed run of stars, so that not even the length is kept.
"""

from __future__ import annotations

import re

#: Stars of a masked value in a log line, whatever its length.
LOG_STARS = 4


def mask(value: str, *, head: int, tail: int, stars: int | None = None) -> str:
    """Keep the first ``head`` and the last ``tail`` characters of ``value`` and star the rest.

    A value too short to hide anything between them keeps only its first and last character, and one of two
    characters or fewer is all stars. ``stars``: that many stars however many characters are hidden (None: one
    star per hidden character).
    """
    value = value.strip()
    if len(value) <= 2:
        return "*" * (len(value) if stars is None else stars)
    if len(value) <= head + tail:
        head, tail = 1, 1
    hidden = len(value) - head - tail
    return value[:head] + "*" * (hidden if stars is None else stars) + value[len(value) - tail :]


def mask_phone(value: str, *, stars: int | None = None) -> str:
    """The first 3 and last 4 digits of a phone number: ``138****5678`` (spaces and hyphens dropped)."""
    return mask(re.sub(r"[\s-]", "", value), head=3, tail=4, stars=stars)


def mask_email(value: str, *, keep: int = 1) -> str:
    """The first ``keep`` characters of the name, three stars whatever its length, the domain: ``z***@example.com``.

    Anything without an ``@`` is not shown at all.
    """
    local, at, domain = value.strip().partition("@")
    if not at:
        return "***"
    return local[:keep] + "***@" + domain


def mask_id_number(value: str) -> str:
    """The first 3 and last 4 characters of an ID number: ``110***********002X``."""
    return mask(value, head=3, tail=4)


def mask_address(value: str) -> str:
    """The first six characters of an address (city and district, usually): ``长春市南关区****``."""
    return mask(value, head=6, tail=0, stars=4)


_COMPOUND_SURNAMES = frozenset(
    {"欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙"}
    | {"宇文", "司徒", "夏侯", "令狐", "端木", "轩辕", "独孤", "南宫", "西门", "呼延"}
)


def mask_name(value: str) -> str:
    """Keep the surname, star the rest: 张*, 张**, 欧阳**."""
    value = value.strip()
    if not value:
        return ""
    keep = 2 if value[:2] in _COMPOUND_SURNAMES and len(value) > 2 else 1
    if len(value) == 1:
        return "*"
    return value[:keep] + "*" * (len(value) - keep)
