"""Where the model looks (Grad-CAM, core.cam) in three tabs: Classify, Fine-tune, Adversarial.

Each builder creates its components where it is called and wires its own events. The maps are
never computed inside another tab's handler: Classify chains them after /classify with their
own queue (concurrency_id "cam"), so a class of students classifying at once is not slowed.
"""
from __future__ import annotations

import gradio as gr
import numpy as np
from PIL import Image

from core.images import ImageLoadError, load_image
from core.lazy import LazyModule
from core.weights import load_model
from demo.components import friendly_errors, weight_kind

cam = LazyModule("core.cam")  # torch: imported at the first map, not to build the page

TOP_CLASS = "__top__"
TEXT = {
    "classify_title": "#### Where does it look?",
    "auto": "Show the heat map after each classification",
    "class_picker": "Map for class (pick one, or type a class name)",
    "top_class": "the top class",
    "show": "Show where it looks",
    "classify_map": "Heat map on the model's input crop (red: most evidence)",
    "caption": "**{label}** ({prob:.1%}): red is where the evidence for this class is ({method}).",
    "no_image": "Classify an image first.",
    "finetune_title": "#### Where your trained model looked (click a photo in either gallery above)",
    "predicted_map": "Evidence for what it said",
    "true_map": "Evidence for the true class",
    "finetune_caption": "It said **{predicted}** ({prob:.0%}) because it looked here (left); "
                        "for **{true}** it would look here (right).",
    "finetune_right": "It said **{predicted}** ({prob:.0%}), which is right; it looked here.",
    "no_model": "Train a model first: the maps are your trained model's.",
    "attack_title": "#### Where it looks, before and after the attack",
    "before_map": "Before: evidence for its answer",
    "after_map": "After: evidence for its new answer",
    "attack_caption": "Before it says **{before}**, after **{after}**. The label flips; compare where the heat is. "
                      "Overlap of the two maps: {overlap:.0%} (100 % = the same places).",
}


def _top_choices(top: list[dict]) -> list[tuple[str, str]]:
    return [(TEXT["top_class"], TOP_CLASS)] + [(f"{t['label']} ({t['prob']:.0%})", str(t["index"])) for t in top]


def _caption(result: cam.CamResult) -> str:
    return TEXT["caption"].format(label=result.label, prob=result.prob, method=result.method)


# --- Classify ---------------------------------------------------------------------------

@friendly_errors
def classify_map(image_path, backbone, weights, session_models, target, enabled=True):
    """(overlay, caption, class picker) for the Classify image; the picker lists the top-5."""
    if not enabled or not image_path:
        return gr.skip(), gr.skip(), gr.skip()
    try:
        image = load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(str(error)) from None
    loaded, _ = load_model(backbone, weight_kind(weights), trained_models=session_models)
    wanted = None if target in (None, "", TOP_CLASS) else target
    result = cam.class_activation_map(loaded, image, wanted)
    if wanted is not None and str(result.target) not in {str(t["index"]) for t in result.top}:
        choices = _top_choices(result.top) + [(result.label, str(result.target))]
    else:
        choices = _top_choices(result.top)
    picked = TOP_CLASS if wanted is None else str(result.target)
    return result.overlay, _caption(result), gr.update(choices=choices, value=picked)


def classify_panel():
    """Create the Classify tab's map panel here; returns `wire(image, backbone, weights, session_models,
    after=[events])` to connect it once the tab's other components exist."""
    gr.Markdown(TEXT["classify_title"])
    with gr.Row():
        # custom values: any class by index or name (typed here, or sent to the /cam API)
        target = gr.Dropdown(_top_choices([]), value=TOP_CLASS, label=TEXT["class_picker"], scale=3,
                             allow_custom_value=True, filterable=True, elem_id="classify-cam-target")
        auto = gr.Checkbox(True, label=TEXT["auto"], scale=2)
    show = gr.Button(TEXT["show"], size="sm", elem_id="classify-cam-run")
    overlay = gr.Image(label=TEXT["classify_map"], height=240, interactive=False, format="jpeg",
                       elem_id="classify-cam")
    caption = gr.Markdown(elem_id="classify-cam-caption")

    def wire(image, backbone, weights, session_models, after=()):
        inputs = [image, backbone, weights, session_models, target]
        outputs = [overlay, caption, target]
        common = dict(concurrency_id="cam", concurrency_limit=2, show_progress="minimal")
        show.click(classify_map, inputs, outputs, api_name="cam", **common)
        target.input(classify_map, inputs, outputs, api_visibility="private", **common)
        for event in after:  # a new classification: the map for its top class, if wanted
            event.success(lambda *values: classify_map(*values[:4], TOP_CLASS, values[4]),
                       [image, backbone, weights, session_models, auto], outputs, api_visibility="private", **common)

    return wire


