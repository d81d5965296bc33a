"""Ideal images ("ideal cat"): the picture that most excites one ImageNet class.

Gradient ascent on the *image* (the network is frozen) through the shared optvis loop. Two modes:
  pixel  - the lesson's plain version: free pixels, no transforms. The logit climbs fast but the
           picture is high-frequency noise the network happens to like (a fragile optimum).
  robust - Lucid's recipe: Fourier + decorrelated-colour parameterisation, and each step sees a
           randomly jittered, scaled, rotated (and sometimes blurred or resampled) copy, so only
           features that survive those changes can raise the score: recognisable textures.
The objective is the target's pre-softmax logit minus a total-variation penalty (the slider).
"""
from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Callable, Iterator

from PIL import Image

from core.imagenet import class_names, resolve_class
# torch and the optimisation (core.optvis) are imported where used: the tab's page needs only the
# names and defaults here (issue 14).
from core.optvis.pixels import blurred, exact_logits, model_crop, reread_logits, resized_down_up, to_pil, to_tensor

if TYPE_CHECKING:
    from core.optvis.render import Progress

ROBUST, PIXEL = "robust", "pixel"
MODES = (ROBUST, PIXEL)
STARTS = ("noise", "grey", "photo")
# Shown as buttons in the tab; any class can be typed.
QUICK_PICKS = ("tabby cat", "Siamese cat", "zebra", "goldfish", "banana", "balloon", "flamingo",
               "jack-o'-lantern")
DEFAULT_STEPS = {ROBUST: 160, PIXEL: 100}
DEFAULT_TV = 1.0
# The smoothness slider (0-10) times this is the weight of the image's total variation against the
# target's logit. Plain pixels need a far larger weight than the robust mode: Adam moves every free
# pixel by about the learning rate whatever its gradient's size, so the penalty must outweigh the
# logit's gradient pixel by pixel before it changes anything, while the robust mode's 1/f spectrum
# is smooth already. Measured (pixel mode, 100 steps, tabby cat, 8-bit PNG): total variation 0.48 at
# 0 -> 0.07 at 10, still p(target) 1.0 pixel for pixel (README, Benchmarks; tests/test_optvis_cli.py).
IMAGE_TV_UNIT = {ROBUST: 10.0, PIXEL: 200.0}
# Plain pixels: large enough steps that 100 of them turn the faint starting noise into vivid colour noise
# (slider 0) or smooth blobs (slider 10), not a faint grey texture.
LEARNING_RATE = {ROBUST: 0.05, PIXEL: 0.03}


def ideal_steps(loaded, target: int | str, steps: int | None = None, tv: float = DEFAULT_TV, mode: str = ROBUST,
                start: str = "noise", photo: Image.Image | None = None, seed: int = 0, every: int = 10,
                should_stop: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Progress events while the ideal image of `target` forms (Progress.terms: logit, tv, prob).

    `prob` is p(target) for the current, untransformed image."""
    import torch

    from core.optvis import objectives, transforms
    from core.optvis.param import make_parameterisation, start_image
    from core.optvis.render import render
    from core.seeds import seed_everything

    target = resolve_class(target)
    if mode not in MODES:
        raise ValueError(f"mode must be robust or pixel, not {mode!r}")
    if start not in STARTS:
        raise ValueError(f"start must be one of {', '.join(STARTS)}, not {start!r}")
    steps = DEFAULT_STEPS[mode] if steps is None else int(steps)
    if not 1 <= steps <= 5000:
        raise ValueError("steps must be between 1 and 5000")
    if not 0 <= tv <= 100:
        raise ValueError("the TV weight must be between 0 and 100 (the slider goes to 10)")
    seed_everything(seed)
    size = loaded.input_size[-1]
    photo_tensor = to_tensor(model_crop(loaded, photo)) if (start == "photo" and photo is not None) else None
    param = make_parameterisation(mode, start_image(start, size, photo_tensor, seed)).to(loaded.device)
    model = objectives.wrap(loaded)
    view = transforms.robust_transforms() if mode == ROBUST else transforms.identity

    def objective(pixels, logits):
        logit = objectives.class_logit(logits, target)
        smoothness = objectives.total_variation(pixels)
        terms = {"logit": float(logit.detach()), "tv": float(smoothness.detach())}
        return logit - tv * IMAGE_TV_UNIT[mode] * smoothness, terms

    optimizer = torch.optim.Adam(param.parameters(), lr=LEARNING_RATE[mode])
    for progress in render(param, model, objective, view, optimizer, steps, every=every, should_stop=should_stop):
        with torch.no_grad():
            logits = model(progress.image.to(loaded.device))
        progress.terms["prob"] = objectives.target_probability(logits, target)
        progress.terms.setdefault("tv", float(objectives.total_variation(progress.image)))
        yield progress


@dataclasses.dataclass
class IdealResult:
    image: Image.Image  # 8-bit, model resolution: what gets saved as PNG
    target: int
    mode: str
    steps_done: int
    prob: float  # p(target) of the 8-bit image, re-read through the standard eval pipeline
    prob_exact: float  # ...fed to the network pixel for pixel (no resampling): pixel mode's fragile score
    prob_blur: float  # ...after a Gaussian blur with sigma 1 pixel
    prob_resize: float  # ...after shrinking 2x and enlarging back
    total_variation: float  # of the 8-bit image, in [0, 1] units (lower = smoother)
    seconds: float
    stopped: bool = False

    def summary(self) -> dict:
        return {"target": {"label": class_names()[self.target], "index": self.target}, "mode": self.mode,
                "steps": self.steps_done, "prob": round(self.prob, 4),
                "prob_exact": round(self.prob_exact, 4), "prob_blur": round(self.prob_blur, 4),
                "prob_resize": round(self.prob_resize, 4), "tv": round(self.total_variation, 4),
                "stopped": self.stopped, "seconds": round(self.seconds, 2)}


def measure(loaded, image: Image.Image, target: int) -> dict:
    """p(target) of an 8-bit image as re-read by the standard pipeline, plain, blurred and resampled."""
    import torch

    from core.optvis import objectives

    def prob(picture):
        return float(torch.softmax(reread_logits(loaded, picture).float(), dim=-1)[target])

    exact = torch.softmax(exact_logits(loaded, image).float(), dim=-1)[target]
    return {"prob": prob(image), "prob_exact": float(exact), "prob_blur": prob(blurred(image)),
            "prob_resize": prob(resized_down_up(image)),
            "total_variation": float(objectives.total_variation(to_tensor(image)))}


def ideal_result(loaded, progress: Progress, target: int, mode: str, started: float) -> IdealResult:
    """The last progress event as an 8-bit picture, measured."""
    from core.optvis.render import optimisation_threads

    image = to_pil(progress.image)
    with optimisation_threads():
        measured = measure(loaded, image, target)
    return IdealResult(image=image, target=target, mode=mode, steps_done=progress.step,
                       seconds=time.perf_counter() - started, stopped=progress.stopped,
                       **measured)


def ideal_image(loaded, target: int | str, **options) -> IdealResult:
    """Run to the end (or until should_stop) and measure the 8-bit result."""
    started = time.perf_counter()
    target = resolve_class(target)
    last = None
    for last in ideal_steps(loaded, target, **options):
        pass
    return ideal_result(loaded, last, target, options.get("mode", ROBUST), started)


