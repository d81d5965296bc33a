"""Feature maps tab: what each layer of a pretrained CNN computes for one image.

One forward pass records every layer (core.features); the session keeps only the record's
key, and switching layer, channel, grid size or colormap re-renders from the cached record.
"""
from __future__ import annotations


import gradio as gr
import pandas as pd
from PIL import Image

from core import backbones
from core.feature_views import (COLORMAPS, DEFAULT_COLORMAP, GRID_COUNTS, LAYERS_TABLE_HEADERS, channel_at,
                                layers_table, layers_table_headers, render_channel, render_grid, render_strip,
                                stats_markdown)
from core.features import UnknownLayer, cached_record, pretrained_available, record_features
from core.images import ImageLoadError, load_image
from core.weights import load_model
from demo import example_path
from demo.components import (PRETRAINED, RANDOM, ImageInput, backbone_choices, fallback_text, friendly_errors,
                             image_error_text, weight_kind, weights_status)
from demo.i18n import T, add_strings, load_strings, request_language, tr
from demo.notes import lesson_notes
from demo.result_files import cached_picture

add_strings(*load_strings("features"))  # this tab's English and Dutch: demo/strings/features.json

EXAMPLES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]
LESSON_BACKBONE = "vgg16.tv_in1k"


def _as_jpeg(picture: Image.Image, name: str) -> str:
    """The picture as a quality-92 JPEG in Gradio's cache, ready to send (written once: see
    demo.result_files, as every visitor opening this tab on the same photo gets the same grid).

    Gradio would encode these 1600-pixel pictures as WebP or PNG, which takes 10-20 times
    longer than drawing them (0.1-0.4 s vs ~20 ms) and would make switching layers sluggish.
    """
    return cached_picture(picture.convert("RGB"), f"{name}.jpg", "JPEG", quality=92)


def _grid(record, layer, count, cmap, lang=None) -> str:
    return _as_jpeg(render_grid(record, layer, int(count), cmap, lang=lang), "feature-grid")


def _channel(record, layer, channel, cmap, lang=None) -> str:
    return _as_jpeg(render_channel(record, layer, int(channel), cmap, lang=lang), "feature-channel")


def _strip(record, cmap, lang=None) -> str:
    return _as_jpeg(render_strip(record, cmap=cmap, lang=lang), "feature-strip")


def _load_image(image_path: str | None, lang: str | None = None):
    if not image_path:
        raise gr.Error(tr("classify.no_image", lang))
    try:
        return load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(image_error_text(error, lang), print_exception=False) from None


def _load_model(backbone: str, weights: str, lang: str | None = None):
    """(LoadedModel, fallback message): pretrained weights that cannot be had fall back to the
    bundled model, with a message that says so and what else to pick."""
    loaded, fallback = load_model(backbone, weight_kind(weights))
    if fallback:
        fallback = fallback_text(fallback, lang) + tr("features.fallback_hint", lang,
                                                             random=tr("classify.random", lang), backbone=backbone)
    return loaded, fallback


def _record(image_path, backbone, weights, lang=None):
    image = _load_image(image_path, lang)
    loaded, fallback = _load_model(backbone or LESSON_BACKBONE, weights, lang)
    return record_features(loaded, image), fallback


def _record_for(key, image_path, backbone, weights):
    """The session's cached record, or (evicted by other visitors' images) the same one recomputed."""
    return cached_record(key) or _record(image_path, backbone, weights)[0]


def _status(record, fallback: str, lang: str | None = None) -> str:
    from demo.components import model_status

    status = record.status if not lang or lang == "en" else model_status(*_status_parts(record), lang)
    return weights_status(record.weights, status, fallback, lang)


def _status_parts(record) -> tuple[str, str, str]:
    """(name, weights, note) of a record's model (its status is backbones.status_text(name, weights, note)),
    for model_status in another language."""
    name = record.status.partition(": ")[0]
    plain = backbones.status_text(name, record.weights)
    rest = record.status[len(plain):] if record.status.startswith(plain) else ""
    return name, record.weights, rest[2:-1] if rest.startswith(" (") and rest.endswith(")") else ""


def _channel_slider(record, layer: str, lang: str | None = None) -> dict:
    info = record.layer(layer)
    return gr.update(maximum=info.shape[0] - 1, value=record.ranked_channels(info.name, 1)[0],
                     label=tr("features.channel_range", lang, last=info.shape[0] - 1))


def _table(record, lang: str | None = None) -> pd.DataFrame:
    return pd.DataFrame(layers_table(record, lang), columns=layers_table_headers(lang))


@friendly_errors
def show_features(image_path, backbone, weights, layer, count, cmap, request: gr.Request = None):
    """Record every layer of the network for this image, and draw the chosen one."""
    lang = request_language(request)
    record, fallback = _record(image_path, backbone, weights, lang)
    try:
        layer = record.layer(layer).name
    except UnknownLayer:  # e.g. the previous backbone's layer: start this one at its first stage
        layer = record.default_layer.name
    slider = _channel_slider(record, layer, lang)
    return (
        record.key,
        gr.update(choices=[(info.title, info.name) for info in record.layers], value=layer),
        slider,
        _grid(record, layer, count, cmap, lang),
        _channel(record, layer, slider["value"], cmap, lang),
        _strip(record, cmap, lang),
        stats_markdown(record, layer, lang),
        record.crop,
        _status(record, fallback, lang),
        _table(record, lang),
    )


