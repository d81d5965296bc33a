"""`python app.py embed DATA --out MAP.png [--backbone NAME] [--weights pretrained|random] [--model FILE]`.

DATA is a folder (or .zip) of class folders. Writes the feature-space map (each photo at its
point) and prints one JSON line: {"weights", "points", "knn_acc", "method", "out", ...}.
"""
from __future__ import annotations

import argparse
import logging
import random
from pathlib import Path

from core import backbones, datasets, embed

log = logging.getLogger("embed")
PRETRAINED, RANDOM = "pretrained", "random"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="a folder or .zip with one folder of photos per class")
    parser.add_argument("--out", required=True, metavar="MAP.png", help="where to write the map")
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL, metavar="NAME",
                        help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--weights", choices=(PRETRAINED, RANDOM), default=PRETRAINED,
                        help="pretrained (bundled or hub) or random: the same network untrained")
    parser.add_argument("--model", metavar="FILE", help="a model trained with `app.py train`: its features")
    parser.add_argument("--method", choices=embed.METHODS, default=embed.PCA, help="2-D layout (default pca)")
    parser.add_argument("--per-class", type=int, default=None, metavar="N",
                        help="use N photos per class (a seeded random pick; default all)")
    parser.add_argument("--seed", type=int, default=0, help="for --per-class and t-SNE (default 0)")


def _pick(image_set: datasets.ImageSet, per_class: int | None, seed: int) -> datasets.ImageSet:
    if per_class is None:
        return image_set
    if per_class < 1:
        raise ValueError("--per-class must be at least 1")
    rng = random.Random(seed)
    chosen = []
    for label in range(len(image_set.class_names)):
        members = [i for i, value in enumerate(image_set.labels) if value == label]
        chosen += sorted(rng.sample(members, min(per_class, len(members))))
    return image_set.subset(sorted(chosen))


def run_cli(args) -> int:
    from core.jsonl import emit

    out = Path(args.out)
    if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
        raise ValueError(f"--out {args.out}: give a file name ending in .png, .jpg or .webp")
    if not out.parent.exists():
        raise ValueError(f"--out {args.out}: folder {out.parent} does not exist")
    if args.model:
        from core.trained import load_trained_model

        loaded = load_trained_model(args.model)
        if args.weights == RANDOM:
            loaded = embed.random_twin(loaded)
        words = "trained" if args.weights == PRETRAINED else RANDOM
    else:
        from core.weights import load_model

        loaded = load_model(args.backbone, backbones.RANDOM if args.weights == RANDOM else None, fallback=False)[0]
        words = args.weights
    log.info("%s", loaded.status)
    image_set = _pick(datasets.load_any(args.data), args.per_class, args.seed)
    if len(image_set) < 3:
        raise ValueError(f"{args.data}: at least 3 photos are needed for a map ({len(image_set)} found)")
    fmap = embed.feature_map(loaded, image_set.images, image_set.labels, image_set.class_names, image_set.names,
                             method=args.method, weights=words)
    embed.render_map(fmap, image_set.images).save(out)
    emit({"weights": words, "points": len(image_set), "knn_acc": fmap.knn_acc, "method": fmap.method,
          "out": str(out), "model": loaded.name, "dims": int(fmap.features.shape[1]),
          "classes": list(image_set.class_names), "skipped": len(image_set.skipped)})
    return 0
