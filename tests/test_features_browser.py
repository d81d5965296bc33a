"""A real browser opens the Feature maps tab and switches layers; the API draws a chosen layer."""
from __future__ import annotations

import pytest
from gradio_client import handle_file
from PIL import Image

from core import backbones
from core.feature_views import grid_layout
from core.features import pretrained_available, record_features
from core.images import load_image

# What the tab starts with: the lesson's VGG-16 when its weights are cached here (the app runs
# offline in tests), else the bundled model. (first layer's shape, a deeper layer, its shape)
EXPECTED = {
    "vgg16.tv_in1k": ("64×224×224", "relu5_3", "512×14×14"),
    backbones.BUNDLED_MODEL: ("16×112×112", "stage4", "112×14×14"),
}


def _grid_src(page) -> str:
    return page.locator("#features-grid img").get_attribute("src")


def test_opening_the_tab_shows_the_cat_and_switching_layers_redraws(page, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # as the app runs: only the local cache counts
    default = "vgg16.tv_in1k" if pretrained_available("vgg16") else backbones.BUNDLED_MODEL
    first_shape, deeper, deeper_shape = EXPECTED[default]
    page.get_by_role("tab", name="Feature maps").click()
    # Opening the tab records the example cat with the default backbone.
    page.locator("#features-grid img").wait_for()
    page.locator("#features-crop img").wait_for()
    if default == backbones.BUNDLED_MODEL:
        assert page.get_by_text("VGG-16's pretrained weights are not available here").is_visible()
    stats = page.locator("#features-stats")
    assert first_shape in stats.inner_text()
    first = _grid_src(page)

    page.locator("#features-layer input").click()
    page.get_by_role("option", name=deeper).first.click()
    page.wait_for_function("s => document.querySelector('#features-grid img').src !== s", arg=first)
    page.get_by_text(deeper_shape).first.wait_for()
    assert deeper_shape in stats.inner_text() and first_shape not in stats.inner_text()

    second = _grid_src(page)
    page.get_by_label("4", exact=True).check()
    page.wait_for_function("s => document.querySelector('#features-grid img').src !== s", arg=second)

    # Clicking the third tile enlarges that channel (the same ranking, computed here).
    record = record_features(backbones.load_backbone(default), load_image("assets/chelsea.png"))
    layout = grid_layout(record, deeper, 4)
    grid, view = page.locator("#features-grid img"), page.locator("#features-channel-view img")
    # The new picture's src is set before its pixels arrive: wait until it has decoded.
    page.wait_for_function("() => { const i = document.querySelector('#features-grid img');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    natural_width = page.evaluate("() => document.querySelector('#features-grid img').naturalWidth")
    scale = grid.bounding_box()["width"] / natural_width
    left, top = layout.tile_origin(2)
    before = view.get_attribute("src")
    grid.click(position={"x": (left + layout.tile / 2) * scale,
                         "y": (layout.header_height + top + layout.label_height + layout.tile / 2) * scale})
    page.wait_for_function("s => document.querySelector('#features-channel-view img').src !== s", arg=before)
    # The expected channel comes from the ranking (the third strongest), not from the layout that
    # placed the click: a layout that puts tiles elsewhere makes the click land on another channel.
    third_strongest = record.ranked_channels(deeper, 4)[2]
    assert page.locator("#features-channel input[type=number]").input_value() == str(third_strongest)


def test_features_endpoint_draws_the_chosen_layer(client):
    layer, channel, grid, channel_view, strip, stats, crop, status, table = client.predict(
        handle_file("assets/coffee.png"), "tf_efficientnet_lite0", "pretrained", "stage4", 8, "magma",
        api_name="/features")
    # Dropdown and slider come back as updates: the layer list and the most active channel.
    assert layer["value"] == "blocks.4" and len(layer["choices"]) == 16  # every block, not only 5 stages
    assert "112×14×14" in stats and "espresso" in stats
    assert "bundled" in status and 0 <= channel["value"] < 112 and channel["maximum"] == 111
    with Image.open(grid) as picture:
        assert picture.width == 1600 and picture.height > 300
    rows = table["data"]
    assert len(rows) == 16 and [row[1] for row in rows if row[2] == "stage"][3] == "blocks.4"


def test_features_endpoint_rejects_a_non_image_with_its_name(client, tmp_path):
    bad = tmp_path / "homework.png"
    bad.write_bytes(b"%PDF-1.4 not really a picture")
    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(bad)), "tf_efficientnet_lite0", "pretrained", "stage1", 4, "viridis",
                       api_name="/features")
    assert "homework.png" in str(error.value) and "PDF" in str(error.value)
