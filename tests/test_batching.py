"""Concurrent Classify requests share forward passes and each gets its own answer (issue 14)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import torch

from core import backbones
from core.batching import SharedForward
from core.classify import classify_image, predict_batch
from core.images import load_image

PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"] * 3


@pytest.fixture(scope="module")
def loaded():
    return backbones.load_backbone()


def test_concurrent_requests_are_batched_and_answered_as_alone(loaded):
    images = [load_image(f"assets/{name}") for name in PHOTOS]
    alone = [classify_image(loaded, image)["top"] for image in images]
    shared = SharedForward(predict_batch, max_batch=8)
    start = threading.Barrier(len(images))

    def request(image):
        start.wait()
        return classify_image(loaded, image, forward=shared)["top"]

    with ThreadPoolExecutor(len(images)) as pool:
        together = list(pool.map(request, images))
    assert [t[0]["label"] for t in together] == [a[0]["label"] for a in alone]
    for t, a in zip(together, alone):
        assert abs(t[0]["prob"] - a[0]["prob"]) < 1e-3
    assert max(shared.batch_sizes) > 1 and max(shared.batch_sizes) <= 8
    assert sum(shared.batch_sizes) == len(images)


def test_a_failing_pass_fails_its_requests_and_the_next_ones_still_run(loaded):
    calls = []

    def flaky(model, batch):
        calls.append(len(batch))
        if len(calls) == 1:
            raise RuntimeError("out of memory")
        return predict_batch(model, batch)

    shared = SharedForward(flaky)
    tensor = torch.zeros(3, *loaded.input_size)
    with pytest.raises(RuntimeError, match="out of memory"):
        shared(loaded, tensor)
    assert shared(loaded, tensor).shape == (1000,)
