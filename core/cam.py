"""Where the model looks: class activation maps (the Grad-CAM family) for any timm backbone.

The map lives on the network's last convolutional stage (what `forward_features` returns:
7x7 for a 224-pixel input on EfficientNet-Lite0, VGG-16, ResNet-50, MobileNetV3). For a class c
with score y_c and that stage's activations A (channels k, positions i, j):

  grad-cam    sum_k  mean_ij(dy_c/dA_k) * A_k            (Selvaraju et al. 2017)
  grad-cam++  sum_k  sum_ij(alpha_kij * relu(dy_c/dA_kij)) * A_k   (Chattopadhay et al. 2018)
  layer-cam   sum_k  relu(dy_c/dA_k) * A_k, per position   (Jiang et al. 2021)

each followed by ReLU (only evidence *for* the class), scaled so its peak is 1, and resized
(bilinear) to the model's exact input crop. DEFAULT_METHOD was chosen by measurement: see
benchmarks/cam_methods.py (two-object composites, share of the heat on the right half).

Why hand-written, not pytorch-grad-cam or captum: the backbones are cached and shared by every
visitor's request at once. Both libraries register forward/backward hooks on the model and call
backward() through it, so concurrent requests on the same model would mix each other's
activations and fill the shared weights' .grad (400 MB for VGG-16's first dense layer). Here the
backbone runs under no_grad, its last-stage output becomes a leaf tensor, and only the small
head is differentiated with torch.autograd.grad: no hooks, no weight gradients, thread-safe,
and about the cost of one forward pass. The tests check these maps against pytorch-grad-cam's
on a private copy of the model (a dev dependency only).
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from core.backbones import LoadedModel

GRADCAM, GRADCAM_PP, LAYERCAM = "grad-cam", "grad-cam++", "layer-cam"
METHODS = (GRADCAM, GRADCAM_PP, LAYERCAM)
DEFAULT_METHOD = GRADCAM
OVERLAY_ALPHA = 0.5  # heat colour over the photo: enough to see both
COLORMAP = "jet"  # the colours every Grad-CAM paper uses: red = most, blue = none


class UnknownTarget(ValueError):
    pass


@dataclasses.dataclass
class CamResult:
    heat: np.ndarray  # float32 H x W in [0, 1], H x W = the model's input crop
    crop: Image.Image  # the exact crop the model saw
    target: int  # class index the map is for
    label: str
    prob: float  # the model's probability for that class
    method: str
    top: list[dict]  # the model's top-5, to show beside the map

    @property
    def overlay(self) -> Image.Image:
        return overlay(self.crop, self.heat)

    @property
    def heat_image(self) -> Image.Image:
        return heat_png(self.heat)


def resolve_target(target, labels) -> int | None:
    """A class index, or a label (exact, case-insensitive, or a unique part of one); None = top class."""
    if target is None or (isinstance(target, str) and not target.strip()):
        return None
    if isinstance(target, (int, np.integer)) or (isinstance(target, str) and target.strip().lstrip("-").isdigit()):
        index = int(target)
        if not 0 <= index < len(labels):
            raise UnknownTarget(f"class {index} does not exist: this model has classes 0-{len(labels) - 1}")
        return index
    wanted = str(target).strip().lower()
    names = [str(label).lower() for label in labels]
    if wanted in names:
        return names.index(wanted)
    partial = [i for i, name in enumerate(names) if wanted in name]
    from core.imagenet import the_one_match

    return the_one_match(partial, str(target), lambda i: f"{i} {labels[i]}", error=UnknownTarget)


def _split(model: torch.nn.Module):
    """(features, head) callables of a timm classifier, or of a trained FrozenClassifier."""
    backbone = getattr(model, "backbone", None)
    if backbone is not None and hasattr(model, "head") and hasattr(backbone, "forward_features"):
        return backbone.forward_features, lambda f: model.head(backbone.forward_head(f, pre_logits=True))
    if not hasattr(model, "forward_features"):
        raise ValueError(f"{type(model).__name__} is not a timm model: no forward_features to map")
    return model.forward_features, model.forward_head


def _as_grid(model: torch.nn.Module, features: torch.Tensor) -> torch.Tensor:
    """Last-stage output as N x C x h x w (token models: patch tokens back onto their grid)."""
    if features.dim() == 4:
        net = getattr(model, "backbone", model)
        channels = getattr(net, "num_features", features.shape[1])
        if features.shape[1] != channels and features.shape[-1] == channels:  # NHWC stages (e.g. Swin)
            return features.permute(0, 3, 1, 2)
        return features
    if features.dim() == 3:
        net = getattr(model, "backbone", model)
        tokens = features[:, getattr(net, "num_prefix_tokens", 1):]
        side = int(round(tokens.shape[1] ** 0.5))
        if side * side != tokens.shape[1]:
            raise ValueError("this model's features are not on a square grid: no activation map")
        return tokens.transpose(1, 2).reshape(tokens.shape[0], tokens.shape[2], side, side)
    raise ValueError("this model's last stage is not spatial: no activation map")


def _combine(activations: torch.Tensor, grads: torch.Tensor, method: str) -> torch.Tensor:
    """N x C x h x w activations and gradients -> N x h x w map (before ReLU)."""
    if method == GRADCAM:
        weights = grads.mean(dim=(2, 3), keepdim=True)
        return (weights * activations).sum(1)
    if method == GRADCAM_PP:
        g2, g3 = grads.pow(2), grads.pow(3)
        total = activations.sum(dim=(2, 3), keepdim=True)
        alpha = g2 / (2 * g2 + total * g3 + 1e-7)
        alpha = torch.where(grads != 0, alpha, torch.zeros_like(alpha))
        weights = (alpha * grads.clamp(min=0)).sum(dim=(2, 3), keepdim=True)
        return (weights * activations).sum(1)
    if method == LAYERCAM:
        return (grads.clamp(min=0) * activations).sum(1)
    raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")


def maps_for_batch(loaded: LoadedModel, batch: torch.Tensor, targets: list[int | None],
                   method: str = DEFAULT_METHOD) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """Heat maps for a normalised N x 3 x H x W batch: (N x H x W in [0, 1], probabilities, targets).

    A target of None means the model's top class for that image.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    features_of, head_of = _split(loaded.model)
    batch = batch.to(loaded.device).contiguous(memory_format=torch.channels_last)
    with torch.no_grad():  # the backbone: no graph, no hooks (see the module note)
        features = features_of(batch)
    with torch.enable_grad():
        leaf = features.detach().float().requires_grad_(True)
        logits = head_of(leaf).float()
        probs = logits.detach().softmax(-1).cpu()
        chosen = [int(probs[i].argmax()) if t is None else int(t) for i, t in enumerate(targets)]
        score = logits[torch.arange(len(chosen)), torch.tensor(chosen, device=logits.device)].sum()
        (grads,) = torch.autograd.grad(score, leaf)
    activations = _as_grid(loaded.model, leaf.detach())
    grads = _as_grid(loaded.model, grads)
    raw = _combine(activations.float(), grads.float(), method).clamp(min=0)
    heat = F.interpolate(raw.unsqueeze(1), size=tuple(batch.shape[-2:]), mode="bilinear",
                         align_corners=False).squeeze(1).cpu()
    peak = heat.flatten(1).amax(1).clamp(min=1e-12).view(-1, 1, 1)
    return (heat / peak).clamp(0, 1), probs, chosen


