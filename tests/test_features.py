"""Feature maps core: which layers are recorded, their shapes, the cache, and the pictures."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from core import backbones
from core.feature_views import colorize, render_channel, render_grid, render_strip, stats_markdown
from core.features import UnknownLayer, record_features
from core.images import load_image


@pytest.fixture(scope="module")
def chelsea():
    return load_image("assets/chelsea.png")


@pytest.fixture(scope="module")
def bundled():
    return backbones.load_backbone(backbones.BUNDLED_MODEL, backbones.BUNDLED)


@pytest.fixture(scope="module")
def bundled_record(bundled, chelsea):
    return record_features(bundled, chelsea)


@pytest.fixture(scope="module")
def vgg_record(chelsea):
    return record_features(backbones.load_backbone("vgg16", backbones.RANDOM), chelsea)


def test_bundled_backbone_records_every_timm_stage_with_its_shape(bundled, bundled_record):
    stages = bundled.model.feature_info
    stage_layers = [info for info in bundled_record.layers if info.kind == "stage"]
    assert [info.name for info in stage_layers] == [stage["module"] for stage in stages]
    # ...and every block in between, in the order the network computes them (not only 5 stages)
    blocks = [name for name, _ in bundled.model.named_modules() if name.count(".") == 2 and name.startswith("blocks.")]
    assert len(bundled_record.layers) == len(blocks) == 16
    assert [int(info.name.split(".")[1]) for info in bundled_record.layers] == \
        sorted(int(info.name.split(".")[1]) for info in bundled_record.layers)
    assert bundled_record.layer("block5.3").shape == (192, 7, 7)
    for info, stage in zip(stage_layers, stages):
        assert info.shape == (stage["num_chs"], 224 // stage["reduction"], 224 // stage["reduction"])
        assert info.stride == stage["reduction"]
        assert bundled_record.maps[info.name].shape == info.shape
        assert bundled_record.maps[info.name].dtype == np.uint8
    assert bundled_record.final_layer.shape == (320, 7, 7)
    assert bundled_record.weights == "bundled"
    assert bundled_record.crop.size == (224, 224)
    # Real weights on a real cat: the recorded pass is the classifier's pass.
    assert "cat" in bundled_record.prediction[0]


def test_vgg16_random_records_every_conv_relu_and_pool(vgg_record):
    aliases = [info.alias for info in vgg_record.layers]
    convs = [a for a in aliases if a.startswith("conv")]
    assert len(convs) == 13 and convs[0] == "conv1_1" and convs[-1] == "conv5_3"
    assert len([a for a in aliases if a.startswith("relu")]) == 13
    assert [a for a in aliases if a.startswith("pool")] == [f"pool{i}" for i in range(1, 6)]
    assert vgg_record.layer("conv1_1").shape == (64, 224, 224)
    assert vgg_record.layer("features.28").alias == "conv5_3"
    assert vgg_record.layer("conv5_3").shape == (512, 14, 14)
    assert vgg_record.final_layer.name == "features.30" and vgg_record.final_layer.shape == (512, 7, 7)
    assert vgg_record.layer("stage1").alias == "relu1_2" and vgg_record.layer("stage6").alias == "pool5"
    assert vgg_record.weights == "random" and "RANDOM" in vgg_record.status
    # VGG's ReLUs run in place: the conv output must have been copied before its ReLU overwrote it.
    conv, relu = vgg_record.stats["features.28"], vgg_record.stats["features.29"]
    assert conv.minimum < 0 and relu.minimum == 0
    assert np.allclose(vgg_record.strength["features.28"], vgg_record.strength["features.29"], rtol=1e-4)


def test_switching_layers_reuses_the_recorded_pass(bundled, chelsea, bundled_record):
    calls = []
    handle = bundled.model.register_forward_pre_hook(lambda module, args: calls.append(1))
    try:
        again = record_features(bundled, chelsea)
        for info in again.layers:
            render_grid(again, info.name, 4)
            render_channel(again, info.alias, 0)
        assert again is bundled_record and calls == []
        other = record_features(bundled, load_image("assets/coffee.png"))
        assert other is not bundled_record and calls == [1]
    finally:
        handle.remove()
    assert "cup" in other.prediction[0] or "espresso" in other.prediction[0]


def test_channels_are_ranked_by_activity(bundled_record):
    name = bundled_record.layers[2].name
    ranked = bundled_record.ranked_channels(name)
    strength = bundled_record.strength[name]
    assert sorted(ranked) == list(range(bundled_record.layers[2].shape[0]))
    assert all(strength[a] >= strength[b] for a, b in zip(ranked, ranked[1:]))
    assert bundled_record.ranked_channels(name, 8) == ranked[:8]
    # The stored uint8 map is the channel on its own range, and decodes back to it.
    channel = ranked[0]
    values = bundled_record.channel(name, channel)
    assert values.min() == pytest.approx(bundled_record.channel_low[name][channel], abs=1e-4)
    assert values.max() == pytest.approx(bundled_record.channel_high[name][channel], rel=1e-4)


def test_bad_layer_and_channel_get_clear_messages(bundled_record):
    with pytest.raises(UnknownLayer, match="stage1 \\(blocks.0\\)"):
        bundled_record.layer("conv9_9")
    with pytest.raises(ValueError, match="channels 0..15"):
        bundled_record.channel("stage1", 16)


def _tile_colours(picture: Image.Image, cmap_colours: np.ndarray) -> float:
    """Share of the picture's pixels that are colormap colours (not white, grey or text)."""
    pixels = np.asarray(picture.convert("RGB")).reshape(-1, 3).astype(int)
    palette = {tuple(c) for c in cmap_colours.tolist()}
    sample = pixels[:: 7]
    return sum(tuple(p) in palette for p in sample) / len(sample)


