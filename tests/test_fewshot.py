"""Few photos, right answers (issue 9): the frozen head on tiny sets, honest estimates, one photo per
class, symlinked folders, and the learning curve. Real weights, real photos (skipped without ../shared)."""
from __future__ import annotations

import json
import random
import shutil
import threading

import pytest
import torch

from core import curve, datasets, fewshot, finetune
from tests.conftest import run_cli

DRAWS = 3


@pytest.fixture(scope="module")
def catsdogs(catsdogs_dir) -> datasets.ImageSet:
    """60 photos of each class (draws come from them; the rest of a draw's 120 are its test photos)."""
    return datasets.from_sources({name: sorted((catsdogs_dir / name).glob("*.jpg"))[:60] for name in ("cat", "dog")})


@pytest.fixture(scope="module")
def catsdogs_features(catsdogs) -> torch.Tensor:
    base = finetune.backbones.load_backbone()
    return list(finetune.extract_features(base, catsdogs.images))[-1][1]


def _draw(image_set: datasets.ImageSet, per_class: int, seed: int) -> tuple[list[int], list[int]]:
    rng = random.Random(seed)
    picked = []
    for label in range(len(image_set.class_names)):
        picked += rng.sample([i for i, y in enumerate(image_set.labels) if y == label], per_class)
    chosen = set(picked)
    return sorted(picked), [i for i in range(len(image_set)) if i not in chosen]


def _held_out_accuracy(result, features: torch.Tensor, labels: list[int]) -> float:
    with torch.no_grad():
        predicted = result.model.head(features).argmax(1)
    return float((predicted == torch.tensor(labels)).float().mean())


def test_five_photos_per_class_train_on_all_and_are_right_on_held_out_photos(catsdogs, catsdogs_features):
    accs = []
    for seed in range(DRAWS):
        picked, rest = _draw(catsdogs, 5, seed)
        train_set, val_set = finetune.split_for_training(catsdogs.subset(picked), finetune.FROZEN, 0.2, seed)
        assert val_set is None  # nothing held out of 5 photos: all train, accuracy cross-validated
        result = finetune.run_to_end(finetune.train(train_set, val_set, finetune.TrainSettings(seed=seed)))
        assert result.estimated_by == fewshot.LEAVE_ONE_OUT and result.train_images == 10
        assert len(result.val_predictions) == 10 and sum(map(sum, result.confusion)) == 10
        assert 0.5 <= result.val_acc <= 1.0
        accs.append(_held_out_accuracy(result, catsdogs_features[rest], [catsdogs.labels[i] for i in rest]))
    print("5 per class, held-out accuracy per draw:", accs)
    assert sum(accs) / len(accs) >= 0.94 and min(accs) >= 0.9  # the old SGD head: 0.87-0.97


def test_one_photo_per_class_trains_and_says_no_accuracy_can_be_estimated(catsdogs, catsdogs_features):
    accs = []
    for seed in range(DRAWS):
        picked, rest = _draw(catsdogs, 1, seed)
        train_set, val_set = finetune.split_for_training(catsdogs.subset(picked), finetune.FROZEN, 0.2, seed)
        events = list(finetune.train(train_set, val_set, finetune.TrainSettings(epochs=20)))
        epochs = [e for e in events if e["event"] == "epoch"]
        assert len(epochs) == 20 and all(e["val_acc"] is None and e["train_loss"] is not None for e in epochs)
        result = events[-1]["result"]
        assert result.estimated_by == fewshot.NOT_ESTIMATED and result.val_acc is None
        assert "not estimated" in result.estimate_text
        json.dumps(result.metrics(), allow_nan=False)  # valid JSON: no NaN stands in for "unknown"
        accs.append(_held_out_accuracy(result, catsdogs_features[rest], [catsdogs.labels[i] for i in rest]))
    print("1 per class, held-out accuracy per draw:", accs)
    assert sum(accs) / len(accs) >= 0.75


def test_leave_one_out_estimate_is_close_to_the_held_out_accuracy(catbreeds_dir):
    """A hard set (5 cat breeds, 5 photos each): the cross-validated estimate is near the accuracy on
    photos the model never saw (a fold that saw its test photo would claim ~100 %)."""
    breeds = datasets.from_sources({d.name: sorted(d.glob("*.jpg"))[:15]
                                    for d in sorted(catbreeds_dir.iterdir()) if d.is_dir()})
    picked, rest = _draw(breeds, 5, 0)
    result = finetune.run_to_end(finetune.train(breeds.subset(picked), None, finetune.TrainSettings()))
    assert result.estimated_by == fewshot.LEAVE_ONE_OUT
    base = finetune.backbones.load_backbone()
    features = list(finetune.extract_features(base, [breeds.images[i] for i in rest]))[-1][1]
    held_out = _held_out_accuracy(result, features, [breeds.labels[i] for i in rest])
    print(f"LOO estimate {result.val_acc:.3f}, held-out {held_out:.3f}")
    assert result.val_acc > 1.5 / 5 and abs(result.val_acc - held_out) < 0.25


