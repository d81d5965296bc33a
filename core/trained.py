"""Trained models on disk: `.safetensors` weights with their config as JSON metadata.

Never pickle: a model file holds tensors and a JSON config (format, timm backbone name,
the weights it started from, class names, preprocessing, mode, metrics), nothing that runs.
A frozen-mode model stores only its head (a few KB); the backbone is rebuilt from the
bundled or hub weights named in the config. Other modes store the whole network.
A sidecar `<file>.json` holds the same config for people to read.
"""
from __future__ import annotations

import json
import logging
import re
import shutil
from pathlib import Path

import timm
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from core import backbones
from core.cache import LruCache

log = logging.getLogger(__name__)

FORMAT = "transfer-learning-lab/trained-model"
FORMAT_VERSION = 1
METADATA_KEY = "tll_config"
HEAD_ONLY, FULL_NETWORK = "head", "network"
# Frozen-mode heads: "linear" (on the raw features; files from before core.fewshot) or
# "l2-normalised linear" (core.fewshot.NormalisedHead).
LINEAR_HEAD, NORMALISED_HEAD = "linear", "l2-normalised linear"
SESSION_DIR_PREFIX = "tll-session-"
MAX_MODELS_PER_SESSION = 6  # older ones are deleted: a visitor cannot fill the disk

_models = LruCache(max_items=4)  # (resolved path, mtime) -> LoadedModel


def model_config(result, name: str | None = None) -> dict:
    """The JSON config describing a `core.finetune.TrainResult`."""
    data_config = {k: (list(v) if isinstance(v, tuple) else v) for k, v in result.data_config.items()}
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "name": name or f"{'+'.join(result.class_names[:3])}{'…' if len(result.class_names) > 3 else ''} "
                        f"({result.mode}, {result.backbone.split('.')[0]})",
        "backbone": result.backbone,
        "base_weights": result.base_weights,
        "mode": result.mode,
        "stored": HEAD_ONLY if result.mode == "frozen" else FULL_NETWORK,
        "head": NORMALISED_HEAD if hasattr(getattr(result.model, "head", None), "linear") else LINEAR_HEAD,
        "class_names": list(result.class_names),
        "data_config": data_config,
        "metrics": result.metrics(),
    }


def save_trained_model(result, path: str | Path, name: str | None = None) -> Path:
    """Write `result` (a TrainResult) to `path` (.safetensors) and `path`.json; returns the path."""
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"{path.name}: a trained model file must end in .safetensors")
    config = model_config(result, name)
    if config["stored"] == HEAD_ONLY:
        tensors = {f"head.{k}": v for k, v in result.model.head.state_dict().items()}
    else:
        tensors = dict(result.model.state_dict())
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata={METADATA_KEY: json.dumps(config)})
    sidecar(path).write_text(json.dumps(config, indent=2, ensure_ascii=False))
    return path


def sidecar(path: str | Path) -> Path:
    return Path(f"{path}.json")


