"""The CLI's JSON-lines contract, as a user runs it."""
from __future__ import annotations

import json

from tests.conftest import run_cli


def lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_classify_prints_one_json_line_per_file(tmp_path):
    bad = tmp_path / "notes.jpg"
    bad.write_text("hello")
    result = run_cli("classify", "assets/chelsea.png", str(bad), "assets/coffee.png", "--top", "3")
    out = lines(result)
    assert result.returncode == 1  # one file failed
    assert [o["file"] for o in out] == ["assets/chelsea.png", str(bad), "assets/coffee.png"]
    assert len(out[0]["top"]) == 3 and out[0]["top"][0]["index"] in range(281, 286)
    assert set(out[0]["top"][0]) == {"label", "index", "prob"} and out[0]["weights"] == "bundled"
    assert "notes.jpg" in out[1]["error"] and "text file" in out[1]["error"]
    assert out[2]["top"][0]["label"] == "espresso"
    assert "Traceback" not in result.stderr


def test_classify_all_good_exits_zero():
    result = run_cli("classify", "assets/coffee.png")
    assert result.returncode == 0 and lines(result)[0]["top"][0]["label"] == "espresso"


def test_hub_backbone_offline_is_a_clear_error_not_a_hang():
    result = run_cli("classify", "assets/coffee.png", "--backbone", "vgg16", "--weights", "hub", timeout=60)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "vgg16" in lines(result)[-1]["error"]


def test_unknown_backbone_and_bad_top():
    result = run_cli("classify", "assets/coffee.png", "--backbone", "nonsense_net")
    assert result.returncode != 0 and "unknown backbone" in lines(result)[-1]["error"]
    result = run_cli("classify", "assets/coffee.png", "--top", "0")
    assert result.returncode != 0 and "--top" in lines(result)[-1]["error"]
