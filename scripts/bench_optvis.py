"""Benchmark of the Ideal & adversarial tab on the CPU, with the app's thread setting
(or --threads N).

Prints, for the attack: seconds per photo (median, 90th percentile), success rate as re-read from the
written PNG by timm's standard eval transform (a separate code path), PSNR, L-infinity, JPEG survival;
for ideal images: seconds each, p(target) re-read from the PNG plain, after Gaussian blur sigma=1 and
after a 2x down-up resize, and the total variation at several TV weights. Every time is also given
as a ratio to one forward+backward pass of the model measured in the same run, so figures from a
busy machine can still be compared.

    python scripts/bench_optvis.py [--dogs 40] [--imagenet-dogs] [--ideal "tabby cat,zebra,..."] [--threads 2]
"""
from __future__ import annotations

import argparse
import os
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from PIL import Image  # noqa: E402
from timm.data import create_transform  # noqa: E402

from core import attack, ideal  # noqa: E402
from core.backbones import load_backbone  # noqa: E402
from core.images import load_image  # noqa: E402
from core.optvis.pixels import blurred, resized_down_up  # noqa: E402
from core.optvis.render import thread_count  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
IMAGENET_DOG_CLASSES = range(151, 269)


def forward_backward_seconds(loaded, repeats: int = 5) -> float:
    pixels = torch.rand(1, 3, *loaded.input_size, requires_grad=True)
    loaded.model(pixels)[0, 0].backward()  # warm-up
    started = time.perf_counter()
    for _ in range(repeats):
        loaded.model(pixels)[0, 0].backward()
    return (time.perf_counter() - started) / repeats


def independent_reader(loaded):
    transform = create_transform(**loaded.data_config, is_training=False)

    def probs(image: Image.Image) -> torch.Tensor:
        with torch.no_grad():
            return torch.softmax(loaded.model(transform(image.convert("RGB"))[None]), dim=1)[0]
    return probs