# --- Fine-tune --------------------------------------------------------------------------

def _newest_model(session_models: dict | None) -> str | None:
    """The visitor's most recent trained model: the one whose validation images the galleries show
    (each run adds its model last; the oldest are dropped first)."""
    return list(session_models.values())[-1] if session_models else None


def _gallery_image(value) -> Image.Image:
    image = value.get("image") if isinstance(value, dict) else value
    path = image.get("path") if isinstance(image, dict) else getattr(image, "path", image)
    return load_image(path)


@friendly_errors
def finetune_map(session_models, evt: gr.SelectData):
    from core.trained import load_trained_model

    path = _newest_model(session_models)
    if not path:
        raise gr.Error(TEXT["no_model"])
    if evt is None or evt.value is None:
        return gr.skip(), gr.skip(), gr.skip()
    loaded = load_trained_model(path)
    image = _gallery_image(evt.value)
    said = cam.class_activation_map(loaded, image)
    caption = (evt.value.get("caption") or "") if isinstance(evt.value, dict) else ""
    true_name = caption.split(" → ")[0].strip() if " → " in caption else None
    if true_name in loaded.labels and loaded.labels.index(true_name) != said.target:
        truth = cam.class_activation_map(loaded, image, loaded.labels.index(true_name))
        return said.overlay, truth.overlay, TEXT["finetune_caption"].format(
            predicted=said.label, prob=said.prob, true=true_name)
    return said.overlay, None, TEXT["finetune_right"].format(predicted=said.label, prob=said.prob)


def finetune_panel(session_models, galleries) -> None:
    """Below the Fine-tune results: a click on a photo in any of `galleries` shows its maps."""
    gr.Markdown(TEXT["finetune_title"])
    with gr.Row():
        predicted = gr.Image(label=TEXT["predicted_map"], height=260, interactive=False, format="jpeg",
                             elem_id="finetune-cam")
        truth = gr.Image(label=TEXT["true_map"], height=260, interactive=False, format="jpeg",
                         elem_id="finetune-cam-true")
    caption = gr.Markdown(elem_id="finetune-cam-caption")
    for gallery in galleries:
        gallery.select(finetune_map, session_models, [predicted, truth, caption], api_visibility="private",
                       concurrency_id="cam", concurrency_limit=2, show_progress="minimal")


# --- Adversarial ------------------------------------------------------------------------

def _pil(value) -> Image.Image | None:
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return Image.fromarray(value.astype(np.uint8)).convert("RGB")
    if isinstance(value, Image.Image):
        return value.convert("RGB")
    return load_image(value)


@friendly_errors
def attack_maps(original, adversarial):
    from core import backbones

    before_image, after_image = _pil(original), _pil(adversarial)
    if before_image is None or after_image is None:
        return gr.skip(), gr.skip(), gr.skip()
    loaded = backbones.load_backbone()  # the model the attack ran on
    before = cam.class_activation_map(loaded, before_image)
    after = cam.class_activation_map(loaded, after_image)
    overlap = float(np.minimum(before.heat, after.heat).sum() / max(np.maximum(before.heat, after.heat).sum(), 1e-9))
    return before.overlay, after.overlay, TEXT["attack_caption"].format(before=before.label, after=after.label,
                                                                         overlap=overlap)


def attack_panel(attack_event, original, adversarial) -> None:
    """Below the attack result: maps of the original and the adversarial crop, side by side."""
    gr.Markdown(TEXT["attack_title"])
    with gr.Row():
        before = gr.Image(label=TEXT["before_map"], height=220, interactive=False, format="jpeg",
                          elem_id="attack-cam-before")
        after = gr.Image(label=TEXT["after_map"], height=220, interactive=False, format="jpeg",
                         elem_id="attack-cam-after")
    caption = gr.Markdown(elem_id="attack-cam-caption")
    attack_event.success(attack_maps, [original, adversarial], [before, after, caption], api_visibility="private",
                      concurrency_id="cam", concurrency_limit=2, show_progress="minimal")
