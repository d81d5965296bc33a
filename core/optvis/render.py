"""The one optimisation loop both features run: ideal images and adversarial examples.

`render` is a generator: it yields a `Progress` event every few steps (so a web page, a CLI or a
test can show the image as it forms) and stops early when asked, through `should_stop`, or when
the consumer simply stops iterating. Everything feature-specific comes in as arguments:
parameterisation (param), the batch of views the model sees (transforms), the score to maximise
(objective), and the optimiser (Adam for ideal images, signed gradient steps for PGD).
"""
from __future__ import annotations

import dataclasses
import os
import time
from typing import Callable, Iterator

import torch

from core.threads import limited_threads


@dataclasses.dataclass
class Progress:
    step: int  # steps done so far
    steps: int  # steps planned
    image: torch.Tensor  # 1x3xHxW in [0, 1], detached, on the CPU
    terms: dict  # named floats of the objective at this step (e.g. logit, tv, prob)
    seconds: float  # since the loop started
    stopped: bool = False  # ended by should_stop before all steps were done

    @property
    def finished(self) -> bool:
        return self.stopped or self.step >= self.steps


class SignedGradient(torch.optim.Optimizer):
    """The PGD / FGSM step: move every pixel by `lr` against the sign of its gradient.

    The sign (an L-infinity steepest-descent step) makes each step use the whole budget evenly.
    """

    def __init__(self, params, lr: float):
        super().__init__(params, dict(lr=lr))

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for parameter in group["params"]:
                if parameter.grad is not None:
                    parameter.add_(parameter.grad.sign(), alpha=-group["lr"])


def thread_count() -> int:
    """Threads for optimising: TLL_OPTVIS_THREADS, else 1 on a machine with 2 cores or fewer.

    On 2 cores one busy neighbour (another visitor, the browser, a second job) makes two OpenMP
    threads wait on each other: measured 0.12 s per forward+backward with 1 thread against 0.9 s
    with 2 on a loaded 2-core machine, while 2 threads win only ~1.5x on an idle one.
    """
    wanted = os.environ.get("TLL_OPTVIS_THREADS", "").strip()
    if wanted.isdigit() and int(wanted) > 0:
        return int(wanted)
    return 1 if (os.cpu_count() or 1) <= 2 else torch.get_num_threads()


def optimisation_threads():
    return limited_threads(thread_count())


Objective = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, dict]]


def render(param: torch.nn.Module, model: torch.nn.Module, objective: Objective,
           transforms: Callable[[torch.Tensor], torch.Tensor], optimizer: torch.optim.Optimizer,
           steps: int, every: int = 10, should_stop: Callable[[], bool] | None = None) -> Iterator[Progress]:
    """Maximise objective(image, model(transforms(image))) over param's parameters.

    objective returns (score, terms); terms are reported in the events. Yields after step
    `every`, 2*every, ..., after the last step, and once with stopped=True if should_stop() fires.
    """
    if steps < 1:
        raise ValueError("steps must be at least 1")
    yield from _loop(param, model, objective, transforms, optimizer, steps, every, should_stop)


def _loop(param, model, objective, transforms, optimizer, steps, every, should_stop) -> Iterator[Progress]:
    started = time.perf_counter()
    device = next(iter(model.buffers()), torch.empty(0)).device
    param.to(device)
    for step in range(1, steps + 1):
        if should_stop is not None and should_stop():
            yield Progress(step - 1, steps, param().detach().cpu(), {}, time.perf_counter() - started, stopped=True)
            return
        # The thread count is per OS thread, and a generator may resume on another one (Gradio's
        # pool): so it is set around each step, never held across a yield.
        with optimisation_threads():
            optimizer.zero_grad(set_to_none=True)
            image = param()
            logits = model(transforms(image))
            score, terms = objective(image, logits)
            (-score).backward()
            optimizer.step()
            param.project()
        if step % every == 0 or step == steps:
            with torch.no_grad():
                current = param().detach().cpu()
            yield Progress(step, steps, current, terms, time.perf_counter() - started)