def crop_tensor(loaded: LoadedModel, image: Image.Image) -> torch.Tensor:
    """The normalised input for `image`: an image already at the model's input size is used as it
    is (e.g. an adversarial crop), anything else goes through the model's eval transform."""
    height, width = loaded.input_size
    if image.size == (width, height):
        pixels = torch.from_numpy(np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0).permute(2, 0, 1)
        mean = torch.tensor(loaded.data_config["mean"]).view(3, 1, 1)
        std = torch.tensor(loaded.data_config["std"]).view(3, 1, 1)
        return (pixels - mean) / std
    return loaded.preprocess(image)


def class_activation_map(loaded: LoadedModel, image: Image.Image, target=None,
                         method: str = DEFAULT_METHOD) -> CamResult:
    """The map for one image and one class (None: the model's top class)."""
    from core.classify import top_k

    index = resolve_target(target, loaded.labels)
    tensor = crop_tensor(loaded, image)
    heat, probs, chosen = maps_for_batch(loaded, tensor.unsqueeze(0), [index], method)
    return CamResult(heat=heat[0].numpy().astype(np.float32), crop=loaded.to_display(tensor), target=chosen[0],
                     label=str(loaded.labels[chosen[0]]), prob=round(float(probs[0, chosen[0]]), 6),
                     method=method, top=top_k(probs[0], loaded.labels, 5))


def heat_png(heat: np.ndarray) -> Image.Image:
    """The map as an 8-bit greyscale picture: 255 where the model looks most, 0 where not at all."""
    return Image.fromarray((np.clip(heat, 0, 1) * 255).round().astype(np.uint8), mode="L")


def overlay(crop: Image.Image, heat: np.ndarray, alpha: float = OVERLAY_ALPHA) -> Image.Image:
    """The map in colour over the crop the model saw (same pixels)."""
    from matplotlib import colormaps

    colours = colormaps[COLORMAP](np.clip(heat, 0, 1))[..., :3]
    photo = np.asarray(crop.convert("RGB"), dtype=np.float32) / 255.0
    mixed = (1 - alpha) * photo + alpha * colours
    return Image.fromarray((mixed * 255).round().astype(np.uint8))


def heat_share(heat: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The fraction of all heat inside `box` = (left, top, right, bottom) as fractions of the size."""
    height, width = heat.shape
    left, top, right, bottom = box
    part = heat[int(round(top * height)):int(round(bottom * height)), int(round(left * width)):int(round(right * width))]
    total = float(heat.sum())
    return float(part.sum()) / total if total > 0 else 0.0


def side_by_side(left: Image.Image, right: Image.Image, side: int = 256, background: int = 128) -> Image.Image:
    """A square picture: `left` and `right` (each centre-cropped square) next to each other,
    on a grey band above and below, so a model's centre crop keeps both whole. For checking
    that a map for one object's class lands on that object's half."""
    canvas = Image.new("RGB", (2 * side, 2 * side), (background,) * 3)
    for number, photo in enumerate((left, right)):
        photo = photo.convert("RGB")
        short = min(photo.size)
        x, y = (photo.width - short) // 2, (photo.height - short) // 2
        square = photo.crop((x, y, x + short, y + short)).resize((side, side), Image.BICUBIC)
        canvas.paste(square, (number * side, side // 2))
    return canvas
