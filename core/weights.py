"""Which weights a tab or command uses, and what replaces them when they cannot be had: one policy.

Every front end (the four tabs and their command-line twins) asks `load_model` and shows the
message it returns. The rules:
  - a visitor's own trained model (by its name in their session, or a model file) is used as is;
  - random weights are always available (the architecture only) and never replaced;
  - pretrained weights (bundled or hub) that cannot be had are replaced by the bundled
    EfficientNet-Lite0 when `fallback` is on, and said so; otherwise the error says what to do.
"""
from __future__ import annotations

from pathlib import Path

from core import backbones
from core.backbones import BUNDLED, BUNDLED_MODEL, RANDOM, LoadedModel, WeightKind, WeightsUnavailable

__all__ = ["WeightKind", "load_model", "load_with_fallback"]


def load_with_fallback(name: str, weights: str | None = None) -> tuple[LoadedModel, str]:
    """Like backbones.load_backbone, but pretrained weights that cannot be had fall back to the
    bundled model. Returns (model, message); the message is empty when no fallback happened."""
    try:
        return backbones.load_backbone(name, weights), ""
    except WeightsUnavailable as error:
        if weights == RANDOM:
            raise
        fallback = backbones.load_backbone(BUNDLED_MODEL, BUNDLED)
        return fallback, (f"{backbones.resolve_name(name)} weights unavailable ({error}); "
                          f"using the bundled {BUNDLED_MODEL} instead")


def load_model(backbone: str | None = None, weights: str | None = None, *, trained_models: dict | None = None,
               model_file: str | Path | None = None, fallback: bool = True,
               unavailable_hint: str = "") -> tuple[LoadedModel, str]:
    """(model, message) for what a visitor or a command asked for.

    backbone: a timm name, a picker title, or the name of one of `trained_models` ({name: file});
    weights: a WeightKind (None = the backbone's default: bundled or hub); model_file: a trained
    model file (wins over everything else). The message is empty unless the weights were replaced.
    Without `fallback`, unavailable weights raise WeightsUnavailable, with `unavailable_hint` added.
    """
    from core.trained import load_trained_model

    if model_file:
        return load_trained_model(model_file), ""
    backbone = backbone or BUNDLED_MODEL
    if backbone in (trained_models or {}):
        return load_trained_model(trained_models[backbone]), ""
    if weights == RANDOM or not fallback:
        try:
            return backbones.load_backbone(backbone, weights), ""
        except WeightsUnavailable as error:
            if not unavailable_hint:
                raise
            raise WeightsUnavailable(f"{error}. {unavailable_hint}") from None
    return load_with_fallback(backbone, weights)
