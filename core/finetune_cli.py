"""`python app.py train DATA --out FILE.safetensors [--backbone NAME] [--mode MODE] [--epochs N]
[--val-split F | --val DIR] [--seed S]`: fine-tune on a folder or .zip of class folders, or on
`oxford-pets` (a sample of Oxford-IIIT Pet from the hub, [--per-class N] [--breeds]).

Prints one JSON line per epoch (epoch, train_loss, train_acc, val_loss, val_acc, seconds) and a
final line with the validation results and the model file. Bad data: a JSON error line, exit 2.

Frozen mode on small classes (< core.fewshot.SMALL_CLASS photos) trains on every photo and
estimates accuracy by cross-validation; the final line's "estimated_by" says which estimate
val_acc is ("validation split", "leave-one-out cross-validation", "5-fold cross-validation", or
"none" with one photo in a class). No web-app class limit here: at least 1000 classes.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from core import datasets

log = logging.getLogger("train")
# torch and timm (core.backbones, core.finetune) load only once the data is known to be there, so
# that "no network" for oxford-pets is answered in a second or two, not after the model imports.
PETS = "oxford-pets"
BUNDLED_MODEL = "tf_efficientnet_lite0"  # core.backbones.BUNDLED_MODEL (checked by a test)
MODES = ("frozen", "top", "full", "scratch")  # core.finetune.MODES (checked by a test)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="a folder with one sub-folder of images per class, a .zip of "
                        f"them, or {PETS} (Oxford-IIIT Pet, CC BY-SA 4.0: downloaded once from the hub, then cached)")
    parser.add_argument("--out", required=True, metavar="FILE.safetensors", help="where to write the trained model")
    parser.add_argument("--backbone", default=BUNDLED_MODEL,
                        help="timm model name (default: the bundled EfficientNet-Lite0)")
    parser.add_argument("--mode", choices=MODES, default=MODES[0],
                        help="frozen (default): only a new head trains on cached features; top: the last blocks "
                             "train too; full: every weight; scratch: random weights, same network")
    parser.add_argument("--epochs", type=int, default=None,
                        help="default: 40 in frozen mode, 6 in the others")
    parser.add_argument("--val-split", type=float, default=0.2, metavar="F",
                        help="share of each class held out for validation (default 0.2, at least one image per class; "
                             "frozen mode on classes under 20 photos holds nothing out and cross-validates instead)")
    parser.add_argument("--val", metavar="DIR", help="a separate validation folder or .zip (instead of --val-split)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: the same seed gives the same model")
    parser.add_argument("--lr", type=float, default=None, help="learning rate of the head (default depends on mode)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--no-augment", action="store_true", help="no random flips and crops (top/full/scratch)")
    parser.add_argument("--per-class", type=int, default=10, metavar="N",
                        help=f"{PETS} only: photos per class (default 10)")
    parser.add_argument("--breeds", action="store_true",
                        help=f"{PETS} only: the 37 breeds as classes (default: cat vs dog)")


def run_cli(args) -> int:
    from core.jsonl import emit

    out = Path(args.out)
    if out.suffix != ".safetensors":
        raise ValueError("--out must name a .safetensors file")
    if args.data == PETS:
        from core import pets

        pets.check_available()  # seconds at most: no network and no cache is said before torch loads
        log.info("data: %s", pets.ATTRIBUTION)
    from core import finetune
    from core.trained import save_trained_model

    settings = finetune.TrainSettings(backbone=args.backbone, mode=args.mode, epochs=args.epochs, lr=args.lr,
                                      batch_size=args.batch_size, seed=args.seed, augment=not args.no_augment)
    settings.resolved()  # bad settings fail before any image is read
    datasets.use_cli_limits()
    if args.data == PETS:
        image_set = pets.load_sample(args.per_class, breeds=args.breeds, seed=args.seed)
    else:
        image_set = datasets.load_any(args.data)
    for name, reason in image_set.skipped:
        log.warning("skipped %s", reason if name in reason else f"{name}: {reason}")
    if args.val:
        train_set = image_set
        val_set = datasets.align_validation(image_set, datasets.load_any(args.val))
    else:
        train_set, val_set = finetune.split_for_training(image_set, args.mode, args.val_split, args.seed)
    log.info("training on %s; %s", train_set.summary(),
             f"validating on {len(val_set)} images" if val_set is not None else "no validation split")
    result = None
    for event in finetune.train(train_set, val_set, settings):
        if event["event"] == "epoch":
            emit({k: event[k] for k in ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds")})
        elif event["event"] == "done":
            result = event["result"]
    save_trained_model(result, out)
    shown = val_set if val_set is not None else train_set  # whose photos the held-out predictions are
    emit({
        "done": True, "out": str(out), "config": f"{out}.json", "backbone": result.backbone,
        "base_weights": result.base_weights, "mode": result.mode, "classes": list(result.class_names),
        "val_acc": finetune.round_or_none(result.val_acc), "val_loss": finetune.round_or_none(result.val_loss),
        "estimated_by": result.estimated_by, "estimate": result.estimate_text, "best_epoch": result.best_epoch,
        "train_images": result.train_images, "val_images": len(result.val_predictions),
        "per_class": result.per_class, "confusion": result.confusion,
        "misclassified": [{"file": shown.names[p["index"]], "true": result.class_names[p["true"]],
                           "predicted": result.class_names[p["predicted"]], "prob": p["prob"]}
                          for p in result.misclassified],
        "skipped": [{"file": name, "reason": reason} for name, reason in image_set.skipped],
        "seconds": round(result.seconds, 3), "seed": args.seed,
        **({"data": pets.SOURCE_LABEL, "attribution": pets.ATTRIBUTION} if args.data == PETS else {}),
    })
    return 0
