"""Adversarial images ("adversarial dog"): a change of at most eps pixel levels that makes the
classifier see the target class.

The attack runs in [0, 1] pixel space on the model's own input crop (normalisation is inside
the model, see optvis.objectives.NormalisedModel), with targeted PGD (or one-step FGSM for
comparison) through the shared optvis render loop. Two views are optimised together: the crop
itself, and the crop as timm's standard evaluation pipeline reads it back from a PNG (enlarged
by 1/crop_pct, centre-cropped). Success is then checked on an independent code path: the result
is rounded to 8 bits, turned into a PIL image and re-read with the model's standard transform,
and the attack keeps stepping (within its budget) until that check fools the model too.
"""
from __future__ import annotations

import dataclasses
import io
import math
import threading
import time
from typing import TYPE_CHECKING, Callable

import numpy as np
from PIL import Image

from core.classify import top_k
from core.imagenet import class_names, resolve_class
# torch and the optimisation (core.optvis) are imported where used: the tab's page needs only the
# names and defaults here (issue 14).
from core.optvis.pixels import exact_logits, model_crop, reread_logits, to_pil, to_tensor

if TYPE_CHECKING:
    import torch

PGD, FGSM = "pgd", "fgsm"
METHODS = (PGD, FGSM)
DEFAULT_TARGET = 281  # tabby cat
# The change-smoothness slider (0-10) times this weighs the *change's* total variation against
# log p(target) (core.ideal's IMAGE_TV_UNIT weighs the whole image's against a logit): measured on
# coffee.png at eps 4, slider 10 halves the change's total variation and still fools.
CHANGE_TV_UNIT = 200.0
STEP_FRACTION = 0.5  # of eps per PGD step
FINE_STEPS_AFTER = 8  # then half a level per step
# Success needs p(target) this many times the runner-up's in the re-read, while steps remain: a bare
# argmax win (say 18 % vs 17 %) could flip under another decoder's or resizer's rounding.
MARGIN = 2.0


def wins(logits: torch.Tensor, target: int, margin: float) -> bool:
    """The target is top-1, with at least `margin` times the runner-up's probability."""
    top2 = logits.float().topk(2)
    if int(top2.indices[0]) != target:
        return False
    return float(top2.values[0] - top2.values[1]) >= math.log(margin)


def top_entries(logits: torch.Tensor, k: int = 5) -> list[dict]:
    import torch

    return top_k(torch.softmax(logits.float(), dim=-1), class_names(), k, digits=4)


def prediction(logits: torch.Tensor, target: int | None = None) -> dict:
    """Top-1 {label, index, prob} (and the target's prob, when given)."""
    import torch

    entry = top_entries(logits, 1)[0]
    if target is not None:
        entry["target_prob"] = round(float(torch.softmax(logits.float(), dim=-1)[target]), 4)
    return entry


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float(np.mean(diff * diff))
    return float("inf") if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def jpeg_roundtrip(image: Image.Image, quality: int = 90) -> Image.Image:
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


@dataclasses.dataclass
class AttackResult:
    original: Image.Image  # the model-resolution crop that was attacked (8-bit)
    adversarial: Image.Image  # original + perturbation, 8-bit, |change| <= eps levels
    target: int
    eps: int  # levels
    method: str
    steps_done: int
    before: dict  # top-1 of the original, as the standard pipeline reads it
    after: dict  # top-1 of the adversarial PNG, as the standard pipeline reads it
    after_direct: dict  # top-1 of the adversarial crop fed to the model as is (no re-read)
    top5_before: list
    top5_after: list
    linf: int  # largest change in levels (<= eps)
    psnr: float
    fools_png: bool  # the re-read PNG is classified as the target
    fools_jpeg: bool  # ...and after JPEG re-encoding (quality 90)
    jpeg_prediction: dict
    seconds: float
    transfer: dict | None = None  # the same PNG through a second backbone, when its weights exist

    def perturbation_image(self, amplify: float | None = None) -> Image.Image:
        """The change, amplified so that eps levels span the full range around mid-grey."""
        delta = np.asarray(self.adversarial, dtype=np.float32) - np.asarray(self.original, dtype=np.float32)
        amplify = amplify or 127.0 / max(1, self.eps)
        return Image.fromarray(np.clip(127.5 + delta * amplify, 0, 255).astype(np.uint8))

    def summary(self) -> dict:
        """The JSON the CLI prints (and the benchmark reads)."""
        keep = ("label", "index", "prob")
        return {
            "target": {"label": class_names()[self.target], "index": self.target},
            "method": self.method, "eps": self.eps, "steps": self.steps_done,
            "before": {k: self.before[k] for k in keep},
            "after": {k: self.after[k] for k in keep},
            "success": self.fools_png,
            "linf": self.linf, "psnr": round(self.psnr, 2),
            "fools_after_png": self.fools_png, "fools_after_jpeg": self.fools_jpeg,
            "transfer": self.transfer,
            "seconds": round(self.seconds, 3),
        }


def attack(loaded, image: Image.Image, target: int | str = DEFAULT_TARGET, eps: int = 2, steps: int = 40,
           tv: float = 0.0, method: str = PGD, should_stop: Callable[[], bool] | None = None,
           transfer_model=None) -> AttackResult:
    """Targeted attack on `image` (any size: its model crop is attacked). eps and the result are in
    0-255 levels; steps is the PGD budget (the attack stops as soon as the re-read PNG fools)."""
    from core.optvis.render import optimisation_threads

    with optimisation_threads():
        return _attack(loaded, image, target, eps, steps, tv, method, should_stop, transfer_model)


