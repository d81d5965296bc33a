"""Running small or latency-bound torch work on fewer threads, safely under concurrency.

torch's thread count is process-wide. On a 2-core machine, small tensors (a linear head) or a
forward+backward next to a busy neighbour run many times faster on one thread (measured: 0.12 s
vs 0.9 s per EfficientNet-Lite0 forward+backward on a loaded 2-core machine; 0.15 s vs 3 s for
40 epochs of a linear head). Two visitors' jobs may overlap, so the count is reference-counted:
the first to enter saves the previous value, the last to leave restores it.
"""
from __future__ import annotations

import contextlib
import threading

import torch

_lock = threading.Lock()
_holders = 0
_saved: int | None = None


@contextlib.contextmanager
def limited_threads(count: int):
    global _holders, _saved
    with _lock:
        if _holders == 0:
            _saved = torch.get_num_threads()
        _holders += 1
        torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _saved is not None:
                torch.set_num_threads(_saved)
                _saved = None
