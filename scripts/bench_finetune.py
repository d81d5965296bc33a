"""Frozen-mode fine-tuning vs two baselines, measured in one run on the shared cats/dogs photos.

    python scripts/bench_finetune.py [--per-class 100] [--epochs 40] [--naive-epochs 3] [--rounds 3]

  ours   - core.finetune in frozen mode (reading the photos, backbone features once, head training)
  bare   - a bare "features + linear head" script written here from scratch (the target is <= 2x),
           given the app's known-good settings: features FEATURE_BATCH images at a time, the head
           trained on one thread. Both read from a warm file cache; the two alternate which runs
           first, --rounds times, and the summary compares their min and median.
  naive  - the lesson notebook's way: the backbone runs on every image in every epoch
           (too slow to run all epochs, so --naive-epochs are timed and the full run extrapolated)
  few    - --few photos per class (random draws; default 1 and 5), tested on all the other photos:
           frozen mode trains its head on all of them (core.fewshot's full-batch L-BFGS head)

Photos beyond --per-class in each class are the test set. Prints one JSON line per measure
and a summary with the ratios. Not a test: figures depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from core import backbones, datasets, finetune  # noqa: E402
from core.images import load_image  # noqa: E402
from core.threads import limited_threads  # noqa: E402


def emit(obj: dict) -> None:
    print(json.dumps(obj), flush=True)


def photo_lists(data: Path, per_class: int, test_per_class: int = 0):
    classes = sorted(d.name for d in data.iterdir() if d.is_dir())
    train, test = {}, {}
    for name in classes:
        photos = sorted((data / name).glob("*.jpg"))
        train[name], test[name] = photos[:per_class], photos[per_class:per_class + test_per_class if test_per_class else None]
    return classes, train, test


def bare_features(loaded, paths, batch_size=finetune.FEATURE_BATCH) -> torch.Tensor:
    rows = []
    with torch.inference_mode():
        for start in range(0, len(paths), batch_size):
            batch = torch.stack([loaded.preprocess(load_image(p)) for p in paths[start:start + batch_size]])
            batch = batch.contiguous(memory_format=torch.channels_last)
            rows.append(loaded.model.forward_head(loaded.model.forward_features(batch), pre_logits=True))
    return torch.cat(rows)


def train_head(features, labels, classes, epochs, batch_size=32, seed=0) -> nn.Linear:
    with limited_threads(1):  # as the app does: a small head on a busy CPU runs fastest on one thread
        return _train_head(features, labels, classes, epochs, batch_size, seed)


def _train_head(features, labels, classes, epochs, batch_size=32, seed=0) -> nn.Linear:
    torch.manual_seed(seed)
    head = nn.Linear(features.shape[1], classes)
    optimizer = torch.optim.AdamW(head.parameters(), lr=3e-3, weight_decay=1e-3)
    for _ in range(epochs):
        order = torch.randperm(len(features))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            loss = nn.functional.cross_entropy(head(features[idx]), labels[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return head


def accuracy(head_or_model, features, labels) -> float:
    with torch.no_grad():
        return float((head_or_model(features).argmax(1) == labels).float().mean())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "catsdogs"))
    parser.add_argument("--per-class", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=finetune.DEFAULT_EPOCHS[finetune.FROZEN])
    parser.add_argument("--naive-epochs", type=int, default=3)
    parser.add_argument("--few", default="1,5", help="photos per class in the few-shot measures (comma-separated)")
    parser.add_argument("--repeats", type=int, default=6, help="random draws in each few-shot measure")
    parser.add_argument("--test-per-class", type=int, default=0, help="test photos per class (0: all the rest)")
    parser.add_argument("--rounds", type=int, default=3, help="timed runs of ours and bare each, alternating order")
    args = parser.parse_args()
    data = Path(args.data)
    if not data.is_dir():
        emit({"error": f"no photos at {data} (the shared cats/dogs set)"})
        return 2
    classes, train_paths, test_paths = photo_lists(data, args.per_class, args.test_per_class)
    loaded = backbones.load_backbone()
    emit({"backbone": loaded.name, "device": str(loaded.device), "threads": torch.get_num_threads(),
          "cpus": os.cpu_count(), "train_images": sum(map(len, train_paths.values())),
          "test_images": sum(map(len, test_paths.values())), "epochs": args.epochs})
    # warm-up: first forward passes pay one-off allocation costs none of the three should carry
    bare_features(loaded, [train_paths[classes[0]][0]] * 4)

    flat_train = [p for name in classes for p in train_paths[name]]
    train_y = torch.tensor([i for i, name in enumerate(classes) for _ in train_paths[name]])
    flat_test = [p for name in classes for p in test_paths[name]]
    test_y = torch.tensor([i for i, name in enumerate(classes) for _ in test_paths[name]])
    test_x = bare_features(loaded, flat_test)  # shared by all three, not timed

    for path in flat_train:  # warm the file cache: neither contender pays for a cold disk
        path.read_bytes()
    val_set = datasets.from_sources({name: test_paths[name] for name in classes})

    def run_bare():
        started = time.perf_counter()
        head = train_head(bare_features(loaded, flat_train), train_y, len(classes), args.epochs)
        return time.perf_counter() - started, accuracy(head, test_x, test_y)

    def run_ours():
        # 2. ours, frozen mode, from the files on disk (the test photos as its validation set)
        finetune.clear_feature_cache()
        for _ in finetune.extract_features(loaded, val_set.images):  # the test set is not timed (as for bare)
            pass
        started = time.perf_counter()
        train_set = datasets.from_sources({name: train_paths[name] for name in classes})
        read_s = time.perf_counter() - started
        result = finetune.run_to_end(finetune.train(train_set, val_set, finetune.TrainSettings(epochs=args.epochs)))
        return time.perf_counter() - started, read_s, result

    bare_times, ours_times = [], []
    for round_number in range(args.rounds):
        # 1. bare features + linear head, and 2. ours: the order alternates round by round
        for contender in (("bare", "ours") if round_number % 2 == 0 else ("ours", "bare")):
            if contender == "bare":
                bare_s, bare_acc = run_bare()
                bare_times.append(bare_s)
                emit({"measure": "bare features + linear head", "round": round_number + 1,
                      "seconds": round(bare_s, 2), "test_acc": round(bare_acc, 4)})
            else:
                ours_s, read_s, result = run_ours()
                ours_times.append(ours_s)
                last_acc = result.history[-1]["val_acc"]
                emit({"measure": "ours (frozen mode)", "round": round_number + 1, "seconds": round(ours_s, 2),
                      "reading_s": round(read_s, 2), "features_s": round(result.feature_seconds, 2),
                      "head_training_s": round(result.seconds - result.feature_seconds, 3),
                      "test_acc_last_epoch": round(last_acc, 4), "test_acc_best_epoch": round(result.val_acc, 4)})
    ours_s, bare_s = statistics.median(ours_times), statistics.median(bare_times)

    # 2b. the heads alone, on the same cached features: the old mini-batch AdamW head (as in "bare")
    # vs the full-batch L-BFGS head of frozen mode (core.fewshot); best of 3, the machine is shared
    train_set = datasets.from_sources({name: train_paths[name] for name in classes})
    cached = list(finetune.extract_features(loaded, train_set.images))[-1][1]
    sgd_s, lbfgs_s = [], []
    for _ in range(3):
        started = time.perf_counter()
        train_head(cached, train_y, len(classes), args.epochs)
        sgd_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        finetune.run_to_end(finetune.train(train_set, val_set, finetune.TrainSettings(epochs=args.epochs)))
        lbfgs_s.append(time.perf_counter() - started)
    emit({"measure": "head only, on cached features", "sgd_head_s": round(min(sgd_s), 3),
          "ours_lbfgs_head_s": round(min(lbfgs_s), 3), "ours_vs_sgd_head": round(min(lbfgs_s) / min(sgd_s), 2)})

    # 3. the notebook's loop: backbone forward on every image, every epoch
    torch.manual_seed(0)
    naive_head = nn.Linear(loaded.model.num_features, len(classes))
    optimizer = torch.optim.AdamW(naive_head.parameters(), lr=3e-3, weight_decay=1e-3)
    started = time.perf_counter()
    for _ in range(args.naive_epochs):
        order = torch.randperm(len(flat_train)).tolist()
        for start in range(0, len(order), 32):
            idx = order[start:start + 32]
            features = bare_features(loaded, [flat_train[i] for i in idx])
            loss = nn.functional.cross_entropy(naive_head(features), train_y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    naive_s = time.perf_counter() - started
    naive_full_s = naive_s / args.naive_epochs * args.epochs
    emit({"measure": f"naive loop ({args.naive_epochs} epochs run)", "seconds": round(naive_s, 2),
          "extrapolated_to_all_epochs_s": round(naive_full_s, 1),
          "test_acc_after_run_epochs": round(accuracy(naive_head, test_x, test_y), 4)})

    # 4. few-shot: --few photos per class drawn at random (per seed), tested on all the others
    everything = datasets.from_sources({name: train_paths[name] + test_paths[name] for name in classes})
    for few_count in [int(n) for n in str(args.few).split(",") if n.strip()]:
        few_accs = []
        for seed in range(args.repeats):
            rng = random.Random(seed)
            picked = []
            for label in range(len(classes)):
                members = [i for i, y in enumerate(everything.labels) if y == label]
                picked += rng.sample(members, few_count)
            rest = [i for i in range(len(everything)) if i not in set(picked)]
            few = finetune.run_to_end(finetune.train(everything.subset(picked), everything.subset(rest),
                                                     finetune.TrainSettings(epochs=args.epochs, seed=seed)))
            few_accs.append(few.history[-1]["val_acc"])
        emit({"measure": f"few-shot: {few_count} per class, {args.repeats} draws",
              "test_images": len(everything) - few_count * len(classes),
              "mean_test_acc": round(sum(few_accs) / len(few_accs), 4), "min_test_acc": round(min(few_accs), 4),
              "accs": [round(a, 4) for a in few_accs]})

    emit({"summary": True, "rounds": args.rounds,
          "ours_s_min": round(min(ours_times), 2), "ours_s_median": round(ours_s, 2),
          "bare_s_min": round(min(bare_times), 2), "bare_s_median": round(bare_s, 2),
          "ours_vs_bare_median": round(ours_s / bare_s, 2),
          "ours_vs_bare_min": round(min(ours_times) / min(bare_times), 2),
          "ours_vs_sgd_head_only": round(min(lbfgs_s) / min(sgd_s), 2),
          "naive_vs_ours_same_epochs": round(naive_full_s / ours_s, 1),
          "naive_vs_ours_measured": round(naive_s / ours_s, 2),
          "ours_test_acc": round(last_acc, 4),
          "bare_test_acc": round(bare_acc, 4)})
    return 0


if __name__ == "__main__":
    sys.exit(main())
