"""The faces the official documents are set in, embedded in every PDF, and a face for every character.

GB/T 9704-2012 sets the body in 仿宋, the title in 小标宋 and first-level headings in 黑体. The faces here are
freely licensed, have TrueType outlines (reportlab embeds TrueType, not the CFF outlines of Noto/Source Han CJK)
and are committed with their licences (`subset.py` makes them from the upstream files):

- 朱雀仿宋 Zhuque Fangsong (SIL OFL 1.1, TrionesType/zhuque, built with fontmake): the body. About 8,000 Han
  characters: GB 2312 and the 通用规范汉字表.
- AR PL UMing CN (Arphic Public License, Debian fonts-arphic-uming), cut to GB 2312: the 宋体 of the title, the
  letterhead and the page numbers (there is no free 小标宋; the title is drawn in a heavier stroke).
- 文泉驿正黑 WenQuanYi Zen Hei (GPL 2 with the font embedding exception, Debian fonts-wqy-zenhei): the 黑体 of the
  headings and the fallback of the other two faces. It covers the GB 18030 core set (CJK Unified Ideographs
  U+4E00-9FFF and Extension A in full), so rare name characters such as 䶮 堃 燚 犇 喆 昇 玥 珺 print.

A character no face has (Extension B and beyond, e.g. 𠮷) keeps its place in the text layer (copy and search
find it) but prints as the fallback face's empty box.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

FONT_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Face:
    key: str  # reportlab's name for it
    file: str
    family: str  # the family name in the file, which the DOCX names
    windows: str  # the usual Windows face of the same style, which Word uses when the family is not installed


FANGSONG = Face("ZhuqueFangsong", "ZhuqueFangsong-Regular.ttf", "Zhuque Fangsong", "仿宋")
SONG = Face("UMingCN", "UMingCN-GB2312.ttf", "AR PL UMing CN", "宋体")
HEI = Face("WenQuanYiZenHei", "WenQuanYiZenHei-GB18030.ttf", "WenQuanYi Zen Hei", "黑体")
FACES = (FANGSONG, SONG, HEI)

# What each part of a document is set in, the preferred face first and its fallbacks after.
BODY = (FANGSONG, SONG, HEI)
TITLE = (SONG, HEI)
HEADING = (HEI,)

_lock = threading.Lock()
_registered: dict[str, TTFont] = {}


def register() -> None:
    """Register the faces with reportlab (once per process)."""
    if len(_registered) == len(FACES):
        return
    with _lock:
        for face in FACES:
            if face.key not in _registered:
                font = TTFont(face.key, str(FONT_DIR / face.file))
                pdfmetrics.registerFont(font)
                _registered[face.key] = font


def has(face: Face, char: str) -> bool:
    register()
    return ord(char) in _registered[face.key].face.charToGlyph


def face_for(char: str, chain: tuple[Face, ...]) -> Face:
    """The first face of `chain` that has `char`; the last one when none has it."""
    for face in chain:
        if has(face, char):
            return face
    return chain[-1]


def runs(text: str, chain: tuple[Face, ...]) -> list[tuple[Face, str]]:
    """Cut `text` into runs that one face each can print; spaces and line breaks stay in the current run."""
    out: list[tuple[Face, str]] = []
    for char in text:
        face = out[-1][0] if char.isspace() and out else face_for(char, chain)
        if out and out[-1][0] == face:
            out[-1] = (face, out[-1][1] + char)
        else:
            out.append((face, char))
    return out


def string_width(text: str, chain: tuple[Face, ...], size: float) -> float:
    register()
    return sum(pdfmetrics.stringWidth(part, face.key, size) for face, part in runs(text, chain))


def missing(text: str, chain: tuple[Face, ...] = BODY) -> list[str]:
    """The characters of `text` that no face of `chain` can print (shown as a box, kept in the text layer)."""
    return sorted({c for c in text if not c.isspace() and not any(has(face, c) for face in chain)})