def read_config(path: str | Path) -> dict:
    """The config of a trained model file; ValueError with a clear message for anything else."""
    path = Path(path)
    label = path.name
    if not path.is_file():
        raise ValueError(f"{label}: no such model file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"{label}: not a .safetensors model file ({str(error)[:120]})") from None
    if METADATA_KEY not in metadata:
        raise ValueError(f"{label}: a safetensors file, but not one trained with this app (no {METADATA_KEY} metadata)")
    try:
        config = json.loads(metadata[METADATA_KEY])
    except json.JSONDecodeError:
        raise ValueError(f"{label}: its config metadata is not valid JSON") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{label}: unknown model format")
    if int(config.get("version", 0)) > FORMAT_VERSION:
        raise ValueError(f"{label}: made by a newer version of this app (format {config.get('version')})")
    names = config.get("class_names")
    if not isinstance(names, list) or len(names) < 2 or not all(isinstance(n, str) for n in names):
        raise ValueError(f"{label}: its config lacks a list of class names")
    for key, kind in (("backbone", str), ("stored", str), ("data_config", dict)):
        if not isinstance(config.get(key), kind):
            raise ValueError(f"{label}: its config lacks a valid {key!r}")
    if not isinstance(config.get("metrics", {}), dict):
        raise ValueError(f"{label}: its config has invalid 'metrics'")
    return config


def _build(path: Path, config: dict) -> backbones.LoadedModel:
    from core.fewshot import NormalisedHead
    from core.finetune import FrozenClassifier, new_head

    label = path.name
    classes = len(config["class_names"])
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ValueError(f"{label}: cannot read its tensors ({str(error)[:120]})") from None
    try:
        backbone_name = backbones.resolve_name(config["backbone"])
    except ValueError as error:
        raise ValueError(f"{label}: {error}") from None
    device = backbones.pick_device()
    if config["stored"] == HEAD_ONLY:
        try:
            base = backbones.load_backbone(backbone_name, config.get("base_weights"))
        except backbones.WeightsUnavailable as error:
            raise ValueError(f"{label}: needs the {backbone_name} weights it was trained on, "
                             f"which are unavailable ({error})") from None
        if config.get("head", LINEAR_HEAD) == NORMALISED_HEAD:
            head = NormalisedHead(base.model.num_features, classes)
        else:
            head = new_head(base.model.num_features, classes, torch.Generator())
        try:
            head.load_state_dict({k[len("head."):]: v for k, v in tensors.items() if k.startswith("head.")})
        except RuntimeError as error:
            raise ValueError(f"{label}: its head does not fit {backbone_name} ({str(error)[:160]})") from None
        model = FrozenClassifier(base.model, head.to(base.device)).eval()
        device = base.device
    elif config["stored"] == FULL_NETWORK:
        model = timm.create_model(backbone_name, pretrained=False, num_classes=classes)
        try:
            model.load_state_dict(tensors, strict=True)
        except RuntimeError as error:
            raise ValueError(f"{label}: its weights do not fit {backbone_name} ({str(error)[:160]})") from None
        model = model.to(device).eval()
    else:
        raise ValueError(f"{label}: unknown storage kind {config['stored']!r}")
    data_config = {k: (tuple(v) if isinstance(v, list) else v) for k, v in config["data_config"].items()}
    metrics = config.get("metrics") or {}
    note = f"{config.get('mode', '?')} mode on {backbone_name}"
    if isinstance(metrics.get("val_acc"), (int, float)):
        how = "validation" if metrics.get("estimated_by", "validation split") == "validation split" else "cross-validated"
        note += f", {how} accuracy {metrics['val_acc']:.1%}"
    return backbones.LoadedModel(name=str(config.get("name") or path.stem), weights=backbones.TRAINED, model=model,
                                 data_config=data_config, labels=tuple(config["class_names"]), device=device,
                                 note=note)


def load_trained_model(path: str | Path) -> backbones.LoadedModel:
    """The model in `path`, ready for core.classify (labels = class names). Cached per file."""
    path = Path(path)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except OSError:
        raise ValueError(f"{path.name}: no such model file") from None
    return _models.get_or_build(key, lambda: _build(path, read_config(path)))


def forget_trained_models(paths) -> None:
    """Drop these models from memory and delete their files (a visitor's session ended)."""
    for path in paths or []:
        path = Path(path)
        resolved = str(path.resolve())
        _models.discard(lambda key: key[0] == resolved)
        for file in (path, sidecar(path)):
            try:
                file.unlink(missing_ok=True)
            except OSError as error:
                log.warning("could not delete %s: %s", file, error)
        folder = path.parent
        # The session's own temporary folder goes too, once nothing else is in it.
        if folder.name.startswith(SESSION_DIR_PREFIX):
            try:
                if not any(folder.iterdir()):
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass


def new_session_dir() -> Path:
    """A private temporary folder for one visitor's model files (mode 700, random name)."""
    import tempfile

    return Path(tempfile.mkdtemp(prefix=SESSION_DIR_PREFIX))



def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:40] or "model"


def session_model_name(run_name: str, class_names) -> str:
    """How a visitor's trained model is listed: the run, then up to three of its classes."""
    return f"{run_name} {'+'.join(class_names[:3])}{'…' if len(class_names) > 3 else ''}"


def keep_session_model(result, run_name: str, run_number: int, session_models: dict | None,
                       session_dir: str | None) -> tuple[str, str, dict, str]:
    """Save a finished run (a TrainResult) among a visitor's models, deleting the oldest beyond
    MAX_MODELS_PER_SESSION. Returns (display name, model file, session models, session folder);
    the folder is created on the first save."""
    session_dir = session_dir or str(new_session_dir())
    session_models = dict(session_models or {})
    display_name = session_model_name(run_name, result.class_names)
    path = f"{session_dir}/{run_number:02d}-{_slug(display_name)}.safetensors"
    save_trained_model(result, path, name=display_name)
    session_models[display_name] = path
    while len(session_models) > MAX_MODELS_PER_SESSION:
        oldest = next(iter(session_models))
        forget_trained_models([session_models.pop(oldest)])
    return display_name, path, session_models, session_dir
