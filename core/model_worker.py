"""The web app's Classify model in a process of its own (issue 14: a class of 30 at once, 2 cores).

Why a process, not a thread: one Python process runs Python on one core at a time (the GIL).
* Start-up: importing torch, torchvision and timm (~3 s of Python) in the server's process either
  delays the page (6.1-6.7 s when loaded first) or, loaded after it, fights the first visitors'
  requests for that one core (the first /classify calls of 20 clients waited 5-6 s). In a process of
  its own the model loads on the other core while the page is built: page and model both at ~3.5 s.
* Under load: concurrent requests share forward passes (a batch of whatever queued up while the
  last one ran) and the network runs with no GIL to win back from the web server after every op,
  which is what made batching in threads lose (see git history of core/batching.py).

Requests and replies are JSON (plus the crop's raw RGB bytes), never pickle: the worker opens the
visitor's file itself with core.images.load_image, with the same limits and messages as everywhere.
If the worker cannot start or dies, `classify` raises WorkerUnavailable and the caller answers in
its own process (core.weights.load_model), as it does for every other model.
"""
from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
import os
import threading
import time
from concurrent.futures import Future

from PIL import Image

from core.backbones import BUNDLED_MODEL
from core.images import ImageLoadError

MAX_BATCH = 8  # on a CPU 4-8 images per forward pass run fastest per image (core.classify)
ENV_SWITCH = "TLL_MODEL_WORKER"  # "0": no worker process; the model runs in the server's own process
log = logging.getLogger(__name__)


class WorkerUnavailable(RuntimeError):
    """The worker is not running (it failed to start, died, or did not answer in time)."""


