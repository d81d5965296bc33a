"""Classify tab: an image in, top-5 ImageNet labels out, and the crop the model saw."""
from __future__ import annotations

import os

import gradio as gr

from core import backbones
from core.classify import classify_image, shared_forward
from core.imagenet import localize_top
from core.images import ImageLoadError, load_image
from core.weights import load_model
from demo import cam_views, example_path
from demo.components import (PRETRAINED, RANDOM, ImageInput, friendly_errors, model_status, weight_kind,
                             weights_badge, weights_status)
from demo.i18n import T, number, register, request_language, tr
from demo.notes import lesson_notes

EXAMPLES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]

# Requests classified at once (each runs its own forward pass).
CONCURRENT_CALLS = 4
# TLL_SHARED_FORWARD=1: concurrent requests share forward passes on one network thread (core.batching).
# Off by default: on a busy 2-core server that thread loses the GIL after every op (measured 2.8x slower
# per image beside one Python-busy thread; 20 load-test clients: 20 calls vs 42 in 20 s).
FORWARD = shared_forward if os.environ.get("TLL_SHARED_FORWARD", "0") == "1" else None


def backbone_choices(session_models: dict | None = None) -> list[tuple[str, str]]:
    """(shown title, value) pairs: the stock backbones, then this visitor's trained models."""
    choices = [(c.title, c.name) for c in backbones.CHOICES]
    for name in (session_models or {}):
        choices.append((f"★ {name} (yours)", name))
    return choices


def resolve_model(choice: str, weights_choice: str, session_models: dict | None):
    """(LoadedModel, fallback message) for a picker value; trained models come from the session."""
    return load_model(choice, weight_kind(weights_choice), trained_models=session_models)


def status_line(loaded, fallback: str, seconds: float | None = None, lang: str | None = None) -> str:
    text = weights_status(loaded.weights, model_status(loaded.name, loaded.weights, loaded.note, lang), fallback, lang)
    if seconds is not None:
        text += tr("classify.took", lang, ms=number(seconds * 1000, lang, 0))
    return text


@friendly_errors
def classify(image_path: str | None, backbone: str = backbones.BUNDLED_MODEL, weights: str = PRETRAINED,
             session_models: dict | None = None, request: gr.Request | None = None):
    """Top-5 labels for one image, the model's input crop, and which weights answered."""
    lang = request_language(request)
    if not image_path:
        raise gr.Error(tr("classify.no_image", lang))
    try:
        image = load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(str(error)) from None
    loaded, fallback = resolve_model(backbone or backbones.BUNDLED_MODEL, weights, session_models)
    result = classify_image(loaded, image, k=5, forward=FORWARD)
    # ImageNet labels in the page's language; a trained model keeps the names its trainer typed.
    label = {item["label"]: item["prob"] for item in localize_top(result["top"], lang, loaded.labels)}
    return label, result["crop"], status_line(loaded, fallback, result["seconds"], lang)


def classify_if_image(image_path, backbone, weights, session_models, request: gr.Request):
    if not image_path:  # the image was cleared: leave the last result alone
        return gr.skip(), gr.skip(), gr.skip()
    return classify(image_path, backbone, weights, session_models, request)


def refresh_backbones(session_models: dict | None):
    """The picker after a training run: this visitor's trained models listed too."""
    return gr.update(choices=backbone_choices(session_models))


@friendly_errors
def describe_backbone(backbone: str, weights: str, session_models: dict | None = None,
                      request: gr.Request | None = None) -> str:
    loaded, fallback = resolve_model(backbone, weights, session_models)
    return status_line(loaded, fallback, lang=request_language(request))


def initial_status_key() -> str:
    """The status shown before any click (the bundled model), as a string in both languages."""
    def text(lang):
        return weights_badge(backbones.BUNDLED, model_status(backbones.BUNDLED_MODEL, backbones.BUNDLED,
                                                             backbones.BUNDLED_NOTE, lang), lang)
    return register("classify.status_initial", en=text("en"), nl=text("nl"))


def build(context) -> None:
    lesson_notes("classify")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            image = ImageInput(label=T("classify.image"), type="filepath", sources=["upload", "webcam", "clipboard"], height=360)
            with gr.Row():
                backbone = gr.Dropdown(backbone_choices(), value=backbones.BUNDLED_MODEL, label=T("classify.backbone"),
                                       scale=3)
                # (shown text, value): the value, which the API sees, stays English.
                weights = gr.Radio([(T("classify.pretrained"), PRETRAINED), (T("classify.random"), RANDOM)],
                                   value=PRETRAINED, label=T("classify.weights"), scale=2)
            run = gr.Button(T("classify.button"), variant="primary")
            gr.Examples([[example_path(name)] for name in EXAMPLES], inputs=[image], label=T("classify.examples"))
            gr.Markdown(T("classify.accepted"))
        with gr.Column(scale=5):
            labels = gr.Label(num_top_classes=5, label=T("classify.labels"), elem_id="classify-labels")
            status = gr.Markdown(T(initial_status_key()), elem_classes=["tll-status"])
            crop = gr.Image(label=T("classify.crop"), height=240, interactive=False, format="jpeg",
                            elem_id="classify-crop")
            wire_map = cam_views.classify_panel()
    context.classify_backbone = backbone
    context.after_training.append(
        lambda training: training.then(refresh_backbones, context.session_models, backbone,
                                       api_name="classify_backbones", queue=False))

    inputs = [image, backbone, weights, context.session_models]
    outputs = [labels, crop, status]
    clicked = run.click(classify, inputs, outputs, api_name="classify", concurrency_limit=CONCURRENT_CALLS,
                        concurrency_id="classify")
    # Any new image (upload, webcam, paste, example click) is classified at once.
    # Events sharing a concurrency_id get the smallest limit among them: give each the same one.
    changed = image.change(classify_if_image, inputs, outputs, api_visibility="private", concurrency_id="classify",
                           concurrency_limit=CONCURRENT_CALLS)
    wire_map(image, backbone, weights, context.session_models, after=[clicked, changed])  # maps: their own queue
    for control in (backbone, weights):
        control.change(describe_backbone, [backbone, weights, context.session_models], status,
                       api_visibility="private", concurrency_id="classify", concurrency_limit=CONCURRENT_CALLS)
