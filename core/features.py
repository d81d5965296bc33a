"""Feature maps: what each layer of a backbone computes for one image.

One forward pass records every layer we show, with forward hooks: the stages timm lists in
`feature_info` and, for VGG, every convolution, ReLU and max-pool of `features`. The record
is cached per (backbone, weights, image), so switching layer, channel or grid size only
re-renders pictures (core.feature_views) and never runs the network again.
"""
from __future__ import annotations

import collections
import dataclasses
import os
import threading
import time
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from core.backbones import RANDOM, LoadedModel
from core.images import content_key

if TYPE_CHECKING:  # torch is imported where it is used (the page is built without it)
    import torch

# Each channel is stored as uint8 scaled to its own min..max: exactly what the views draw
# (every map is shown on its own range), a quarter of float32's memory, and no conversion
# when switching layers. Exact per-channel min/max/mean and per-layer statistics are
# computed in float32 before that.

# Memory the cached records may use together (a VGG-16 record is 27 MB, an EfficientNet-Lite0
# one 0.3 MB); the least recently used record goes first.
CACHE_BUDGET_BYTES = int(float(os.environ.get("TLL_FEATURE_CACHE_MB", "512")) * 2**20)


class UnknownLayer(ValueError):
    """A layer name the record does not have; str() lists the ones it does."""


@dataclasses.dataclass(frozen=True)
class LayerInfo:
    name: str  # module path inside the model: "features.28", "blocks.4"
    alias: str  # the teaching name: "conv5_3", "relu5_3", "pool5", "stage4"
    kind: str  # conv / relu / pool / block / stage
    shape: tuple[int, int, int]  # channels, height, width
    stride: int  # input pixels per feature-map pixel

    @property
    def shape_text(self) -> str:
        channels, height, width = self.shape
        return f"{channels}×{height}×{width}"

    @property
    def title(self) -> str:
        return f"{self.alias} · {self.name} · {self.shape_text}"

    def to_json(self) -> dict:
        return {"name": self.name, "alias": self.alias, "kind": self.kind, "shape": list(self.shape),
                "stride": self.stride}


