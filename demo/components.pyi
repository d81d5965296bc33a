"""Small Gradio building blocks shared by the tabs (no tensor math here)."""
from __future__ import annotations

import gradio as gr
from gradio import processing_utils

from gradio.events import Dependency

class ImageInput(gr.Image):
    """gr.Image that hands the event the uploaded file's path *without opening it*.

    Stock gr.Image decodes the upload with PIL before our function runs, so a broken or
    hostile file fails inside Gradio with a generic error. Here every file reaches
    core.images.load_image, which gives a specific message (and enforces size limits).
    """

    is_template = True  # the browser side is the ordinary Image component
    # (No __init__ override: Gradio reads the component's props from gr.Image's signature.
    # Pass type="filepath" so the API docs describe the input truthfully.)

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            # Base64 is 4/3 of the bytes: refuse an oversized pasted image before decoding it.
            if len(payload.url) > MAX_FILE_BYTES * 4 // 3 + 1024:
                raise gr.Error(f"The pasted image is over the {MAX_FILE_BYTES // 2**20} MB limit.",
                               print_exception=False)
            return processing_utils.save_base64_to_cache(payload.url, cache_dir=self.GRADIO_CACHE)
        if payload.path is None:
            raise gr.Error("The image did not arrive: please upload it again.", print_exception=False)
        return str(payload.path)
    from typing import Callable, Literal, Sequence, Any, TYPE_CHECKING
    from gradio.blocks import Block
    if TYPE_CHECKING:
        from gradio.components import Timer
        from gradio.components.base import Component


def weights_badge(weights: str, text: str) -> str:
    """Markdown line saying which weights are in use, impossible to miss when they are random."""
    icons = {"bundled": "🟢", "hub": "🟢", "trained": "🟣", "random": "🔴"}
    return f"{icons.get(weights, '⚪')} **Weights:** {text}"


def friendly_errors(fn):
    """Turn anticipated failures into a clear `gr.Error` for the visitor (never a stack trace);
    log anything unexpected with its traceback for whoever runs the server."""
    import functools
    import inspect
    import logging

    log = logging.getLogger(fn.__module__)

    def translate(error: Exception) -> gr.Error:
        if isinstance(error, gr.Error):
            return error
        if isinstance(error, (ValueError, RuntimeError, OSError)):
            return gr.Error(str(error) or type(error).__name__)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(error).__name__}). Please try another input.")

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - translated for the visitor
                raise translate(error) from None
        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - translated for the visitor
            raise translate(error) from None
    return wrapper