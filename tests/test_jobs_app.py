"""Long jobs in the launched app, as an API caller drives them: Stop for each kind of job, the time
caps, the concurrency limit (a third trainer waits, and is told its place), per-visitor result files,
and the limits a caller can exceed by skipping the page's sliders."""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.utils import Status
from PIL import Image

from tests.conftest import AppServer, make_pets_zip

ZIP_SOURCE = "a .zip of class folders"


@pytest.fixture(scope="module")
def small_zip(tmp_path_factory, catsdogs_dir) -> Path:
    """Three cats and three dogs: enough for a run, small enough to keep the suite fast."""
    return make_pets_zip(tmp_path_factory.mktemp("zips") / "small.zip", catsdogs_dir, 3)


def train_args(zip_path: Path, mode: str = "scratch", epochs: int = 200) -> tuple:
    return (ZIP_SOURCE, handle_file(str(zip_path)), None, "cat vs dog", 10, 0.34, None, "tf_efficientnet_lite0",
            mode, epochs, 0, True)


def ideal_args(steps: int = 400) -> tuple:
    return ("281", "noise", None, "robust", 1.0, steps, 0)


def attack_args(steps: int = 100) -> tuple:
    # ε = 1 level towards a far class: PGD needs many steps, so the run is still going when stopped.
    return (handle_file("assets/coffee.png"), "779", 1, steps, 0, "pgd")


