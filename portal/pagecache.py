"""Rendered answers kept in the web process: the tracking page and the tracking API's answer.

An entry's key holds everything the rendering depends on (the case's version stamp, the reference data's version,
the day, the language, the kind of viewer), so an entry is never wrong, only unused once the case changes; the
least recently used entries go when the cache holds more than its byte budget. Per process, in memory: Redis
carries queues and counters only (DESIGN.md), and a hit must cost no more than the stamp's look-up.

The entries hold personal data of the petitioner, exactly what the authorised reader is shown; they are reached
only after the number and access code (or the account) were checked, and never leave the process.
"""

from __future__ import annotations

import hashlib
import threading
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


#: Bytes an entry costs besides its value (its key, the map's node): counted, so that small values cannot let the
#: cache outgrow its budget.
ENTRY_OVERHEAD = 512


class RenderedCache(Generic[V]):
    """A least-recently-used map bounded by the total size its callers give for each value (plus
    ``ENTRY_OVERHEAD``); thread-safe."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, key: Hashable, value: V, size: int) -> None:
        size += ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._entries[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _key, (_value, dropped) = self._entries.popitem(last=False)
                self._bytes -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._bytes = 0

    @property
    def size(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


class Packer:
    """Compresses kept pages or answers of one kind against a preset dictionary: the first one it packs.

    Pages of one kind share most of their markup and labels, so against the first each of the others shrinks to
    about its own content: a tracking page 2.4 KB -> 0.6 KB, an answer 1.5 -> 0.7 KB (zlib alone), a worker keeps
    thousands in a megabyte or two and serves one for ~0.015 ms. The dictionary never changes once set, so every
    entry stays readable; an unusual first page makes the others compress less well, never wrongly.
    """

    LEVEL = 6

    def __init__(self):
        self._zdict: bytes | None = None
        self._lock = threading.Lock()

    def pack(self, rendered: str | bytes) -> bytes:
        data = rendered.encode() if isinstance(rendered, str) else rendered
        if self._zdict is None:
            with self._lock:
                if self._zdict is None:
                    self._zdict = data[-32768:]  # zlib looks back 32 KB at most
        compressor = zlib.compressobj(self.LEVEL, zdict=self._zdict)
        return compressor.compress(data) + compressor.flush()

    def unpack(self, kept: bytes) -> bytes:
        decompressor = zlib.decompressobj(zdict=self._zdict)
        return decompressor.decompress(kept) + decompressor.flush()


def entity_tag(*parts: object) -> str:
    """An entity tag naming ``parts`` (the same parts, the same tag; nothing of them can be read back from it).

    Weak: the kept body is the same, the CSRF token or file links put into it may differ (``ETag: W/"..."``).
    """
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:32]


def etag_header(tag: str) -> dict[str, str]:
    return {"ETag": f'W/"{tag}"'}
