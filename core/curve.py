"""The learning curve: how many photos per class does a pretrained network need?

For each size k and each random draw, k photos per class train a head (the frozen-mode head of
core.fewshot: full-batch L-BFGS logistic regression on L2-normalised features) and are tested on
a fixed held-out part of the data, never drawn for training. It is done twice, on the features of
the pretrained network and on the features of *the same network with random weights*: the gap
between the two lines is what ImageNet pretraining is worth on your photos.

`learning_curve(...)` is a generator of events, shared by the UI (live, point by point) and the
CLI (`python app.py curve`):
  {"event": "status", "message", "fraction"}
  {"event": "point", "size", "weights", "mean_acc", "min_acc", "max_acc", "draws", "test_images", "accs"}
  {"event": "done", "points": [...], "test_images", "dropped_sizes", "stopped"}
`plot_curve(points, ...)` draws the picture (matplotlib): accuracy against photos per class on a
log axis, the min-max range of the draws as a band, one line per kind of weights.

The same draws are used for both kinds of weights (a paired comparison), and all draws of one
size are fitted at once (stacked problems, core.fewshot.StackedFit), so a point costs well under
a second once the features are cached.
"""
from __future__ import annotations

import dataclasses
import io
import math
import random
import threading
from typing import Iterator


from core import backbones
from core.datasets import DatasetError, ImageSet

PRETRAINED, RANDOM = "pretrained", "random"
WEIGHTS = (PRETRAINED, RANDOM)
DEFAULT_SIZES = (1, 2, 5, 10, 20)
DEFAULT_DRAWS = 5
MAX_DRAWS = 20
MAX_SIZE = 1000
ITERATIONS = 60  # L-BFGS iterations per fit (the fits converge in fewer, measured: 20 change nothing)
TEST_SHARE = 0.2  # at least this share of each class is held out for testing

# Everything a person reads, in one place (for the translation to come).
TEXT = {
    "title": "How many photos do you need?",
    "x": "training photos per class (log scale)",
    "y": "accuracy on {n} held-out photos",
    PRETRAINED: "pretrained {name} features",
    RANDOM: "same network, random weights",
    "chance": "chance ({value:.0%})",
    "band": "min–max of {draws} draws",
    "features": "computing {weights} features once: {done}/{total} photos",
    "point": "{weights}, {size} per class: draw {draw}/{draws}",
    "too_small": "every class needs at least 2 photos for a learning curve (one to draw, one to test); "
                 "{name!r} has {count}",
    "no_size": "no size fits: the smallest class can give at most {pool} training photo(s) while keeping "
               "test photos apart; choose sizes up to {pool}",
    "bad_sizes": "sizes must be whole numbers from 1 to {max}, e.g. 1,2,5,10,20 (got {text!r})",
    "bad_draws": "draws must be between 1 and {max}",
}


@dataclasses.dataclass
class CurvePoint:
    size: int
    weights: str
    accs: list[float]
    test_images: int

    def to_json(self) -> dict:
        return {"size": self.size, "weights": self.weights, "mean_acc": round(sum(self.accs) / len(self.accs), 4),
                "min_acc": round(min(self.accs), 4), "max_acc": round(max(self.accs), 4),
                "draws": len(self.accs), "test_images": self.test_images}


def parse_sizes(text) -> list[int]:
    """"1,2,5" or [1, 2, 5] -> sorted unique sizes; ValueError with a clear message otherwise."""
    items = text if isinstance(text, (list, tuple)) else str(text).replace(";", ",").replace(" ", ",").split(",")
    try:
        sizes = sorted({int(str(item).strip()) for item in items if str(item).strip()})
    except ValueError:
        raise ValueError(TEXT["bad_sizes"].format(max=MAX_SIZE, text=text)) from None
    if not sizes or sizes[0] < 1 or sizes[-1] > MAX_SIZE:
        raise ValueError(TEXT["bad_sizes"].format(max=MAX_SIZE, text=text))
    return sizes


def split_pool_and_test(image_set: ImageSet, largest: int, seed: int) -> tuple[list[list[int]], list[int]]:
    """(per class: the indices training photos are drawn from, the fixed test indices).

    Each class keeps max(TEST_SHARE of it, everything beyond the largest size) for testing, at
    least one photo: as many test photos as the sizes allow."""
    rng = random.Random(seed)
    pools, test = [], []
    for label, name in enumerate(image_set.class_names):
        members = [i for i, y in enumerate(image_set.labels) if y == label]
        if len(members) < 2:
            raise DatasetError(TEXT["too_small"].format(name=name, count=len(members)), "curve_too_small",
                               name=name, count=len(members))
        rng.shuffle(members)
        held = max(1, math.ceil(TEST_SHARE * len(members)), len(members) - largest)
        test += members[:held]
        pools.append(sorted(members[held:]))
    return pools, sorted(test)


