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
from core.imagenet import localize_top
from demo.components import friendly_errors, image_error_text, weight_kind
from demo.i18n import T, add_strings, load_strings, percent, request_language, tr

cam = LazyModule("core.cam")  # torch: imported at the first map, not to build the page

TOP_CLASS = "__top__"
add_strings(*load_strings("cam_views"))  # this tab's English and Dutch: demo/strings/cam_views.json


def _name(result: cam.CamResult, loaded, lang: str | None) -> str:
    """The map's class name in `lang`: ImageNet's Dutch name, or a trained model's own class name."""
    return localize_top([{"label": result.label, "index": result.target}], lang or "en", loaded.labels)[0]["label"]


def _top_choices(top: list[dict], lang: str | None = None, loaded=None) -> list[tuple[str, str]]:
    rows = localize_top(top, lang or "en", loaded.labels) if loaded is not None else top
    return [(tr("cam.top_class", lang), TOP_CLASS)] + [(f"{t['label']} ({percent(t['prob'], lang, 0)})", str(t["index"]))
                                                      for t in rows]


def _caption(result: cam.CamResult, loaded=None, lang: str | None = None) -> str:
    label = _name(result, loaded, lang) if loaded is not None else result.label
    prob = percent(result.prob, lang, 1)
    return tr("cam.caption", lang, label=label, prob=prob, method=result.method)


# --- Classify ---------------------------------------------------------------------------

@friendly_errors
def classify_map(image_path, backbone, weights, session_models, target, enabled=True, request: gr.Request = None):
    """(overlay, caption, class picker) for the Classify image; the picker lists the top-5."""
    lang = request_language(request)
    if not enabled or not image_path:
        return gr.skip(), gr.skip(), gr.skip()
    try:
        image = load_image(image_path)
    except ImageLoadError as error:
        raise gr.Error(image_error_text(error, lang), print_exception=False) from None
    loaded, _ = load_model(backbone, weight_kind(weights), trained_models=session_models)
    wanted = None if target in (None, "", TOP_CLASS) else target
    result = cam.class_activation_map(loaded, image, wanted)
    if wanted is not None and str(result.target) not in {str(t["index"]) for t in result.top}:
        choices = _top_choices(result.top, lang, loaded) + [(_name(result, loaded, lang), str(result.target))]
    else:
        choices = _top_choices(result.top, lang, loaded)
    picked = TOP_CLASS if wanted is None else str(result.target)
    return result.overlay, _caption(result, loaded, lang), gr.update(choices=choices, value=picked)


def _map_after_classify(image_path, backbone, weights, session_models, enabled, request: gr.Request = None):
    """A new classification: the map for its top class, if wanted."""
    return classify_map(image_path, backbone, weights, session_models, TOP_CLASS, enabled, request)


def classify_panel():
    """Create the Classify tab's map panel here; returns `wire(image, backbone, weights, session_models,
    after=[events])` to connect it once the tab's other components exist."""
    gr.Markdown(T("cam.classify_title"))
    with gr.Row():
        # custom values: any class by index or name (typed here, or sent to the /cam API)
        target = gr.Dropdown([(T("cam.top_class"), TOP_CLASS)], value=TOP_CLASS, label=T("cam.class_picker"), scale=3,
                             allow_custom_value=True, filterable=True, elem_id="classify-cam-target")
        auto = gr.Checkbox(True, label=T("cam.auto"), scale=2)
    show = gr.Button(T("cam.show"), size="sm", elem_id="classify-cam-run")
    overlay = gr.Image(label=T("cam.classify_map"), height=240, interactive=False, format="jpeg",
                       elem_id="classify-cam")
    caption = gr.Markdown(elem_id="classify-cam-caption")

    def wire(image, backbone, weights, session_models, after=()):
        inputs = [image, backbone, weights, session_models, target]
        outputs = [overlay, caption, target]
        common = dict(concurrency_id="cam", concurrency_limit=2, show_progress="minimal")
        show.click(classify_map, inputs, outputs, api_name="cam", **common)
        target.input(classify_map, inputs, outputs, api_visibility="private", **common)
        for event in after:  # a new classification: the map for its top class, if wanted
            event.success(_map_after_classify,
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
def finetune_map(session_models, evt: gr.SelectData, request: gr.Request = None):
    from core.trained import load_trained_model

    lang = request_language(request)
    path = _newest_model(session_models)
    if not path:
        raise gr.Error(tr("cam.no_model", lang))
    if evt is None or evt.value is None:
        return gr.skip(), gr.skip(), gr.skip()
    loaded = load_trained_model(path)
    image = _gallery_image(evt.value)
    said = cam.class_activation_map(loaded, image)
    caption = (evt.value.get("caption") or "") if isinstance(evt.value, dict) else ""
    true_name = caption.split(" → ")[0].strip() if " → " in caption else None
    if true_name in loaded.labels and loaded.labels.index(true_name) != said.target:
        truth = cam.class_activation_map(loaded, image, loaded.labels.index(true_name))
        return said.overlay, truth.overlay, tr("cam.finetune_caption", lang, predicted=said.label,
                                               prob=percent(said.prob, lang, 0), true=true_name)
    return said.overlay, None, tr("cam.finetune_right", lang, predicted=said.label, prob=percent(said.prob, lang, 0))


def _two_maps(title_key: str, left: tuple[str, str], right: tuple[str, str], caption_id: str, height: int):
    """A titled pair of map pictures side by side ((label key, elem_id) each), and a caption under them."""
    gr.Markdown(T(title_key))
    with gr.Row():
        pictures = [gr.Image(label=T(key), height=height, interactive=False, format="jpeg", elem_id=elem_id)
                    for key, elem_id in (left, right)]
    return (*pictures, gr.Markdown(elem_id=caption_id))


def finetune_panel(session_models, galleries) -> None:
    """Below the Fine-tune results: a click on a photo in any of `galleries` shows its maps."""
    predicted, truth, caption = _two_maps("cam.finetune_title", ("cam.predicted_map", "finetune-cam"),
                                          ("cam.true_map", "finetune-cam-true"), "finetune-cam-caption", height=260)
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
def attack_maps(original, adversarial, request: gr.Request = None):
    from core import backbones

    lang = request_language(request)
    before_image, after_image = _pil(original), _pil(adversarial)
    if before_image is None or after_image is None:
        return gr.skip(), gr.skip(), gr.skip()
    loaded = backbones.load_backbone()  # the model the attack ran on
    before = cam.class_activation_map(loaded, before_image)
    after = cam.class_activation_map(loaded, after_image)
    overlap = float(np.minimum(before.heat, after.heat).sum() / max(np.maximum(before.heat, after.heat).sum(), 1e-9))
    return before.overlay, after.overlay, tr("cam.attack_caption", lang, before=_name(before, loaded, lang),
                                             after=_name(after, loaded, lang), overlap=percent(overlap, lang, 0))


def attack_panel(attack_event, original, adversarial) -> None:
    """Below the attack result: maps of the original and the adversarial crop, side by side."""
    before, after, caption = _two_maps("cam.attack_title", ("cam.before_map", "attack-cam-before"),
                                       ("cam.after_map", "attack-cam-after"), "attack-cam-caption", height=220)
    attack_event.success(attack_maps, [original, adversarial], [before, after, caption], api_visibility="private",
                      concurrency_id="cam", concurrency_limit=2, show_progress="minimal")
