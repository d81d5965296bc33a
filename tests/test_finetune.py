"""Fine-tuning core: safe data loading, splits, the four modes, stop, determinism, model files."""
from __future__ import annotations

import io
import json
import shutil
import threading
import zipfile
from pathlib import Path

import pytest
import torch
from PIL import Image

from core import datasets, finetune, trained
from core.classify import classify_files

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def _photos(folder: Path, count: int) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:count]


@pytest.fixture(scope="module")
def small_catsdogs(tmp_path_factory, catsdogs_dir) -> Path:
    """8 cats and 8 dogs in class folders, plus the junk real folders collect."""
    root = tmp_path_factory.mktemp("catsdogs")
    for name in ("cat", "dog"):
        (root / name).mkdir()
        for photo in _photos(catsdogs_dir / name, 8):
            shutil.copy(photo, root / name / photo.name)
    (root / "dog" / "notes.txt").write_text("not a photo")
    (root / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    (root / ".DS_Store").write_bytes(b"\0\0")
    (root / "__MACOSX").mkdir()
    (root / "__MACOSX" / "._cat.jpg").write_bytes(b"junk")
    return root


@pytest.fixture(scope="module")
def catsdogs_set(small_catsdogs) -> datasets.ImageSet:
    return datasets.from_folder(small_catsdogs)


def _zip_bytes(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _png(color) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), color).save(buffer, "PNG")
    return buffer.getvalue()


# --- data --------------------------------------------------------------------------------

def test_folder_skips_and_lists_non_images(catsdogs_set):
    assert catsdogs_set.class_names == ("cat", "dog")  # __MACOSX is not a class
    assert catsdogs_set.counts() == [8, 8]
    skipped = dict(catsdogs_set.skipped)
    assert "text file" in skipped["dog/notes.txt"]
    assert "cat/broken.jpg" in skipped
    assert all(max(image.size) <= datasets.KEEP_SIDE for image in catsdogs_set.images)


def test_zip_with_top_folder_and_junk():
    data = _zip_bytes({"set/red/a.png": _png("red"), "set/red/b.png": _png("red"), "set/blue/a.png": _png("blue"),
                       "set/blue/deeper/b.png": _png("blue"), "__MACOSX/set/red/._a.png": b"junk",
                       "set/readme.md": b"# hello", "set/blue/x.pdf": b"%PDF-1.4 ..."})
    image_set = datasets.from_zip(data)
    assert image_set.class_names == ("blue", "red")
    assert image_set.counts() == [2, 2]
    assert {name for name, _ in image_set.skipped} == {"readme.md", "blue/x.pdf"}
    assert "PDF" in dict(image_set.skipped)["blue/x.pdf"]


