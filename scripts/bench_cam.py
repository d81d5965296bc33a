"""Which Grad-CAM-family method puts a class's heat on that class's object? Measured on
two-object composites (core.cam.side_by_side): for each pair of photos the model recognises
alone, both orders, the map for each photo's class; the figure is the share of the heat on
that photo's half (1.0 = all of it, 0.5 = no better than chance).

    python scripts/bench_cam.py [--pairs 20] [--backbone NAME] [--seed 0]

Needs ../shared/data/imagenet (tests and benchmarks only) and assets/chelsea.png + coffee.png.
"""
from __future__ import annotations

import argparse
import csv
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core import backbones, cam  # noqa: E402
from core.classify import classify_image  # noqa: E402
from core.images import load_image  # noqa: E402

LEFT, RIGHT = (0.0, 0.0, 0.5, 1.0), (0.5, 0.0, 1.0, 1.0)


def shares(loaded, left, right, left_class, right_class, method):
    picture = cam.side_by_side(left, right)
    a = cam.class_activation_map(loaded, picture, left_class, method).heat
    b = cam.class_activation_map(loaded, picture, right_class, method).heat
    return cam.heat_share(a, LEFT), cam.heat_share(b, RIGHT)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL)
    parser.add_argument("--weights", default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "imagenet"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    loaded = backbones.load_backbone(args.backbone, args.weights)
    data = Path(args.data)
    photos = []
    for row in csv.DictReader(open(data / "labels.csv")):
        image = load_image(data / row["file"])
        index = int(row["class_index"])
        if classify_image(loaded, image, k=1)["top"][0]["index"] == index:  # recognised alone
            photos.append((row["file"], image, index))
    rng = random.Random(args.seed)
    pairs = [("chelsea.png", "coffee.png", 285, 967)]
    while len(pairs) < args.pairs + 1:
        a, b = rng.sample(photos, 2)
        pairs.append((a[0], b[0], a[2], b[2]))
    images = {name: image for name, image, _ in photos}
    images["chelsea.png"] = load_image(ROOT / "assets" / "chelsea.png")
    images["coffee.png"] = load_image(ROOT / "assets" / "coffee.png")
    print(f"{loaded.status}; {len(photos)} of 100 photos recognised alone; {len(pairs)} pairs x 2 orders x 2 targets")
    print(f"{'method':12} {'mean share':>10} {'min':>6} {'>=0.65':>8} {'cat/cup (285|967)':>20} {'s/map':>6}")
    for method in cam.METHODS:
        values, started = [], time.perf_counter()
        first = None
        for left, right, lc, rc in pairs:
            for (l, r, a, b) in ((left, right, lc, rc), (right, left, rc, lc)):
                pair = shares(loaded, images[l], images[r], a, b, method)
                values.extend(pair)
                if first is None or (left == "chelsea.png" and len(first) < 4):
                    first = (first or ()) + pair
        seconds = (time.perf_counter() - started) / len(values)
        arr = np.array(values)
        print(f"{method:12} {arr.mean():10.3f} {arr.min():6.3f} {(arr >= 0.65).mean():8.0%} "
              f"{' '.join(f'{v:.2f}' for v in first):>20} {seconds:6.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
