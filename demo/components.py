"""Small Gradio building blocks shared by the tabs (no tensor math here)."""
from __future__ import annotations

import gradio as gr
from gradio import processing_utils

from core.images import MAX_FILE_BYTES


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


# The tabs' "Weights" radio: a backbone's own pretrained weights, or the same architecture untrained.
PRETRAINED, RANDOM = "pretrained", "random (untrained)"


def weight_kind(choice: str | None):
    """The WeightKind a Weights radio choice asks core.weights.load_model for (None: the backbone's default)."""
    from core.backbones import RANDOM as RANDOM_WEIGHTS

    return RANDOM_WEIGHTS if choice == RANDOM else None


def weights_badge(weights: str, text: str, lang: str | None = None) -> str:
    """A coloured tag saying which weights are in use (impossible to miss when random), then the
    details. Plain HTML + CSS (assets/style.css): no emoji, which a classroom PC may lack fonts for."""
    from demo.i18n import STRINGS, tr

    key = f"weights.tag.{weights}"
    tag = tr(key, lang) if key in STRINGS else weights.upper()
    return f'<span class="tll-badge tll-badge-{weights}">{tag}</span> {text}'


def weights_status(weights: str, status: str, fallback: str = "", lang: str | None = None) -> str:
    """The weights badge, after a note when the asked-for weights were replaced by others."""
    from demo.i18n import tr

    text = weights_badge(weights, status, lang)
    return f"{tr('weights.fallback', lang, text=fallback)}\n\n{text}" if fallback else text


def model_status(name: str, weights: str, note: str = "", lang: str | None = None) -> str:
    """core.backbones.status_text in the page's language: which weights a model runs with."""
    from core import backbones
    from demo.i18n import STRINGS, tr

    key = f"weights.{weights}"
    if not lang or lang == "en" or key not in STRINGS:
        return backbones.status_text(name, weights, note)
    if note == backbones.BUNDLED_NOTE:
        note = tr("weights.note.bundled", lang)
    elif note.startswith("from "):
        note = tr("weights.note.hub", lang, source=note[len("from "):])
    return f"{name}: {tr(key, lang)}" + (f" ({note})" if note else "")


def friendly_errors(fn):
    """Turn anticipated failures into a clear `gr.Error` for the visitor (never a stack trace);
    log anything unexpected with its traceback for whoever runs the server."""
    import functools
    import inspect
    import logging

    log = logging.getLogger(fn.__module__)

    def translate(error: Exception) -> gr.Error:
        # gr.Error prints its traceback in the server log unless told not to (print_exception
        # defaults to True): a message meant for the visitor is not a fault of the server.
        if isinstance(error, gr.Error):
            error.print_exception = False
            return error
        if isinstance(error, (ValueError, RuntimeError, OSError)):
            return gr.Error(str(error) or type(error).__name__, print_exception=False)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(error).__name__}). Please try another input.",
                        print_exception=False)

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
