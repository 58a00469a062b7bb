"""Make the committed font files from their upstream releases (run by hand when a face is updated).

    python -m portal.documents.fonts.subset ZHUQUE.ttf UMING.ttc WQY-ZENHEI.ttc

needs fontTools (`pip install fonttools`). Each face keeps what a Chinese official document can use: Latin,
general and CJK punctuation, full-width forms and, per face, the Han characters listed below. Hinting and embedded
bitmaps are dropped (the PDF is printed or viewed scaled; the outlines are all a viewer needs), which keeps the
repository small. The PDF renderer subsets again to the glyphs each document uses.
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection, TTFont

HERE = Path(__file__).resolve().parent

# Ranges every face keeps when it has them.
COMMON = [
    (0x0020, 0x007E),  # ASCII
    (0x00A0, 0x00FF),  # Latin-1: "·" U+00B7, "×", "°"
    (0x0100, 0x017F),  # Latin Extended-A (pinyin ā ē ī ō ū)
    (0x01CD, 0x01DC),  # pinyin ǎ ǐ ǒ ǔ ǖ ǘ ǚ ǜ
    (0x02C7, 0x02C9),  # ˇ ˉ
    (0x2010, 0x2027),  # dashes, quotes, "…", "‧"
    (0x2030, 0x203B),  # ‰ ′ ″ ※
    (0x2103, 0x2103),  # ℃
    (0x2116, 0x2116),  # №
    (0x2160, 0x217F),  # Roman numerals Ⅰ Ⅱ
    (0x2190, 0x2199),  # arrows
    (0x2208, 0x2265),  # a few mathematical operators
    (0x2460, 0x249B),  # ① ⑴ ⒈
    (0x2500, 0x257F),  # box drawing
    (0x25A0, 0x25EF),  # ■ □ ▲ ○ ●
    (0x2605, 0x2606),  # ★ ☆
    (0x3000, 0x303F),  # CJK punctuation: 、。〈〉《》「」『』【】〔〕
    (0x3220, 0x3243),  # ㈠ ㈡
    (0xFE30, 0xFE4F),  # CJK compatibility forms
    (0xFF01, 0xFF5E),  # full-width forms
    (0xFFE0, 0xFFE5),  # ￥
]
URO = [(0x4E00, 0x9FFF)]  # CJK Unified Ideographs
EXT_A = [(0x3400, 0x4DBF)]  # Extension A: most 生僻字 of names (䶮)
COMPAT = [(0xF900, 0xFAFF)]  # CJK Compatibility Ideographs (some are GB 18030 characters)
RADICALS = [(0x2E80, 0x2FDF), (0x31C0, 0x31EF)]


def gb2312_hanzi() -> list[int]:
    """The 6,763 Han characters of GB 2312 (levels 1 and 2)."""
    codes = []
    for high in range(0xB0, 0xF8):
        for low in range(0xA1, 0xFF):
            try:
                codes.append(ord(bytes([high, low]).decode("gb2312")))
            except UnicodeDecodeError:
                continue
    return codes


def _expand(ranges) -> list[int]:
    return [code for start, end in ranges for code in range(start, end + 1)]


def _load(path: str, index: int = 0) -> TTFont:
    return TTCollection(path).fonts[index] if path.lower().endswith(".ttc") else TTFont(path)


def make(source: str, target: str, codes: list[int], index: int = 0) -> None:
    font = _load(source, index)
    if "glyf" not in font:
        raise SystemExit(f"{source}: not TrueType outlines (reportlab embeds only TrueType)")
    options = subset.Options()
    options.hinting = False
    options.drop_tables += ["EBDT", "EBLC", "EBSC", "gasp", "vhea", "vmtx", "VORG", "DSIG"]
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    subsetter = subset.Subsetter(options)
    available = set(font.getBestCmap())
    subsetter.populate(unicodes=[code for code in codes if code in available])
    subsetter.subset(font)
    font.save(HERE / target)
    print(f"{target}: {len(font.getBestCmap())} characters, {(HERE / target).stat().st_size:,} bytes")


def main(zhuque: str, uming: str, zenhei: str) -> None:
    common = _expand(COMMON)
    # Body (仿宋): every Han character the face has (about 11,000), no kana or Greek.
    make(zhuque, "ZhuqueFangsong-Regular.ttf", common + _expand(URO + EXT_A))
    # Title and letterhead (宋): GB 2312; what it lacks falls back to the 黑体 face.
    make(uming, "UMingCN-GB2312.ttf", common + gb2312_hanzi())
    # Headings (黑体) and the fallback of every face: the GB 18030 core set (URO and Extension A in full).
    make(zenhei, "WenQuanYiZenHei-GB18030.ttf", common + _expand(URO + EXT_A + COMPAT + RADICALS))


if __name__ == "__main__":
    main(*sys.argv[1:4])
