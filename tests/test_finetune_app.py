"""The Fine-tune tab in the launched app: the /finetune endpoint, two visitors at once, and a real browser."""
from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file

from core.trained import load_trained_model

ZIP_SOURCE = "a .zip of class folders"


def _class_zip(path: Path, folders: dict[str, Path], per_class: int, offset: int = 0) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, folder in folders.items():
            for photo in sorted(folder.glob("*.jpg"))[offset:offset + per_class]:
                archive.write(photo, f"set/{name}/{photo.name}")
        archive.writestr("__MACOSX/set/._junk", b"junk")
    return path


@pytest.fixture(scope="module")
def pets_zip(tmp_path_factory, catsdogs_dir) -> Path:
    return _class_zip(tmp_path_factory.mktemp("zips") / "pets.zip",
                      {"cat": catsdogs_dir / "cat", "dog": catsdogs_dir / "dog"}, per_class=6)


def _train(client: Client, zip_path: Path, mode: str = "frozen", epochs: int = 25):
    return client.submit(ZIP_SOURCE, handle_file(str(zip_path)), None, "cat vs dog", 10, 0.34, None,
                         "tf_efficientnet_lite0", mode, epochs, 0, True, api_name="/finetune")


def _classify(client: Client, backbone: str):
    return client.predict(handle_file("assets/chelsea.png"), backbone, "pretrained", api_name="/classify")


def test_two_visitors_train_at_once_and_never_see_each_others_models(app_url, pets_zip, catbreeds_dir, tmp_path):
    breeds_zip = _class_zip(tmp_path / "breeds.zip", {"abyssinian": catbreeds_dir / "Abyssinian",
                                                      "curl": catbreeds_dir / "American_Curl"}, per_class=6)
    alice, bob = Client(app_url, verbose=False), Client(app_url, verbose=False)
    alice_job, bob_job = _train(alice, pets_zip), _train(bob, breeds_zip)
    alice_out, bob_out = alice_job.result(timeout=240), bob_job.result(timeout=240)

    loss, accuracy, status, results, per_class, confusion, wrong, export = alice_out
    # The Classify picker is refreshed by an event chained after training (.then), per visitor.
    picker, bob_picker = (client.predict(api_name="/classify_backbones") for client in (alice, bob))
    # 6 photos a class in frozen mode: all 12 train; each is predicted by a model that did not see it
    assert "Done" in status and "cross-validated accuracy" in results
    assert "estimated_by: leave-one-out cross-validation" in results
    assert confusion["headers"][1:] == ["cat", "dog"] and len(confusion["data"]) == 2
    assert sum(row[1] + row[2] for row in confusion["data"]) == 12
    assert [row[0] for row in per_class["data"]] == ["cat", "dog"]
    loss, accuracy = (plot.get("value", plot) for plot in (loss, accuracy))  # an update carries its value
    assert {row[2] for row in loss["data"]} == {"#1 frozen: train", "#1 frozen: val"}
    assert max(row[0] for row in accuracy["data"]) == 25
    model_file = next(f for f in export if str(f).endswith(".safetensors"))
    assert any(str(f).endswith(".safetensors.json") for f in export)
    assert load_trained_model(model_file).labels == ("cat", "dog")  # the download is a working model

    alice_names = [value for _, value in picker["choices"] if "(yours)" in _]
    bob_names = [value for _, value in bob_picker["choices"] if "(yours)" in _]
    assert len(alice_names) == len(bob_names) == 1
    assert "cat+dog" in alice_names[0] and "abyssinian+curl" in bob_names[0]
    # each visitor's Classify tab answers with their own classes, and only theirs
    labels, _, status = _classify(alice, alice_names[0])
    assert {c["label"] for c in labels["confidences"]} == {"cat", "dog"} and labels["label"] == "cat"
    with pytest.raises(Exception) as error:  # Alice's model does not exist for Bob
        _classify(bob, alice_names[0])
    # Bob's backbone list (checked by Gradio per session) holds his model, not Alice's.
    message = str(error.value)
    assert f"{alice_names[0]} is not in the list of choices" in message, message
    assert bob_names[0] in message and alice_names[0] not in message.split("choices:")[1], message
    labels, _, _ = _classify(bob, bob_names[0])
    assert {c["label"] for c in labels["confidences"]} == {"abyssinian", "curl"}


