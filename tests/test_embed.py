"""The feature-space map (core.embed, `python app.py embed`): pretrained features put cats
beside cats and dogs beside dogs; the same network with random weights does not."""
from __future__ import annotations

import json
import types

import numpy as np
import pytest
from PIL import Image

from core import embed
from core.cli import main as cli_main
from tests.conftest import run_cli


def run_here(capsys, *args: str):
    capsys.readouterr()
    code = cli_main(list(args))
    return types.SimpleNamespace(returncode=code, lines=[json.loads(x) for x in capsys.readouterr().out.splitlines()])


def test_knn_accuracy_counts_neighbours_not_the_photo_itself():
    rng = np.random.default_rng(0)
    apart = np.concatenate([rng.normal(0, 0.1, (10, 8)) + np.eye(8)[0], rng.normal(0, 0.1, (10, 8)) + np.eye(8)[1]])
    labels = [0] * 10 + [1] * 10
    assert embed.knn_accuracy(apart, labels) == 1.0
    odd_one = [1] + labels[1:]  # a photo labelled dog amid the cats: its neighbours outvote it
    assert embed.knn_accuracy(apart, odd_one) == pytest.approx(19 / 20)
    mixed = rng.normal(0, 1, (200, 8))
    assert 0.3 < embed.knn_accuracy(mixed, [i % 2 for i in range(200)]) < 0.7  # no structure: chance


def test_pretrained_features_separate_cats_and_dogs_random_ones_do_not(catsdogs_dir, tmp_path, capsys):
    figures = {}
    for weights in ("pretrained", "random"):
        out = tmp_path / f"{weights}.png"
        args = ("embed", str(catsdogs_dir), "--out", str(out), "--per-class", "40", "--seed", "7",
                "--weights", weights)
        if weights == "pretrained":  # once as a user runs it; the other in-process
            result = run_cli(*args)
            assert result.returncode == 0, result.stderr[-2000:]
            (line,) = [json.loads(x) for x in result.stdout.splitlines()]
        else:
            result = run_here(capsys, *args)
            (line,) = result.lines
        assert line["weights"] == weights and line["points"] == 80 and line["method"] == "pca"
        assert line["classes"] == ["cat", "dog"] and Image.open(line["out"]).size[0] >= 800
        figures[weights] = line["knn_acc"]
    assert figures["pretrained"] >= 0.9, figures
    assert figures["pretrained"] - figures["random"] >= 0.15, figures


def test_tsne_layout_and_bad_input(tmp_path, capsys):
    folder = tmp_path / "data"
    for name, colour in (("red", (220, 30, 30)), ("blue", (30, 30, 220))):
        (folder / name).mkdir(parents=True)
        for i in range(6):
            Image.new("RGB", (64, 64), tuple(min(255, c + 4 * i) for c in colour)).save(folder / name / f"{i}.png")
    result = run_here(capsys, "embed", str(folder), "--out", str(tmp_path / "m.png"), "--method", "tsne")
    assert result.returncode == 0 and result.lines[0]["method"] == "tsne" and result.lines[0]["points"] == 12
    result = run_here(capsys, "embed", str(tmp_path / "missing"), "--out", str(tmp_path / "m.png"))
    assert result.returncode == 2 and "no such" in result.lines[0]["error"]
    result = run_here(capsys, "embed", str(folder), "--out", str(tmp_path / "m.txt"))
    assert result.returncode == 2 and ".png" in result.lines[0]["error"]
