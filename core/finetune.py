"""Fine-tuning a pretrained backbone on a few labelled images, four ways.

  frozen  - feature extraction: the backbone runs ONCE per image (features cached), only a
            new linear head trains, on the cached features: a full-batch, L2-regularised logistic
            regression on L2-normalised features, fitted by L-BFGS (core.fewshot); an "epoch" of
            the live plot is one L-BFGS iteration over all photos and costs milliseconds.
            On small classes (< core.fewshot.SMALL_CLASS photos) it trains on every photo and
            estimates its accuracy by cross-validation (`split_for_training` decides).
  top     - the last blocks of the backbone train too, at a tenth of the head's learning rate.
  full    - every weight trains (slow on a CPU: the backbone runs forward and backward).
  scratch - the same architecture from random weights: what you get without transfer.

`train(...)` is a generator of events, so a UI or the CLI can show progress live:
  {"event": "status", "message", "fraction"}     while features are computed / batches run
  {"event": "epoch", "epoch", "train_loss", "train_acc", "val_loss", "val_acc", "seconds"}
                      (val_* are None when nothing is held out: one photo in a class)
  {"event": "done", "result": TrainResult}        always last, also after a stop
A `threading.Event` passed as `stop` ends training between two batches. Network modes keep the
best model so far (highest validation accuracy, then lowest validation loss); frozen mode keeps
its last iterate (a convex fit: later is better, and a tiny validation set must not pick it).
"""
from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
from typing import Iterator

import numpy as np
import timm
import torch
from timm.data import create_transform
from torch import nn

from core import backbones, fewshot
from core.cache import LruCache
from core.datasets import DatasetError, ImageSet, stratified_split
from core.images import content_key
from core.seeds import seed_everything
from core.threads import limited_threads

# The modes, their titles and epochs: core.training_settings (the page is built from it, without torch).
from core.training_settings import (DEFAULT_EPOCHS, FROZEN, FULL, MAX_EPOCHS, MODE_TITLES,  # noqa: F401 (re-exported)
                                    MODES, SCRATCH, TOP)

DEFAULT_LR = {FROZEN: 3e-3, TOP: 3e-3, FULL: 3e-3, SCRATCH: 1e-3}  # head; the body gets BACKBONE_LR_FACTOR of it (top, full)
TOP_GROUPS = 2  # how many of the backbone's last block groups "top" mode unfreezes
BACKBONE_LR_FACTOR = 0.1
MICRO_BATCH = 8  # images per forward/backward on a CPU (the stop flag is checked between them)
FEATURE_BATCH = 8  # images per backbone pass for frozen-mode features (4-8 run fastest on a CPU)


class TrainingStopped(Exception):
    pass


@dataclasses.dataclass
class TrainSettings:
    backbone: str = backbones.BUNDLED_MODEL
    base_weights: str | None = None  # None: bundled for the bundled model, hub otherwise
    mode: str = FROZEN
    epochs: int | None = None  # None: DEFAULT_EPOCHS[mode]
    lr: float | None = None  # None: DEFAULT_LR[mode]
    batch_size: int = 32
    seed: int = 0
    augment: bool = True  # flips and random resized crops (modes that run the backbone each epoch)

    def resolved(self) -> "TrainSettings":
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        epochs = DEFAULT_EPOCHS[self.mode] if self.epochs is None else int(self.epochs)
        if not 1 <= epochs <= MAX_EPOCHS:
            raise ValueError(f"epochs must be between 1 and {MAX_EPOCHS}")
        lr = DEFAULT_LR[self.mode] if self.lr is None else float(self.lr)
        if not 0 < lr < 1:
            raise ValueError("the learning rate must be between 0 and 1 (e.g. 0.001)")
        if not 1 <= int(self.batch_size) <= 512:
            raise ValueError("the batch size must be between 1 and 512")
        return dataclasses.replace(self, epochs=epochs, lr=lr, batch_size=int(self.batch_size),
                                   backbone=backbones.resolve_name(self.backbone))


