"""Bad and odd input through the loader, the CLI and the API: valid files work, bad ones get a
specific message, never a traceback, and the server keeps serving."""
from __future__ import annotations

import json

import numpy as np
import pytest
from gradio_client import handle_file
from PIL import Image

from core.images import ImageLoadError, load_image
from tests.conftest import run_cli
from tests.corpus import bad_files, odd_valid_files, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def test_loader_on_the_corpus(corpus):
    bad, good = corpus
    for name, path in good.items():
        assert load_image(path).mode == "RGB", name
    for name, (path, word) in bad.items():
        with pytest.raises(ImageLoadError) as error:
            load_image(path)
        assert name in str(error.value) and word in str(error.value), (name, str(error.value))


def test_cli_classify_on_the_corpus(corpus):
    bad, good = corpus
    paths = [str(p) for p in good.values()] + [str(p) for p, _ in bad.values()]
    result = run_cli("classify", *paths)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    out = {line["file"]: line for line in map(json.loads, result.stdout.splitlines())}
    assert len(out) == len(paths)
    for name, path in good.items():
        assert "top" in out[str(path)], (name, out[str(path)])
    for name, (path, word) in bad.items():
        assert word in out[str(path)]["error"], (name, out[str(path)])


def test_api_classify_on_the_corpus(client, corpus):
    bad, good = corpus
    for name, path in good.items():
        labels, _, status = client.predict(handle_file(str(path)), api_name="/classify")
        assert len(labels["confidences"]) == 5, name
    for name, (path, word) in bad.items():
        with pytest.raises(Exception) as error:
            client.predict(handle_file(str(path)), api_name="/classify")
        assert word in str(error.value), (name, str(error.value))
    # still serving
    labels, _, _ = client.predict(handle_file("assets/coffee.png"), api_name="/classify")
    assert labels["label"] == "espresso"


def test_corpus_is_complete():
    # The list, so a refactor cannot silently drop a case.
    assert len(bad_files()) == 8 and len(odd_valid_files()) == 16


def test_app_source_files_are_not_served(app_url):
    import urllib.error
    import urllib.request

    for path in ("gradio_api/file=app.py", "gradio_api/file=/etc/passwd", "file=app.py",
                 "gradio_api/file=../shared/data/README.md"):
        try:
            with urllib.request.urlopen(app_url + path, timeout=10) as response:
                body = response.read().decode("utf-8", "replace")
            assert "import" not in body and "root:" not in body, path
        except urllib.error.HTTPError as error:
            assert error.code in (403, 404), path


# A few odd-but-valid files for the slower endpoints (the whole corpus goes through /classify).
SAMPLE_VALID = ("cmyk.jpg", "sixteen_bit.png", "animated.gif", "exif_rotated.jpg", "strip_4000x12.png",
                "chat_été_猫.png")


FEATURE_ARGS = ("tf_efficientnet_lite0", "pretrained", "stage2", 8, "viridis")


def expect_message(call, word, name):
    with pytest.raises(Exception) as error:
        call()
    assert word in str(error.value), (name, str(error.value))


def test_api_features_attack_and_ideal_on_the_corpus(client, corpus):
    bad, good = corpus
    for name, (path, word) in bad.items():
        upload = handle_file(str(path))
        expect_message(lambda: client.predict(upload, *FEATURE_ARGS, api_name="/features"), word, name)
        expect_message(lambda: client.predict(upload, "281", 2, 1, 0, "pgd", api_name="/attack"), word, name)
        expect_message(lambda: client.predict("281", "photo", upload, "robust", 1, 10, 0, api_name="/ideal"),
                       word, name)
    for name in SAMPLE_VALID:
        upload = handle_file(str(good[name]))
        # Each tab reads the odd file as Classify does: the same picture, the same answer.
        expected = client.predict(upload, api_name="/classify")[0]["label"]
        stats = client.predict(upload, *FEATURE_ARGS, api_name="/features")[5]
        assert "shape" in stats and "stage2" in stats, name
        original, _, adversarial, before, after, report, png = client.predict(
            upload, "281", 2, 1, 0, "pgd", api_name="/attack")
        if name not in ("strip_4000x12.png", "one_pixel.png"):  # odd shapes: the attack's crop differs
            assert before["label"].rsplit(" (", 1)[0] == expected, (name, before["label"], expected)
        with Image.open(png) as written, Image.open(original) as source:
            delta = np.abs(np.asarray(written, dtype=np.int16) - np.asarray(source.convert("RGB"), dtype=np.int16))
            assert 0 < delta.max() <= 2, name  # changed, within ε = 2 levels
    # still serving
    labels, _, _ = client.predict(handle_file("assets/coffee.png"), api_name="/classify")
    assert labels["label"] == "espresso"


def test_cli_attack_and_features_on_the_corpus(corpus, tmp_path):
    bad, good = corpus
    paths = [str(good[name]) for name in SAMPLE_VALID[:3]] + [str(p) for p, _ in bad.values()]
    result = run_cli("attack", *paths, "--target", "tabby cat", "--eps", "2", "--steps", "2",
                     "--out-dir", str(tmp_path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(paths)
    for line in out[:3]:
        assert "after" in line and line["linf"] <= 2, line  # levels of 255
    for line, (path, word) in zip(out[3:], bad.values()):
        assert word in line["error"], line
    path, word = bad["truncated.jpg"]
    result = run_cli("features", str(path), "--out", str(tmp_path / "grid.png"))
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert word in json.loads(result.stdout.splitlines()[-1])["error"]
