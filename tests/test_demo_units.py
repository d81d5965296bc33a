"""Tab code called in-process where the browser cannot reach it cheaply: a pasted image's size
check, and a feature-map record recomputed after another visitor's images evicted it."""
from __future__ import annotations

import base64
import io
import re

import gradio as gr
import numpy as np
import pytest
from gradio.data_classes import FileData
from PIL import Image

from core.images import MAX_FILE_BYTES

FEATURE_ARGS = ("tf_efficientnet_lite0", "pretrained", "stage2", 8, "viridis")


def pasted(data: bytes, kind: str = "image/png") -> FileData:
    return FileData(path="", url=f"data:{kind};base64,{base64.b64encode(data).decode()}")


def test_a_pasted_image_over_the_limit_is_refused_before_decoding():
    from demo.components import ImageInput

    with gr.Blocks():
        box = ImageInput(type="filepath")
    with pytest.raises(gr.Error, match=f"The pasted image is over the {MAX_FILE_BYTES // 2**20} MB limit"):
        box.preprocess(pasted(bytes(MAX_FILE_BYTES + 2**20)))
    buffer = io.BytesIO()
    Image.new("RGB", (8, 6), (10, 200, 30)).save(buffer, format="PNG")
    path = box.preprocess(pasted(buffer.getvalue()))  # a small one arrives as a file
    with Image.open(path) as image:
        assert image.size == (8, 6) and image.convert("RGB").getpixel((0, 0)) == (10, 200, 30)


def test_an_evicted_feature_record_is_recomputed_the_same(monkeypatch):
    from core import features as core_features
    from demo import features as tab

    monkeypatch.setattr(core_features, "cache", core_features.RecordCache(1))  # room for one record only
    key = tab.show_features("assets/chelsea.png", *FEATURE_ARGS)[0]
    backbone, weights, _, count, cmap = FEATURE_ARGS
    cached = tab.switch_layer(key, "assets/chelsea.png", backbone, weights, "stage3", count, cmap)
    tab.show_features("assets/coffee.png", *FEATURE_ARGS)  # another visitor's image evicts it
    assert core_features.cached_record(key) is None
    again = tab.switch_layer(key, "assets/chelsea.png", backbone, weights, "stage3", count, cmap)
    timing = re.compile(r"\(\d+ ms\)")  # the forward pass's time, measured anew
    assert timing.sub("", again[3]) == timing.sub("", cached[3])  # same statistics, same layer, same photo
    with Image.open(again[1]) as redrawn, Image.open(cached[1]) as first:
        assert np.array_equal(np.asarray(redrawn), np.asarray(first))  # the same grid, recomputed