def _attack(loaded, image, target, eps, steps, tv, method, should_stop, transfer_model) -> AttackResult:
    from core.optvis import objectives, transforms
    from core.optvis.param import Perturbation
    from core.optvis.render import SignedGradient, render

    target = resolve_class(target)
    eps = int(eps)
    if not 0 < eps <= 64:
        raise ValueError("eps must be between 1 and 64 pixel levels")
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if steps < 1:
        raise ValueError("steps must be at least 1")
    if tv < 0:
        raise ValueError("the TV weight cannot be negative")
    started = time.perf_counter()
    original = model_crop(loaded, image)
    original_logits = reread_logits(loaded, original)
    model = objectives.wrap(loaded)
    param = Perturbation(to_tensor(original).to(loaded.device), eps / 255.0)
    crop_pct = float(loaded.data_config.get("crop_pct", 1.0))
    views = transforms.views(transforms.identity, transforms.standard_reread(crop_pct))

    def objective(pixels, logits):
        score = objectives.class_log_probability(logits, target)
        terms = {"log_p": float(score.detach())}
        if tv:
            smoothness = objectives.total_variation(pixels - param.original)
            score = score - tv * CHANGE_TV_UNIT * smoothness
            terms["tv"] = float(smoothness.detach())
        top = logits.detach().argmax(dim=1)
        terms["views_fooled"] = int((top == target).sum())
        return score, terms

    if method == FGSM:
        steps, step_size = 1, eps / 255.0
    else:
        # Half a level per step at least: the final rounding to 8 bits undoes smaller moves.
        step_size = max(eps * STEP_FRACTION, 0.5) / 255.0
    optimizer = SignedGradient(param.parameters(), lr=step_size)
    adversarial, steps_done = original, 0
    fooled_views = 0
    for progress in render(param, model, objective, views, optimizer, steps, every=1, should_stop=should_stop):
        steps_done = progress.step
        adversarial = to_pil(progress.image)
        if steps_done == FINE_STEPS_AFTER:
            # Hard images: the big first steps reach the ball's corners, finer ones then settle in.
            for group in optimizer.param_groups:
                group["lr"] = min(group["lr"], 0.5 / 255.0)
        if progress.stopped:
            break
        # Cheap test first (the views at the step's start), the independent re-read only when it passes.
        fooled_views = progress.terms.get("views_fooled", 0)
        if method == PGD and fooled_views == 2 or progress.finished:
            if wins(reread_logits(loaded, adversarial), target, 1.0 if progress.finished else MARGIN):
                break
    return attack_result(loaded, original, adversarial, original_logits, target, eps, method, steps_done,
                  time.perf_counter() - started, transfer_model)


def attack_result(loaded, original, adversarial, original_logits, target, eps, method, steps_done, seconds,
                  transfer_model=None) -> AttackResult:
    """The attack's outcome, measured on the 8-bit result through independent paths."""
    after_logits = reread_logits(loaded, adversarial)
    direct_logits = exact_logits(loaded, adversarial)  # the 8-bit pixels exactly as written, no resampling
    jpeg_logits = reread_logits(loaded, jpeg_roundtrip(adversarial))
    delta = np.abs(np.asarray(adversarial, dtype=np.int16) - np.asarray(original, dtype=np.int16))
    transfer = None
    if transfer_model is not None:
        before_t, after_t = reread_logits(transfer_model, original), reread_logits(transfer_model, adversarial)
        transfer = {"backbone": transfer_model.name, "before": prediction(before_t, target),
                    "after": prediction(after_t, target), "fooled": int(after_t.argmax()) == target}
    return AttackResult(
        original=original, adversarial=adversarial, target=target, eps=eps, method=method,
        steps_done=steps_done,
        before=prediction(original_logits, target), after=prediction(after_logits, target),
        after_direct=prediction(direct_logits, target),
        top5_before=top_entries(original_logits), top5_after=top_entries(after_logits),
        linf=int(delta.max()), psnr=psnr(original, adversarial),
        fools_png=int(after_logits.argmax()) == target, fools_jpeg=int(jpeg_logits.argmax()) == target,
        jpeg_prediction=prediction(jpeg_logits, target), seconds=seconds, transfer=transfer,
    )


_transfer_lock = threading.Lock()
_transfer: dict = {}  # {"name": the transfer backbone chosen once}


def transfer_backbone(exclude: str = ""):
    """A second ImageNet backbone whose pretrained weights are already on this machine (loaded or in
    the hub's local cache), to test whether an attack transfers; None when there is none. Never
    downloads: a request must not wait minutes for hundreds of megabytes."""
    from core import backbones

    with _transfer_lock:
        if _transfer.get("name") is None:
            for choice in backbones.CHOICES:
                if choice.name in (exclude, backbones.BUNDLED_MODEL) or not backbones.hub_weights_local(choice.name):
                    continue
                try:
                    backbones.load_backbone(choice.name, backbones.HUB)
                    _transfer["name"] = choice.name
                    break
                except (backbones.WeightsUnavailable, RuntimeError, OSError):
                    continue
    # Only its name is remembered: the model itself lives in core.backbones' bounded cache (a copy
    # kept here would outlive that bound, and be built again beside it once the cache dropped it).
    return backbones.load_backbone(_transfer["name"], backbones.HUB) if _transfer.get("name") else None