def test_grid_is_a_real_picture_that_changes_with_the_layer(bundled_record):
    viridis = colorize(np.arange(256, dtype=np.uint8)[None])[0]
    first = render_grid(bundled_record, "stage1", 16)
    deep = render_grid(bundled_record, "stage4", 16)
    assert first.width == 1600 and 500 < first.height < 900
    assert 0.5 < _tile_colours(first, viridis) < 0.95  # mostly maps, plus a title and labels
    assert len(set(first.convert("RGB").getdata())) > 200
    assert np.abs(np.asarray(first, dtype=int) - np.asarray(deep, dtype=int)).mean() > 10
    four = render_grid(bundled_record, "stage1", 4)
    assert four.height < first.height


def test_channel_view_overlays_the_input_and_strip_shows_the_final_block(bundled_record, vgg_record):
    view = np.asarray(render_channel(bundled_record, "stage1", 3), dtype=int)
    panel = 512
    top = view.shape[0] - panel
    crop, enlarged, overlay = (view[top:, 10 + i * (panel + 10): 10 + i * (panel + 10) + panel] for i in range(3))
    assert crop.shape == enlarged.shape == overlay.shape == (panel, panel, 3)
    # The overlay is neither the photo nor the map alone, but resembles both.
    assert np.abs(overlay - crop).mean() > 10 and np.abs(overlay - enlarged).mean() > 10
    strip = render_strip(vgg_record)
    assert strip.width == 1600 and strip.height < 300
    markdown = stats_markdown(vgg_record, "conv5_3")
    assert "512×14×14" in markdown and "meaningless" in markdown


def test_record_cache_keeps_the_most_recent_within_its_budget(bundled, bundled_record):
    from core.features import RecordCache

    coffee = record_features(bundled, load_image("assets/coffee.png"))
    small = RecordCache(budget_bytes=bundled_record.nbytes + coffee.nbytes // 2)
    small.put(bundled_record)
    small.put(coffee)
    assert small.get(bundled_record.key) is None and small.get(coffee.key) is coffee
    small.put(bundled_record)  # back in: now coffee is the least recently used and goes
    assert len(small) == 1 and small.get(bundled_record.key) is bundled_record
