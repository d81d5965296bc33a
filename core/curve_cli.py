"""`python app.py curve DATA --sizes 1,2,5,10,20 --draws 5 --out CURVE.png [--backbone NAME] [--seed S]`:
the learning curve, pretrained features vs the same network's random-weight features.

Prints one JSON line per (size, weights):
  {"size", "weights": "pretrained"|"random", "mean_acc", "min_acc", "max_acc", "draws", "test_images"}
then {"out": PATH}. Test photos are a fixed held-out part of DATA, never drawn for training.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core import backbones, curve, datasets

log = logging.getLogger("curve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="a folder with one sub-folder of images per class, or a .zip of them")
    parser.add_argument("--sizes", default=",".join(map(str, curve.DEFAULT_SIZES)),
                        help="training photos per class to try, comma-separated (default 1,2,5,10,20)")
    parser.add_argument("--draws", type=int, default=curve.DEFAULT_DRAWS,
                        help=f"random draws per size (default {curve.DEFAULT_DRAWS}, at most {curve.MAX_DRAWS})")
    parser.add_argument("--out", required=True, metavar="CURVE.png", help="where to write the plot (PNG)")
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL,
                        help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--seed", type=int, default=0, help="random seed for the test split and the draws")


def run_cli(args) -> int:
    from core.jsonl import emit

    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError("--out must name a .png file")
    sizes = curve.parse_sizes(args.sizes)  # bad arguments fail before any image is read
    if not 1 <= args.draws <= curve.MAX_DRAWS:
        raise ValueError(curve.TEXT["bad_draws"].format(max=curve.MAX_DRAWS))
    datasets.use_cli_limits()
    image_set = datasets.load_any(args.data)
    if image_set.skipped:
        log.warning("%s", datasets.skipped_text(image_set.skipped))
    log.info("learning curve on %s", image_set.summary())
    done = None
    for event in curve.learning_curve(image_set, sizes, args.draws, args.backbone, args.seed):
        if event["event"] == "status":
            log.info("%s", event["message"])
        elif event["event"] == "point":
            emit({k: event[k] for k in ("size", "weights", "mean_acc", "min_acc", "max_acc", "draws", "test_images")})
        elif event["event"] == "done":
            done = event
    if done["dropped_sizes"]:
        log.warning("sizes %s left out: the smallest class cannot give that many training photos and keep "
                    "test photos apart", ", ".join(map(str, done["dropped_sizes"])))
    figure = curve.plot_curve(done["points"], done["classes"], backbones.resolve_name(args.backbone),
                              done["test_images"], sizes=[p["size"] for p in done["points"]])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(curve.figure_png(figure))
    emit({"out": str(out)})
    return 0
