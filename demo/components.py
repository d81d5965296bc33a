"""Small Gradio building blocks shared by the tabs (no tensor math here)."""
from __future__ import annotations

import json
import re

import gradio as gr
from gradio import processing_utils

from core.images import MAX_FILE_BYTES, MESSAGES, UNNAMED, ImageLoadError
from demo.i18n import (
    STRINGS, STRINGS_DIR, T, add_strings, default_language, load_strings, number, request_language, tr)

# The shared pieces' visible text: messages every tab can show, the backbone pickers' titles.
add_strings(*load_strings("components"))  # this tab's English and Dutch: demo/strings/components.json
# core.images' messages: the English is core's own text (one source for the UI and the command line),
# the Dutch is in demo/strings/images.json.
_IMAGES_NL = json.loads((STRINGS_DIR / "images.json").read_text(encoding="utf-8"))
add_strings({**{f"image.{key}": {"en": MESSAGES[key], "nl": text} for key, text in _IMAGES_NL["messages"].items()},
             **{f"image.unnamed.{key}": {"en": UNNAMED[key], "nl": text} for key, text in _IMAGES_NL["unnamed"].items()}})


def backbone_title_key(name: str) -> str | None:
    """The string key of a stock backbone's picker title (None for another name)."""
    key = "backbone." + name.replace(".", "_")
    return key if key in STRINGS else None


def backbone_choices(session_models: dict | None = None, lang: str | None = None) -> list[tuple]:
    """A backbone picker's (shown title, value) pairs: the stock backbones (titles in the page's
    language; the value, which the API sees, stays the timm name), then this visitor's trained models.
    `lang` None: when building the UI (titles follow the language on screen); a handler passes its `lang`."""
    from core import backbones  # (here, not at the top: timm and torch load only when a picker is built)

    def title(choice) -> str:
        key = backbone_title_key(choice.name)
        if key is None:
            return choice.title
        return T(key) if lang is None else tr(key, lang)

    choices = [(title(c), c.name) for c in backbones.CHOICES]
    choices += [(tr("backbone.yours", lang, name=name), name) for name in (session_models or {})]
    return choices


