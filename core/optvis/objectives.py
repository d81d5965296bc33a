"""What the optimisation maximises. Each objective maps (image, model logits) to a score.

The model sees [0, 1] pixels: `NormalisedModel` puts the network's own normalisation inside
the module, so every optimisation (and every epsilon) lives in plain pixel space.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


class NormalisedModel(torch.nn.Module):
    """[0, 1] RGB batch in, logits out: the classifier with its input normalisation built in."""

    def __init__(self, model: torch.nn.Module, mean, std):
        super().__init__()
        self.model = model
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model((pixels - self.mean) / self.std)


def wrap(loaded) -> NormalisedModel:
    """NormalisedModel for a core.backbones.LoadedModel, with gradients switched off for weights."""
    for parameter in loaded.model.parameters():
        parameter.requires_grad_(False)
    wrapped = NormalisedModel(loaded.model, loaded.data_config["mean"], loaded.data_config["std"])
    return wrapped.to(loaded.device).eval()


def class_logit(logits: torch.Tensor, index: int) -> torch.Tensor:
    """The target's pre-softmax score, averaged over the batch of views.

    Not the probability: a probability also rises when every *other* class falls, which the
    optimiser achieves most cheaply with noise; the logit only rises with evidence for the class.
    """
    return logits[:, index].mean()


def class_log_probability(logits: torch.Tensor, index: int) -> torch.Tensor:
    """log p(target), averaged over views: the targeted attack's objective (pushes others down too)."""
    return F.log_softmax(logits, dim=1)[:, index].mean()


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference between neighbouring pixels (0 for a flat image, ~0.5 for noise)."""
    dy = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dx = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dx + dy


def target_probability(logits: torch.Tensor, index: int) -> float:
    return float(F.softmax(logits.detach().float(), dim=1)[:, index].mean())
