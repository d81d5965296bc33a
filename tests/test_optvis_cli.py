"""`python app.py attack` and `python app.py ideal`, as a user runs them: files, JSON lines, errors."""
from __future__ import annotations

import json

import numpy as np
from PIL import Image

from tests.conftest import run_cli


def lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_attack_writes_both_crops_and_one_json_line_per_image(tmp_path, catsdogs_dir):
    dog = sorted((catsdogs_dir / "dog").iterdir())[1]
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    result = run_cli("attack", str(dog), str(bad), "--target", "tabby cat", "--eps", "2",
                     "--out-dir", str(tmp_path / "out"))
    out = lines(result)
    assert "Traceback" not in result.stderr
    assert result.returncode == 1 and len(out) == 2  # the text file failed, the dog did not
    good, failed = out
    assert {"before", "after", "linf", "psnr", "seconds"} <= set(good)
    assert set(good["before"]) == set(good["after"]) == {"label", "index", "prob"}
    assert good["after"]["index"] == 281 and good["before"]["index"] != 281
    assert good["linf"] <= 2 and good["psnr"] >= 40
    adversarial = np.asarray(Image.open(tmp_path / "out" / f"{dog.stem}.adversarial.png"), dtype=np.int16)
    original = np.asarray(Image.open(tmp_path / "out" / f"{dog.stem}.original.png"), dtype=np.int16)
    assert adversarial.shape == original.shape == (224, 224, 3)
    assert np.abs(adversarial - original).max() == good["linf"]
    assert "notes.png" in failed["error"] and "text file" in failed["error"]


def test_attack_unknown_target_is_a_json_error(tmp_path):
    # (eps, steps and method limits are checked in test_optvis; one process start here is enough)
    result = run_cli("attack", "assets/coffee.png", "--out-dir", str(tmp_path), "--target", "unicorn")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "no ImageNet class" in lines(result)[-1]["error"]


def test_ideal_writes_an_8bit_png_and_reports_its_probability(tmp_path):
    out = tmp_path / "zebra.png"
    result = run_cli("ideal", "--target", "340", "--out", str(out), "--steps", "15", "--mode", "pixel",
                     "--seed", "2")
    assert result.returncode == 0 and "Traceback" not in result.stderr
    summary = lines(result)[-1]
    assert summary["target"]["index"] == 340 and summary["seconds"] > 0
    with Image.open(out) as image:
        assert image.format == "PNG" and image.mode == "RGB" and image.size == (224, 224)
        written = image.convert("RGB")
    # The probabilities it reports are those of the PNG it wrote, measured again here: pixel for
    # pixel the model sees a zebra; read as a photo (resized and cropped), it does not (plain pixels).
    import torch

    from core import backbones
    from core.classify import classify_image

    loaded = backbones.load_backbone()
    pixels = torch.from_numpy(np.asarray(written, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (loaded.data_config["mean"], loaded.data_config["std"]))
    with torch.no_grad():
        exact = torch.softmax(loaded.model((pixels - mean) / std), dim=1)[0, 340].item()
    assert summary["prob_exact"] >= 0.9 and abs(exact - summary["prob_exact"]) < 0.02, (exact, summary)
    as_photo = {t["index"]: t["prob"] for t in classify_image(loaded, written, k=1000)["top"]}[340]
    assert abs(as_photo - summary["prob"]) < 0.01, (as_photo, summary)



def _png_total_variation(path) -> float:
    """Mean absolute difference between neighbouring pixels (down + across), in [0, 1] units."""
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float64) / 255.0
    return float(np.abs(np.diff(pixels, axis=0)).mean() + np.abs(np.diff(pixels, axis=1)).mean())


def test_the_lessons_smoothness_slider_turns_plain_pixel_noise_into_smooth_shapes(tmp_path):
    """Plain pixels, default steps: the slider's top (10) leaves at most a third of the total variation of 0
    (measured on the written PNGs), and the smooth image is still the target class pixel for pixel."""
    results = {}
    for tv in ("0", "10"):
        out = tmp_path / f"tv{tv}.png"
        result = run_cli("ideal", "--mode", "pixel", "--target", "tabby cat", "--tv", tv, "--out", str(out),
                         timeout=900)  # 100 plain-pixel steps: ~10 s alone, minutes on a shared 2-core box
        assert result.returncode == 0, result.stdout + result.stderr[-2000:]
        results[tv] = lines(result)[-1], _png_total_variation(out)
    (noisy, noisy_tv), (smooth, smooth_tv) = results["0"], results["10"]
    assert noisy_tv >= 0.3  # slider 0 really is colour noise (a grey texture would hide the contrast)
    assert smooth_tv <= noisy_tv / 3, (noisy_tv, smooth_tv)
    assert smooth["prob_exact"] >= 0.9 and noisy["prob_exact"] >= 0.9

def test_ideal_bad_input_is_a_json_error(tmp_path):
    result = run_cli("ideal", "--target", "zebra", "--out", str(tmp_path / "z.jpg"))
    assert result.returncode == 2 and ".png" in lines(result)[-1]["error"]
    assert "Traceback" not in result.stderr and not (tmp_path / "z.jpg").exists()
