"""Giving freed memory back to the system, so a long-running server's size tracks what it holds.

PyTorch on CPU allocates big, short-lived tensors (a training's activations, a VGG-16's
weights) through glibc's malloc, which keeps freed pages in its arenas: after a few trainings
the process stays gigabytes bigger than what it still uses. `release_memory()` after a big job
collects Python's cycles and asks glibc to return free pages (malloc_trim). Elsewhere it does nothing.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import gc
import functools


@functools.lru_cache(maxsize=1)
def _malloc_trim():
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        return libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl)
        return None


def release_memory() -> bool:
    """Collect garbage and hand free heap pages back to the OS; True when glibc did it."""
    gc.collect()
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
