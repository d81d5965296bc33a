"""Classify tab: an image in, top-5 ImageNet labels out, and the crop the model saw."""
from __future__ import annotations

import gradio as gr

from core import backbones
from core.classify import classify_image
from core.images import ImageLoadError, limits_text, load_image
from demo import example_path
from demo.components import ImageInput, friendly_errors, weights_badge, weights_status

EXAMPLES = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]
PRETRAINED, RANDOM = "pretrained", "random (untrained)"

# Visible text (kept together for the coming translation).
TEXT = {
    "no_image": "Upload an image, take one with the webcam, paste one, or pick an example.",
    "imagenet_heading": "Top-5 ImageNet classes",
    "random_heading": "Top-5 ImageNet classes (random weights: a meaningless guess)",
    "trained_heading": "Top-{k} of your classes ({name})",
    "weights_label": "Weights",
    "trained_weights_info": "a model you trained always answers with its own trained weights",
    "trained_no_random": "A model you trained has only its trained weights: pick weights “pretrained”, "
                         "or a stock backbone to see random weights.",
    "crop_label": "What the model sees",
}


# On a narrow screen the answer sits below the image and controls: bring it into view.
SHOW_RESULT_ON_PHONES = """() => { if (window.innerWidth < 700) {
  document.querySelector('#classify-labels')?.scrollIntoView({behavior: 'smooth', block: 'start'}); } }"""


def backbone_choices(session_models: dict | None = None) -> list[tuple[str, str]]:
    """(shown title, value) pairs: the stock backbones, then this visitor's trained models."""
    choices = [(c.title, c.name) for c in backbones.CHOICES]
    for name in (session_models or {}):
        choices.append((f"★ {name} (yours)", name))
    return choices


def resolve_model(choice: str, weights_choice: str, session_models: dict | None):
    """(LoadedModel, fallback message) for a picker value; trained models come from the session."""
    session_models = session_models or {}
    if choice in session_models:
        from core.trained import load_trained_model

        if weights_choice == RANDOM:  # never answer silently with other weights than were asked for
            raise gr.Error(TEXT["trained_no_random"])
        return load_trained_model(session_models[choice]), ""
    if weights_choice == RANDOM:
        return backbones.load_backbone(choice, backbones.RANDOM), ""
    return backbones.load_with_fallback(choice)


def status_line(loaded, fallback: str, seconds: float | None = None) -> str:
    text = weights_status(loaded.weights, loaded.status, fallback)
    if seconds is not None:
        text += f" · prediction took **{seconds * 1000:.0f} ms**"
    return text


def heading(loaded) -> str:
    """The result's heading: which classes the answer is among (ImageNet's, or the visitor's own)."""
    if loaded.weights == "trained":
        return TEXT["trained_heading"].format(k=min(5, len(loaded.labels)), name=", ".join(loaded.labels[:3])
                                              + ("…" if len(loaded.labels) > 3 else ""))
    return TEXT["random_heading"] if loaded.weights == backbones.RANDOM else TEXT["imagenet_heading"]


@friendly_errors
def classify(image_path: str | None, backbone: str = backbones.BUNDLED_MODEL, weights: str = PRETRAINED,
             session_models: dict | None = None):
    """Top-5 labels for one image, the model's input crop, and which weights answered."""
    if not image_path:
        raise gr.Error(TEXT["no_image"])
    try:
        image = load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(str(error)) from None
    loaded, fallback = resolve_model(backbone or backbones.BUNDLED_MODEL, weights, session_models)
    result = classify_image(loaded, image, k=5)
    label = {item["label"]: item["prob"] for item in result["top"]}
    return label, result["crop"], status_line(loaded, fallback, result["seconds"])


def classify_view(image_path, backbone, weights, session_models):
    """classify() for the page: the labels come with their heading (ImageNet's classes or yours)."""
    label, crop, status = classify(image_path, backbone, weights, session_models)
    return gr.update(value=label, label=result_heading(backbone, weights, session_models)), crop, status


