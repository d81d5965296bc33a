"""8-bit pictures <-> [0, 1] pixel tensors, and how a classifier reads them back.

Shared by both optimisations over the input (core.ideal and core.attack): each starts from the
model's exact input crop, turns its result into an 8-bit picture, and re-measures that picture
through an independent path (timm's standard eval pipeline, or the pixels fed as they are).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageFilter

if TYPE_CHECKING:  # torch is imported where it is used (the page is built without it)
    import torch


def model_crop(loaded, image: Image.Image) -> Image.Image:
    """The exact model-resolution crop the classifier sees, as an 8-bit picture."""
    return loaded.to_display(loaded.preprocess(image))


def to_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB -> 1x3xHxW float in [0, 1]."""
    import torch

    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 255.0).permute(2, 0, 1)[None]


def to_pil(pixels: torch.Tensor) -> Image.Image:
    """1x3xHxW in [0, 1] -> 8-bit RGB (rounded to the nearest level)."""
    array = (pixels.detach().cpu()[0].clamp(0, 1).permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)
    return Image.fromarray(array)


def reread_logits(loaded, image: Image.Image) -> torch.Tensor:
    """Logits for an 8-bit picture as the standard eval pipeline reads it (resize, crop, normalise)."""
    import torch

    with torch.no_grad():
        return loaded.model(loaded.preprocess(image)[None].to(loaded.device)).cpu()[0]


def exact_logits(loaded, image: Image.Image) -> torch.Tensor:
    """Logits for an 8-bit picture fed to the network pixel for pixel (normalised, no resampling)."""
    import torch

    pixels = to_tensor(image)
    mean = torch.tensor(loaded.data_config["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(loaded.data_config["std"]).view(1, 3, 1, 1)
    with torch.no_grad():
        return loaded.model(((pixels - mean) / std).to(loaded.device)).cpu()[0]


def blurred(image: Image.Image, sigma: float = 1.0) -> Image.Image:
    """Gaussian blur of an 8-bit picture (PIL's radius is the standard deviation)."""
    return image.filter(ImageFilter.GaussianBlur(radius=sigma))


def resized_down_up(image: Image.Image, factor: int = 2) -> Image.Image:
    """An 8-bit picture shrunk `factor` times and enlarged back (bicubic), as a re-upload might.
    (transforms.down_up is the differentiable tensor version used *during* optimisation.)"""
    small = image.resize((image.width // factor, image.height // factor), Image.Resampling.BICUBIC)
    return small.resize(image.size, Image.Resampling.BICUBIC)