def test_hostile_zip_is_refused_with_a_message(client, tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("cat/a.jpg", b"x")
        archive.writestr("dog/../../../tmp/owned.jpg", b"x")
    with pytest.raises(Exception) as error:
        client.predict(ZIP_SOURCE, handle_file(str(evil)), None, "cat vs dog", 10, 0.2, None,
                       "tf_efficientnet_lite0", "frozen", 5, 0, True, api_name="/finetune")
    assert "climbs out of the archive" in str(error.value)


def _wait_for_series(page, count: int) -> None:
    """Both plots draw `count` series, named in their legends (run: train / run: val)."""
    for plot in ("#finetune-loss", "#finetune-accuracy"):
        page.wait_for_function(f"document.querySelectorAll('{plot} .role-legend-label').length >= {count}")
    names = page.locator("#finetune-loss .role-legend-label").evaluate_all("els => els.map(e => e.textContent)")
    assert any(str(name).endswith(": train") for name in names), names
    assert any(str(name).endswith(": val") for name in names), names


def test_browser_trains_plots_explains_and_exports(page, pets_zip):
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-zip input[type=file]").set_input_files(str(pets_zip))
    page.wait_for_selector("#finetune-zip :text('pets.zip')")
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Done')", timeout=120_000)
    # the live plot has a train and a validation curve
    _wait_for_series(page, 2)
    assert "cross-validated accuracy" in page.locator("#finetune-results").inner_text()
    # clicking a confusion-matrix cell shows the images of that cell
    page.locator("#finetune-confusion [data-testid='cell-0-1']").click()
    page.wait_for_selector(":text('true cat, predicted cat')")
    # the export offers the model and its config for download
    export = page.locator("#finetune-export")
    assert export.locator("a[href*='.safetensors']").count() >= 1
    with page.expect_download() as download:
        export.locator("a[href$='.safetensors'], a[download$='.safetensors']").first.click()
    assert download.value.suggested_filename.endswith(".safetensors")

    # a second run (from scratch, slow) is stopped from the Stop button; its curve joins the plot
    page.locator("#finetune-mode label:has-text('from scratch')").click()
    page.wait_for_timeout(500)  # the mode resets the epochs; then ask for many, to have time to stop
    page.locator("#finetune-epochs input[type=number]").fill("100")
    page.locator("#finetune-epochs input[type=number]").press("Enter")
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Epoch 1')", timeout=120_000)
    clicked = time.monotonic()
    page.locator("#finetune-stop").click()
    page.wait_for_selector("#finetune-results :text('Stopped early')", timeout=60_000)
    print(f"stopped {time.monotonic() - clicked:.1f} s after the click")
    assert time.monotonic() - clicked < 15  # ~2 s on an idle machine: micro-batches check the flag
    _wait_for_series(page, 4)


def test_learning_curve_endpoint_draws_pretrained_and_random_points(client, pets_zip):
    picture, table, status = client.predict(ZIP_SOURCE, handle_file(str(pets_zip)), None, "cat vs dog", 10, 0,
                                            "tf_efficientnet_lite0", "1,2", 2, api_name="/learning_curve")
    assert "Done" in status and "4 points" in status
    rows = table["data"]
    assert [(row[0], row[1]) for row in rows] == [(1, "pretrained"), (1, "random"), (2, "pretrained"), (2, "random")]
    assert all(row[5] == 2 and row[6] == 8 for row in rows)  # 2 draws; 4 of the 6 photos a class held out
    from PIL import Image

    with Image.open(picture) as image:
        assert image.width > 400
