"""The README's Space front matter: the Gradio the tests run on, and the lesson's VGG-16 preloaded
under the file name the app looks for in the hub cache."""
from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _front_matter() -> dict:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_front_matter_pins_the_tested_gradio_and_python():
    import gradio

    meta = _front_matter()
    assert meta["sdk"] == "gradio" and str(meta["sdk_version"]) == gradio.__version__
    assert str(meta["python_version"]) == "3.11"
    assert meta["app_file"] == "app.py"


def test_front_matter_preloads_the_lessons_vgg16_as_the_app_loads_it():
    from timm.models import get_pretrained_cfg

    from core import backbones

    vgg = next(c for c in backbones.CHOICES if "vgg16" in c.name)
    repo = get_pretrained_cfg(vgg.name).hf_hub_id
    entries = [entry.split() for entry in _front_matter()["preload_from_hub"]]
    assert [repo, "model.safetensors"] in entries  # core.backbones fetches model.safetensors from the hub