def result_heading(backbone, weights, session_models) -> str:
    if backbone in (session_models or {}):
        from core.trained import load_trained_model

        return heading(load_trained_model(session_models[backbone]))
    return TEXT["random_heading"] if weights == RANDOM else TEXT["imagenet_heading"]


def show_heading(backbone, weights, session_models):
    return gr.update(label=result_heading(backbone, weights, session_models))


def classify_if_image(image_path, backbone, weights, session_models):
    if not image_path:  # the image was cleared: leave the last result alone
        return gr.skip(), gr.skip(), gr.skip()
    return classify_view(image_path, backbone, weights, session_models)


def weights_control(backbone: str, session_models: dict | None) -> dict:
    """The Weights radio: a model the visitor trained has only its own weights, so the choice is
    shown as fixed (not silently ignored); a stock backbone offers pretrained / random again."""
    if backbone in (session_models or {}):
        return gr.update(value=PRETRAINED, interactive=False, info=TEXT["trained_weights_info"])
    return gr.update(interactive=True, info=None)


@friendly_errors
def model_changed(image_path, backbone: str, weights: str, session_models: dict | None = None):
    """Backbone or Weights changed: answer again with the new model at once, so the answer on
    screen always comes from the model the controls name (no stale label beside a new badge)."""
    if backbone in (session_models or {}):
        weights = PRETRAINED
    control = weights_control(backbone, session_models)
    if image_path:
        return (*classify_view(image_path, backbone, weights, session_models), control)
    loaded, fallback = resolve_model(backbone, weights, session_models)
    return gr.update(value=None, label=heading(loaded)), None, status_line(loaded, fallback), control


def build(context) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            image = ImageInput(label="Your image", type="filepath", sources=["upload", "webcam", "clipboard"], height=360)
            # Examples right under the image and the controls after them: on a phone the answer
            # then comes right below what was tapped (and is scrolled into view, see below).
            gr.Examples([[example_path(name)] for name in EXAMPLES], inputs=[image], label="Examples (click one)")
            with gr.Row():
                backbone = gr.Dropdown(backbone_choices(), value=backbones.BUNDLED_MODEL, label="Backbone", scale=3,
                                       elem_id="classify-backbone", min_width=200)
                weights = gr.Radio([PRETRAINED, RANDOM], value=PRETRAINED, label=TEXT["weights_label"], scale=2,
                                   elem_id="classify-weights")
            run = gr.Button("Classify", variant="primary")
            gr.Markdown(f"<small>Accepted: JPEG, PNG, WebP, GIF, BMP, TIFF — {limits_text()}.</small>")
        with gr.Column(scale=5):
            labels = gr.Label(num_top_classes=5, label=TEXT["imagenet_heading"], elem_id="classify-labels")
            status = gr.Markdown(weights_badge(backbones.BUNDLED, backbones.status_text(
                backbones.BUNDLED_MODEL, backbones.BUNDLED, backbones.BUNDLED_NOTE)),
                                 elem_classes=["tll-status"])
            crop = gr.Image(label=TEXT["crop_label"], height=240, interactive=False, format="jpeg",
                            elem_id="classify-crop", elem_classes=["tll-crop"])
    context.classify_backbone = backbone

    inputs = [image, backbone, weights, context.session_models]
    outputs = [labels, crop, status]
    # The API answers plain labels; the page then heads them with whose classes they are.
    run.click(classify, inputs, outputs, api_name="classify", concurrency_limit=4, concurrency_id="classify") \
        .success(show_heading, inputs[1:], labels, api_visibility="private", queue=False)
    # Any new image (upload, webcam, paste, example click) is classified at once.
    # Events sharing a concurrency_id get the smallest limit among them: give each the same one.
    image.change(classify_if_image, inputs, outputs, api_visibility="private", concurrency_id="classify",
                 concurrency_limit=4).success(None, js=SHOW_RESULT_ON_PHONES)
    # .input: the visitor's own change (not the Fine-tune tab adding choices, nor our own reset).
    for control in (backbone, weights):
        control.input(model_changed, inputs, [*outputs, weights], api_visibility="private",
                      concurrency_id="classify", concurrency_limit=4)
