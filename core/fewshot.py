"""Small training sets done right: a full-batch regularised head on cached features, and honest
accuracy estimates when there are too few photos to spare a validation split.

Why not the mini-batch SGD head with early stopping: with 5 photos per class a 20 % split holds
1 photo per class out, so the head learns from 4 and picks its epoch by 1 photo; SGD on a handful
of rows is noisy too. A convex, L2-regularised multinomial logistic regression fitted by L-BFGS on
the whole (L2-normalised) feature matrix has one answer, reached in a few dozen iterations, and
matches a nearest-class-mean classifier at one photo per class (measured on EfficientNet-Lite0
features: 5 cat/dog photos per class, 8 draws, 96 % mean on the other 230 photos).

Several independent problems are fitted at once, stacked: the final model (all photos) and the
cross-validation folds, or the draws of a learning curve. The sum of independent convex losses has
each problem's optimum as its optimum, so one L-BFGS run on the stack fits them all, and every
iteration reports the final model's training loss *and* the held-out accuracy of the folds: the
live plot of the Fine-tune tab shows both, as epochs used to.
"""
from __future__ import annotations

import dataclasses
import math
import random

import torch
from torch import nn

# SMALL_CLASS, LEAVE_ONE_OUT_MAX, K_FOLDS and the estimate names: core.training_settings (no torch there).
from core.training_settings import (ESTIMATE_TEXT, K_FOLD, K_FOLDS, LEAVE_ONE_OUT, LEAVE_ONE_OUT_MAX,  # noqa: F401 (re-exported)
                                    NOT_ESTIMATED, SMALL_CLASS, VALIDATION)

# sklearn's C: the loss is mean cross-entropy + ||W||^2 / (2 C n). On L2-normalised features the
# results hardly move between C = 1 and 100 (measured); 10 lets a confident head form.
DEFAULT_C = 10.0



def normalise(features: torch.Tensor) -> torch.Tensor:
    """L2-normalised rows: a photo's features by direction, not size (what a linear head on few
    photos separates best; nearest-class-mean on these is the one-photo classifier)."""
    return nn.functional.normalize(features.float(), dim=-1)


class NormalisedHead(nn.Module):
    """The trained head: L2-normalise the backbone's features, then a linear layer."""

    def __init__(self, in_features: int, classes: int):
        super().__init__()
        self.linear = nn.Linear(in_features, classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(normalise(features))


def estimate_method(counts: list[int]) -> str:
    """How a frozen-mode model on classes of these sizes is best judged."""
    if min(counts) < 2:
        return NOT_ESTIMATED
    if min(counts) >= SMALL_CLASS:
        return VALIDATION
    return LEAVE_ONE_OUT if sum(counts) <= LEAVE_ONE_OUT_MAX else K_FOLD


def cv_folds(labels: list[int], method: str, seed: int = 0) -> list[list[int]]:
    """The held-out row indices of each fold (stratified for k-fold; one row each for LOO)."""
    if method == LEAVE_ONE_OUT:
        return [[i] for i in range(len(labels))]
    if method != K_FOLD:
        return []
    rng = random.Random(seed)
    folds: list[list[int]] = [[] for _ in range(K_FOLDS)]
    slot = 0
    for label in sorted(set(labels)):
        members = [i for i, y in enumerate(labels) if y == label]
        rng.shuffle(members)
        for index in members:  # round-robin, continuing across classes: folds stay balanced
            folds[slot % K_FOLDS].append(index)
            slot += 1
    return [sorted(f) for f in folds if f]


@dataclasses.dataclass
class StackedFit:
    """P independent multinomial logistic regressions on the same rows, fitted together.

    `train_masks[p, i]` is 1 when problem p trains on row i. `step()` runs one L-BFGS iteration.
    """

    features: torch.Tensor  # N x D, L2-normalised
    labels: torch.Tensor  # N
    classes: int
    train_masks: torch.Tensor  # P x N, 0/1
    c: float = DEFAULT_C

    def __post_init__(self):
        problems, dim = self.train_masks.shape[0], self.features.shape[1]
        self.weight = torch.zeros(problems, dim, self.classes, requires_grad=True)
        self.bias = torch.zeros(problems, self.classes, requires_grad=True)
        counts = self.train_masks.sum(1).clamp(min=1)
        # Class-balanced mean loss per problem: every class present weighs the same, whatever its
        # count (sklearn's class_weight="balanced"). Uneven classes (a teacher's 3 photos beside 15)
        # do not teach the bias term a prior, and a leave-one-out fold does not learn to vote against
        # the held-out photo's class for having one photo fewer.
        onehot = nn.functional.one_hot(self.labels, self.classes).float()  # N x C
        per_class = self.train_masks @ onehot  # P x C photos of each class per problem
        present = (per_class > 0).sum(1, keepdim=True).clamp(min=1)
        row_class_count = per_class[:, self.labels].clamp(min=1)  # P x N
        self._row_weights = self.train_masks / (row_class_count * present)
        self._penalty = 1.0 / (2 * self.c * counts)  # per problem
        self._targets = self.labels.expand(problems, -1)
        self.optimizer = torch.optim.LBFGS([self.weight, self.bias], lr=1, max_iter=1, max_eval=25, history_size=20,
                                           line_search_fn="strong_wolfe", tolerance_grad=1e-7,
                                           tolerance_change=1e-10)

    def logits(self, features: torch.Tensor | None = None) -> torch.Tensor:
        """P x N x C logits of every problem's model on `features` (default: the training rows)."""
        x = self.features if features is None else features
        return torch.einsum("nd,pdc->pnc", x, self.weight) + self.bias[:, None, :]

    def _loss(self) -> torch.Tensor:
        per_row = nn.functional.cross_entropy(self.logits().transpose(1, 2), self._targets, reduction="none")
        return (per_row * self._row_weights).sum() + (self._penalty * self.weight.pow(2).sum((1, 2))).sum()

    def step(self) -> None:
        def closure():
            self.optimizer.zero_grad()
            loss = self._loss()
            loss.backward()
            return loss

        self.optimizer.step(closure)

    def linear(self, problem: int = 0) -> nn.Linear:
        layer = nn.Linear(self.features.shape[1], self.classes)
        with torch.no_grad():
            layer.weight.copy_(self.weight[problem].T)
            layer.bias.copy_(self.bias[problem])
        return layer


def masks_for(rows: int, folds: list[list[int]]) -> torch.Tensor:
    """Problem 0 trains on every row; problem k+1 on every row but fold k's."""
    masks = torch.ones(1 + len(folds), rows)
    for number, held_out in enumerate(folds, start=1):
        masks[number, held_out] = 0.0
    return masks


def held_out_logits(fit: StackedFit, folds: list[list[int]]) -> torch.Tensor:
    """N x C: each row's logits from the fold model that did not train on it."""
    with torch.no_grad():
        all_logits = fit.logits()
        out = torch.empty(fit.features.shape[0], fit.classes)
        for number, held_out in enumerate(folds, start=1):
            out[held_out] = all_logits[number, held_out]
    return out


def accuracy_and_loss(logits: torch.Tensor, labels: torch.Tensor) -> tuple[float, float]:
    with torch.no_grad():
        return (float((logits.argmax(-1) == labels).float().mean()),
                float(nn.functional.cross_entropy(logits, labels)))


def finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value