def image_error_text(error: ImageLoadError, lang: str | None = None) -> str:
    """An image loader's error in `lang`: str(error) in English (exactly what the CLI says)."""
    if not lang or lang == "en" or error.key is None or f"image.{error.key}" not in STRINGS:
        return str(error)
    fields = {name: number(value, lang, 1) if isinstance(value, float)
              else number(value, lang, 0) if isinstance(value, int) and name not in ("width", "height")
              else value for name, value in error.fields.items()}
    label = tr(f"image.unnamed.{error.label}", lang) if error.unnamed and f"image.unnamed.{error.label}" in STRINGS \
        else error.label
    return f"{label}: {tr(f'image.{error.key}', lang, **fields)}"


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
            # (Gradio gives preprocess() no request: the server's language, English by default.)
            if len(payload.url) > MAX_FILE_BYTES * 4 // 3 + 1024:
                raise gr.Error(tr("upload.pasted_too_big", default_language(), mb=MAX_FILE_BYTES // 2**20),
                               print_exception=False)
            return processing_utils.save_base64_to_cache(payload.url, cache_dir=self.GRADIO_CACHE)
        if payload.path is None:
            raise gr.Error(tr("upload.lost", default_language()), print_exception=False)
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
    key = f"weights.tag.{weights}"
    tag = tr(key, lang) if key in STRINGS else weights.upper()
    return f'<span class="tll-badge tll-badge-{weights}">{tag}</span> {text}'


def weights_status(weights: str, status: str, fallback: str = "", lang: str | None = None) -> str:
    """The weights badge, after a note when the asked-for weights were replaced by others."""
    text = weights_badge(weights, status, lang)
    return f"{tr('weights.fallback', lang, text=fallback_text(fallback, lang))}\n\n{text}" if fallback else text


# core.weights' fallback message and core.hub's reasons, as they read in English (see fallback_text).
_UNAVAILABLE = re.compile(r"^(?P<name>\S+) weights unavailable \((?P<reason>.*)\); using the bundled (?P<bundled>\S+) instead$",
                          re.S)
_HUB_REASONS = {
    "weights.hub_unreachable": re.compile(r"^the Hugging Face hub is unreachable \(no network\?\) and (?P<repo>\S+) is not cached$"),
    "weights.hub_offline": re.compile(r"^(?P<repo>\S+) is not in the local cache and HF_HUB_OFFLINE is set$"),
    "weights.hub_failed": re.compile(r"^could not download (?P<file>\S+): (?P<error>\w+)$"),
}


def fallback_text(message: str, lang: str | None = None) -> str:
    """core.weights' "weights unavailable ... using the bundled ... instead" in `lang` (as it is in
    English, and for a reason this does not know: the reason stays in core's English words)."""
    found = _UNAVAILABLE.match(message or "")
    if not lang or lang == "en" or not found:
        return message
    reason = found["reason"]
    for key, pattern in _HUB_REASONS.items():
        if match := pattern.match(reason):
            reason = tr(key, lang, **match.groupdict())
            break
    return tr("weights.unavailable", lang, name=found["name"], reason=reason, bundled=found["bundled"])


_TRAINED_NOTE = re.compile(r"^(?P<mode>\w+) mode on (?P<backbone>\S+?)"
                           r"(?:, (?P<how>validation|cross-validated) accuracy (?P<acc>[\d.]+)%)?$")


def _note_text(note: str, lang: str) -> str:
    """core's note on where a model's weights came from, in `lang` (kept as it is when unknown)."""
    from core import backbones

    if note == backbones.BUNDLED_NOTE:
        return tr("weights.note.bundled", lang)
    if note == STRINGS["weights.note.random"]["en"]:
        return tr("weights.note.random", lang)
    if note.startswith("from "):
        return tr("weights.note.hub", lang, source=note[len("from "):])
    found = _TRAINED_NOTE.match(note)
    if found and f"weights.mode.{found['mode']}" in STRINGS:
        mode = tr(f"weights.mode.{found['mode']}", lang)
        if found["how"]:
            return tr("weights.note.trained_acc", lang, mode=mode, backbone=found["backbone"],
                      how=tr(f"weights.note.{found['how']}", lang), acc=number(float(found["acc"]), lang, 1) + "%")
        return tr("weights.note.trained", lang, mode=mode, backbone=found["backbone"])
    return note


def model_status(name: str, weights: str, note: str = "", lang: str | None = None) -> str:
    """core.backbones.status_text in the page's language: which weights a model runs with."""
    from core import backbones

    key = f"weights.{weights}"
    if not lang or lang == "en" or key not in STRINGS:
        return backbones.status_text(name, weights, note)
    note = _note_text(note, lang) if note else note
    return f"{name}: {tr(key, lang)}" + (f" ({note})" if note else "")


def _request_in(args, kwargs) -> gr.Request | None:
    """The gr.Request Gradio handed the event handler, if it asked for one."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, gr.Request):
            return value
    return None


def friendly_errors(fn):
    """Turn anticipated failures into a clear `gr.Error` for the visitor (never a stack trace);
    log anything unexpected with its traceback for whoever runs the server.

    When the handler takes a `request: gr.Request`, the image loader's errors (an ImageLoadError,
    raised as it is or re-raised as `gr.Error(str(error))`) and the generic message are given in
    the page's language."""
    import functools
    import inspect
    import logging

    log = logging.getLogger(fn.__module__)

    def translate(error: Exception, lang: str) -> gr.Error:
        # gr.Error prints its traceback in the server log unless told not to (print_exception
        # defaults to True): a message meant for the visitor is not a fault of the server.
        if isinstance(error, gr.Error):
            error.print_exception = False
            cause = error.__cause__ or error.__context__  # `raise gr.Error(str(e)) from None` keeps the context
            if isinstance(cause, ImageLoadError) and str(cause) in str(error.message):
                error.message = error.message.replace(str(cause), image_error_text(cause, lang))
            return error
        if isinstance(error, ImageLoadError):
            return gr.Error(image_error_text(error, lang), print_exception=False)
        if isinstance(error, (ValueError, RuntimeError, OSError)):
            return gr.Error(str(error) or type(error).__name__, print_exception=False)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(tr("errors.unexpected", lang, name=type(error).__name__), print_exception=False)

    def language(args, kwargs) -> str:
        return request_language(_request_in(args, kwargs))

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - translated for the visitor
                raise translate(error, language(args, kwargs)) from None
        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - translated for the visitor
            raise translate(error, language(args, kwargs)) from None
    return wrapper
