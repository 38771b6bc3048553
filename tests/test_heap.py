"""classifier.heap: freed C heap pages handed back."""

from __future__ import annotations

import sys
from pathlib import Path

from classifier import heap


def test_trim_heap_finds_glibc_malloc_trim_and_runs() -> None:
    heap.trim_heap()
    heap.trim_heap()  # looked up once, then reused
    if sys.platform.startswith("linux") and Path("/lib/x86_64-linux-gnu/libc.so.6").exists():
        assert callable(heap._TRIM)
