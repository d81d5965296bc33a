"""`python app.py features`: the grid file and the one JSON line.

One test runs the command as a user does (a subprocess); the others call the same entry
point in-process, which shares the loaded models and saves a torch start-up per case.
"""
from __future__ import annotations

import json
import types

from PIL import Image

from core.cli import main as cli_main
from core.features import pretrained_available
from tests.conftest import run_cli


def lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def run_here(capsys, *args: str):
    """`python app.py ARGS` without a new interpreter: (exit code, stdout) like run_cli's."""
    capsys.readouterr()
    code = cli_main(list(args))
    return types.SimpleNamespace(returncode=code, stdout=capsys.readouterr().out)


def test_bundled_backbone_writes_grid_overlay_strip_and_lists_layers(tmp_path):
    grid, overlay, strip = tmp_path / "grid.png", tmp_path / "overlay.png", tmp_path / "strip.jpg"
    result = run_cli("features", "assets/chelsea.png", "--out", str(grid), "--backbone", "bundled",
                     "--layer", "stage3", "--channels", "8", "--overlay", str(overlay), "--strip", str(strip))
    assert result.returncode == 0, result.stderr[-2000:]
    (out,) = lines(result)
    assert out["weights"] == "bundled" and out["backbone"] == "tf_efficientnet_lite0"
    assert out["layer"] == "blocks.2" and out["alias"] == "stage3" and out["shape"] == [40, 28, 28]
    stages = [layer["name"] for layer in out["layers"] if layer["kind"] == "stage"]
    assert stages == ["blocks.0", "blocks.1", "blocks.2", "blocks.4", "blocks.6"]
    assert len(out["layers"]) == 16 and "blocks.3.1" in [layer["name"] for layer in out["layers"]]
    assert out["layers"][-1]["shape"] == [320, 7, 7] and out["final_layer"] == "blocks.6"
    assert len(out["top_channels"]) == 8 and len(set(out["top_channels"])) == 8
    assert out["channel"] == out["top_channels"][0]
    with Image.open(grid) as picture:
        assert picture.format == "PNG" and picture.width == 1600 and picture.height > 300
        assert len(picture.convert("RGB").getcolors(1 << 20)) > 200
    with Image.open(overlay) as picture, Image.open(strip) as strip_picture:
        assert picture.width > 1000 and strip_picture.format == "JPEG"
    assert "Traceback" not in result.stderr


def test_vgg16_random_weights_offline_accepts_paper_layer_names(tmp_path, capsys):
    grid = tmp_path / "vgg.png"
    result = run_here(capsys, "features", "assets/chelsea.png", "--out", str(grid), "--backbone", "vgg16",
                     "--weights", "random", "--layer", "conv5_3", "--channels", "4")
    assert result.returncode == 0, result.stdout
    (out,) = lines(result)
    assert out["backbone"] == "vgg16.tv_in1k" and out["weights"] == "random" and "RANDOM" in out["note"]
    assert out["layer"] == "features.28" and out["shape"] == [512, 14, 14]
    names = {layer["alias"]: layer for layer in out["layers"]}
    assert len(out["layers"]) == 31 and names["relu1_1"]["shape"] == [64, 224, 224]
    assert names["pool5"]["shape"] == [512, 7, 7] and names["pool5"]["stride"] == 32
    assert Image.open(grid).size[0] == 1600


def test_default_backbone_falls_back_to_bundled_offline_and_says_so(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as run_cli sets it: the hub is out of reach in tests
    result = run_here(capsys, "features", "assets/coffee.png", "--out", str(tmp_path / "g.png"), "--layer", "stage5")
    assert result.returncode == 0, result.stdout
    (out,) = lines(result)
    if pretrained_available("vgg16"):  # this machine has VGG-16's weights cached: no fallback
        assert out["backbone"] == "vgg16.tv_in1k" and out["weights"] == "hub" and "fallback" not in out
        assert out["layer"] == "features.29"  # stage5 = relu5_3
    else:
        assert out["weights"] == "bundled" and "vgg16" in out["fallback"] and out["layer"] == "blocks.6"


def test_bad_input_gets_a_json_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    notes = tmp_path / "notes.png"
    notes.write_text("not a picture")
    bad_image = run_here(capsys, "features", str(notes), "--out", str(tmp_path / "g.png"), "--backbone", "bundled")
    assert bad_image.returncode == 2 and "notes.png" in lines(bad_image)[-1]["error"]
    if not pretrained_available("vgg16"):
        hub = run_here(capsys, "features", "assets/chelsea.png", "--out", str(tmp_path / "g.png"),
                       "--backbone", "vgg16")
        assert hub.returncode == 2 and "--weights random" in lines(hub)[-1]["error"]
    bad_out = run_here(capsys, "features", "assets/chelsea.png", "--out", str(tmp_path / "nowhere" / "g.png"))
    assert bad_out.returncode == 2 and "does not exist" in lines(bad_out)[-1]["error"]
    bad_layer = run_here(capsys, "features", "assets/chelsea.png", "--out", str(tmp_path / "g.png"),
                         "--backbone", "bundled", "--layer", "conv1_1")
    assert bad_layer.returncode == 2 and "stage1 (blocks.0)" in lines(bad_layer)[-1]["error"]
