"""Top-k classification: one image for the UI, or many files batched for the CLI."""
from __future__ import annotations

import concurrent.futures
import time
from typing import Iterable, Iterator

import torch
from PIL import Image

from core.backbones import LoadedModel
from core.images import ImageLoadError, load_image


def top_k(probs: torch.Tensor, labels, k: int) -> list[dict]:
    """[{label, index, prob}, ...] for one row of probabilities, best first."""
    k = max(1, min(int(k), probs.numel()))
    values, indices = probs.topk(k)
    return [
        {"label": labels[i], "index": int(i), "prob": round(float(p), 6)}
        for p, i in zip(values.tolist(), indices.tolist())
    ]


@torch.inference_mode()
def predict_batch(loaded: LoadedModel, batch: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities for a normalised NCHW batch."""
    logits = loaded.model(batch.to(loaded.device))
    return logits.float().softmax(dim=-1).cpu()


def classify_image(loaded: LoadedModel, image: Image.Image, k: int = 5) -> dict:
    """One RGB image -> {"top": [...], "crop": PIL image the model saw, "seconds": float}."""
    started = time.perf_counter()
    tensor = loaded.preprocess(image)
    probs = predict_batch(loaded, tensor.unsqueeze(0))[0]
    return {
        "top": top_k(probs, loaded.labels, k),
        "crop": loaded.to_display(tensor),
        "seconds": time.perf_counter() - started,
    }


def _prepare(loaded: LoadedModel, path: str):
    try:
        return loaded.preprocess(load_image(path)), None
    except ImageLoadError as error:
        return None, str(error)


def classify_files(loaded: LoadedModel, paths: Iterable[str], k: int = 5, batch_size: int = 32) -> Iterator[dict]:
    """Yield {"file", "top"} or {"file", "error"} per path, in order.

    Decoding and resizing run in a small thread pool (PIL releases the GIL) while the
    network works on the previous batch, so many files cost little more than the
    forward passes themselves.
    """
    paths = list(paths)
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        prepared = pool.map(lambda p: _prepare(loaded, p), paths)
        pending: list[tuple[str, torch.Tensor]] = []
        results: dict[str, dict] = {}
        order: list[str] = []

        def flush():
            if pending:
                probs = predict_batch(loaded, torch.stack([t for _, t in pending]))
                for (key, _), row in zip(pending, probs):
                    results[key]["top"] = top_k(row, loaded.labels, k)
                pending.clear()

        for index, (path, (tensor, error)) in enumerate(zip(paths, prepared)):
            key = f"{index}"
            order.append(key)
            results[key] = {"file": str(path)}
            if error:
                results[key]["error"] = error
            else:
                pending.append((key, tensor))
            if len(pending) >= batch_size:
                flush()
                # Everything so far is finished: emit it in order, keeping memory flat.
                for done in order:
                    yield results.pop(done)
                order.clear()
        flush()
        for key in order:
            yield results[key]
