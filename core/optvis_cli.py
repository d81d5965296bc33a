"""`python app.py ideal ...` and `python app.py attack ...`: the Ideal & adversarial tab's twins.

  ideal  --target CLASS --out PNG [--steps N] [--tv W] [--mode robust|pixel] [--start noise|grey|photo]
  attack IMAGE... --target CLASS --eps LEVELS --out-dir DIR [--steps N] [--tv W] [--method pgd|fgsm]

CLASS is an ImageNet index or name (English or Dutch); --lang nl gives Dutch labels. One JSON line per result; bad input gives a JSON error.
"""
from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from core import backbones
from core.imagenet import localize_labels
from core.jsonl import add_lang_argument

log = logging.getLogger("optvis")


def _command(parser: argparse.ArgumentParser) -> str:
    return parser.prog.split()[-1]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    if _command(parser) == "ideal":
        _add_ideal_arguments(parser)
    else:
        _add_attack_arguments(parser)
    parser.add_argument("--backbone", default=backbones.BUNDLED_MODEL,
                        help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--weights", choices=(backbones.BUNDLED, backbones.HUB), default=None,
                        help="bundled or hub (default: bundled for EfficientNet-Lite0, hub otherwise)")
    add_lang_argument(parser)


def _add_ideal_arguments(parser: argparse.ArgumentParser) -> None:
    from core import ideal

    parser.add_argument("--target", required=True, metavar="CLASS", help="ImageNet class index or name (English or Dutch)")
    parser.add_argument("--out", required=True, metavar="PNG", help="where to write the image (8-bit PNG)")
    parser.add_argument("--steps", type=int, default=None,
                        help=f"optimisation steps (default {ideal.DEFAULT_STEPS['robust']} robust, "
                             f"{ideal.DEFAULT_STEPS['pixel']} pixel)")
    parser.add_argument("--tv", type=float, default=ideal.DEFAULT_TV,
                        help=f"total-variation weight, 0-10 (0 = off, higher = smoother; default {ideal.DEFAULT_TV})")
    parser.add_argument("--mode", choices=ideal.MODES, default=ideal.ROBUST,
                        help="robust (Fourier colour parameterisation + random transforms) or pixel (plain)")
    parser.add_argument("--start", choices=ideal.STARTS, default="noise", help="starting image (default noise)")
    parser.add_argument("--photo", metavar="IMAGE", help="the starting photo for --start photo")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def _add_attack_arguments(parser: argparse.ArgumentParser) -> None:
    from core import attack

    parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to attack")
    parser.add_argument("--target", default=str(attack.DEFAULT_TARGET), metavar="CLASS",
                        help="ImageNet class index or name (default 281, tabby cat)")
    parser.add_argument("--eps", type=int, default=2, metavar="LEVELS",
                        help="largest change per pixel, in 0-255 levels (default 2)")
    parser.add_argument("--out-dir", required=True, metavar="DIR",
                        help="writes DIR/<stem>.adversarial.png and DIR/<stem>.original.png per image")
    parser.add_argument("--steps", type=int, default=40, help="PGD step budget (default 40; stops early on success)")
    parser.add_argument("--tv", type=float, default=0.0, help="total-variation weight for a smoother change, 0-10")
    parser.add_argument("--method", choices=attack.METHODS, default=attack.PGD, help="pgd (default) or fgsm (one step)")
    parser.add_argument("--transfer", metavar="BACKBONE",
                        help="also test the adversarial PNG on this backbone (needs its weights)")


def run_cli(args) -> int:
    from core.imagenet import resolve_class

    # Every argument is checked before the model loads: a typo costs no waiting.
    args.target = resolve_class(args.target)
    check = check_ideal_arguments if args.command == "ideal" else check_attack_arguments
    check(args)
    from core.weights import load_model

    loaded, _ = load_model(args.backbone, args.weights, fallback=False)
    log.info("%s", loaded.status)
    return run_ideal(args, loaded) if args.command == "ideal" else run_attack(args, loaded)


def check_ideal_arguments(args) -> None:
    out = Path(args.out)
    if out.suffix.lower() != ".png":
        raise ValueError(f"--out must be a .png file (8-bit PNG), not {out.name!r}")
    if out.is_dir():
        raise ValueError(f"--out {out} is a folder; give a file name ending in .png")
    if args.steps is not None and not 1 <= args.steps <= 5000:
        raise ValueError("--steps must be between 1 and 5000")
    if not 0 <= args.tv <= 100:
        raise ValueError("--tv must be between 0 and 100 (the slider goes to 10)")
    if args.start == "photo" and not args.photo:
        raise ValueError("--start photo needs --photo IMAGE")


def check_attack_arguments(args) -> None:
    if not 1 <= args.eps <= 64:
        raise ValueError("--eps must be between 1 and 64 pixel levels")
    if args.steps < 1:
        raise ValueError("--steps must be at least 1")
    if not 0 <= args.tv <= 100:
        raise ValueError("--tv must be between 0 and 100 (the slider goes to 10)")
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"--out-dir {out_dir} is a file, not a folder")


def run_ideal(args, loaded) -> int:
    from core import ideal
    from core.jsonl import emit
    from core.images import load_image

    target = args.target
    out = Path(args.out)
    photo = None
    if args.photo:  # a photo given means starting from it
        args.start = "photo"
        photo = load_image(args.photo)
    result = ideal.ideal_image(loaded, target, steps=args.steps, tv=args.tv, mode=args.mode, start=args.start,
                               photo=photo, seed=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    result.image.save(out, format="PNG")
    emit(localize_labels({**result.summary(), "out": str(out), "backbone": loaded.name}, args.lang))
    return 0


def run_attack(args, loaded) -> int:
    from core import attack
    from core.jsonl import emit
    from core.images import ImageLoadError, load_image

    target = args.target
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from core.weights import load_model

    transfer_model = load_model(args.transfer, fallback=False)[0] if args.transfer else None
    failures, stems_used = 0, set()
    for path in args.images:
        started = time.perf_counter()
        try:
            image = load_image(path)
        except ImageLoadError as error:
            failures += 1
            emit({"file": path, "error": str(error)})
            continue
        result = attack.attack(loaded, image, target, eps=args.eps, steps=args.steps, tv=args.tv,
                               method=args.method, transfer_model=transfer_model)
        stem = Path(path).stem
        if stem in stems_used:  # cat/1.jpg and dog/1.jpg in one run: keep both
            stem = f"{stem}-{len(stems_used)}"
        stems_used.add(stem)
        adversarial_path = out_dir / f"{stem}.adversarial.png"
        original_path = out_dir / f"{stem}.original.png"
        result.adversarial.save(adversarial_path, format="PNG")
        result.original.save(original_path, format="PNG")
        summary = result.summary()
        summary["seconds"] = round(time.perf_counter() - started, 3)  # including loading and writing
        emit(localize_labels({"file": path, **summary, "adversarial": str(adversarial_path),
                              "original": str(original_path)}, args.lang))
    return 1 if failures else 0
