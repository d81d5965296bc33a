"""A module imported on the first use of one of its names.

The web page is built from names and choices only; the modules that compute (torch, timm) are
imported when a visitor's first request needs them, or by the warm-up after the page is served
(issue 14: `python app.py` serves the page within 6 s on 2 cores)."""
from __future__ import annotations

import importlib
from types import ModuleType


class LazyModule:
    """Stands for the module `name`: `LazyModule("core.cam").class_activation_map` imports core.cam
    then (thread-safe: importlib's own locks) and is the module's own function from then on.

    `ready`: a light module whose names `name` imports and re-exports (its constants): those are
    answered from it without importing `name`, e.g. LazyModule("core.finetune",
    ready=core.training_settings).FROZEN is finetune.FROZEN, read without torch."""

    def __init__(self, name: str, ready: ModuleType | None = None):
        self._name = name
        self._ready = ready

    def __getattr__(self, attribute: str):
        if self._ready is not None and not attribute.startswith("_") and hasattr(self._ready, attribute):
            return getattr(self._ready, attribute)
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"
