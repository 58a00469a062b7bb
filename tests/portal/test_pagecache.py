"""The kept pages' store (``portal.pagecache``): bounded by bytes, entries compressed against a shared dictionary."""

from __future__ import annotations

import zlib

from portal.pagecache import ENTRY_OVERHEAD, Packer, RenderedCache

FRAME = "<html><head><title>申请进度</title><link rel=stylesheet href=/static/site.css></head><body>{}</body></html>"
NAV = "".join(f"<li><a href='/help/{i}'>办理须知第{i}条：复查、复核申请的期限与材料</a></li>" for i in range(60))


def page(n: int) -> str:
    facts = f"案件编号 长社保信复〔2026〕{n}号，收到于2026年{n % 12 + 1}月{n % 28 + 1}日"
    return FRAME.format(f"<ul>{NAV}</ul><p>{facts}</p>")


def test_pages_of_one_kind_pack_against_the_first_and_unpack_whole():
    packer = Packer()
    packed = [packer.pack(page(n)) for n in range(1, 6)]
    assert [packer.unpack(p).decode() for p in packed] == [page(n) for n in range(1, 6)]
    # The second page costs about its own content, far less than compressed alone.
    assert len(packed[1]) * 4 < len(zlib.compress(page(2).encode(), Packer.LEVEL))
    assert packer.unpack(packer.pack(b"\x00\xff bytes too")) == b"\x00\xff bytes too"


def test_the_cache_counts_each_entrys_overhead_against_its_budget():
    cache: RenderedCache[bytes] = RenderedCache(max_bytes=10 * ENTRY_OVERHEAD)
    for n in range(100):
        cache.put(n, b"x", 1)  # tiny values: the keys and nodes are what costs
    assert len(cache) == 9 and cache.size <= cache.max_bytes
    assert cache.get(99) == b"x" and cache.get(0) is None  # the least recently used went first