@dataclasses.dataclass
class TrainResult:
    model: nn.Module  # eval mode; maps a normalised batch to class logits
    class_names: tuple[str, ...]
    backbone: str
    base_weights: str  # the weights training started from: bundled / hub / random
    mode: str
    data_config: dict
    settings: TrainSettings
    history: list[dict]
    best_epoch: int
    val_acc: float | None  # None: nothing could be held out (one photo in a class)
    val_loss: float | None
    confusion: list[list[int]]  # rows: true class, columns: predicted class
    per_class: list[dict]  # {"class", "images", "correct", "accuracy"}
    val_predictions: list[dict]  # per validation image: {"index", "true", "predicted", "prob"}
    stopped: bool
    seconds: float
    train_images: int
    feature_seconds: float = 0.0
    # how val_acc was measured: core.fewshot.VALIDATION / LEAVE_ONE_OUT / K_FOLD / NOT_ESTIMATED
    estimated_by: str = fewshot.VALIDATION

    @property
    def estimate_text(self) -> str:
        return fewshot.ESTIMATE_TEXT[self.estimated_by].format(
            n=self.train_images if self.estimated_by != fewshot.VALIDATION else len(self.val_predictions))

    @property
    def misclassified(self) -> list[dict]:
        return [p for p in self.val_predictions if p["true"] != p["predicted"]]

    def metrics(self) -> dict:
        return {"val_acc": round_or_none(self.val_acc), "val_loss": round_or_none(self.val_loss),
                "estimated_by": self.estimated_by,
                "best_epoch": self.best_epoch, "epochs_run": len(self.history),
                "train_images": self.train_images, "val_images": len(self.val_predictions),
                "per_class": self.per_class, "confusion": self.confusion, "stopped": self.stopped,
                "seed": self.settings.seed, "seconds": round(self.seconds, 3)}


def round_or_none(value: float | None) -> float | None:
    value = fewshot.finite(value)
    return None if value is None else round(value, 6)


def split_for_training(image_set: ImageSet, mode: str, val_fraction: float = 0.2,
                       seed: int = 0) -> tuple[ImageSet, ImageSet | None]:
    """(train, validation or None). None means: train on every photo; frozen mode then estimates
    accuracy by cross-validation (or says it cannot: one photo in a class).

    Frozen mode holds nothing out when a class has fewer than fewshot.SMALL_CLASS photos: with 5 a
    class a 20 % split would teach from 4 and judge by 1. Network modes keep a validation split
    whenever every class has 2 photos (they cannot be cross-validated cheaply)."""
    counts = image_set.counts()
    if min(counts) < 2 or (mode == FROZEN and min(counts) < fewshot.SMALL_CLASS):
        return image_set, None
    return stratified_split(image_set, val_fraction, seed)


class FrozenClassifier(nn.Module):
    """A shared, never-modified backbone followed by a trained linear head."""

    def __init__(self, backbone: nn.Module, head: nn.Linear):
        super().__init__()
        self.backbone = backbone
        self.head = head

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return self.head(pooled_features(self.backbone, batch))


