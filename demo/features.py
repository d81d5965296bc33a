"""Feature maps tab: what each layer of a pretrained CNN computes for one image.

One forward pass records every layer (core.features); the session keeps only the record's
key, and switching layer, channel, grid size or colormap re-renders from the cached record.
"""
from __future__ import annotations

import io
from pathlib import Path

import gradio as gr
from PIL import Image

from core import backbones
from core.feature_views import (COLORMAPS, DEFAULT_COLORMAP, GRID_COUNTS, LAYERS_TABLE_HEADERS, channel_at,
                                layers_table, render_channel, render_grid, render_strip, stats_markdown)
from core.features import UnknownLayer, cached_record, pretrained_available, record_features
from core.images import ImageLoadError, limits_text, load_image
from core.weights import load_model
from demo import example_path
from demo.components import PRETRAINED, RANDOM, ImageInput, friendly_errors, weight_kind, weights_status
from demo.notes import lesson_notes

EXAMPLES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]
LESSON_BACKBONE = "vgg16.tv_in1k"


def _as_jpeg(picture: Image.Image, name: str) -> str:
    """The picture as a quality-92 JPEG in Gradio's cache, ready to send.

    Gradio would encode these 1600-pixel pictures as WebP or PNG, which takes 10-20 times
    longer than drawing them (0.1-0.4 s vs ~20 ms) and would make switching layers sluggish.
    """
    from gradio import processing_utils, utils

    buffer = io.BytesIO()
    picture.convert("RGB").save(buffer, "JPEG", quality=92)
    data = buffer.getvalue()
    folder = Path(utils.get_upload_folder()) / processing_utils.hash_bytes(data)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jpg"
    path.write_bytes(data)
    return str(path)


def _grid(record, layer, count, cmap) -> str:
    return _as_jpeg(render_grid(record, layer, int(count), cmap), "feature-grid")


def _channel(record, layer, channel, cmap) -> str:
    return _as_jpeg(render_channel(record, layer, int(channel), cmap), "feature-channel")


def _strip(record, cmap) -> str:
    return _as_jpeg(render_strip(record, cmap=cmap), "feature-strip")


def _load_image(image_path: str | None):
    if not image_path:
        raise gr.Error("Upload an image, take one with the webcam, paste one, or pick an example.")
    try:
        return load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(str(error)) from None


def _load_model(backbone: str, weights: str):
    """(LoadedModel, fallback message): pretrained weights that cannot be had fall back to the
    bundled model, with a message that says so and what else to pick."""
    loaded, fallback = load_model(backbone, weight_kind(weights))
    if fallback:
        fallback += f". Pick weights “{RANDOM}” to see {backbone}'s own layers with random filters."
    return loaded, fallback


def _record(image_path, backbone, weights):
    image = _load_image(image_path)
    loaded, fallback = _load_model(backbone or LESSON_BACKBONE, weights)
    return record_features(loaded, image), fallback


def _record_for(key, image_path, backbone, weights):
    """The session's cached record, or (evicted by other visitors' images) the same one recomputed."""
    return cached_record(key) or _record(image_path, backbone, weights)[0]


def _status(record, fallback: str) -> str:
    return weights_status(record.weights, record.status, fallback)


def _channel_slider(record, layer: str) -> dict:
    info = record.layer(layer)
    return gr.update(maximum=info.shape[0] - 1, value=record.ranked_channels(info.name, 1)[0],
                     label=f"Channel to enlarge (0–{info.shape[0] - 1}), or click a tile in the grid")


@friendly_errors
def show_features(image_path, backbone, weights, layer, count, cmap):
    """Record every layer of the network for this image, and draw the chosen one."""
    record, fallback = _record(image_path, backbone, weights)
    try:
        layer = record.layer(layer).name
    except UnknownLayer:  # e.g. the previous backbone's layer: start this one at its first stage
        layer = record.default_layer.name
    slider = _channel_slider(record, layer)
    return (
        record.key,
        gr.update(choices=[(info.title, info.name) for info in record.layers], value=layer),
        slider,
        _grid(record, layer, count, cmap),
        _channel(record, layer, slider["value"], cmap),
        _strip(record, cmap),
        stats_markdown(record, layer),
        record.crop,
        _status(record, fallback),
        layers_table(record),
    )


def show_if_image(image_path, *rest):
    if not image_path:  # the image was cleared: leave the last pictures alone
        return (gr.skip(),) * 10
    return show_features(image_path, *rest)


def show_on_open(key, image_path, *rest):
    """Opening the tab draws the example; coming back to it keeps what the visitor was looking at."""
    if key:
        return (gr.skip(),) * 10
    return show_if_image(image_path, *rest)


@friendly_errors
def switch_layer(key, image_path, backbone, weights, layer, count, cmap):
    """A new layer: grid, channel view and statistics from the cached record (no forward pass)."""
    record = _record_for(key, image_path, backbone, weights)
    slider = _channel_slider(record, layer)
    return slider, _grid(record, layer, count, cmap), _channel(record, layer, slider["value"], cmap), \
        stats_markdown(record, layer)


@friendly_errors
def switch_count(key, image_path, backbone, weights, layer, count, cmap):
    return _grid(_record_for(key, image_path, backbone, weights), layer, count, cmap)


@friendly_errors
def switch_channel(key, image_path, backbone, weights, layer, channel, cmap):
    return _channel(_record_for(key, image_path, backbone, weights), layer, channel, cmap)


@friendly_errors
def pick_tile(key, image_path, backbone, weights, layer, count, cmap, event: gr.SelectData):
    """A click on a grid tile enlarges that channel."""
    record = _record_for(key, image_path, backbone, weights)
    x, y = event.index
    channel = channel_at(record, layer, int(count), x, y)
    if channel is None:  # between tiles
        return gr.skip(), gr.skip()
    return gr.update(value=channel), _channel(record, layer, channel, cmap)


