"""`python app.py features IMAGE --out GRID.png [--backbone NAME] [--weights KIND] [--layer NAME] [--channels N]`.

Writes the grid of the layer's most active channels and prints one JSON line: every recorded
layer with its shape, the layer drawn, its top channels and statistics, and which weights
produced them. Without --backbone it uses VGG-16 (the lesson's network) when its weights can
be had, and says so when it falls back to the bundled EfficientNet-Lite0.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core import backbones
from core.feature_views import COLORMAPS, DEFAULT_COLORMAP, render_channel, render_grid, render_strip
from core.features import record_features
from core.images import load_image
from core.weights import load_model as load_weights

log = logging.getLogger("features")

LESSON_BACKBONE = "vgg16.tv_in1k"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    parser.add_argument("--out", required=True, metavar="GRID.png", help="where to write the grid picture")
    parser.add_argument("--backbone", default=None, metavar="NAME",
                        help="timm model name, with or without its pretrained tag (default: vgg16 when its "
                             "weights are available, else the bundled EfficientNet-Lite0)")
    parser.add_argument("--weights", choices=backbones.STOCK_WEIGHT_KINDS, default=None,
                        help="bundled, hub or random (default: bundled for EfficientNet-Lite0, hub otherwise)")
    parser.add_argument("--layer", default=None, metavar="NAME",
                        help="module name (features.28) or short name (conv5_3, stage3); default: the first stage")
    parser.add_argument("--channels", type=int, default=16, metavar="N",
                        help="how many channels in the grid (default 16)")
    parser.add_argument("--channel", type=int, default=None, metavar="C",
                        help="channel for --overlay (default: the layer's most active)")
    parser.add_argument("--overlay", metavar="FILE.png",
                        help="also write one channel enlarged and overlaid on the input")
    parser.add_argument("--strip", metavar="FILE.png", help="also write the final feature block as a strip")
    parser.add_argument("--cmap", choices=COLORMAPS, default=DEFAULT_COLORMAP, help="colormap (default viridis)")


def _check_output(path: str | None, option: str) -> Path | None:
    from core.jsonl import picture_path

    return picture_path(path, option) if path else None


def load_model(backbone: str | None, weights: str | None) -> tuple[backbones.LoadedModel, str]:
    """(model, fallback message). Only the default choice falls back: a backbone asked for by
    name with weights that cannot be had is an error that says what to do instead."""
    default = backbone is None
    if default:
        backbone = backbones.BUNDLED_MODEL if weights == backbones.BUNDLED else LESSON_BACKBONE
    return load_weights(backbone, weights, fallback=default,
                        unavailable_hint=f"Use --weights random for {backbone} with random weights, "
                                         "or --backbone bundled")


def run_cli(args) -> int:
    from core.jsonl import emit

    if not 1 <= args.channels <= 512:
        raise ValueError("--channels must be between 1 and 512")
    out = _check_output(args.out, "--out")
    overlay_out = _check_output(args.overlay, "--overlay")
    strip_out = _check_output(args.strip, "--strip")
    image = load_image(args.image)
    loaded, fallback = load_model(args.backbone, args.weights)
    if fallback:
        log.warning("%s", fallback)
    log.info("%s", loaded.status)
    record = record_features(loaded, image)
    layer = record.layer(args.layer)
    channel = record.check_channel(layer.name, args.channel) if args.channel is not None \
        else record.ranked_channels(layer.name, 1)[0]
    render_grid(record, layer.name, args.channels, args.cmap).save(out)
    if overlay_out:
        render_channel(record, layer.name, channel, args.cmap).save(overlay_out)
    if strip_out:
        render_strip(record, cmap=args.cmap).save(strip_out)
    result = {
        "file": str(args.image),
        "backbone": record.backbone,
        "weights": record.weights,
        "layer": layer.name,
        "alias": layer.alias,
        "shape": list(layer.shape),
        "top_channels": record.ranked_channels(layer.name, args.channels),
        "stats": record.stats[layer.name].to_json(),
        "final_layer": record.final_layer.name,
        "layers": record.layers_json(),
        "out": str(out),
        "seconds": round(record.seconds, 3),
    }
    if record.weights == backbones.RANDOM:
        result["note"] = "RANDOM weights: untrained filters, not what a trained network sees"
    if fallback:
        result["fallback"] = fallback
    if overlay_out:
        result["overlay"], result["channel"] = str(overlay_out), channel
    if strip_out:
        result["strip"] = str(strip_out)
    emit(result)
    return 0