def pooled_features(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    """The vector a timm model feeds its classifier (after global pooling)."""
    if batch.dim() == 4 and batch.shape[0] > 1:
        batch = batch.contiguous(memory_format=torch.channels_last)  # ~2x faster convolutions on CPU
    return model.forward_head(model.forward_features(batch), pre_logits=True)


# --- the feature cache ------------------------------------------------------------------

_FEATURE_CACHE_SIZE = 8000  # images; 1280 floats each for the bundled model (~40 MB)
_features = LruCache(max_items=_FEATURE_CACHE_SIZE)  # (backbone, weights, image content key) -> features


def extract_features(loaded: backbones.LoadedModel, images: list, batch_size: int = FEATURE_BATCH,
                     stop: threading.Event | None = None) -> Iterator[tuple[int, torch.Tensor | None]]:
    """Yield (images done, None) while working, then (len(images), N x D features).

    Each image's features are computed once per backbone and remembered, so a second run on
    the same photos (another mode, seed or split) starts training at once.
    """
    model_key = (loaded.name, loaded.weights)
    keys = [content_key(image) for image in images]
    features: list[torch.Tensor | None] = _features.get_many([(*model_key, key) for key in keys])
    # The same photo twice (copies, or links to one file) runs through the backbone once.
    first_of: dict[str, int] = {}
    todo, copies = [], []
    for i, f in enumerate(features):
        if f is None:
            if keys[i] in first_of:
                copies.append((i, first_of[keys[i]]))
            else:
                first_of[keys[i]] = i
                todo.append(i)
    done = len(images) - len(todo) - len(copies)
    for start in range(0, len(todo), batch_size):
        if stop is not None and stop.is_set():
            raise TrainingStopped()
        chunk = todo[start:start + batch_size]
        batch = torch.stack([loaded.preprocess(images[i]) for i in chunk]).to(loaded.device)
        batch = batch.contiguous(memory_format=torch.channels_last)  # the model's layout: ~2x faster on a CPU
        with torch.inference_mode():
            out = pooled_features(loaded.model, batch).float().cpu()
        for i, row in zip(chunk, out):
            features[i] = row.clone()
        _features.put_many(((*model_key, keys[i]), features[i]) for i in chunk)
        done += len(chunk)
        yield done, None
    for i, source in copies:
        features[i] = features[source]
    yield len(images), torch.stack(features) if features else torch.empty(0)


def clear_feature_cache() -> None:
    _features.discard()


# --- training ----------------------------------------------------------------------------

def new_head(in_features: int, classes: int, generator: torch.Generator) -> nn.Linear:
    head = nn.Linear(in_features, classes)
    with torch.no_grad():
        nn.init.normal_(head.weight, std=0.01, generator=generator)
        head.bias.zero_()
    return head


def _base_model(settings: TrainSettings) -> backbones.LoadedModel:
    if settings.mode == SCRATCH:
        return backbones.load_backbone(settings.backbone, backbones.RANDOM)
    return backbones.load_backbone(settings.backbone, settings.base_weights)


def train(train_set: ImageSet, val_set: ImageSet, settings: TrainSettings | None = None,
          stop: threading.Event | None = None) -> Iterator[dict]:
    """Train on `train_set`, validate on `val_set` each epoch; yield events (see module doc).

    `val_set` None: train on every photo; frozen mode estimates accuracy by cross-validation."""
    settings = (settings or TrainSettings()).resolved()
    if len(train_set) == 0 or (val_set is not None and len(val_set) == 0):
        raise ValueError("both the training and the validation set need images")
    if val_set is not None and train_set.class_names != val_set.class_names:
        raise ValueError("the training and validation sets have different classes")
    started = time.perf_counter()
    stop = stop or threading.Event()
    base = _base_model(settings)  # first: building a model the first time draws from the global RNG
    generator = seed_everything(settings.seed)
    runner = _train_frozen if settings.mode == FROZEN else _train_network
    result = yield from runner(base, train_set, val_set, settings, stop, generator, started)
    yield {"event": "done", "result": result}


def _epoch_event(epoch, train_loss, train_acc, val_loss, val_acc, started) -> dict:
    return {"event": "epoch", "epoch": epoch, "train_loss": round_or_none(train_loss), "train_acc": round_or_none(train_acc),
            "val_loss": round_or_none(val_loss), "val_acc": round_or_none(val_acc),
            "seconds": round(time.perf_counter() - started, 3)}


def _better(val_acc, val_loss, best) -> bool:
    return best is None or val_acc > best[0] + 1e-9 or (abs(val_acc - best[0]) <= 1e-9 and val_loss < best[1])


def _one_thread():
    """Tiny tensors (a linear head) run ~20x faster on one thread when the other core is busy
    (measured on 2 shared cores: 0.15 s vs 3 s for 40 epochs). Held for one epoch at a time,
    never across a yield."""
    return limited_threads(1)


def _train_frozen(base, train_set, val_set, settings, stop, generator, started):
    sets = [("train", train_set)] + ([("val", val_set)] if val_set is not None else [])
    total = sum(len(image_set) for _, image_set in sets)
    features, offset = {}, 0
    try:
        for which, image_set in sets:
            for done, computed in extract_features(base, image_set.images, stop=stop):
                if computed is None:
                    yield {"event": "status", "fraction": (offset + done) / total,
                           "message": f"computing backbone features once: {offset + done}/{total} images",
                           "step": "features", "done": offset + done, "total": total}
                else:
                    features[which] = computed
            offset += len(image_set)
    except TrainingStopped:
        raise ValueError("stopped before the features were computed: nothing was trained") from None
    feature_seconds = time.perf_counter() - started
    train_x = fewshot.normalise(features["train"])
    train_y = torch.tensor(train_set.labels)
    classes = len(train_set.class_names)
    if val_set is not None:
        method, folds = fewshot.VALIDATION, []
        val_x, val_y = fewshot.normalise(features["val"]), torch.tensor(val_set.labels)
    else:
        method = fewshot.estimate_method(train_set.counts())
        if method == fewshot.VALIDATION:  # big classes, but asked to hold nothing out
            method = fewshot.K_FOLD
        folds = fewshot.cv_folds(train_set.labels, method, settings.seed)
        val_y = train_y
    fit = fewshot.StackedFit(train_x, train_y, classes, fewshot.masks_for(len(train_x), folds))

    def measure():
        """(train logits, held-out logits or None) of the current iterate."""
        with torch.no_grad():
            train_logits = fit.logits()[0]
            if val_set is not None:
                return train_logits, fit.logits(val_x)[0]
            return train_logits, (fewshot.held_out_logits(fit, folds) if folds else None)

    history, stopped = [], False
    for epoch in range(1, settings.epochs + 1):
        if stop.is_set():
            stopped = True
            break
        with _one_thread():
            fit.step()
            train_logits, held_logits = measure()
            train_acc, train_loss = fewshot.accuracy_and_loss(train_logits, train_y)
            val_acc, val_loss = (None, None) if held_logits is None else fewshot.accuracy_and_loss(held_logits, val_y)
        event = _epoch_event(epoch, train_loss, train_acc, val_loss, val_acc, started)
        history.append(event)
        yield event
    if not history:
        stopped = True
    with _one_thread():
        _, held_logits = measure()
    if held_logits is None:
        best, probs, shown = (None, None, len(history)), torch.empty(0, classes), train_set.subset([])
    else:
        acc, loss = fewshot.accuracy_and_loss(held_logits, val_y)
        best, probs = (acc, loss, len(history)), held_logits.softmax(1)
        shown = val_set if val_set is not None else train_set
    head = fewshot.NormalisedHead(train_x.shape[1], classes)
    head.linear = fit.linear(0)
    model = FrozenClassifier(base.model, head.to(base.device).eval()).eval()
    result = _result(model, base, train_set, shown, settings, history, best, probs, stopped, started,
                     feature_seconds)
    result.estimated_by = method
    return result


def _block_groups(model: nn.Module) -> list[list[str]]:
    """The backbone's parameter names in block groups, input side first, classifier excluded."""
    from timm.models._manipulate import group_parameters

    classifier_ids = {id(p) for p in model.get_classifier().parameters()}
    names = {id(p): n for n, p in model.named_parameters()}
    try:
        grouped = group_parameters(model, model.group_matcher(coarse=True))
        groups = [list(v) for _, v in sorted(grouped.items(), key=lambda kv: kv[0])]
    except (AttributeError, NotImplementedError, TypeError):
        groups = [[n] for n, _ in model.named_parameters()]
    classifier_names = {names[i] for i in classifier_ids if i in names}
    groups = [[n for n in g if n not in classifier_names] for g in groups]
    return [g for g in groups if g]


def _prepare_network(base, settings, classes, generator) -> tuple[nn.Module, list[dict]]:
    if settings.mode == SCRATCH:
        torch.manual_seed(settings.seed)
        model = timm.create_model(base.name, pretrained=False)
    else:
        model = copy.deepcopy(base.model)  # the cached backbone is shared: never train it in place
        for module in model.modules():  # a feature-map recording running now may have hooks on it
            module._forward_hooks.clear()
    model.reset_classifier(classes)
    head = model.get_classifier()
    with torch.no_grad():
        nn.init.normal_(head.weight, std=0.01, generator=generator)
        head.bias.zero_()
    model = model.to(base.device)
    head_params = list(head.parameters())
    head_ids = {id(p) for p in head_params}
    if settings.mode == TOP:
        trainable = {n for g in _block_groups(model)[-TOP_GROUPS:] for n in g}
    else:
        trainable = {n for n, _ in model.named_parameters()}
    body_params = []
    for name, param in model.named_parameters():
        if id(param) in head_ids:
            param.requires_grad_(True)
        elif name in trainable:
            param.requires_grad_(True)
            body_params.append(param)
        else:
            param.requires_grad_(False)
    body_lr = settings.lr * (BACKBONE_LR_FACTOR if settings.mode in (TOP, FULL) else 1.0)
    groups = [{"params": head_params, "lr": settings.lr}]
    if body_params:
        groups.append({"params": body_params, "lr": body_lr})
    return model, groups


def _set_train_mode(model: nn.Module, mode: str) -> None:
    """Modules with trainable weights train; frozen ones stay in eval (BatchNorm keeps the
    pretrained statistics, which a handful of images would ruin)."""
    if mode in (FULL, SCRATCH):
        model.train()
        return
    model.eval()
    for module in model.modules():
        if any(p.requires_grad for p in module.parameters(recurse=False)):
            module.train()


def _train_network(base, train_set, val_set, settings, stop, generator, started):
    classes = len(train_set.class_names)
    model, param_groups = _prepare_network(base, settings, classes, generator)
    optimizer = torch.optim.AdamW(param_groups, weight_decay=1e-4)
    steps_per_epoch = math.ceil(len(train_set) / settings.batch_size)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, settings.epochs * steps_per_epoch))
    loss_fn = nn.CrossEntropyLoss()
    config = dict(base.data_config)
    augment = create_transform(**config, is_training=True, scale=(0.6, 1.0), hflip=0.5, vflip=0.0,
                               color_jitter=None, auto_augment=None, re_prob=0.0) if settings.augment else None
    plain = create_transform(**config, is_training=False)
    # No validation set (one photo in a class): train every epoch, keep the last, estimate nothing.
    val_x = torch.stack([plain(image) for image in val_set.images]) if val_set is not None else None
    val_y = torch.tensor(val_set.labels) if val_set is not None else None
    train_plain = None if augment else torch.stack([plain(image) for image in train_set.images])
    train_y = torch.tensor(train_set.labels)
    history, best, best_state, stopped = [], None, None, False
    total_steps = settings.epochs * steps_per_epoch
    step = 0
    for epoch in range(1, settings.epochs + 1):
        _set_train_mode(model, settings.mode)
        order = torch.randperm(len(train_set), generator=generator)
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), settings.batch_size):
            if stop.is_set():
                stopped = True
                break
            idx = order[start:start + settings.batch_size]
            optimizer.zero_grad()
            batch_loss, batch_correct = 0.0, 0
            # Micro-batches, with the stop flag checked between them: on a CPU a whole batch through
            # the network takes several seconds, a micro-batch about one.
            for micro in idx.split(MICRO_BATCH if base.device.type == "cpu" else len(idx)):
                if stop.is_set():
                    stopped = True
                    break
                if augment is not None:
                    batch = torch.stack([augment(train_set.images[i]) for i in micro.tolist()])
                else:
                    batch = train_plain[micro]
                batch = batch.to(base.device).contiguous(memory_format=torch.channels_last)
                logits = model(batch)
                loss = loss_fn(logits, train_y[micro].to(base.device))
                (loss * len(micro) / len(idx)).backward()
                batch_loss += float(loss.detach()) * len(micro)
                batch_correct += int((logits.argmax(1).cpu() == train_y[micro]).sum())
            if stopped:  # a half-accumulated batch is dropped, not applied
                break
            optimizer.step()
            scheduler.step()
            total_loss += batch_loss
            correct += batch_correct
            step += 1
            yield {"event": "status", "fraction": step / total_steps,
                   "message": f"epoch {epoch}/{settings.epochs}: batch {start // settings.batch_size + 1}/{steps_per_epoch}",
                   "step": "batch", "epoch": epoch, "epochs": settings.epochs,
                   "batch": start // settings.batch_size + 1, "batches": steps_per_epoch}
        if stopped:
            break
        if val_x is not None:
            val_logits = _predict(model, val_x, base.device, settings.batch_size)
            val_loss = float(loss_fn(val_logits, val_y))
            val_acc = float((val_logits.argmax(1) == val_y).float().mean())
        else:
            val_loss = val_acc = None
        event = _epoch_event(epoch, total_loss / len(train_set), correct / len(train_set), val_loss, val_acc, started)
        history.append(event)
        if val_x is None:
            best = (None, None, epoch)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        elif _better(val_acc, val_loss, best):
            best = (val_acc, val_loss, epoch)
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        yield event
    if best_state is not None:
        model.load_state_dict(best_state)
    else:
        best, stopped = (None, None, 0), True
    model.eval()
    for param in model.parameters():
        param.requires_grad_(False)
    if val_x is None:
        result = _result(model, base, train_set, train_set.subset([]), settings, history, best,
                         torch.empty(0, classes), stopped, started, 0.0)
        result.estimated_by = fewshot.NOT_ESTIMATED
        return result
    probs = _predict(model, val_x, base.device, settings.batch_size).softmax(1)
    return _result(model, base, train_set, val_set, settings, history, best, probs, stopped, started, 0.0)


def _predict(model: nn.Module, batch: torch.Tensor, device, batch_size: int) -> torch.Tensor:
    was_training = {m: m.training for m in model.modules()}
    model.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(batch), batch_size):
            chunk = batch[start:start + batch_size].to(device).contiguous(memory_format=torch.channels_last)
            outputs.append(model(chunk).float().cpu())
    for module, training in was_training.items():
        module.train(training)
    return torch.cat(outputs)


