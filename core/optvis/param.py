"""Image parameterisations: what the optimiser actually changes.

Each one is a torch.nn.Module whose forward() returns a 1x3xHxW image in [0, 1], so the
render loop, the objectives and the transforms never need to know which one is in use.

- PixelImage: the lesson's plain version, one free number per pixel and channel. High
  frequencies are as cheap to change as low ones, so maximising a logit yields noise.
- FourierImage: Lucid's robust version. The image is the inverse FFT of a learned spectrum
  whose frequencies are scaled by 1/f (every frequency gets the same effective step size,
  instead of high frequencies dominating), and its colours live in a decorrelated space
  (a step changes luminance and colour opponents independently), squashed by a sigmoid.
- Perturbation: an original image plus a bounded change (L-infinity ball of radius eps), for
  adversarial examples; `project()` keeps it inside the ball and inside [0, 1] after each step.
"""
from __future__ import annotations

import math

import torch

# Lucid's colour decorrelation matrix: the square root of ImageNet's colour covariance
# (from its Cholesky factor), normalised so the largest column norm is 1.
_COLOR_CORRELATION_SVD_SQRT = torch.tensor(
    [[0.26, 0.09, 0.02],
     [0.27, 0.00, -0.05],
     [0.27, -0.09, 0.03]])
_MAX_NORM = _COLOR_CORRELATION_SVD_SQRT.norm(dim=0).max()
COLOR_MATRIX = _COLOR_CORRELATION_SVD_SQRT / _MAX_NORM


def to_rgb_space(decorrelated: torch.Tensor) -> torch.Tensor:
    """Bx3xHxW decorrelated colours -> RGB (before the squashing sigmoid)."""
    return torch.einsum("ij,bjhw->bihw", COLOR_MATRIX.to(decorrelated), decorrelated)


def to_decorrelated_space(rgb: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,bjhw->bihw", torch.linalg.inv(COLOR_MATRIX).to(rgb), rgb)


def _logit(pixels: torch.Tensor) -> torch.Tensor:
    pixels = pixels.clamp(0.01, 0.99)
    return torch.log(pixels / (1 - pixels))


def start_image(kind: str, size: int, photo: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """The 1x3xHxW starting picture in [0, 1]: 'noise' (small, around grey), 'grey', or 'photo'."""
    if kind == "photo":
        if photo is None:
            raise ValueError("start 'photo' needs an uploaded image")
        return photo.detach().clone().float().clamp(0, 1)
    if kind == "grey":
        return torch.full((1, 3, size, size), 0.5)
    if kind == "noise":
        generator = torch.Generator().manual_seed(seed)
        return (0.5 + 0.1 * torch.randn(1, 3, size, size, generator=generator)).clamp(0, 1)
    raise ValueError(f"start must be noise, grey or photo, not {kind!r}")


class PixelImage(torch.nn.Module):
    """One parameter per pixel; kept in [0, 1] by clamping after each step (see project)."""

    def __init__(self, start: torch.Tensor):
        super().__init__()
        self.pixels = torch.nn.Parameter(start.detach().clone())

    def forward(self) -> torch.Tensor:
        return self.pixels

    @torch.no_grad()
    def project(self) -> None:
        self.pixels.clamp_(0, 1)


class FourierImage(torch.nn.Module):
    """Lucid's fft + decorrelated-colour parameterisation (sigmoid keeps pixels in [0, 1])."""

    def __init__(self, start: torch.Tensor, decay_power: float = 1.0):
        super().__init__()
        _, _, height, width = start.shape
        self.size = (height, width)
        fy = torch.fft.fftfreq(height)[:, None]
        fx = torch.fft.rfftfreq(width)[None, :]
        frequencies = torch.sqrt(fx * fx + fy * fy)
        # 1/f scaling: lower frequencies get larger effective steps (natural images are ~1/f).
        scale = 1.0 / torch.clamp(frequencies, min=1.0 / max(height, width)) ** decay_power
        self.register_buffer("scale", (scale * math.sqrt(height * width) / max(height, width))[None, None])
        # Invert the forward map so the optimisation starts exactly at `start`.
        spectrum = torch.fft.rfft2(to_decorrelated_space(_logit(start.float())), norm="ortho") / self.scale
        self.spectrum = torch.nn.Parameter(torch.view_as_real(spectrum).contiguous())

    def forward(self) -> torch.Tensor:
        spectrum = torch.view_as_complex(self.spectrum) * self.scale
        decorrelated = torch.fft.irfft2(spectrum, s=self.size, norm="ortho")
        return torch.sigmoid(to_rgb_space(decorrelated))

    def project(self) -> None:
        pass  # the sigmoid already keeps every pixel in [0, 1]


class Perturbation(torch.nn.Module):
    """original + delta with |delta| <= eps everywhere and original + delta in [0, 1]."""

    def __init__(self, original: torch.Tensor, eps: float):
        super().__init__()
        self.register_buffer("original", original.detach().clone().float())
        self.eps = float(eps)
        self.delta = torch.nn.Parameter(torch.zeros_like(self.original))

    def forward(self) -> torch.Tensor:
        return self.original + self.delta

    @torch.no_grad()
    def project(self) -> None:
        self.delta.clamp_(-self.eps, self.eps)
        self.delta.copy_((self.original + self.delta).clamp(0, 1) - self.original)


def make_parameterisation(mode: str, start: torch.Tensor) -> torch.nn.Module:
    if mode == "pixel":
        return PixelImage(start)
    if mode == "robust":
        return FourierImage(start)
    raise ValueError(f"mode must be robust or pixel, not {mode!r}")

