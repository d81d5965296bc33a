"""Oxford-IIIT Pet as a data source: the real loader, run on a small parquet file that the test
writes into a temporary Hugging Face hub cache (the layout huggingface_hub itself writes), in
offline mode; and the quick, clear answer when there is neither network nor cache."""
from __future__ import annotations

import hashlib
import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from core import pets

ROOT = Path(__file__).resolve().parent.parent
COMMIT = "0123456789abcdef0123456789abcdef01234567"
# breed -> how many photos the fake file holds
BREED_COUNTS = {"Abyssinian": 5, "Bengal": 4, "beagle": 5, "pug": 4}


def _photo(breed: str, number: int) -> bytes:
    """A small JPEG that differs per breed (colour, shape) and per photo (position)."""
    hue = sum(map(ord, breed)) % 255
    image = Image.new("RGB", (96, 80), (hue, 255 - hue, (hue * 7) % 255))
    draw = ImageDraw.Draw(image)
    box = (8 + number * 6, 10, 50 + number * 6, 60)
    (draw.ellipse if pets.is_cat(breed) else draw.rectangle)(box, fill=(255 - hue, hue, 40))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def write_cached_parquet(hf_home: Path, with_names: bool = True) -> Path:
    """The pets parquet file in `hf_home`'s hub cache: blobs/, snapshots/<commit>/ (a link), refs/main."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [(breed, n) for breed, count in BREED_COUNTS.items() for n in range(count)]
    rows = rows[::2] + rows[1::2]  # classes interleaved, as in a shuffled split
    table = pa.table({
        "image": pa.array([{"bytes": _photo(b, n), "path": f"{b}_{n}.jpg"} for b, n in rows],
                          type=pa.struct([("bytes", pa.binary()), ("path", pa.string())])),
        "label": pa.array([pets.BREEDS.index(b) for b, _ in rows], type=pa.int64()),
    })
    if with_names:
        features = {"image": {"_type": "Image"}, "label": {"names": list(pets.BREEDS), "_type": "ClassLabel"}}
        table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": features}})})
    repo = hf_home / "hub" / ("datasets--" + pets.REPO.replace("/", "--"))
    buffer = io.BytesIO()
    pq.write_table(table, buffer, row_group_size=4)  # several row groups: only the needed ones are read
    data = buffer.getvalue()
    blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
    blob.parent.mkdir(parents=True)
    blob.write_bytes(data)
    snapshot = repo / "snapshots" / COMMIT / pets.FILENAME
    snapshot.parent.mkdir(parents=True)
    snapshot.symlink_to(os.path.relpath(blob, snapshot.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


def _cli(*args: str, env: dict) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1", **env})
    return done, time.monotonic() - started


def _lines(done: subprocess.CompletedProcess) -> list[dict]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]


def _hub_env(hf_home: Path, offline: bool = True) -> dict:
    return {"HF_HOME": str(hf_home), "HF_HUB_CACHE": str(hf_home / "hub"),
            "HF_HUB_OFFLINE": "1" if offline else "0"}


@pytest.mark.parametrize("how", ["HF_HUB_OFFLINE", "unreachable hub"])
def test_train_oxford_pets_without_network_or_cache_is_a_clear_error_within_5_s(tmp_path, how):
    env = _hub_env(tmp_path / "empty", offline=how == "HF_HUB_OFFLINE")
    if how == "unreachable hub":
        # A host name that never resolves (RFC 2606), as in a classroom without internet.
        env.update(HF_ENDPOINT="https://hub.invalid")
    done, seconds = _cli("train", "oxford-pets", "--out", str(tmp_path / "m.safetensors"), env=env)
    print(f"{how}: answered in {seconds:.2f} s")
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr
    (line,) = _lines(done)
    assert "Oxford-IIIT Pet" in line["error"] and "needs the network" in line["error"]
    assert ("HF_HUB_OFFLINE" in line["error"]) == (how == "HF_HUB_OFFLINE")
    assert seconds < 5
    assert not (tmp_path / "m.safetensors").exists()


def test_train_oxford_pets_reads_the_cached_parquet_offline(tmp_path):
    hf_home = tmp_path / "hf"
    write_cached_parquet(hf_home)
    out = tmp_path / "pets.safetensors"
    done, seconds = _cli("train", "oxford-pets", "--per-class", "4", "--epochs", "5", "--seed", "3",
                         "--out", str(out), env=_hub_env(hf_home))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    final = _lines(done)[-1]
    assert final["done"] and final["classes"] == ["cat", "dog"]
    # 4 per class, picked from the 9 of each kind; frozen mode on classes this small trains on all of
    # them and cross-validates the accuracy
    assert final["train_images"] == 8 and final["estimated_by"] == "leave-one-out cross-validation"
    assert "CC BY-SA 4.0" in final["data"] and "Parkhi" in final["attribution"]
    assert out.exists() and Path(f"{out}.json").exists()

    done, _ = _cli("train", "oxford-pets", "--breeds", "--per-class", "3", "--epochs", "2",
                   "--out", str(tmp_path / "breeds.safetensors"), env=_hub_env(hf_home))
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    final = _lines(done)[-1]
    assert final["classes"] == sorted(BREED_COUNTS)  # names from the file's own metadata
    assert final["train_images"] == 12  # all of them train; the accuracy is cross-validated


def test_sample_is_the_same_for_a_seed_and_uses_the_apps_loader(tmp_path, monkeypatch):
    snapshot = write_cached_parquet(tmp_path / "hf", with_names=False)  # names from the known order
    first = pets.load_sample(3, breeds=True, seed=1, path=str(snapshot))
    again = pets.load_sample(3, breeds=True, seed=1, path=str(snapshot))
    other = pets.load_sample(3, breeds=True, seed=2, path=str(snapshot))
    assert first.class_names == tuple(sorted(BREED_COUNTS)) and first.counts() == [3, 3, 3, 3]
    assert first.names == again.names and first.names != other.names
    assert all(name.split("/")[1].startswith(name.split("/")[0]) for name in first.names)  # right labels
    assert all(image.mode == "RGB" for image in first.images)
    cats_dogs = pets.load_sample(9, seed=0, path=str(snapshot))
    assert cats_dogs.class_names == ("cat", "dog") and cats_dogs.counts() == [9, 9]
    with pytest.raises(pets.DatasetError, match="between 2 and"):
        pets.load_sample(1, path=str(snapshot))
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(snapshot.read_bytes()[:200])
    with pytest.raises(pets.DatasetError, match="unreadable"):
        pets.load_sample(3, path=str(broken))


def test_cli_defaults_match_the_core_modules():
    from core import backbones, finetune, finetune_cli

    assert finetune_cli.BUNDLED_MODEL == backbones.BUNDLED_MODEL
    assert finetune_cli.MODES == finetune.MODES


def test_requirements_install_pyarrow():
    requirements = (ROOT / "requirements.txt").read_text().lower().split()
    assert any(line.startswith("pyarrow") for line in requirements)
    assert any(line.startswith("huggingface_hub") or line.startswith("huggingface-hub") for line in requirements)