@pytest.mark.parametrize("evil", ["../../escape/a.png", "/etc/cron.d/a.png", "cls/../../a.png", "C:/windows/a.png"])
def test_zip_slip_is_refused(evil, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = _zip_bytes({"red/a.png": _png("red"), "blue/a.png": _png("blue"), evil: _png("green")})
    with pytest.raises(datasets.DatasetError, match="refused"):
        datasets.from_zip(data)
    assert list(tmp_path.iterdir()) == []  # nothing was written anywhere


def test_zip_bomb_is_refused(monkeypatch):
    # A genuine bomb: 50 MB of zeros compresses to ~50 KB; the limit is lowered so the test stays
    # small. Its honest header is refused before a byte is unpacked, by the size budget's message.
    monkeypatch.setattr(datasets, "MAX_ZIP_BYTES", 10 * 2**20)
    data = _zip_bytes({"red/a.png": _png("red"), "blue/bomb.png": b"\0" * (50 * 2**20)})
    assert len(data) < 2**20
    with pytest.raises(datasets.DatasetError, match=r"would unpack to 50 MB, over the 10 MB limit"):
        datasets.from_zip(data)


def test_the_read_budget_stops_a_member_that_outgrows_it(monkeypatch):
    # The budget counted while reading: a genuine 3 MB member read with 1 MB left is stopped by the
    # budget (its own message), after reading about the budget, not the whole member.
    monkeypatch.setattr(datasets, "MAX_ZIP_BYTES", 2**20)
    archive = zipfile.ZipFile(io.BytesIO(_zip_bytes({"blue/bomb.png": b"\0" * (3 * 2**20)})))
    with pytest.raises(datasets.DatasetError, match=r"unpacks to more than 1 MB \(a zip bomb\?\)"):
        datasets._read_member(archive, archive.infolist()[0], 2**20, "upload.zip")


def test_zip_bomb_with_lying_header_stops_at_the_declared_size(monkeypatch):
    # Headers that claim 100 bytes for 3 MB: zipfile reads only the declared 100 bytes (so the read
    # budget is never reached) and the checksum of those bytes fails: a damaged archive.
    data = bytearray(_zip_bytes({"red/a.png": _png("red"), "blue/bomb.png": b"\0" * (3 * 2**20)}))
    forged = bytes(data).replace((3 * 2**20).to_bytes(4, "little"), (100).to_bytes(4, "little"))
    monkeypatch.setattr(datasets, "MAX_ZIP_BYTES", 2**20)
    with pytest.raises(datasets.DatasetError, match=r"cannot read 'blue/bomb.png', the archive is damaged "
                                                    r"\(BadZipFile: Bad CRC-32"):
        datasets.from_zip(forged)


def test_too_many_members_are_refused_before_reading():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number in range(datasets.MAX_ZIP_MEMBERS + 1):
            archive.writestr(f"cat/{number}.png", b"")
    with pytest.raises(datasets.DatasetError, match=f"holds {datasets.MAX_ZIP_MEMBERS + 1} files, over the limit "
                                                    f"of {datasets.MAX_ZIP_MEMBERS}"):
        datasets.from_zip(buffer.getvalue())


def test_bad_sets_get_clear_messages(monkeypatch, tmp_path):
    with pytest.raises(datasets.DatasetError, match="at least 2"):
        datasets.from_zip(_zip_bytes({"red/a.png": _png("red")}))
    with pytest.raises(datasets.DatasetError, match="'blue' has no usable image"):
        datasets.from_zip(_zip_bytes({"red/a.png": _png("red"), "blue/a.txt": b"hello"}))
    with pytest.raises(datasets.DatasetError, match="not a readable zip"):
        datasets.from_zip(b"PK\x03\x04 this is not really a zip")
    monkeypatch.setattr(datasets, "MAX_IMAGES", 3)
    with pytest.raises(datasets.DatasetError, match="limit is 3"):
        datasets.from_zip(_zip_bytes({f"{c}/{i}.png": _png(c) for c in ("red", "blue") for i in range(2)}))
    with pytest.raises(datasets.DatasetError, match="not a folder|no such"):
        datasets.load_any(tmp_path / "missing")


def test_stratified_split(catsdogs_set):
    train, val = datasets.stratified_split(catsdogs_set, 0.25, seed=1)
    assert val.counts() == [2, 2] and train.counts() == [6, 6]
    assert not set(train.names) & set(val.names)
    again_train, _ = datasets.stratified_split(catsdogs_set, 0.25, seed=1)
    assert again_train.names == train.names
    other_train, _ = datasets.stratified_split(catsdogs_set, 0.25, seed=2)
    assert other_train.names != train.names
    # a tiny share still holds one image of each class out
    _, val = datasets.stratified_split(catsdogs_set, 0.01, seed=0)
    assert val.counts() == [1, 1]
    lonely = catsdogs_set.subset([0, 8, 9])
    with pytest.raises(datasets.DatasetError, match="'cat' has 1 image"):
        datasets.stratified_split(lonely, 0.2)


# --- training ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def frozen_result(catsdogs_set):
    train, val = datasets.stratified_split(catsdogs_set, 0.25, seed=0)
    events = list(finetune.train(train, val, finetune.TrainSettings(mode="frozen", epochs=30, seed=0)))
    return events, train, val


def test_frozen_mode_learns_cats_and_dogs(frozen_result, catsdogs_dir):
    events, train, val = frozen_result
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == list(range(1, 31))
    assert {"train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(epochs[0])
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"] / 3
    result = events[-1]["result"]
    assert events[-1]["event"] == "done" and not result.stopped
    assert result.val_acc == 1.0
    assert sum(map(sum, result.confusion)) == len(val) == 4
    assert [r["images"] for r in result.per_class] == [2, 2]
    # unseen photos (beyond the 8 per class trained on) are told apart too
    unseen = [p for name in ("cat", "dog") for p in _photos(catsdogs_dir / name, 20)[12:20]]
    from core.images import load_image

    base = finetune.backbones.load_backbone()
    with torch.inference_mode():
        predicted = result.model(torch.stack([base.preprocess(load_image(p)) for p in unseen])).argmax(1).tolist()
    truth = [0] * 8 + [1] * 8
    assert sum(p == t for p, t in zip(predicted, truth)) >= 14


def test_same_seed_same_model_and_cached_features(frozen_result):
    events, train, val = frozen_result
    again = list(finetune.train(train, val, finetune.TrainSettings(mode="frozen", epochs=30, seed=0)))
    first, second = events[-1]["result"], again[-1]["result"]
    assert torch.equal(first.model.head.linear.weight, second.model.head.linear.weight)
    assert [e["val_loss"] for e in events if e["event"] == "epoch"] == \
        [e["val_loss"] for e in again if e["event"] == "epoch"]
    # features were cached: the rerun spent no time on the backbone
    assert not any(e["event"] == "status" for e in again)
    # the frozen head is a convex full-batch fit from zeros: another seed gives the same head
    # (the seed still picks the validation split, in the caller)
    other = list(finetune.train(train, val, finetune.TrainSettings(mode="frozen", epochs=30, seed=7)))
    assert torch.allclose(first.model.head.linear.weight, other[-1]["result"].model.head.linear.weight)


def test_stop_keeps_the_model_fitted_so_far(frozen_result):
    _, train, val = frozen_result
    stop = threading.Event()
    seen = []
    for event in finetune.train(train, val, finetune.TrainSettings(mode="frozen", epochs=100, seed=0), stop=stop):
        if event["event"] == "epoch":
            seen.append(event)
            if event["epoch"] == 5:
                stop.set()
        if event["event"] == "done":
            result = event["result"]
    assert len(seen) == 5 and result.stopped
    assert len(result.history) == 5
    # frozen mode is a convex fit: its last iterate is kept (a tiny validation set never picks it)
    assert result.best_epoch == 5 and result.val_acc == seen[-1]["val_acc"]


def test_top_mode_trains_only_the_last_blocks(catsdogs_set):
    small = catsdogs_set.subset([0, 1, 2, 8, 9, 10])
    train, val = datasets.stratified_split(small, 0.34, seed=0)
    result = finetune.run_to_end(finetune.train(train, val, finetune.TrainSettings(mode="top", epochs=1, batch_size=4)))
    base = finetune.backbones.load_backbone().model.state_dict()
    tuned = result.model.state_dict()
    assert torch.equal(tuned["conv_stem.weight"], base["conv_stem.weight"])  # lower layers frozen
    assert torch.equal(tuned["blocks.0.0.conv_dw.weight"], base["blocks.0.0.conv_dw.weight"])
    assert not torch.equal(tuned["blocks.6.0.conv_pw.weight"], base["blocks.6.0.conv_pw.weight"])  # top trained
    assert tuned["classifier.weight"].shape == (2, 1280)
    assert finetune.backbones.load_backbone().model.classifier.weight.shape[0] == 1000  # shared model untouched


def test_confusion_and_per_class():
    matrix, per_class = finetune.confusion_and_per_class([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ("a", "b", "c"))
    assert matrix == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert [r["accuracy"] for r in per_class] == [0.5, 1.0, 0.0]


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="mode"):
        finetune.TrainSettings(mode="sideways").resolved()
    with pytest.raises(ValueError, match="epochs"):
        finetune.TrainSettings(epochs=0).resolved()
    with pytest.raises(ValueError, match="unknown backbone"):
        finetune.TrainSettings(backbone="not_a_net").resolved()


# --- model files -------------------------------------------------------------------------

def test_save_load_classify_and_forget(frozen_result, tmp_path, catsdogs_dir):
    result = frozen_result[0][-1]["result"]
    folder = tmp_path / f"{trained.SESSION_DIR_PREFIX}x"
    path = trained.save_trained_model(result, folder / "pets.safetensors")
    data = path.read_bytes()
    header_size = int.from_bytes(data[:8], "little")  # safetensors: u64 length, then a JSON header
    header = json.loads(data[8:8 + header_size])
    assert all(set(v) == {"dtype", "shape", "data_offsets"} for k, v in header.items() if k != "__metadata__")
    assert not data.startswith(b"\x80") and path.stat().st_size < 50_000  # no pickle; the head only
    config = json.loads(Path(f"{path}.json").read_text())
    assert config["class_names"] == ["cat", "dog"] and config["mode"] == "frozen"
    assert config["backbone"] == "tf_efficientnet_lite0" and config["data_config"]["input_size"] == [3, 224, 224]
    loaded = trained.load_trained_model(path)
    assert loaded.weights == "trained" and loaded.labels == ("cat", "dog")
    assert trained.load_trained_model(path) is loaded  # cached
    photos = [str(p) for p in _photos(catsdogs_dir / "dog", 20)[15:18]] + [str(ASSETS / "chelsea.png")]
    from_file = [r["top"][0] for r in classify_files(loaded, photos, k=2)]
    assert [t["label"] for t in from_file].count("dog") >= 2 and from_file[-1]["label"] == "cat"
    # the file reproduces the model trained in memory exactly
    with torch.inference_mode():
        from core.images import load_image

        batch = torch.stack([loaded.preprocess(load_image(p)) for p in photos])
        in_memory = result.model(batch).softmax(1)
    for row, top in zip(in_memory, from_file):
        assert abs(float(row[top["index"]]) - top["prob"]) < 1e-4 and int(row.argmax()) == top["index"]
    trained.forget_trained_models([str(path)])
    assert not path.exists() and not Path(f"{path}.json").exists() and not folder.exists()


def test_foreign_files_are_refused(tmp_path):
    from safetensors.torch import save_file

    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(plain))
    with pytest.raises(ValueError, match="not one trained with this app"):
        trained.load_trained_model(plain)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04\x95 pickle bytes")
    with pytest.raises(ValueError, match="not a .safetensors model file"):
        trained.load_trained_model(junk)
    with pytest.raises(ValueError, match="no such model file"):
        trained.load_trained_model(tmp_path / "missing.safetensors")


def test_teacher_sample_sets_and_offline_pets(monkeypatch, small_catsdogs, tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    (samples / "pets").symlink_to(small_catsdogs, target_is_directory=True)
    (samples / "notes.txt").write_text("not a set")
    monkeypatch.setenv("TLL_SAMPLES_DIR", str(samples))
    assert datasets.sample_sets() == ["pets"]
    assert datasets.load_sample_set("pets").class_names == ("cat", "dog")
    with pytest.raises(datasets.DatasetError, match="no sample set"):
        datasets.load_sample_set("../pets")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(datasets.DatasetError, match="needs the network"):
        datasets.oxford_pet_sample(5)


def test_many_classes_few_photos_each_report_per_class(catbreeds_dir):
    breeds = sorted(d for d in catbreeds_dir.iterdir() if d.is_dir())
    image_set = datasets.from_sources({d.name: _photos(d, 4) for d in breeds})
    train, val = datasets.stratified_split(image_set, 0.25, seed=0)
    assert val.counts() == [1] * len(breeds)
    result = finetune.run_to_end(finetune.train(train, val, finetune.TrainSettings(epochs=30)))
    assert [r["class"] for r in result.per_class] == [d.name for d in breeds]
    assert len(result.confusion) == len(breeds) and all(len(row) == len(breeds) for row in result.confusion)
    assert all(r["images"] == 1 and r["correct"] in (0, 1) for r in result.per_class)
    assert sum(r["correct"] for r in result.per_class) == round(result.val_acc * len(breeds))
    assert result.history[-1]["train_acc"] == 1.0  # a linear head fits 15 photos of 5 breeds


def test_damaged_deflate_stream_is_a_clear_error(tmp_path):
    payload = bytes(range(256)) * 400  # compressible, so the member is stored deflated
    data = bytearray(_zip_bytes({"red/a.png": _png("red"), "blue/a.png": _png("blue"), "blue/b.png": payload}))
    start = bytes(data).index(b"blue/b.png") + len("blue/b.png")  # the local header's name, then the stream
    for offset in range(start + 10, start + 60):
        data[offset] ^= 0xFF
    with pytest.raises(datasets.DatasetError, match="damaged|cannot read"):
        datasets.from_zip(bytes(data))
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    from tests.conftest import run_cli

    result = run_cli("train", str(broken), "--out", str(tmp_path / "m.safetensors"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "broken.zip" in json.loads(result.stdout.splitlines()[-1])["error"]
