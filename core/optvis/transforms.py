"""Differentiable random transforms applied to the image before each forward pass.

An image that maximises a class only for one exact pixel grid is a fragile, noisy one; asking it
to work under small random shifts, scalings, rotations, blurs and resamplings (as Lucid does)
pushes the optimisation towards features the network recognises robustly. The same machinery
models the standard evaluation pipeline re-reading a written PNG (`standard_reread`), so an
adversarial image can be made to survive it.

Every transform is a callable Bx3xHxW -> Bx3xHxW in [0, 1] that keeps the size.
"""
from __future__ import annotations

import math
import random
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

Transform = Callable[[torch.Tensor], torch.Tensor]


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (reflect padding); sigma in pixels; 0 returns the image."""
    if sigma <= 0:
        return image
    radius = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-x * x / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    padded = F.pad(image, (radius, radius, radius, radius), mode="reflect")
    out = F.conv2d(padded, kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(out, kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def down_up(image: torch.Tensor, factor: float = 2.0) -> torch.Tensor:
    """Shrink by `factor` (area average) and enlarge back (bilinear): loses the finest detail."""
    height, width = image.shape[-2:]
    small = F.interpolate(image, size=(max(1, round(height / factor)), max(1, round(width / factor))),
                          mode="area")
    return F.interpolate(small, size=(height, width), mode="bilinear", align_corners=False)


def jitter(pixels: int) -> Transform:
    """Random translation by up to `pixels` in each direction (reflected borders)."""
    def apply(image: torch.Tensor) -> torch.Tensor:
        if pixels <= 0:
            return image
        height, width = image.shape[-2:]
        padded = F.pad(image, (pixels, pixels, pixels, pixels), mode="reflect")
        dy, dx = random.randint(0, 2 * pixels), random.randint(0, 2 * pixels)
        return padded[..., dy:dy + height, dx:dx + width]
    return apply


def scale_rotate(scales: Sequence[float] = (0.9, 1.1), degrees: float = 10.0) -> Transform:
    """Random zoom in `scales` and rotation within +-degrees, in one resampling."""
    def apply(image: torch.Tensor) -> torch.Tensor:
        zoom = random.uniform(*scales)
        angle = math.radians(random.uniform(-degrees, degrees))
        cos, sin = math.cos(angle) / zoom, math.sin(angle) / zoom
        theta = torch.tensor([[cos, -sin, 0.0], [sin, cos, 0.0]], dtype=image.dtype, device=image.device)
        grid = F.affine_grid(theta.expand(image.shape[0], 2, 3), list(image.shape), align_corners=False)
        return F.grid_sample(image, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
    return apply


def random_blur(max_sigma: float = 1.5, probability: float = 0.5) -> Transform:
    def apply(image: torch.Tensor) -> torch.Tensor:
        if random.random() >= probability:
            return image
        return gaussian_blur(image, random.uniform(0.3, max_sigma))
    return apply


def random_down_up(factors: Sequence[float] = (1.5, 2.0), probability: float = 0.3) -> Transform:
    def apply(image: torch.Tensor) -> torch.Tensor:
        if random.random() >= probability:
            return image
        return down_up(image, random.uniform(*factors))
    return apply


def compose(*transforms: Transform) -> Transform:
    def apply(image: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            image = transform(image)
        return image
    return apply


def robust_transforms() -> Transform:
    """Lucid's standard set (jitter, scale, rotate, jitter) plus the degradations the ideal image
    must survive when someone blurs or resamples it."""
    return compose(jitter(8), scale_rotate((0.85, 1.15), 10.0), jitter(4), random_blur(), random_down_up())


def identity(image: torch.Tensor) -> torch.Tensor:
    return image


def standard_reread(crop_pct: float) -> Transform:
    """What timm's eval pipeline does to a square PNG of the model's input size when it reads it
    back: enlarge by 1/crop_pct (bicubic) and take the centre crop of the original size."""
    def apply(image: torch.Tensor) -> torch.Tensor:
        size = image.shape[-1]
        enlarged_size = math.floor(size / crop_pct)
        if enlarged_size == size:
            return image
        enlarged = F.interpolate(image, size=(enlarged_size, enlarged_size), mode="bicubic", align_corners=False)
        top = int(round((enlarged_size - size) / 2.0))
        return enlarged[..., top:top + size, top:top + size].clamp(0, 1)
    return apply


def views(*transforms: Transform) -> Transform:
    """Several deterministic views of one image, stacked as a batch (each counts in the loss)."""
    def apply(image: torch.Tensor) -> torch.Tensor:
        return torch.cat([transform(image) for transform in transforms], dim=0)
    return apply