def read_png(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def bench_attack(loaded, photos: list[Path], eps: int, steps: int, method: str, out_dir: Path, reader, unit: float):
    seconds, psnrs, linfs, fooled, jpeg, steps_done = [], [], [], 0, 0, []
    for path in photos:
        image = load_image(path)
        started = time.perf_counter()
        result = attack.attack(loaded, image, "tabby cat", eps=eps, steps=steps, method=method)
        written = out_dir / f"{path.stem}.adversarial.png"
        result.adversarial.save(written)
        seconds.append(time.perf_counter() - started)
        success = int(reader(read_png(written)).argmax()) == attack.DEFAULT_TARGET
        fooled += success
        jpeg += result.fools_jpeg
        psnrs.append(result.psnr)
        linfs.append(result.linf)
        steps_done.append(result.steps_done)
    count = len(photos)
    median = statistics.median(seconds)
    return {
        "method": method, "eps": eps, "photos": count,
        "success_rate": round(fooled / count, 4), "jpeg_q90_success_rate": round(jpeg / count, 4),
        "median_s": round(median, 3), "p90_s": round(sorted(seconds)[int(0.9 * (count - 1))], 3),
        "median_in_forward_backward_passes": round(median / unit, 1),
        "median_steps": statistics.median(steps_done), "max_steps": max(steps_done),
        "min_psnr": round(min(psnrs), 2), "max_linf": max(linfs),
    }


def bench_ideal(loaded, classes: list[str], out_dir: Path, reader, unit: float, steps: int | None,
                mode: str = ideal.ROBUST):
    rows = []
    for name in classes:
        started = time.perf_counter()
        result = ideal.ideal_image(loaded, name, steps=steps, mode=mode)
        written = out_dir / f"ideal-{mode}-{result.target}.png"
        result.image.save(written)
        seconds = time.perf_counter() - started
        image = read_png(written)
        rows.append({
            "class": name, "mode": mode, "seconds": round(seconds, 1), "in_forward_backward_passes": round(seconds / unit),
            "prob": round(float(reader(image)[result.target]), 4),
            "prob_exact_pixels": round(result.prob_exact, 4),
            "prob_blur_sigma1": round(float(reader(blurred(image, 1.0))[result.target]), 4),
            "prob_down_up_2x": round(float(reader(resized_down_up(image, 2))[result.target]), 4),
            "tv": round(result.total_variation, 4),
        })
    return rows


def bench_tv(loaded, name: str, weights: list[float], steps: int | None):
    return [{"tv_weight": weight, "total_variation": round(ideal.ideal_image(loaded, name, tv=weight, steps=steps)
                                                           .total_variation, 4)} for weight in weights]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: what the app uses, see core.optvis.render.thread_count)")
    parser.add_argument("--dogs", type=int, default=40, help="photos from shared/data/catsdogs/dog (0 = skip)")
    parser.add_argument("--imagenet-dogs", action="store_true", help="also the ImageNet dog-class photos")
    parser.add_argument("--eps", type=int, default=2)
    parser.add_argument("--steps", type=int, default=40, help="attack step budget")
    parser.add_argument("--ideal", default="tabby cat,zebra,goldfish,banana,balloon",
                        help="comma-separated classes ('' = skip)")
    parser.add_argument("--ideal-steps", type=int, default=None)
    parser.add_argument("--tv-sweep", default="0,1,4,10", help="TV weights for the smoothness sweep ('' = skip)")
    parser.add_argument("--out-dir", default=None, help="keep the written PNGs here (default: a temp folder)")
    args = parser.parse_args()
    if args.threads:
        os.environ["TLL_OPTVIS_THREADS"] = str(args.threads)  # the optimisation loop honours this
    args.threads = thread_count()
    torch.set_num_threads(args.threads)
    loaded = load_backbone()
    reader = independent_reader(loaded)
    unit = forward_backward_seconds(loaded)
    print(json.dumps({"threads": args.threads, "load_average": os.getloadavg()[0], "forward_backward_s": round(unit, 4)}), flush=True)
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="bench-optvis-"))
    out_dir.mkdir(parents=True, exist_ok=True)

    if args.dogs:
        photos = sorted((SHARED / "catsdogs" / "dog").iterdir())[: args.dogs]
        for method in (attack.PGD, attack.FGSM):
            print(json.dumps({"attack": "catsdogs/dog", **bench_attack(loaded, photos, args.eps, args.steps, method,
                                                                       out_dir, reader, unit)}), flush=True)
    if args.imagenet_dogs:
        with open(SHARED / "imagenet" / "labels.csv") as handle:
            photos = [SHARED / "imagenet" / row["file"] for row in csv.DictReader(handle)
                      if int(row["class_index"]) in IMAGENET_DOG_CLASSES]
        print(json.dumps({"attack": "imagenet dog classes", **bench_attack(
            loaded, photos, args.eps, args.steps, attack.PGD, out_dir, reader, unit)}), flush=True)
    classes = [name.strip() for name in args.ideal.split(",") if name.strip()]
    if classes:
        for row in bench_ideal(loaded, classes, out_dir, reader, unit, args.ideal_steps):
            print(json.dumps({"ideal": row}), flush=True)
        # The lesson's plain pixel optimisation, for contrast: high on its exact pixels, fragile otherwise.
        row, = bench_ideal(loaded, classes[:1], out_dir, reader, unit, None, mode=ideal.PIXEL)
        print(json.dumps({"ideal": row}), flush=True)
    weights = [float(w) for w in args.tv_sweep.split(",") if w.strip()]
    if weights:
        print(json.dumps({"tv_sweep": "tabby cat", "results": bench_tv(loaded, "tabby cat", weights,
                                                                        args.ideal_steps)}), flush=True)
    print(json.dumps({"written_pngs": str(out_dir)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
