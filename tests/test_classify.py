"""The bundled backbone on real ImageNet photos, and the weights bookkeeping."""
from __future__ import annotations

import csv
import socket
import time

import pytest
import torch

from core import backbones, hub, weights
from core.classify import classify_files, classify_image
from core.images import load_image
from core.imagenet import resolve_class


@pytest.fixture(scope="module")
def bundled():
    return backbones.load_backbone()


def test_bundled_weights_map_onto_timm_by_order(bundled):
    assert bundled.name == "tf_efficientnet_lite0" and bundled.weights == "bundled"
    source = torch.load(backbones.bundled_state_dict_path(), map_location="cpu", weights_only=True)
    target = bundled.model.state_dict()
    assert len(source) == len(target) == 296
    for (_, a), (_, b) in zip(source.items(), target.items()):
        assert torch.equal(a, b.cpu())


def test_data_config_comes_from_the_model(bundled):
    cfg = bundled.data_config
    assert cfg["interpolation"] == "bicubic" and cfg["crop_pct"] == 0.875
    assert cfg["mean"] == (0.5, 0.5, 0.5) and cfg["std"] == (0.5, 0.5, 0.5)


def test_top1_on_shared_imagenet_photos(bundled, imagenet_dir):
    rows = list(csv.DictReader(open(imagenet_dir / "labels.csv")))
    paths = [str(imagenet_dir / row["file"]) for row in rows]
    results = list(classify_files(bundled, paths, k=5))
    assert [r["file"] for r in results] == paths
    top1 = sum(r["top"][0]["index"] == int(row["class_index"]) for r, row in zip(results, rows)) / len(rows)
    top5 = sum(int(row["class_index"]) in [t["index"] for t in r["top"]] for r, row in zip(results, rows)) / len(rows)
    print(f"bundled top-1 {top1:.2f}, top-5 {top5:.2f} on {len(rows)} photos")
    assert top1 >= 0.85 and top5 >= 0.95


def test_batched_equals_one_by_one(bundled, imagenet_dir):
    paths = sorted(str(p) for p in imagenet_dir.glob("*.JPEG"))[:5]
    batched = list(classify_files(bundled, paths, k=3, batch_size=2))
    for path, result in zip(paths, batched):
        single = classify_image(bundled, load_image(path), k=3)["top"]
        assert [t["index"] for t in single] == [t["index"] for t in result["top"]]
        assert abs(single[0]["prob"] - result["top"][0]["prob"]) < 1e-3


def test_chelsea_is_a_cat_and_crop_is_model_input(bundled):
    result = classify_image(bundled, load_image("assets/chelsea.png"))
    assert result["top"][0]["index"] in range(281, 286)
    assert result["crop"].size == (224, 224)
    assert abs(sum(t["prob"] for t in result["top"]) - 1) < 0.2


def test_bad_file_in_a_batch_does_not_stop_the_rest(bundled, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_text("not an image")
    results = list(classify_files(bundled, ["assets/coffee.png", str(bad), "assets/chelsea.png"]))
    assert results[0]["top"][0]["label"] == "espresso"
    assert "not an image" in results[1]["error"]
    assert results[2]["top"][0]["index"] in range(281, 286)


def test_hub_model_offline_answers_fast_and_falls_back(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.time()
    with pytest.raises(backbones.WeightsUnavailable, match="HF_HUB_OFFLINE|unreachable"):
        backbones.load_backbone("vgg16", "hub")
    loaded, message = weights.load_with_fallback("resnet50")
    assert time.time() - started < 10
    assert loaded.weights == "bundled" and "resnet50" in message and "bundled" in message


@pytest.fixture
def blackholed_hub(monkeypatch):
    """A hub address that accepts connections and never answers (a stalled network, a firewall
    that swallows packets past the handshake), with HF_HUB_OFFLINE unset as on a Space."""
    blackhole = socket.socket()
    blackhole.bind(("127.0.0.1", 0))
    blackhole.listen(64)  # the kernel completes every handshake; nobody ever reads or writes
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{blackhole.getsockname()[1]}")
    hub._probe_cache.clear()
    yield
    hub._probe_cache.clear()
    blackhole.close()


def test_a_hub_that_never_answers_is_detected_within_the_probe_time(blackholed_hub):
    started = time.time()
    with pytest.raises(hub.HubUnavailable, match="unreachable"):
        hub.fetch_file("timm/some-model-nobody-cached", "model.safetensors")
    assert time.time() - started < hub.PROBE_TIMEOUT_S + 2


def test_a_hub_model_falls_back_to_the_bundled_one_within_seconds(blackholed_hub):
    started = time.time()
    loaded, message = weights.load_with_fallback("resnet50")
    assert time.time() - started < hub.PROBE_TIMEOUT_S + 10  # README: "answers within a few seconds"
    assert loaded.weights == "bundled" and "unreachable" in message and "bundled" in message


def test_a_refused_connection_is_detected_at_once(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    hub._probe_cache.clear()
    started = time.time()
    with pytest.raises(hub.HubUnavailable, match="unreachable"):
        hub.fetch_file("timm/some-model-nobody-cached", "model.safetensors")
    assert time.time() - started < 2
    hub._probe_cache.clear()


def test_random_weights_are_labelled():
    loaded = backbones.load_backbone("mobilenetv3_large_100", "random")
    assert loaded.weights == "random" and "RANDOM" in loaded.status
    assert loaded.name == "mobilenetv3_large_100.ra_in1k"


def test_names_resolve():
    assert backbones.resolve_name("vgg16") == "vgg16.tv_in1k"
    assert backbones.resolve_name("") == "tf_efficientnet_lite0"
    with pytest.raises(backbones.UnknownBackbone):
        backbones.resolve_name("not_a_model_at_all")
    assert resolve_class("tabby cat") == 281 and resolve_class("281") == 281 and resolve_class("zebra") == 340
    with pytest.raises(ValueError, match="matches"):
        resolve_class("cat")
