"""Classify tab: an image in, top-5 ImageNet labels out, and the crop the model saw."""
from __future__ import annotations

from types import SimpleNamespace

import gradio as gr

from core import backbones
from core.classify import classify_image
from core.imagenet import class_names, localize_top
from core.images import ImageLoadError, load_image
from core.model_worker import WorkerUnavailable, running_worker
from core.weights import load_model
from demo import cam_views, example_path
from demo.components import (PRETRAINED, RANDOM, ImageInput, backbone_choices, friendly_errors, image_error_text,
                             model_status, weight_kind, weights_badge, weights_status)
from demo.i18n import T, number, register, request_language, tr
from demo.notes import lesson_notes

EXAMPLES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]

# Requests classified at once: with the model worker they share its forward passes (20 load-test
# clients: 4 answered more calls with a lower p95 than 8, 281 vs 253 in 30 s, p95 2.7 vs 3.4 s).
CONCURRENT_CALLS = 4


# On a narrow screen the answer sits below the image and controls: bring it into view.
SHOW_RESULT_ON_PHONES = """() => { if (window.innerWidth < 700) {
  document.querySelector('#classify-labels')?.scrollIntoView({behavior: 'smooth', block: 'start'}); } }"""


def resolve_model(choice: str, weights_choice: str, session_models: dict | None, lang: str | None = None):
    """(LoadedModel, fallback message) for a picker value; trained models come from the session."""
    if choice in (session_models or {}) and weights_choice == RANDOM:
        # never answer silently with other weights than were asked for
        raise gr.Error(tr("classify.trained_no_random", lang))
    return load_model(choice, weight_kind(weights_choice), trained_models=session_models)


def status_line(loaded, fallback: str, seconds: float | None = None, lang: str | None = None) -> str:
    text = weights_status(loaded.weights, model_status(loaded.name, loaded.weights, loaded.note, lang), fallback, lang)
    if seconds is not None:
        text += tr("classify.took", lang, ms=number(seconds * 1000, lang, 0))
    return text


def heading(loaded, lang: str | None = None) -> str:
    """The result's heading: which classes the answer is among (ImageNet's, or the visitor's own)."""
    if loaded.weights == backbones.TRAINED:
        names = ", ".join(loaded.labels[:3]) + ("…" if len(loaded.labels) > 3 else "")
        return tr("classify.labels_trained", lang, k=min(5, len(loaded.labels)), name=names)
    return tr("classify.labels_random" if loaded.weights == backbones.RANDOM else "classify.labels", lang)


@friendly_errors
def classify(image_path: str | None, backbone: str = backbones.BUNDLED_MODEL, weights: str = PRETRAINED,
             session_models: dict | None = None, request: gr.Request | None = None):
    """Top-5 labels for one image, the model's input crop, and which weights answered."""
    lang = request_language(request)
    if not image_path:
        raise gr.Error(tr("classify.no_image", lang))
    backbone = backbone or backbones.BUNDLED_MODEL
    try:
        result, loaded, fallback = *answer_in_worker(image_path, backbone, weights), ""
        if result is None:
            image = load_image(image_path)
            loaded, fallback = resolve_model(backbone, weights, session_models, lang)
            result = classify_image(loaded, image, k=5)
    except ImageLoadError as error:
        raise gr.Error(image_error_text(error, lang)) from None
    return labels_in(result, loaded, lang), result["crop"], status_line(loaded, fallback, result["seconds"], lang)


def answer_in_worker(image_path: str, backbone: str, weights: str) -> tuple[dict | None, object]:
    """(result, who answered) from the server's model process, for its own model with its pretrained
    weights (core.model_worker); (None, None): answer here (another model, random weights, no worker,
    or the worker has gone)."""
    worker = running_worker()
    if worker is None or backbone != worker.name or weights == RANDOM:
        return None, None
    try:
        result = worker.classify(image_path, k=5)
    except WorkerUnavailable:
        return None, None
    # What status_line and the labels need of a LoadedModel: its name, weights, note and ImageNet labels.
    return result, SimpleNamespace(name=worker.name, weights=worker.weights, note=worker.note, labels=class_names())


def labels_in(result: dict, loaded, lang: str) -> dict:
    """ImageNet labels in the page's language; a trained model keeps the names its trainer typed."""
    return {item["label"]: item["prob"] for item in localize_top(result["top"], lang, loaded.labels)}


def result_heading(backbone, weights, session_models, lang: str | None = None) -> str:
    if backbone in (session_models or {}):
        from core.trained import load_trained_model

        return heading(load_trained_model(session_models[backbone]), lang)
    return tr("classify.labels_random" if weights == RANDOM else "classify.labels", lang)


