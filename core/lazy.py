"""A module imported on the first use of one of its names.

The web page is built from names and choices only; the modules that compute (torch, timm) are
imported when a visitor's first request needs them, or by the warm-up after the page is served
(issue 14: `python app.py` serves the page within 6 s on 2 cores)."""
from __future__ import annotations

import importlib
import threading
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
        import_compute_stack()
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self) -> str:
        return f"<lazy module {self._name!r}>"


_stack_lock = threading.Lock()
_stack_imported = False


def import_compute_stack() -> None:
    """Import torch, torchvision (with torch._dynamo) and timm, in one thread at a time.

    They import one another in cycles: two threads entering them at different modules at once (the
    warm-up building the model, a visitor's first request) make Python stop with "deadlock
    detected by _ModuleLock('torchvision.ops.misc')". Every path to them calls this first."""
    global _stack_imported
    if _stack_imported:
        return
    with _stack_lock:
        if not _stack_imported:
            import timm  # noqa: F401 - imports torch and torchvision
            import timm.data  # noqa: F401
            import timm.models  # noqa: F401
            import torch  # noqa: F401
            import torch._dynamo  # noqa: F401 - torch imports it lazily on first use otherwise
            _stack_imported = True