@dataclasses.dataclass(frozen=True)
class LayerStats:
    minimum: float
    maximum: float
    mean: float
    zero_fraction: float  # share of values <= 0 (what a ReLU silences)
    dead_channels: int  # channels that never fire (max <= 0) anywhere on this image

    def to_json(self) -> dict:
        return {k: round(v, 5) if isinstance(v, float) else v for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass
class FeatureRecord:
    """Every recorded activation of one forward pass of one image, with what the views need."""

    key: str
    backbone: str
    weights: str
    status: str  # which weights, in words (from LoadedModel.status)
    layers: tuple[LayerInfo, ...]  # in the order the network computes them
    stage_names: tuple[str, ...]  # the timm feature_info stages among them
    maps: dict[str, np.ndarray]  # name -> (C, H, W) uint8, each channel scaled to its own min..max
    channel_low: dict[str, np.ndarray]  # name -> per-channel minimum (float32)
    channel_high: dict[str, np.ndarray]  # name -> per-channel maximum
    channel_mean: dict[str, np.ndarray]  # name -> per-channel mean
    strength: dict[str, np.ndarray]  # name -> per-channel mean of the positive part (the ranking)
    stats: dict[str, LayerStats]
    crop: Image.Image  # the exact input the model saw
    prediction: tuple[str, float]  # top-1 ImageNet label and probability
    seconds: float  # forward pass and recording

    @property
    def nbytes(self) -> int:
        return sum(m.nbytes for m in self.maps.values())

    @property
    def default_layer(self) -> LayerInfo:
        """The first stage: early edges and colours, where the input is still recognisable."""
        return self.layer(self.stage_names[0]) if self.stage_names else self.layers[0]

    @property
    def final_layer(self) -> LayerInfo:
        """The last stage: the final feature block a classifier head (or yours) reads."""
        return self.layer(self.stage_names[-1]) if self.stage_names else self.layers[-1]

    def layer(self, name: str | None) -> LayerInfo:
        """A layer by module name ("features.28"), alias ("conv5_3") or title; None -> default."""
        if not name:
            return self.default_layer
        name = name.strip()
        for info in self.layers:
            if name in (info.name, info.alias, info.title):
                return info
        # "stageN" means timm's N-th feature stage on every backbone (VGG's have paper names).
        if name.startswith("stage") and name[5:].isdigit() and 1 <= int(name[5:]) <= len(self.stage_names):
            return self.layer(self.stage_names[int(name[5:]) - 1])
        names = ", ".join(f"{info.alias} ({info.name})" for info in self.layers)
        raise UnknownLayer(f"{self.backbone} has no layer {name!r}; choose one of: {names}")

    def ranked_channels(self, name: str, count: int | None = None) -> list[int]:
        """Channel indices, most active first (mean of the positive part; ties by index)."""
        strength = self.strength[self.layer(name).name]
        order = np.argsort(-strength, kind="stable")
        return [int(i) for i in order[: count if count else len(order)]]

    def check_channel(self, name: str, index) -> int:
        info = self.layer(name)
        try:
            index = int(index)
        except (TypeError, ValueError):
            raise ValueError(f"channel must be a number, not {index!r}") from None
        if not 0 <= index < info.shape[0]:
            raise ValueError(f"{info.alias} has channels 0..{info.shape[0] - 1}, not {index}")
        return index

    def channel_map(self, name: str, index: int) -> np.ndarray:
        """One channel as uint8 H x W, scaled to its own min..max (0 everywhere if it is flat)."""
        info = self.layer(name)
        return self.maps[info.name][self.check_channel(info.name, index)]

    def channel(self, name: str, index: int) -> np.ndarray:
        """One channel's values as float32 H x W (to 1/255 of its range)."""
        info = self.layer(name)
        index = self.check_channel(info.name, index)
        low, high = self.channel_low[info.name][index], self.channel_high[info.name][index]
        return low + self.maps[info.name][index].astype(np.float32) * ((high - low) / 255.0)

    def layers_json(self) -> list[dict]:
        return [info.to_json() for info in self.layers]


# --- which layers to record --------------------------------------------------------------

def _feature_info(model: torch.nn.Module) -> list[dict]:
    info = getattr(model, "feature_info", None) or []
    if hasattr(info, "info"):  # timm.models.FeatureInfo
        info = info.info
    return [dict(entry) for entry in info if isinstance(entry, dict) and entry.get("module")]


def _is_vgg_like(model: torch.nn.Module) -> bool:
    import torch

    features = getattr(model, "features", None)
    return isinstance(features, torch.nn.Sequential) and any(isinstance(m, torch.nn.Conv2d) for m in features)


def layers_to_record(model: torch.nn.Module) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """({module name: (alias, kind)}, [stage module names]) for this model."""
    import torch

    modules = dict(model.named_modules())
    stages = []
    for entry in _feature_info(model):
        name = entry["module"]
        if name not in modules and name.replace("_", ".") in modules:
            name = name.replace("_", ".")
        if name in modules and name not in stages:
            stages.append(name)
    wanted: dict[str, tuple[str, str]] = {}
    if _is_vgg_like(model):
        # VGG: every conv, ReLU and pool, named as in the paper (conv3_2 = block 3, conv 2).
        block, index = 1, 0
        for child_name, child in model.features.named_children():
            name = f"features.{child_name}"
            if isinstance(child, torch.nn.Conv2d):
                index += 1
                wanted[name] = (f"conv{block}_{index}", "conv")
            elif isinstance(child, torch.nn.ReLU):
                wanted[name] = (f"relu{block}_{index}", "relu")
            elif isinstance(child, (torch.nn.MaxPool2d, torch.nn.AvgPool2d)):
                wanted[name] = (f"pool{block}", "pool")
                block, index = block + 1, 0
    else:
        # Every block inside the stages too, not only the few stages timm lists (EfficientNet-Lite0
        # has 16 blocks in 7 groups, 5 of them stages): the lesson walks through the network block by
        # block. A stage's last block computes the stage's own output, so it is listed once, as the stage.
        groups = getattr(model, "blocks", None)
        containers = ([f"blocks.{name}" for name, _ in groups.named_children()]
                      if isinstance(groups, torch.nn.Sequential) else list(stages))
        for container in containers:
            children = list(modules[container].named_children()) \
                if isinstance(modules.get(container), torch.nn.Sequential) else []
            for index, (child, _) in enumerate(children):
                if index == len(children) - 1 and container in stages:
                    continue
                wanted[f"{container}.{child}"] = (f"block{container.split('.')[-1]}.{child}", "block")
    for number, name in enumerate(stages, 1):
        wanted.setdefault(name, (f"stage{number}", "stage"))
    return wanted, stages


# --- recording ---------------------------------------------------------------------------

def record_key(loaded: LoadedModel, image: Image.Image) -> str:
    return f"{loaded.name}|{loaded.weights}|{content_key(image)}"


def _channel_first(output: torch.Tensor, expected_channels: int | None) -> torch.Tensor:
    # A few timm models (Swin, some MLP-mixers) keep stages channels-last.
    if expected_channels and output.shape[1] != expected_channels and output.shape[-1] == expected_channels:
        return output.permute(0, 3, 1, 2)
    return output


def _record(loaded: LoadedModel, image: Image.Image, key: str) -> FeatureRecord:
    import torch

    with torch.inference_mode():
        return _record_in_inference_mode(loaded, image, key)


def _record_in_inference_mode(loaded: LoadedModel, image: Image.Image, key: str) -> FeatureRecord:
    import torch

    started = time.perf_counter()
    model = loaded.model
    wanted, stages = layers_to_record(model)
    channels_by_stage = {e["module"]: e.get("num_chs") for e in _feature_info(model)}
    modules = dict(model.named_modules())
    captured: dict[str, torch.Tensor] = {}
    # Hooks live on a model other tabs use too: record only this thread's forward pass.
    owner = threading.get_ident()

    def make_hook(name: str):
        def hook(module, inputs, output):
            if threading.get_ident() != owner or name in captured:
                return
            if isinstance(output, (list, tuple)) and output:
                output = output[0]
            if not torch.is_tensor(output) or output.dim() != 4:
                return  # not a spatial map (e.g. transformer tokens): nothing to draw
            output = _channel_first(output, channels_by_stage.get(name))
            # Copy now: VGG's ReLUs run in place and would overwrite a conv's output.
            captured[name] = output[0].detach().to("cpu", torch.float32, copy=True)
        return hook

    handles = [modules[name].register_forward_hook(make_hook(name)) for name in wanted]
    try:
        tensor = loaded.preprocess(image)
        logits = model(tensor.unsqueeze(0).to(loaded.device))
    finally:
        for handle in handles:
            handle.remove()
    if not captured:
        raise ValueError(f"{loaded.name} has no convolutional feature maps to show")
    if isinstance(logits, (list, tuple)):
        logits = logits[0]
    probs = logits.float().softmax(dim=-1)[0].cpu()
    best = int(probs.argmax())
    label = loaded.labels[best] if best < len(loaded.labels) else str(best)

    height = tensor.shape[-2]
    layers, maps, lows, highs, means, strength, stats = [], {}, {}, {}, {}, {}, {}
    for name in captured:  # insertion order = the order the network computed them
        values = captured[name]
        alias, kind = wanted[name]
        channels, h, w = values.shape
        layers.append(LayerInfo(name, alias, kind, (channels, h, w), max(1, round(height / h))))
        low, high = values.amin(dim=(1, 2)), values.amax(dim=(1, 2))
        lows[name], highs[name] = low.numpy(), high.numpy()
        means[name] = values.mean(dim=(1, 2)).numpy()
        strength[name] = values.clamp(min=0).mean(dim=(1, 2)).numpy()
        stats[name] = LayerStats(
            minimum=float(low.min()),
            maximum=float(high.max()),
            mean=float(values.mean()),
            zero_fraction=float((values <= 0).float().mean()),
            dead_channels=int((high <= 0).sum()),
        )
        span = (high - low).clamp(min=1e-12)[:, None, None]
        maps[name] = ((values - low[:, None, None]) / span * 255).round_().to(torch.uint8).numpy()
    return FeatureRecord(
        key=key,
        backbone=loaded.name,
        weights=loaded.weights,
        status=loaded.status,
        layers=tuple(layers),
        stage_names=tuple(name for name in stages if name in captured),
        maps=maps,
        channel_low=lows,
        channel_high=highs,
        channel_mean=means,
        strength=strength,
        stats=stats,
        crop=loaded.to_display(tensor),
        prediction=(label, float(probs[best])),
        seconds=time.perf_counter() - started,
    )


class RecordCache:
    """A small LRU of FeatureRecords bounded by the bytes of their stored maps."""

    def __init__(self, budget_bytes: int):
        self.budget_bytes = budget_bytes
        self._records: collections.OrderedDict[str, FeatureRecord] = collections.OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str | None) -> FeatureRecord | None:
        with self._lock:
            record = self._records.get(key) if key else None
            if record is not None:
                self._records.move_to_end(key)
            return record

    def put(self, record: FeatureRecord) -> None:
        with self._lock:
            self._records[record.key] = record
            self._records.move_to_end(record.key)
            total = sum(r.nbytes for r in self._records.values())
            while len(self._records) > 1 and total > self.budget_bytes:
                _, evicted = self._records.popitem(last=False)
                total -= evicted.nbytes

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    def __len__(self) -> int:
        return len(self._records)


cache = RecordCache(CACHE_BUDGET_BYTES)


def record_features(loaded: LoadedModel, image: Image.Image) -> FeatureRecord:
    """All feature maps of `image` through `loaded`: from the cache, else one forward pass."""
    key = record_key(loaded, image)
    record = cache.get(key)
    if record is None:
        record = _record(loaded, image, key)
        cache.put(record)
    return record


def cached_record(key: str | None) -> FeatureRecord | None:
    """The record a UI session computed before, if it is still cached."""
    return cache.get(key)


def weights_label(record: FeatureRecord) -> str:
    """Short provenance for picture titles; random weights are impossible to miss."""
    return "RANDOM weights" if record.weights == RANDOM else f"{record.weights} weights"


def pretrained_available(name: str) -> bool:
    """Whether `name`'s hub weights can be had now (local cache, or a reachable hub), without
    downloading anything. Offline this answers at once (HF_HUB_OFFLINE) or within the hub
    probe's few seconds."""
    from core import hub
    from core.backbones import hub_repo, hub_weights_local

    if not hub_repo(name):
        return False
    return hub_weights_local(name) or hub.hub_reachable()
