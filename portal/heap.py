"""Give the C heap's free pages back to the system now and then (glibc's ``malloc_trim``).

A web worker's heap grows to the high-water mark of what it served (a page rendered, a file uploaded, a batch of
rows read) and glibc hands back only the free space at the heap's top: the free holes below it stay resident. In
the benchmark that was 2-8 MB per worker after the load (bench/README.md). ``malloc_trim(0)`` releases every whole
free page; on a worker it takes a few milliseconds (the GIL released, other threads' allocations wait on the heap's
lock meanwhile), so a thread of the worker runs it every ``HEAP_TRIM_SECONDS``. Nothing is done where the C library
has no ``malloc_trim`` (not glibc).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
from functools import cache

log = logging.getLogger(__name__)

HEAP_TRIM_SECONDS = 10.0


@cache
def _malloc_trim():
    """glibc's ``malloc_trim``, or None (looked up once)."""
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name).malloc_trim if name else None
    except (OSError, AttributeError):
        return None


def trim_heap() -> bool:
    """Release the heap's free pages now; False where the C library cannot."""
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True


def start_trimming(every: float = HEAP_TRIM_SECONDS, stop: threading.Event | None = None) -> threading.Thread | None:
    """Trim the heap every ``every`` seconds on a daemon thread of this process, until ``stop`` is set (a worker's
    never is: the thread ends with the process). None: nothing to trim with."""
    if _malloc_trim() is None:
        log.info("No malloc_trim in this C library: the heap is not trimmed")
        return None
    stop = stop or threading.Event()

    def loop() -> None:
        while not stop.wait(every):
            trim_heap()

    thread = threading.Thread(target=loop, name="heap-trim", daemon=True)
    thread.start()
    return thread