def worker_threads() -> int:
    """torch threads for the worker: 1 on 2 cores (the web server and the visitors' browsers use the
    other; a second OpenMP thread only waits on them: 20 load-test clients, 2 threads cost 182 ms
    of CPU per call against 77 ms, p95 5.4 s against 3.6 s), else half the cores."""
    return max(1, (os.cpu_count() or 1) // 2)


class ModelWorker:
    """Classifies image files with `name`'s pretrained weights in a child process.

    Thread-safe: any number of request threads may call `classify` at once; their images are
    batched in the worker. `ready` is set once the model is loaded (or the worker has failed)."""

    def __init__(self, name: str = BUNDLED_MODEL, threads: int | None = None):
        self.name = name
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no copied threads or locks
        self._connection, child_end = context.Pipe()
        self._process = context.Process(target=serve, args=(child_end, name, threads or worker_threads()),
                                        name="tll-model-worker", daemon=True)
        self._process.start()
        child_end.close()  # ours closed: the worker sees EOF when this process ends, and exits
        self.ready = threading.Event()
        self.failure: str | None = None
        self.weights, self.note = "", ""  # which weights answer (a core.backbones.WeightKind), once ready
        self._send_lock = threading.Lock()
        self._pending_lock = threading.Lock()
        self._pending: dict[int, Future] = {}
        self._ids = itertools.count()
        self._last_request = self._ready_at = time.monotonic()
        threading.Thread(target=self._receive, name="model-worker-replies", daemon=True).start()

    def classify(self, path: str, k: int = 5, timeout: float = 120) -> dict:
        """{"top": [{label, index, prob}...], "crop": PIL image the model saw, "seconds": float,
        "batch": how many images shared its forward pass}.
        Raises ImageLoadError for a file that is not a usable image, WorkerUnavailable otherwise."""
        if not self.ready.wait(timeout) or self.failure:
            raise WorkerUnavailable(self.failure or "the model worker is still loading")
        self._last_request = time.monotonic()
        reply: Future = Future()
        with self._pending_lock:
            if self.failure:
                raise WorkerUnavailable(self.failure)
            request_id = next(self._ids)
            self._pending[request_id] = reply
        try:
            with self._send_lock:
                self._connection.send_bytes(json.dumps({"id": request_id, "path": str(path), "k": k}).encode())
            header, crop = reply.result(timeout)
        except (OSError, TimeoutError) as error:
            with self._pending_lock:
                self._pending.pop(request_id, None)
            raise WorkerUnavailable(f"the model worker did not answer ({type(error).__name__})") from None
        if "image_error" in header:
            fields = header["image_error"]
            raise ImageLoadError(fields["label"], fields["key"], fields["unnamed"], **fields["fields"])
        if "error" in header:
            raise RuntimeError(header["error"])
        return {"top": header["top"], "crop": Image.frombytes("RGB", tuple(header["crop_size"]), crop),
                "seconds": header["seconds"], "batch": header["batch"]}

    def wait_until_quiet(self, quiet_s: float = 5, at_most_s: float = 120) -> None:
        """Return once it is ready and has had no request for `quiet_s` seconds (or after `at_most_s`):
        for work that can wait until a class has stopped clicking."""
        deadline = time.monotonic() + at_most_s
        self.ready.wait(at_most_s)
        while (now := time.monotonic()) < deadline and now - max(self._last_request, self._ready_at) < quiet_s:
            time.sleep(0.5)

    def stop(self) -> None:
        """End the worker; its replies thread then sees EOF, fails what waits, and closes the pipe."""
        self._process.terminate()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()

    def _receive(self) -> None:
        """Hands each reply to the request waiting for it; on EOF fails them all."""
        reason = "the model worker stopped"
        try:
            while True:
                header = json.loads(self._connection.recv_bytes())
                if "ready" in header:
                    print(f"* Classify's model ready in its own process ({header['ready']})", flush=True)
                    self.weights, self.note = header["weights"], header["note"]
                    self._ready_at = time.monotonic()
                    self.ready.set()
                    continue
                if "fatal" in header:
                    reason = f"the model worker could not start: {header['fatal']}"
                    break
                crop = self._connection.recv_bytes() if "crop_size" in header else None
                with self._pending_lock:
                    reply = self._pending.pop(header["id"], None)
                if reply is not None:
                    reply.set_result((header, crop))
        except (EOFError, OSError):
            pass
        except Exception as error:  # noqa: BLE001 - a reply we cannot read: the worker is not to be trusted
            reason = f"the model worker sent an unreadable reply ({type(error).__name__})"
        self._connection.close()
        with self._pending_lock:
            self.failure = reason
            waiting, self._pending = list(self._pending.values()), {}
        self.ready.set()  # nobody waits for a model that will not come
        log.warning("%s; classifying in the server's own process from now on", reason)
        for reply in waiting:
            reply.set_exception(WorkerUnavailable(reason))


# --- in the worker process ---------------------------------------------------------------------

def serve(connection, name: str, threads: int) -> None:
    """The worker's loop: load the model once, then answer batches of requests until the server
    has gone (EOF on the pipe: however the server ended, this process ends too)."""
    try:
        loaded = _load(connection, name, threads)
        while loaded is not None:
            requests = [json.loads(connection.recv_bytes())]
            while len(requests) < MAX_BATCH and connection.poll():
                requests.append(json.loads(connection.recv_bytes()))
            for header, crop in answer_batch(loaded, requests):
                connection.send_bytes(json.dumps(header).encode())
                if crop is not None:
                    connection.send_bytes(crop)
    except (EOFError, OSError, KeyboardInterrupt):
        return


def _load(connection, name: str, threads: int):
    """The model, after telling the server it is ready; None (and the server told why) if it failed."""
    started = time.perf_counter()
    try:
        from core.backbones import warm_up
        from core.lazy import import_compute_stack

        import_compute_stack()
        import torch

        torch.set_num_threads(threads)
        loaded = warm_up(name)
    except Exception as error:  # noqa: BLE001 - reported to the server, which answers without us
        connection.send_bytes(json.dumps({"fatal": f"{type(error).__name__}: {error}"}).encode())
        return None
    connection.send_bytes(json.dumps({"ready": f"{name}, {threads} torch thread(s), "
                                               f"{time.perf_counter() - started:.1f} s after its start",
                                      "weights": str(loaded.weights), "note": loaded.note}).encode())
    return loaded


def answer_batch(loaded, requests: list[dict]) -> list[tuple[dict, bytes | None]]:
    """One forward pass for every usable image among `requests`; a reply (header, crop) for each."""
    import torch

    from core.classify import predict_batch, top_k
    from core.images import load_image

    started = time.perf_counter()
    tensors, replies = {}, {}
    for request in requests:
        try:
            tensors[request["id"]] = loaded.preprocess(load_image(request["path"]))
        except ImageLoadError as error:
            replies[request["id"]] = ({"id": request["id"], "image_error": {
                "label": error.label, "key": error.key, "unnamed": error.unnamed, "fields": error.fields}}, None)
        except Exception as error:  # noqa: BLE001 - this request's answer, not the worker's end
            replies[request["id"]] = ({"id": request["id"], "error": f"{type(error).__name__}: {error}"}, None)
    if tensors:
        probabilities = predict_batch(loaded, torch.stack(list(tensors.values())))
        seconds = time.perf_counter() - started
        wanted = {request["id"]: request.get("k", 5) for request in requests}
        for (request_id, tensor), row in zip(tensors.items(), probabilities):
            crop = loaded.to_display(tensor)
            replies[request_id] = ({"id": request_id, "top": top_k(row, loaded.labels, wanted[request_id]),
                                    "seconds": seconds, "batch": len(tensors), "crop_size": list(crop.size)},
                                   crop.tobytes())
    return [replies[request["id"]] for request in requests]


# --- the server's one worker -------------------------------------------------------------------

_worker: ModelWorker | None = None


def start_model_worker(name: str = BUNDLED_MODEL) -> ModelWorker | None:
    """Start the server's worker (once), unless TLL_MODEL_WORKER=0. Call it before importing the
    web framework: the model then loads on the other core while the page is built."""
    global _worker
    if _worker is None and os.environ.get(ENV_SWITCH, "1") != "0":
        _worker = ModelWorker(name)
    return _worker


def running_worker() -> ModelWorker | None:
    """The server's worker, if one was started and has not failed."""
    return _worker if _worker is not None and not _worker.failure else None
