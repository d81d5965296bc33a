"""How long switching layer/channel takes in the Feature maps tab, against recomputing.

    python scripts/bench_features.py [--image assets/chelsea.png] [--backbones bundled vgg16:random] [--repeats 5]

For each backbone it measures, in this process on this machine:
  recompute  - one forward pass recording every layer (what a new image/backbone costs),
  switch     - what the tab does when the layer changes: grid + enlarged channel + statistics
               from the cached record, and the same plus the JPEG encoding the tab sends,
  channel    - what moving the channel slider costs (one view),
and prints medians and the recompute/switch ratio. The baseline is measured in the same run.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from core import backbones  # noqa: E402
from core.feature_views import render_channel, render_grid, stats_markdown  # noqa: E402
from core.features import cache, record_features  # noqa: E402
from core.images import load_image  # noqa: E402


def _jpeg(picture) -> int:
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=92)  # as demo/features.py sends it
    return len(buffer.getvalue())


def _time(fn) -> float:
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def bench(spec: str, image, repeats: int, count: int) -> None:
    name, _, weights = spec.partition(":")
    loaded = backbones.load_backbone(name, weights or None)
    recompute = []
    for _ in range(max(1, repeats // 2)):
        cache.clear()
        recompute.append(_time(lambda: record_features(loaded, image)))
    record = record_features(loaded, image)
    render_grid(record, None, count)  # fonts and colour tables, once per process

    switch, switch_sent, channel = [], [], []
    for _ in range(repeats):
        for info in record.layers:
            top = record.ranked_channels(info.name, 1)[0]

            def layer_switch(send: bool = False):
                grid = render_grid(record, info.name, count)
                view = render_channel(record, info.name, top)
                stats_markdown(record, info.name)
                if send:
                    _jpeg(grid), _jpeg(view)

            switch.append(_time(layer_switch))
            switch_sent.append(_time(lambda: layer_switch(True)))
            channel.append(_time(lambda: render_channel(record, info.name, (top + 1) % info.shape[0])))
    median_recompute = statistics.median(recompute)
    median_switch = statistics.median(switch)
    worst = max(record.layers, key=lambda i: i.shape[1] * i.shape[2])
    print(f"{record.backbone} ({record.weights}), {len(record.layers)} layers, "
          f"{record.nbytes / 2**20:.1f} MB cached, grid of {count}")
    print(f"  recompute (forward pass, all layers): median {median_recompute:8.1f} ms  (n={len(recompute)})")
    print(f"  switch layer (grid+channel+stats):    median {median_switch:8.1f} ms  "
          f"p90 {statistics.quantiles(switch, n=10)[-1]:.1f} ms  (n={len(switch)})")
    print(f"  switch layer + JPEG encode (as sent): median {statistics.median(switch_sent):8.1f} ms  "
          f"p90 {statistics.quantiles(switch_sent, n=10)[-1]:.1f} ms")
    print(f"  switch channel (one view):            median {statistics.median(channel):8.1f} ms")
    print(f"  largest maps: {worst.alias} {worst.shape_text}; "
          f"recompute / switch = {median_recompute / median_switch:.0f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image", default="assets/chelsea.png")
    parser.add_argument("--backbones", nargs="+", default=["bundled", "vgg16:random"],
                        help="NAME or NAME:WEIGHTS (default: bundled vgg16:random)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--channels", type=int, default=16, help="grid size (default 16, the tab's)")
    args = parser.parse_args()
    import torch

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {backbones.pick_device()}")
    image = load_image(args.image)
    for spec in args.backbones:
        bench(spec, image, args.repeats, args.channels)
    return 0


if __name__ == "__main__":
    sys.exit(main())