def classify_view(image_path, backbone, weights, session_models, request: gr.Request | None = None):
    """classify() for the page: the labels come with their heading (ImageNet's classes or yours)."""
    label, crop, status = classify(image_path, backbone, weights, session_models, request)
    lang = request_language(request)
    return gr.update(value=label, label=result_heading(backbone, weights, session_models, lang)), crop, status


def show_heading(backbone, weights, session_models, request: gr.Request):
    return gr.update(label=result_heading(backbone, weights, session_models, request_language(request)))


def classify_if_image(image_path, backbone, weights, session_models, request: gr.Request):
    if not image_path:  # the image was cleared: leave the last result alone
        return gr.skip(), gr.skip(), gr.skip()
    return classify_view(image_path, backbone, weights, session_models, request)


def refresh_backbones(session_models: dict | None, request: gr.Request = None):
    """The picker after a training run: this visitor's trained models listed too."""
    return gr.update(choices=backbone_choices(session_models, request_language(request)))


def weights_control(backbone: str, session_models: dict | None, lang: str | None = None) -> dict:
    """The Weights radio: a model the visitor trained has only its own weights, so the choice is
    shown as fixed (not silently ignored); a stock backbone offers pretrained / random again."""
    if backbone in (session_models or {}):
        return gr.update(value=PRETRAINED, interactive=False, info=tr("classify.trained_weights_info", lang))
    return gr.update(interactive=True, info=None)


@friendly_errors
def model_changed(image_path, backbone: str, weights: str, session_models: dict | None = None,
                  request: gr.Request | None = None):
    """Backbone or Weights changed: answer again with the new model at once, so the answer on
    screen always comes from the model the controls name (no stale label beside a new badge)."""
    lang = request_language(request)
    if backbone in (session_models or {}):
        weights = PRETRAINED
    control = weights_control(backbone, session_models, lang)
    if image_path:
        return (*classify_view(image_path, backbone, weights, session_models, request), control)
    loaded, fallback = resolve_model(backbone, weights, session_models, lang)
    return gr.update(value=None, label=heading(loaded, lang)), None, status_line(loaded, fallback, lang=lang), control


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
            image = ImageInput(label=T("classify.image"), type="filepath", sources=["upload", "webcam", "clipboard"],
                               height=360)
            # Examples right under the image and the controls after them: on a phone the answer
            # then comes right below what was tapped (and is scrolled into view, see below).
            gr.Examples([[example_path(name)] for name in EXAMPLES], inputs=[image], label=T("classify.examples"))
            with gr.Row():
                backbone = gr.Dropdown(backbone_choices(), value=backbones.BUNDLED_MODEL, label=T("classify.backbone"),
                                       scale=3, elem_id="classify-backbone", min_width=200)
                # (shown text, value): the value, which the API sees, stays English.
                weights = gr.Radio([(T("classify.pretrained"), PRETRAINED), (T("classify.random"), RANDOM)],
                                   value=PRETRAINED, label=T("classify.weights"), scale=2, elem_id="classify-weights")
            run = gr.Button(T("classify.button"), variant="primary")
            gr.Markdown(T("classify.accepted"))
        with gr.Column(scale=5):
            labels = gr.Label(num_top_classes=5, label=T("classify.labels"), elem_id="classify-labels")
            status = gr.Markdown(T(initial_status_key()), elem_classes=["tll-status"])
            crop = gr.Image(label=T("classify.crop"), height=240, interactive=False, format="jpeg",
                            elem_id="classify-crop", elem_classes=["tll-crop"])
            wire_map = cam_views.classify_panel()
    context.classify_backbone = backbone
    context.after_training.append(
        lambda training: training.then(refresh_backbones, context.session_models, backbone,
                                       api_name="classify_backbones", queue=False))

    inputs = [image, backbone, weights, context.session_models]
    outputs = [labels, crop, status]
    # The API answers plain labels; the page then heads them with whose classes they are.
    clicked = run.click(classify, inputs, outputs, api_name="classify", concurrency_limit=CONCURRENT_CALLS,
                        concurrency_id="classify")
    clicked.success(show_heading, inputs[1:], labels, api_visibility="private", queue=False)
    # Any new image (upload, webcam, paste, example click) is classified at once.
    # Events sharing a concurrency_id get the smallest limit among them: give each the same one.
    changed = image.change(classify_if_image, inputs, outputs, api_visibility="private", concurrency_id="classify",
                           concurrency_limit=CONCURRENT_CALLS)
    changed.success(None, js=SHOW_RESULT_ON_PHONES)
    wire_map(image, backbone, weights, context.session_models, after=[clicked, changed])  # maps: their own queue
    # .input: the visitor's own change (not the Fine-tune tab adding choices, nor our own reset).
    for control in (backbone, weights):
        control.input(model_changed, inputs, [*outputs, weights], api_visibility="private",
                      concurrency_id="classify", concurrency_limit=CONCURRENT_CALLS)
