"""Classify's model in a process of its own (core.model_worker, issue 14): the same answers as the
model in this process, concurrent callers batched, the loader's messages, and no hang when it dies."""
from __future__ import annotations

import concurrent.futures
import time

import numpy as np
import psutil
import pytest

from core import backbones
from core.classify import classify_image
from core.images import ImageLoadError, load_image
from core.model_worker import ModelWorker, WorkerUnavailable
from tests.conftest import ROOT, AppServer

PHOTOS = [str(ROOT / "assets" / name) for name in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")]


@pytest.fixture(scope="module")
def worker():
    started = ModelWorker()
    assert started.ready.wait(120) and started.failure is None, started.failure
    yield started
    started.stop()


@pytest.fixture(scope="module")
def bundled():
    return backbones.load_backbone()


def test_the_worker_answers_as_the_model_in_this_process(worker, bundled, imagenet_dir):
    photos = PHOTOS + [str(p) for p in sorted(imagenet_dir.glob("*.JPEG"))[:8]]
    for photo in photos:
        there = worker.classify(photo, k=5)
        here = classify_image(bundled, load_image(photo), k=5)
        assert [row["index"] for row in there["top"]] == [row["index"] for row in here["top"]], photo
        assert np.allclose([r["prob"] for r in there["top"]], [r["prob"] for r in here["top"]], atol=1e-3)
        assert np.array_equal(np.asarray(there["crop"]), np.asarray(here["crop"])), photo  # the crop it saw


def test_concurrent_callers_share_forward_passes_and_each_gets_its_own_answer(worker, bundled):
    expected = {photo: classify_image(bundled, load_image(photo), k=1)["top"][0]["index"] for photo in PHOTOS}
    calls = PHOTOS * 6
    with concurrent.futures.ThreadPoolExecutor(len(calls)) as pool:
        answers = list(pool.map(lambda photo: worker.classify(photo, k=1), calls))
    assert [a["top"][0]["index"] for a in answers] == [expected[photo] for photo in calls]
    assert max(a["batch"] for a in answers) > 1, "24 callers at once never shared a forward pass"


def test_a_bad_file_gets_the_loaders_own_message(worker, tmp_path):
    essay = tmp_path / "essay.jpg"
    essay.write_text("this is not a picture")
    with pytest.raises(ImageLoadError) as here:
        load_image(str(essay))
    with pytest.raises(ImageLoadError) as there:
        worker.classify(str(essay))
    assert str(there.value) == str(here.value) and "essay.jpg" in str(there.value)
    assert (there.value.key, there.value.fields) == (here.value.key, here.value.fields)  # so it can be translated
    assert worker.classify(PHOTOS[1], k=1)["top"][0]["label"] == "espresso"  # and the worker lives on


def test_a_dead_worker_fails_fast_and_the_tab_answers_without_it(monkeypatch):
    from core import model_worker
    from demo import classify as classify_tab

    doomed = ModelWorker()
    assert doomed.ready.wait(120) and doomed.failure is None
    monkeypatch.setattr(model_worker, "_worker", doomed)
    result, answered_by = classify_tab.answer_in_worker(PHOTOS[0], backbones.BUNDLED_MODEL, classify_tab.PRETRAINED)
    assert result["batch"] == 1 and answered_by.weights == backbones.BUNDLED == doomed.weights
    doomed._process.kill()
    started = time.monotonic()
    with pytest.raises(WorkerUnavailable):
        doomed.classify(PHOTOS[0], timeout=60)
    assert time.monotonic() - started < 10 and doomed.failure
    assert model_worker.running_worker() is None
    labels, _, status = classify_tab.classify(PHOTOS[0])  # answered in this process instead
    assert "cat" in next(iter(labels)) and "bundled" in status


def test_the_server_classifies_in_its_worker_and_takes_it_along_when_it_stops(tmp_path):
    from gradio_client import Client, handle_file

    server = AppServer(tmp_path)
    try:
        labels, _, status = Client(server.url, verbose=False).predict(handle_file(PHOTOS[0]), api_name="/classify")
        assert "cat" in labels["label"] and "bundled" in status
        children = psutil.Process(server.process.pid).children(recursive=True)
        assert any("multiprocessing" in " ".join(child.cmdline()) for child in children), "no worker process"
        assert "model ready in its own process" in server.log()
    finally:
        server.stop()
    gone, alive = psutil.wait_procs(children, timeout=15)
    assert not alive, f"worker processes outlived the server: {alive}"


def test_tll_model_worker_0_keeps_the_model_in_the_servers_process(monkeypatch):
    from core import model_worker

    monkeypatch.setattr(model_worker, "_worker", None)
    monkeypatch.setenv(model_worker.ENV_SWITCH, "0")
    assert model_worker.start_model_worker() is None and model_worker.running_worker() is None