@friendly_errors
def switch_colormap(key, image_path, backbone, weights, layer, count, channel, cmap):
    record = _record_for(key, image_path, backbone, weights)
    return _grid(record, layer, count, cmap), _channel(record, layer, channel, cmap), _strip(record, cmap)


def _availability_note(default_backbone: str) -> str:
    if default_backbone == LESSON_BACKBONE:
        return "Showing **VGG-16**, the lesson's network (138 M parameters, 2014), with its ImageNet weights."
    return (f"⚠️ **VGG-16's pretrained weights are not available here** (offline and not in the local cache), so "
            f"this tab starts with the bundled **EfficientNet-Lite0**. Pick *VGG-16* with weights *{RANDOM}* to "
            "see the lesson's architecture with untrained filters: compare them with trained ones!")


def build(context) -> None:
    from gradio.context import get_render_context

    tab = get_render_context()  # the gr.Tab we are built inside: compute when it is first opened
    lesson_notes("features")
    default_backbone = LESSON_BACKBONE if pretrained_available(LESSON_BACKBONE) else backbones.BUNDLED_MODEL
    gr.Markdown(_availability_note(default_backbone), elem_classes=["tll-status"])
    record_key = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            image = ImageInput(type="filepath", value=example_path("chelsea.png"), label="Your image", elem_id="features-image",
                               sources=["upload", "webcam", "clipboard"], height=300)
            # One per line: the backbone's full title must fit (it was cut off beside the Weights radio).
            backbone = gr.Dropdown([(c.title, c.name) for c in backbones.CHOICES], value=default_backbone,
                                   label="Backbone", elem_id="features-backbone")
            weights = gr.Radio([PRETRAINED, RANDOM], value=PRETRAINED, label="Weights")
            run = gr.Button("Show feature maps", variant="primary")
            gr.Examples([[example_path(name)] for name in EXAMPLES], inputs=[image], label="Examples (click one)")
            gr.Markdown(f"<small>Accepted: JPEG, PNG, WebP, GIF, BMP, TIFF — {limits_text()}.</small>")
        with gr.Column(scale=3):
            crop = gr.Image(label="What the model sees", height=260, interactive=False,
                            elem_id="features-crop", elem_classes=["tll-crop"])
            status = gr.Markdown(elem_classes=["tll-status"], elem_id="features-status")
        with gr.Column(scale=4):
            # Custom values let API callers name a layer before the first recording ("conv5_3").
            layer = gr.Dropdown([], label="Layer (in the order the network computes them)", elem_id="features-layer",
                                filterable=True, allow_custom_value=True)
            count = gr.Radio(list(GRID_COUNTS), value=16, label="Channels in the grid (most active first)")
            channel = gr.Slider(0, 15, value=0, step=1, label="Channel to enlarge, or click a tile in the grid",
                                elem_id="features-channel")
            cmap = gr.Dropdown(list(COLORMAPS), value=DEFAULT_COLORMAP, label="Colormap (perceptual)")
            stats = gr.Markdown(elem_classes=["tll-status"], elem_id="features-stats")
    # The pictures carry their own titles, so Gradio's label badge (which would cover them) is hidden.
    picture = dict(show_label=False, interactive=False, format="jpeg", buttons=["download", "fullscreen"],
                   elem_classes=["tll-feature-picture"])
    grid = gr.Image(label="The most active channels of this layer", elem_id="features-grid", **picture)
    channel_view = gr.Image(label="One channel, enlarged and laid over the input", elem_id="features-channel-view",
                            **picture)
    strip = gr.Image(label="The final feature block (what a classifier head reads)", elem_id="features-strip",
                     **picture)
    with gr.Accordion("All layers: shapes and statistics", open=False):
        table = gr.Dataframe(headers=LAYERS_TABLE_HEADERS, interactive=False, elem_id="features-table")

    source = [record_key, image, backbone, weights]
    record_inputs = [image, backbone, weights, layer, count, cmap]
    record_outputs = [record_key, layer, channel, grid, channel_view, strip, stats, crop, status, table]
    run.click(show_features, record_inputs, record_outputs, api_name="features", concurrency_id="features",
              concurrency_limit=2)
    # A new image, backbone or weights needs a forward pass; everything else only re-renders (instant,
    # so many may run at once; still bounded, since an evicted recording is recomputed).
    RERENDER = dict(concurrency_id="features-view", concurrency_limit=8)
    image.change(show_if_image, record_inputs, record_outputs, api_visibility="private", concurrency_id="features")
    for control in (backbone, weights):
        control.input(show_features, record_inputs, record_outputs, api_visibility="private",
                      concurrency_id="features")
    if isinstance(tab, gr.Tab):
        tab.select(show_on_open, [record_key, *record_inputs], record_outputs, api_visibility="private",
                   concurrency_id="features")
    layer.input(switch_layer, [*source, layer, count, cmap], [channel, grid, channel_view, stats],
                api_visibility="private", show_progress="hidden", **RERENDER)
    count.input(switch_count, [*source, layer, count, cmap], grid, api_visibility="private",
                show_progress="hidden", **RERENDER)
    channel.release(switch_channel, [*source, layer, channel, cmap], channel_view, api_visibility="private",
                    show_progress="hidden", **RERENDER)
    grid.select(pick_tile, [*source, layer, count, cmap], [channel, channel_view], api_visibility="private",
                show_progress="hidden", **RERENDER)
    cmap.input(switch_colormap, [*source, layer, count, channel, cmap], [grid, channel_view, strip],
               api_visibility="private", show_progress="hidden", **RERENDER)