def wait_for_output(job, text: str, index: int, timeout: float = 180) -> None:
    """Until an intermediate output's `index`-th value contains `text` (the job is really running)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(text in str(output[index]) for output in job.outputs()):
            return
        if job.done():
            pytest.fail(f"the job ended before showing {text!r}: {job.result()}")
        time.sleep(0.2)
    pytest.fail(f"no output showed {text!r} within {timeout} s")


def wait_until_processing(job, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while job.status().code != Status.PROCESSING:
        assert time.time() < deadline and not job.done(), job.status()
        time.sleep(0.05)


# --- Stop through the API: each Stop ends its own kind of job, and says so ---

def test_finetune_stop_ends_the_run_and_keeps_the_best_model(app_url, small_zip):
    client = Client(app_url, verbose=False)
    job = client.submit(*train_args(small_zip), api_name="/finetune")
    wait_for_output(job, "Epoch", index=2)
    assert "Stopping" in client.predict(api_name="/finetune_stop")
    loss, accuracy, status, results, *_ = job.result(timeout=60)
    assert "Stopped early (Stop was pressed)" in status and "Stopped early" in results
    epochs = max(row[0] for row in loss.get("value", loss)["data"])
    assert epochs < 200
    assert client.predict(api_name="/finetune_stop") == "Nothing is training."


def test_ideal_stop_ends_the_run_with_a_png(app_url):
    client = Client(app_url, verbose=False)
    job = client.submit(*ideal_args(400), api_name="/ideal")
    wait_for_output(job, "Step", index=3)
    client.predict(api_name="/ideal_stop")
    image, filmstrip, plot, status, png = job.result(timeout=60)
    assert status.startswith("**Stopped (Stop was pressed)**")
    assert 0 < int(status.split("after ")[1].split(" steps")[0]) < 400
    with Image.open(png) as written:
        assert written.size == (224, 224)


def test_attack_stop_ends_the_attack_early(app_url):
    client = Client(app_url, verbose=False)
    job = client.submit(*attack_args(100), api_name="/attack")
    wait_until_processing(job)
    time.sleep(1.5)  # the model is loaded and PGD is stepping
    client.predict(api_name="/attack_stop")
    report = job.result(timeout=60)[5]
    assert "**stopped** (Stop was pressed)" in report
    assert int(report.split(" step(s)")[0].rsplit(", ", 1)[1]) < 100


def test_a_visitors_stop_does_not_stop_another_visitors_run(app_url):
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    job = alice.submit(*ideal_args(10), api_name="/ideal")
    wait_for_output(job, "Step", index=3)
    bob.predict(api_name="/ideal_stop")
    assert job.result(timeout=120)[3].startswith("**Done**")


# --- Per-visitor result files ---

def test_two_visitors_get_their_own_adversarial_png_and_none_is_left_behind(app_server):
    photos = {"coffee": "assets/coffee.png", "rocket": "assets/rocket.jpg"}
    clients = {name: Client(app_server.url, verbose=False) for name in photos}
    jobs = {name: clients[name].submit(handle_file(path), "281", 2, 5, 0, "pgd", api_name="/attack")
            for name, path in photos.items()}
    results = {name: job.result(timeout=180) for name, job in jobs.items()}
    assert results["coffee"][6] != results["rocket"][6]
    for name, (original, _, _, _, _, _, png) in results.items():
        with Image.open(png) as written, Image.open(original) as source:
            delta = np.abs(np.asarray(written, dtype=np.int16) - np.asarray(source.convert("RGB"), dtype=np.int16))
            assert delta.max() <= 2, name  # this visitor's own photo, changed by at most ε
    # Each PNG was deleted from the app's folder once Gradio had its copy: no visitor's file stays.
    left = [p for p in app_server.files() if p.parent.name.startswith("tll-optvis-")]
    assert left == []


# --- Limits an API caller meets (the page's sliders stop at them) ---

def expect_error(call, text: str) -> None:
    with pytest.raises(Exception) as error:
        call()
    assert text in str(error.value), str(error.value)


def test_over_the_step_and_epoch_limits_is_refused(client, small_zip):
    # Gradio checks each slider's range on the server, whoever calls.
    expect_error(lambda: client.predict(*ideal_args(401), api_name="/ideal"), "greater than maximum value 400")
    expect_error(lambda: client.predict(*attack_args(101), api_name="/attack"), "greater than maximum value 100")
    expect_error(lambda: client.predict(*train_args(small_zip, "frozen", 201), api_name="/finetune"),
                 "greater than maximum value 200")


def test_the_core_refuses_over_200_epochs_for_the_cli():
    from core import finetune

    with pytest.raises(ValueError, match="epochs must be between 1 and 200"):
        finetune.TrainSettings(epochs=201).resolved()


def test_a_file_over_20_mb_is_refused_with_its_size(client, tmp_path):
    big = tmp_path / "huge.png"
    # A real PNG header, then 21 MB: refused by its size before any decoding.
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(21 * 2**20))
    expect_error(lambda: client.predict(handle_file(str(big)), api_name="/classify"),
                 "huge.png: file is 21.0 MB, over the 20 MB limit")


def test_an_expected_visitor_error_leaves_no_traceback_in_the_log(app_server, client):
    since = len(app_server.log())
    expect_error(lambda: client.predict("a sample set", None, None, "cat vs dog", 10, 0.2, None,
                                        "tf_efficientnet_lite0", "frozen", 5, 0, True, api_name="/finetune"),
                 "no sample set chosen")
    time.sleep(0.5)
    assert app_server.tracebacks(since) == []


# --- Time caps and the concurrency limit, on an app started with short caps (8 s training, 4 s optimising) ---

@pytest.fixture(scope="module")
def capped_server(tmp_path_factory):
    server = AppServer(tmp_path_factory.mktemp("capped"),
                       {"TLL_MAX_TRAIN_SECONDS": "8", "TLL_MAX_OPTVIS_SECONDS": "4"})
    yield server
    server.stop()


def test_time_caps_end_training_and_ideal_runs(capped_server, small_zip):
    client = Client(capped_server.url, verbose=False)
    started = time.monotonic()
    status = client.predict(*train_args(small_zip), api_name="/finetune")[2]
    assert "Stopped early (the 8 s time cap per job was reached)" in status
    status = client.predict(*ideal_args(400), api_name="/ideal")[3]
    assert status.startswith("**Stopped (the 4 s time cap per job was reached)**")
    assert time.monotonic() - started < 120


def test_a_third_trainer_waits_and_is_told_its_place(capped_server, small_zip):
    clients = [Client(capped_server.url, verbose=False) for _ in range(3)]
    first = [c.submit(*train_args(small_zip), api_name="/finetune") for c in clients[:2]]
    for job in first:  # both trainers running at once (each until its 8 s cap)
        wait_for_output(job, "Training", index=2, timeout=120)
    third = clients[2].submit(*train_args(small_zip), api_name="/finetune")
    deadline = time.time() + 30
    while (status := third.status()).code not in (Status.IN_QUEUE, Status.PROCESSING):
        assert time.time() < deadline, status
        time.sleep(0.05)
    assert status.code == Status.IN_QUEUE and status.rank == 0 and status.queue_size >= 1, status
    assert all(not job.done() for job in first)
    for job in [*first, third]:  # each runs to its time cap, the third after a place frees up
        assert "time cap" in job.result(timeout=120)[2]