def learning_curve(image_set: ImageSet, sizes=DEFAULT_SIZES, draws: int = DEFAULT_DRAWS,
                   backbone: str = backbones.BUNDLED_MODEL, seed: int = 0,
                   stop: threading.Event | None = None, weights=WEIGHTS) -> Iterator[dict]:
    """Yield the events described in the module doc."""
    from core.lazy import import_compute_stack

    import_compute_stack()  # one thread at a time (core.lazy)
    import torch

    from core import fewshot
    from core.threads import limited_threads

    from core.finetune import TrainingStopped, extract_features

    sizes = parse_sizes(sizes)
    if not 1 <= int(draws) <= MAX_DRAWS:
        raise ValueError(TEXT["bad_draws"].format(max=MAX_DRAWS))
    draws = int(draws)
    stop = stop or threading.Event()
    pools, test = split_pool_and_test(image_set, sizes[-1], seed)
    smallest_pool = min(len(p) for p in pools)
    usable = [s for s in sizes if s <= smallest_pool]
    dropped = [s for s in sizes if s > smallest_pool]
    if not usable:
        raise DatasetError(TEXT["no_size"].format(pool=smallest_pool), "curve_no_size", pool=smallest_pool)
    # Only the weights asked for are loaded (VGG-16 is 528 MB a copy, and the model cache is shared).
    weight_kinds = {PRETRAINED: None, RANDOM: backbones.RANDOM}
    models = {kind: backbones.load_backbone(backbone, weight_kinds[kind]) for kind in weights}
    features: dict[str, torch.Tensor] = {}
    points: list[CurvePoint] = []
    total = len(image_set) * len(models)
    stopped = False
    try:
        for number, (kind, loaded) in enumerate(models.items()):
            for done, computed in extract_features(loaded, image_set.images, stop=stop):
                if computed is None:
                    yield {"event": "status", "fraction": (number * len(image_set) + done) / total * 0.8,
                           "message": TEXT["features"].format(weights=kind, done=done, total=len(image_set)),
                           "step": "features", "weights": kind, "done": done, "total": len(image_set)}
                else:
                    # A random network's activations can be huge or tiny; only their direction is used.
                    features[kind] = fewshot.normalise(torch.nan_to_num(computed, nan=0.0, posinf=0.0, neginf=0.0))
    except TrainingStopped:
        stopped = True
    labels = torch.tensor(image_set.labels)
    test_index = torch.tensor(test)
    classes = len(image_set.class_names)
    steps = len(usable) * len(models)
    step = 0
    for size in usable if not stopped else []:
        rng = random.Random(f"{seed}:{size}")
        drawn = [[i for pool in pools for i in rng.sample(pool, size)] for _ in range(draws)]
        rows = sorted({i for d in drawn for i in d})
        position = {row: p for p, row in enumerate(rows)}
        masks = torch.zeros(draws, len(rows))
        for number, chosen in enumerate(drawn):
            masks[number, [position[i] for i in chosen]] = 1.0
        for kind in models:
            if stop.is_set():
                stopped = True
                break
            with limited_threads(1):  # a few small matrices: one thread is fastest on a shared CPU
                fit = fewshot.StackedFit(features[kind][rows], labels[rows], classes, masks)
                for _ in range(ITERATIONS):
                    fit.step()
                with torch.no_grad():
                    predicted = fit.logits(features[kind][test_index]).argmax(-1)  # draws x test
                accs = (predicted == labels[test_index]).float().mean(1).tolist()
            point = CurvePoint(size, kind, accs, len(test))
            points.append(point)
            step += 1
            yield {"event": "status", "fraction": 0.8 + 0.2 * step / steps,
                   "message": f"{kind}, {size} per class: mean accuracy {sum(accs) / len(accs):.1%}",
                   "step": "point", "weights": kind, "size": size, "mean_acc": sum(accs) / len(accs)}
            yield {"event": "point", **point.to_json(), "accs": [round(a, 4) for a in accs]}
        if stopped:
            break
    yield {"event": "done", "points": [p.to_json() for p in points], "test_images": len(test),
           "dropped_sizes": dropped, "stopped": stopped, "classes": classes}


def plot_curve(points: list[dict], classes: int, backbone: str = backbones.BUNDLED_MODEL,
               test_images: int | None = None, sizes=None, text: dict | None = None):
    """A matplotlib Figure: mean accuracy per size (log x), min-max band, a line per weights.

    `text`: the figure's words in another language (TEXT's keys "title", "x", "y", PRETRAINED,
    RANDOM, "chance", "band"; the UI passes them in the page's language), English by default."""
    words = {**TEXT, **(text or {})}
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, NullFormatter, PercentFormatter

    figure = Figure(figsize=(7.5, 4.6), dpi=110, layout="constrained")
    axes = figure.add_subplot()
    colours = {PRETRAINED: "#1f77b4", RANDOM: "#d62728"}
    name = backbone.split(".")[0]
    all_sizes = sorted(set(sizes or []) | {p["size"] for p in points}) or [1]
    for kind in WEIGHTS:
        rows = sorted((p for p in points if p["weights"] == kind), key=lambda p: p["size"])
        if not rows:
            continue
        x = [p["size"] for p in rows]
        axes.fill_between(x, [p["min_acc"] for p in rows], [p["max_acc"] for p in rows], color=colours[kind],
                          alpha=0.18, linewidth=0)
        axes.plot(x, [p["mean_acc"] for p in rows], marker="o", color=colours[kind], linewidth=2.2,
                  label=words[kind].format(name=name))
    chance = 1.0 / max(classes, 1)
    axes.axhline(chance, color="#777777", linestyle="--", linewidth=1, label=words["chance"].format(value=chance))
    axes.set_xscale("log")
    low, high = all_sizes[0], all_sizes[-1]
    axes.set_xlim(low / 1.25, high * 1.25)
    axes.xaxis.set_major_locator(FixedLocator(all_sizes))
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xticklabels([str(s) for s in all_sizes])
    axes.set_ylim(0, 1.02)
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.grid(True, alpha=0.3)
    axes.set_xlabel(words["x"])
    draws = max((p["draws"] for p in points), default=0)
    count = test_images if test_images is not None else (points[0]["test_images"] if points else 0)
    axes.set_ylabel(words["y"].format(n=count))
    axes.set_title(words["title"] + (f"  ({words['band'].format(draws=draws)})" if draws else ""))
    axes.legend(loc="lower right")
    return figure


def figure_png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