def test_network_modes_keep_a_validation_split_and_one_photo_trains_there_too(catsdogs):
    picked, _ = _draw(catsdogs, 5, 0)
    train_set, val_set = finetune.split_for_training(catsdogs.subset(picked), finetune.TOP, 0.2, 0)
    assert len(val_set) == 2 and len(train_set) == 8
    one, _ = _draw(catsdogs, 1, 0)
    train_set, val_set = finetune.split_for_training(catsdogs.subset(one), finetune.TOP, 0.2, 0)
    assert val_set is None
    result = finetune.run_to_end(finetune.train(train_set, None, finetune.TrainSettings(mode="top", epochs=1)))
    assert result.estimated_by == fewshot.NOT_ESTIMATED and result.val_acc is None and len(result.history) == 1


def test_symlinked_photos_train_and_skips_are_counted_with_reasons(tmp_path, catsdogs_dir):
    for name in ("cat", "dog"):
        (tmp_path / name).mkdir()
        for photo in sorted((catsdogs_dir / name).glob("*.jpg"))[:5]:
            (tmp_path / name / photo.name).symlink_to(photo)
    (tmp_path / "dog" / "gone.jpg").symlink_to(tmp_path / "nowhere.jpg")
    (tmp_path / "cat" / "notes.txt").write_text("not a photo")
    image_set = datasets.from_folder(tmp_path)
    assert image_set.counts() == [5, 5]
    assert "2 file(s) skipped" in image_set.summary() and "broken symbolic link" in image_set.summary()
    done = run_cli("train", str(tmp_path), "--out", str(tmp_path / "m.safetensors"), "--epochs", "10")
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    final = json.loads(done.stdout.splitlines()[-1])
    assert final["estimated_by"] == "leave-one-out cross-validation" and final["val_images"] == 10
    assert final["train_images"] == 10 and final["val_acc"] >= 0.8
    assert {s["file"] for s in final["skipped"]} == {"dog/gone.jpg", "cat/notes.txt"}
    # only links, all broken: the message says how many were skipped and why
    broken = tmp_path / "broken"
    for name in ("a", "b"):
        (broken / name).mkdir(parents=True)
        (broken / name / "x.jpg").symlink_to(tmp_path / "nowhere.jpg")
    with pytest.raises(datasets.DatasetError, match=r"2 file\(s\) skipped: 2 × broken symbolic link"):
        datasets.from_folder(broken)


def test_cli_takes_many_classes(tmp_path, imagenet_dir):
    """The web app's class limit (50) protects a shared server; the CLI runs on the user's machine."""
    photos = sorted(imagenet_dir.glob("*.*"))
    photos = [p for p in photos if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    for number in range(205):
        folder = tmp_path / "data" / f"class{number:03d}"
        folder.mkdir(parents=True)
        (folder / "a.jpg").symlink_to(photos[number % len(photos)])
    done = run_cli("train", str(tmp_path / "data"), "--out", str(tmp_path / "m.safetensors"), "--epochs", "3",
                   timeout=600)
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    final = json.loads(done.stdout.splitlines()[-1])
    assert len(final["classes"]) == 205 and final["estimated_by"] == "none" and final["val_acc"] is None


def test_curve_cli_pretrained_beats_random_weights(tmp_path, catsdogs_dir):
    data = tmp_path / "pets"
    for name in ("cat", "dog"):
        (data / name).mkdir(parents=True)
        for photo in sorted((catsdogs_dir / name).glob("*.jpg"))[-14:]:
            shutil.copy(photo, data / name / photo.name)
    out = tmp_path / "curve.png"
    done = run_cli("curve", str(data), "--sizes", "1,2,5", "--draws", "2", "--out", str(out), "--seed", "1")
    assert done.returncode == 0, done.stdout[-1000:] + done.stderr[-2000:]
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    points, last = lines[:-1], lines[-1]
    assert last == {"out": str(out)}
    assert [(p["size"], p["weights"]) for p in points] == [(s, w) for s in (1, 2, 5) for w in ("pretrained", "random")]
    assert all(set(p) == {"size", "weights", "mean_acc", "min_acc", "max_acc", "draws", "test_images"} for p in points)
    assert all(p["draws"] == 2 and p["test_images"] == 18 and p["min_acc"] <= p["mean_acc"] <= p["max_acc"]
               for p in points)
    at = {(p["size"], p["weights"]): p["mean_acc"] for p in points}
    assert at[5, "pretrained"] >= 0.85 and at[5, "pretrained"] >= at[5, "random"] + 0.2
    from PIL import Image

    with Image.open(out) as picture:
        assert picture.format == "PNG" and picture.width > 400
        colours = picture.convert("RGB").getcolors(1 << 20)
    assert len(colours) > 50  # a drawn plot, not a blank image


def test_curve_stops_between_points_and_refuses_bad_sizes(catsdogs):
    small = catsdogs.subset(_draw(catsdogs, 8, 0)[0])
    stop = threading.Event()
    events = []
    for event in curve.learning_curve(small, [1, 2, 4], draws=2, stop=stop):
        events.append(event)
        if event["event"] == "point":
            stop.set()
    points = [e for e in events if e["event"] == "point"]
    assert len(points) == 1 and events[-1]["event"] == "done" and events[-1]["stopped"]
    with pytest.raises(ValueError, match="sizes must be whole numbers"):
        curve.parse_sizes("1,two")
    with pytest.raises(datasets.DatasetError, match="no size fits"):
        list(curve.learning_curve(small, [50], draws=1))
