"""`python app.py cam IMAGE --out OVERLAY.png [--target CLASS] [--backbone NAME] [--weights KIND] [--model FILE]
[--lang en|nl]`.

Writes the class activation map over the model's exact input crop (OVERLAY.png), and the map
alone as an 8-bit greyscale PNG of the same pixel size (--heat, default OVERLAY-heat.png), and
prints one JSON line: {"file", "target", "label", "prob", "out", "heat", "method", "weights", "top"}.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core import backbones, cam
from core.imagenet import localize_labels
from core.jsonl import add_lang_argument
from core.images import load_image

log = logging.getLogger("cam")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("image", metavar="IMAGE", help="an image file")
    parser.add_argument("--out", required=True, metavar="OVERLAY.png", help="where to write the overlay")
    parser.add_argument("--heat", metavar="HEAT.png", help="where to write the greyscale map (default: OVERLAY-heat.png)")
    parser.add_argument("--target", default=None, metavar="CLASS",
                        help="class index (285) or name (Egyptian cat); default: the model's top class")
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL, metavar="NAME",
                        help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--weights", choices=backbones.STOCK_WEIGHT_KINDS, default=None,
                        help="bundled, hub or random (default: bundled for EfficientNet-Lite0, hub otherwise)")
    parser.add_argument("--model", metavar="FILE", help="a model trained with `app.py train` (.safetensors)")
    parser.add_argument("--method", choices=cam.METHODS, default=cam.DEFAULT_METHOD,
                        help=f"map method (default {cam.DEFAULT_METHOD}: measured best, see scripts/bench_cam.py)")
    add_lang_argument(parser)


def _output(path: str, option: str) -> Path:
    from core.jsonl import picture_path

    return picture_path(path, option)


def run_cli(args) -> int:
    from core.classify_cli import load_model
    from core.jsonl import emit

    out = _output(args.out, "--out")
    heat_path = Path(args.heat) if args.heat else out.with_name(f"{out.stem}-heat.png")
    if heat_path.suffix.lower() != ".png":
        raise ValueError(f"--heat {args.heat}: the greyscale map is written as .png")
    _output(str(heat_path), "--heat")
    image = load_image(args.image)
    loaded = load_model(args)
    log.info("%s", loaded.status)
    if loaded.weights == backbones.RANDOM:
        log.warning("random weights: this map shows no learned evidence")
    result = cam.class_activation_map(loaded, image, args.target, args.method)
    result.overlay.save(out)
    result.heat_image.save(heat_path, format="PNG")
    # --lang renames ImageNet labels only (a trained model's own class names stay); keys stay the same.
    label = localize_labels({"label": result.label, "index": result.target}, args.lang)["label"]
    emit({"file": args.image, "target": result.target, "label": label, "prob": result.prob,
          "out": str(out), "heat": str(heat_path), "method": result.method, "weights": loaded.weights,
          "size": list(result.heat.shape[::-1]), "top": localize_labels(result.top, args.lang)})
    return 0
