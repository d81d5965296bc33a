"""Class activation maps (core.cam, `python app.py cam`): the heat lands on the object of the class
asked for, on composites of two photos built here, in both orders."""
from __future__ import annotations

import copy
import json
import types

import numpy as np
import pytest
import torch
from PIL import Image

from core import backbones, cam
from core.cli import main as cli_main
from core.images import load_image
from tests.conftest import ASSETS, run_cli

LEFT, RIGHT = (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)
EGYPTIAN_CAT, ESPRESSO = 285, 967


@pytest.fixture(scope="module")
def bundled():
    return backbones.load_backbone()


def run_here(capsys, *args: str):
    capsys.readouterr()
    code = cli_main(list(args))
    return types.SimpleNamespace(returncode=code, lines=[json.loads(x) for x in capsys.readouterr().out.splitlines()])


def heat_of(path) -> np.ndarray:
    return np.asarray(Image.open(path), dtype=np.float64)


def test_cli_cat_and_cup_maps_land_on_their_halves_in_both_orders(tmp_path, capsys):
    cat, cup = load_image(ASSETS / "chelsea.png"), load_image(ASSETS / "coffee.png")
    for order, (left, right) in {"cat-left": (cat, cup), "cup-left": (cup, cat)}.items():
        picture = tmp_path / f"{order}.jpg"
        cam.side_by_side(left, right).save(picture, quality=92)
        cat_half, cup_half = (LEFT, RIGHT) if order == "cat-left" else (RIGHT, LEFT)
        for target, half in ((EGYPTIAN_CAT, cat_half), (ESPRESSO, cup_half)):
            out = tmp_path / f"{order}-{target}.png"
            args = ("cam", str(picture), "--out", str(out), "--target", str(target))
            if order == "cat-left" and target == EGYPTIAN_CAT:  # once as a user runs it; the rest in-process
                result = run_cli(*args)
                assert result.returncode == 0, result.stderr[-2000:]
                (line,) = [json.loads(x) for x in result.stdout.splitlines()]
            else:
                result = run_here(capsys, *args)
                assert result.returncode == 0
                (line,) = result.lines
            assert set(line) >= {"file", "target", "label", "prob", "out", "heat"}
            assert line["target"] == target and line["weights"] == "bundled"
            heat = Image.open(line["heat"])
            assert heat.mode == "L" and heat.size == (224, 224) == Image.open(line["out"]).size
            share = cam.heat_share(heat_of(line["heat"]), half)
            assert share >= 0.65, f"{order}, class {target}: only {share:.0%} of the heat on its half"


@pytest.mark.parametrize("left_file,right_file", [
    ("n02123597_Siamese_cat.JPEG", "n07880968_burrito.JPEG"),
    ("n02123045_tabby.JPEG", "n04596742_wok.JPEG"),
    ("n01514668_cock.JPEG", "n12144580_corn.JPEG"),
])
def test_other_photo_pairs_heat_follows_the_class(bundled, imagenet_dir, left_file, right_file):
    classes = {row.split(",")[0]: int(row.split(",")[1]) for row in
               (imagenet_dir / "labels.csv").read_text().splitlines()[1:]}
    left, right = load_image(imagenet_dir / left_file), load_image(imagenet_dir / right_file)
    for a, b, first, second in ((left, right, left_file, right_file), (right, left, right_file, left_file)):
        picture = cam.side_by_side(a, b)
        on_left = cam.class_activation_map(bundled, picture, classes[first]).heat
        on_right = cam.class_activation_map(bundled, picture, classes[second]).heat
        assert cam.heat_share(on_left, LEFT) >= 0.65, first
        assert cam.heat_share(on_right, RIGHT) >= 0.65, second


def test_top_class_by_default_and_names_resolve(bundled):
    image = load_image(ASSETS / "coffee.png")
    result = cam.class_activation_map(bundled, image)
    assert result.target == result.top[0]["index"] and result.prob == result.top[0]["prob"]
    assert result.heat.shape == bundled.input_size and result.heat.max() == pytest.approx(1.0)
    assert cam.resolve_target("espresso", bundled.labels) == ESPRESSO
    assert cam.resolve_target("Egyptian cat", bundled.labels) == EGYPTIAN_CAT
    with pytest.raises(cam.UnknownTarget, match="several"):
        cam.resolve_target("cat", bundled.labels)
    with pytest.raises(cam.UnknownTarget, match="0-999"):
        cam.resolve_target(1000, bundled.labels)


def test_same_map_as_pytorch_grad_cam_on_a_private_copy(bundled):
    grad_cam = pytest.importorskip("pytorch_grad_cam", reason="grad-cam (dev dependency) is not installed")
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    image = cam.side_by_side(load_image(ASSETS / "chelsea.png"), load_image(ASSETS / "coffee.png"))
    ours = cam.class_activation_map(bundled, image, ESPRESSO).heat
    model = copy.deepcopy(bundled.model).float().to(memory_format=torch.contiguous_format)
    model.requires_grad_(True)  # the reference library needs weight gradients; the shared model may have none (optvis)
    with grad_cam.GradCAM(model=model, target_layers=[model.bn2]) as reference:
        theirs = reference(bundled.preprocess(image).unsqueeze(0), targets=[ClassifierOutputTarget(ESPRESSO)])[0]
    assert np.corrcoef(ours.ravel(), theirs.ravel())[0, 1] > 0.95


def test_vgg16_architecture_and_maps_per_method(tmp_path):
    vgg = backbones.load_backbone("vgg16", backbones.RANDOM)  # the architecture; hub weights are offline here
    image = load_image(ASSETS / "chelsea.png")
    for method in cam.METHODS:
        result = cam.class_activation_map(vgg, image, 3, method)
        assert result.heat.shape == (224, 224) and np.isfinite(result.heat).all()
    assert all(p.grad is None for p in vgg.model.parameters()), "a map must not leave gradients on shared weights"


def test_bad_input_is_a_json_error(capsys, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    result = run_here(capsys, "cam", str(bad), "--out", str(tmp_path / "o.png"))
    assert result.returncode == 2 and "error" in result.lines[0]
    result = run_here(capsys, "cam", str(ASSETS / "chelsea.png"), "--out", str(tmp_path / "o.png"), "--target", "xyzzy")
    assert result.returncode == 2 and "xyzzy" in result.lines[0]["error"]
    result = run_here(capsys, "cam", str(ASSETS / "chelsea.png"), "--out", str(tmp_path / "o.txt"))
    assert result.returncode == 2 and ".png" in result.lines[0]["error"]