# Spelled-out parameters (no *args): Gradio finds the gr.Request parameter by its place in the signature.
def show_if_image(image_path, backbone, weights, layer, count, cmap, request: gr.Request = None):
    if not image_path:  # the image was cleared: leave the last pictures alone
        return (gr.skip(),) * 10
    return show_features(image_path, backbone, weights, layer, count, cmap, request=request)


def show_on_open(key, image_path, backbone, weights, layer, count, cmap, request: gr.Request = None):
    """Opening the tab draws the example; coming back to it keeps what the visitor was looking at."""
    if key:
        return (gr.skip(),) * 10
    return show_if_image(image_path, backbone, weights, layer, count, cmap, request=request)


@friendly_errors
def switch_layer(key, image_path, backbone, weights, layer, count, cmap, request: gr.Request = None):
    """A new layer: grid, channel view and statistics from the cached record (no forward pass)."""
    lang = request_language(request)
    record = _record_for(key, image_path, backbone, weights)
    slider = _channel_slider(record, layer, lang)
    return slider, _grid(record, layer, count, cmap, lang), _channel(record, layer, slider["value"], cmap, lang), \
        stats_markdown(record, layer, lang)


@friendly_errors
def switch_count(key, image_path, backbone, weights, layer, count, cmap, request: gr.Request = None):
    return _grid(_record_for(key, image_path, backbone, weights), layer, count, cmap, request_language(request))


@friendly_errors
def switch_channel(key, image_path, backbone, weights, layer, channel, cmap, request: gr.Request = None):
    return _channel(_record_for(key, image_path, backbone, weights), layer, channel, cmap, request_language(request))


@friendly_errors
def pick_tile(key, image_path, backbone, weights, layer, count, cmap, event: gr.SelectData,
              request: gr.Request = None):
    """A click on a grid tile enlarges that channel."""
    record = _record_for(key, image_path, backbone, weights)
    x, y = event.index
    channel = channel_at(record, layer, int(count), x, y)
    if channel is None:  # between tiles
        return gr.skip(), gr.skip()
    return gr.update(value=channel), _channel(record, layer, channel, cmap, request_language(request))


@friendly_errors
def switch_colormap(key, image_path, backbone, weights, layer, count, channel, cmap, request: gr.Request = None):
    lang = request_language(request)
    record = _record_for(key, image_path, backbone, weights)
    return (_grid(record, layer, count, cmap, lang), _channel(record, layer, channel, cmap, lang),
            _strip(record, cmap, lang))


def _availability_note(default_backbone: str):
    return T("features.available" if default_backbone == LESSON_BACKBONE else "features.unavailable")


def build(context) -> None:
    lesson_notes("features")
    default_backbone = LESSON_BACKBONE if pretrained_available(LESSON_BACKBONE) else backbones.BUNDLED_MODEL
    gr.Markdown(_availability_note(default_backbone), elem_classes=["tll-status"])
    record_key = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            image = ImageInput(type="filepath", value=example_path("chelsea.png"), label=T("features.image"), elem_id="features-image",
                               sources=["upload", "webcam", "clipboard"], height=300)
            # One per line: the backbone's full title must fit (it was cut off beside the Weights radio).
            backbone = gr.Dropdown(backbone_choices(), value=default_backbone,
                                   label=T("features.backbone"), elem_id="features-backbone")
            weights = gr.Radio([(T("classify.pretrained"), PRETRAINED), (T("classify.random"), RANDOM)],
                               value=PRETRAINED, label=T("features.weights"))
            run = gr.Button(T("features.run"), variant="primary")
            gr.Examples([[example_path(name)] for name in EXAMPLES], inputs=[image], label=T("features.examples"))
            gr.Markdown(T("classify.accepted"))
        with gr.Column(scale=3):
            crop = gr.Image(label=T("features.crop"), height=260, interactive=False,
                            elem_id="features-crop", elem_classes=["tll-crop"])
            status = gr.Markdown(elem_classes=["tll-status"], elem_id="features-status")
        with gr.Column(scale=4):
            # Custom values let API callers name a layer before the first recording ("conv5_3").
            layer = gr.Dropdown([], label=T("features.layer"), elem_id="features-layer",
                                filterable=True, allow_custom_value=True)
            count = gr.Radio(list(GRID_COUNTS), value=16, label=T("features.count"))
            channel = gr.Slider(0, 15, value=0, step=1, label=T("features.channel"),
                                elem_id="features-channel")
            cmap = gr.Dropdown(list(COLORMAPS), value=DEFAULT_COLORMAP, label=T("features.cmap"))
            stats = gr.Markdown(elem_classes=["tll-status"], elem_id="features-stats")
    # The pictures carry their own titles, so Gradio's label badge (which would cover them) is hidden.
    picture = dict(show_label=False, interactive=False, format="jpeg", buttons=["download", "fullscreen"],
                   elem_classes=["tll-feature-picture"])
    grid = gr.Image(label=T("features.grid"), elem_id="features-grid", **picture)
    channel_view = gr.Image(label=T("features.channel_view"), elem_id="features-channel-view",
                            **picture)
    strip = gr.Image(label=T("features.strip"), elem_id="features-strip",
                     **picture)
    with gr.Accordion(T("features.table"), open=False):
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
    if context.tab is not None:  # compute when the tab is first opened
        context.tab.select(show_on_open, [record_key, *record_inputs], record_outputs, api_visibility="private",
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
