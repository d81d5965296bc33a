"""`python app.py classify IMAGE... [--backbone NAME] [--weights KIND] [--model FILE] [--top K] [--lang en|nl]`."""
from __future__ import annotations

import argparse
import logging

from core import backbones
from core.classify import classify_files
from core.imagenet import localize_labels
from core.jsonl import add_lang_argument

log = logging.getLogger("classify")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files")
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL, help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--weights", choices=backbones.STOCK_WEIGHT_KINDS, default=None,
                        help="bundled, hub or random (default: bundled for EfficientNet-Lite0, hub otherwise)")
    parser.add_argument("--model", metavar="FILE", help="a model trained with `app.py train` (.safetensors)")
    parser.add_argument("--top", type=int, default=5, metavar="K", help="how many labels per image (default 5)")
    add_lang_argument(parser)
    parser.add_argument("--batch-size", type=int, default=8, help=argparse.SUPPRESS)


def load_model(args) -> backbones.LoadedModel:
    from core.weights import load_model as load_weights

    return load_weights(args.backbone, args.weights, model_file=args.model, fallback=False)[0]


def run_cli(args) -> int:
    from core.jsonl import emit

    if args.top < 1:
        raise ValueError("--top must be at least 1")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1")
    loaded = load_model(args)
    log.info("%s", loaded.status)
    if loaded.weights == backbones.RANDOM:
        log.warning("random weights: these labels are not real predictions")
    failures = 0
    for result in classify_files(loaded, args.images, k=args.top, batch_size=args.batch_size):
        if "error" in result:
            failures += 1
        else:
            result["weights"] = loaded.weights
        emit(localize_labels(result, args.lang))
    return 1 if failures else 0
