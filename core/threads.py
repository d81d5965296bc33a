"""Running small or latency-bound torch work on fewer threads.

On a 2-core machine, small tensors (a linear head) or a forward+backward next to a busy
neighbour run many times faster on one thread (measured: 0.12 s vs 0.9 s per EfficientNet-Lite0
forward+backward on a loaded 2-core machine; 0.15 s vs 3 s for 40 epochs of a linear head).

torch's intra-op thread count (OpenMP) belongs to the calling OS thread: it is saved and restored
in the same thread, and must never be held across a `yield` (a generator can resume elsewhere).
"""
from __future__ import annotations

import contextlib

@contextlib.contextmanager
def limited_threads(count: int):
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count)))
    try:
        yield
    finally:
        torch.set_num_threads(previous)