def _result(model, base, train_set, val_set, settings, history, best, probs, stopped, started, feature_seconds):
    predicted = probs.argmax(1).tolist()
    truth = list(val_set.labels)
    matrix, per_class = confusion_and_per_class(truth, predicted, train_set.class_names)
    val_predictions = [{"index": i, "true": t, "predicted": p, "prob": round(float(probs[i, p]), 6)}
                       for i, (t, p) in enumerate(zip(truth, predicted))]
    return TrainResult(
        model=model.eval(), class_names=train_set.class_names, backbone=base.name,
        base_weights=base.weights, mode=settings.mode, data_config=dict(base.data_config), settings=settings,
        history=history, best_epoch=best[2], val_acc=best[0], val_loss=best[1], confusion=matrix,
        per_class=per_class, val_predictions=val_predictions, stopped=stopped,
        seconds=time.perf_counter() - started, train_images=len(train_set), feature_seconds=feature_seconds)


def confusion_and_per_class(truth: list[int], predicted: list[int], class_names) -> tuple[list[list[int]], list[dict]]:
    """Confusion matrix (rows: true, columns: predicted) and each class's accuracy."""
    size = len(class_names)
    matrix = np.zeros((size, size), dtype=int)
    for t, p in zip(truth, predicted):
        matrix[t, p] += 1
    per_class = []
    for i, name in enumerate(class_names):
        images = int(matrix[i].sum())
        correct = int(matrix[i, i])
        per_class.append({"class": name, "images": images, "correct": correct,
                          "accuracy": round(correct / images, 6) if images else None})
    return matrix.tolist(), per_class


def run_to_end(events: Iterator[dict], on_event=None) -> TrainResult:
    """Drain a `train` generator; return its result (for scripts and tests)."""
    for event in events:
        if on_event:
            on_event(event)
        if event["event"] == "done":
            return event["result"]
    raise RuntimeError("training ended without a result")
