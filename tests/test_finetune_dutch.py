"""The Fine-tune tab's words in Dutch: core's data errors, the skipped-file list, results text (no browser)."""
from __future__ import annotations

import io
import zipfile

import pytest
from PIL import Image

from core import datasets


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _jpeg(colour=(200, 10, 10)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 40), colour).save(buffer, "JPEG")
    return buffer.getvalue()


def _error(source) -> datasets.DatasetError:
    with pytest.raises(datasets.DatasetError) as caught:
        datasets.from_zip(source)
    return caught.value


def test_core_data_errors_are_said_in_dutch_and_unchanged_in_english():
    from demo.finetune import dataset_error

    cases = {
        _zip({"../evil/a.jpg": _jpeg(), "cat/b.jpg": _jpeg()}): ("climbs out of the archive", "buiten het archief"),
        _zip({"cat/a.jpg": _jpeg()}): ("at least 2 are needed", "minstens 2 nodig"),
        b"not a zip": ("not a readable zip file", "geen leesbaar zip-bestand"),
        _zip({"cat/a.jpg": _jpeg(), "dog/readme.txt": b"hello"}): ("has no usable image", "geen bruikbare foto"),
    }
    for source, (english, dutch) in cases.items():
        error = _error(source)
        assert english in str(error) and error.key, str(error)
        assert dataset_error(error, "en").message == str(error)  # English: core's own words, exactly
        message = dataset_error(error, "nl").message
        assert dutch in message and english not in message, message
    # the skipped file inside the message is said in Dutch too
    message = dataset_error(_error(_zip({"cat/a.jpg": _jpeg(), "dog/readme.txt": b"hello"})), "nl").message
    assert "1 bestand(en) overgeslagen: 1 × geen afbeeldingsbestand (dog/readme.txt)" in message, message


def test_skipped_files_and_set_summary_in_dutch():
    from demo.finetune import set_summary, skipped_text

    image_set = datasets.from_zip(_zip({"kat/a.jpg": _jpeg(), "kat/b.jpg": _jpeg(), "hond/c.jpg": _jpeg((9, 9, 200)),
                                        "hond/leeg.jpg": b"", "hond/d.txt": b"text"}))
    assert set_summary(image_set, "en") == image_set.summary()
    assert skipped_text(image_set.skipped, "en") == datasets.skipped_text(image_set.skipped)
    dutch = set_summary(image_set, "nl")
    assert dutch.startswith("3 foto's in 2 klassen: hond (1), kat (2); 2 bestand(en) overgeslagen"), dutch
    assert "het bestand is leeg" in dutch and "geen afbeeldingsbestand" in dutch and "skipped" not in dutch


def test_plots_and_numbers_follow_the_language():
    from demo.finetune import _epoch_text, _plots

    history = [{"run": "#1 frozen", "epoch": 1, "train_loss": 0.5, "train_acc": 0.75, "val_loss": 0.25,
                "val_acc": 0.875, "seconds": 1.25}]
    english_loss, english_acc = _plots(history)
    assert english_loss["title"] == "Loss · #1 frozen" and english_acc["title"] == "Accuracy (%) · #1 frozen"
    assert set(english_loss["value"]["series"]) == {"#1 frozen: train", "#1 frozen: val"}
    dutch_loss, _ = _plots(history, lang="nl")
    assert dutch_loss["title"] == "Verlies (loss) · #1 bevroren" and dutch_loss["y_title"] == "kruisentropie-verlies"
    assert set(dutch_loss["value"]["series"]) == {"#1 bevroren: training", "#1 bevroren: validatie"}
    assert _epoch_text(history[0], object()) == "Epoch 1: validation accuracy 87.5%, loss 0.250 (1.2 s)"
    assert _epoch_text(history[0], object(), "nl") == "Epoch 1: validatienauwkeurigheid 87,5%, verlies 0,250 (1,2 s)"


def test_pets_note_in_dutch(monkeypatch):
    from demo.finetune import check_pets_available

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    english, dutch = check_pets_available("en"), check_pets_available("nl")
    assert "Photos:" in english and "Foto's:" in dutch
    assert any(word in dutch for word in ("Niet beschikbaar", "Klaar voor gebruik", "Wordt één keer")), dutch
    assert not any(word in dutch for word in ("Unavailable", "Ready:", "Downloaded once")), dutch
