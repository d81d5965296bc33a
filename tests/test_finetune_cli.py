"""`python app.py train` and `classify --model`, run as a user would."""
from __future__ import annotations

import json
import shutil
import zipfile

from tests.conftest import run_cli


def _lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def test_train_then_classify_with_the_class_names(tmp_path, catsdogs_dir):
    data = tmp_path / "pets"
    for name in ("cat", "dog"):
        (data / name).mkdir(parents=True)
        for photo in sorted((catsdogs_dir / name).glob("*.jpg"))[:6]:
            shutil.copy(photo, data / name / photo.name)
    (data / "dog" / "list.csv").write_text("a,b\n")
    out = tmp_path / "pets.safetensors"
    done = run_cli("train", str(data), "--out", str(out), "--epochs", "15", "--val-split", "0.34", "--seed", "3")
    assert done.returncode == 0, done.stderr[-2000:]
    lines = _lines(done.stdout)
    epochs, final = lines[:-1], lines[-1]
    assert [e["epoch"] for e in epochs] == list(range(1, 16))
    assert all({"epoch", "train_loss", "val_loss", "val_acc", "seconds"} <= set(e) for e in epochs)
    assert final["done"] and final["classes"] == ["cat", "dog"] and final["mode"] == "frozen"
    # 6 photos a class: frozen mode trains on all 12 and cross-validates (leave-one-out)
    assert final["estimated_by"] == "leave-one-out cross-validation"
    assert final["val_images"] == 12 and final["train_images"] == 12
    assert final["val_acc"] >= 0.75
    assert [s["file"] for s in final["skipped"]] == ["dog/list.csv"]
    assert out.exists() and (tmp_path / "pets.safetensors.json").exists()

    photos = [str(p) for p in sorted((catsdogs_dir / "cat").glob("*.jpg"))[20:23]]
    labelled = run_cli("classify", "--model", str(out), "--top", "2", *photos)
    assert labelled.returncode == 0, labelled.stderr[-2000:]
    results = _lines(labelled.stdout)
    assert len(results) == 3 and all(r["weights"] == "trained" for r in results)
    assert all({t["label"] for t in r["top"]} == {"cat", "dog"} for r in results)
    assert sum(r["top"][0]["label"] == "cat" for r in results) >= 2


def test_bad_data_gives_a_json_error(tmp_path):
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as archive:
        archive.writestr("cat/a.png", b"x")
        archive.writestr("../../outside.png", b"x")
    failed = run_cli("train", str(evil), "--out", str(tmp_path / "m.safetensors"))
    assert failed.returncode != 0
    error = _lines(failed.stdout)[-1]
    assert "climbs out" in error["error"] and "Traceback" not in failed.stderr
    assert not (tmp_path / "m.safetensors").exists() and not (tmp_path.parent / "outside.png").exists()
