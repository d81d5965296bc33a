"""Concurrent single-image predictions share forward passes.

When a class of 30 clicks at once, each request running its own forward pass on its own threads
makes 4+ forwards × 2 OpenMP threads fight over 2 cores, and the web server's own thread (uploads,
event streams, file downloads) starves. Here one worker thread runs the network: a request puts its
preprocessed tensor in a queue and waits; the worker takes everything that has queued up while the
previous pass ran (up to `max_batch`, same model and input size) and runs it as one batch.
Nothing waits for a batch to fill: a lone visitor's image runs at once, so one client sees no delay,
and under load the batches grow by themselves. Errors reach every request of their batch.

Measured (issue 14), and why the web app leaves it off unless TLL_SHARED_FORWARD=1: alone, 8 threads
× 48 images ran 62 ms/image shared vs 90 ms/image each on its own; but beside one Python-busy thread
(a web server's event loop is one) the single network thread must win the GIL back after every one
of the network's ~300 ops and waits a switch interval each time: 643 vs 233 ms/image. Running the
whole forward without the GIL (a TorchScript / exported graph) is the way to make it pay off.
"""
from __future__ import annotations

import queue
import threading
from concurrent.futures import Future
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported where it is used (the page is built without it)
    import torch


class SharedForward:
    """`forward(loaded, tensor)` -> softmax row for one CHW tensor, batched with concurrent callers."""

    def __init__(self, predict_batch, max_batch: int = 8):
        self._predict_batch = predict_batch  # (loaded, NCHW tensor) -> probabilities, one row per image
        self.max_batch = max(1, int(max_batch))
        self._queue: queue.Queue = queue.Queue()
        self._lock = threading.Lock()
        self._worker: threading.Thread | None = None
        self.batch_sizes: list[int] = []  # recent batch sizes, for benchmarks (bounded)

    def __call__(self, loaded, tensor: torch.Tensor) -> torch.Tensor:
        done: Future = Future()
        self._ensure_worker()
        self._queue.put((loaded, tensor, done))
        return done.result()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._run, name="shared-forward", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        waiting: list = []
        while True:
            if not waiting:
                waiting.append(self._queue.get())
            while True:  # everything that arrived while the last pass ran
                try:
                    waiting.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            first_model, first_shape = waiting[0][0].model, waiting[0][1].shape
            batch = [item for item in waiting
                     if item[0].model is first_model and item[1].shape == first_shape][:self.max_batch]
            chosen = {id(item) for item in batch}
            waiting = [item for item in waiting if id(item) not in chosen]
            self._forward(batch)

    def _forward(self, batch: list) -> None:
        import torch

        try:
            probs = self._predict_batch(batch[0][0], torch.stack([tensor for _, tensor, _ in batch]))
        except BaseException as error:  # noqa: BLE001 - handed to every waiting request
            for _, _, done in batch:
                done.set_exception(error)
            return
        self.batch_sizes = (self.batch_sizes + [len(batch)])[-1000:]
        for row, (_, _, done) in zip(probs, batch):
            done.set_result(row)
