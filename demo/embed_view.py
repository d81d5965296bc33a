"""Fine-tune tab: the feature-space map of the training photos (core.embed).

Pretrained features beside the same network with random weights (and beside the visitor's
trained model, when training changed the backbone). The maps are pictures of the photos
themselves at their points; a click on a map shows that photo and its 5 nearest neighbours in
the full feature space.
"""
from __future__ import annotations

import gradio as gr

from core import backbones, embed
from core.weights import load_model
from demo.components import friendly_errors
from demo.i18n import T, add_strings, load_strings, percent, request_language, tr

MAX_POINTS = 300  # photos on one map: more become an unreadable heap (and cost CPU)
# Every visible text of the panel, in English and Dutch (demo/i18n.py add_strings).
add_strings(*load_strings("embed_view"))  # this tab's English and Dutch: demo/strings/embed_view.json
WHICH = ("pretrained", "random", "trained")


def _trained_backbone(session_models: dict | None):
    """(LoadedModel, mode) of the visitor's newest model, or (None, None)."""
    if not session_models:
        return None, None
    from core.trained import load_trained_model, read_config

    path = list(session_models.values())[-1]
    return load_trained_model(path), read_config(path).get("mode")


@friendly_errors
def draw_maps(backbone, session_models, method, source, uploads, zip_file, sample_name, pet_kind, pet_per_class,
              seed, request: gr.Request = None, progress=gr.Progress()):
    from core.datasets import DatasetError
    from demo.finetune import dataset_error, load_image_set

    lang = request_language(request)
    try:  # the photos only (no training split, no validation zip: the map shows every photo)
        image_set = load_image_set(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed)
    except DatasetError as error:
        raise dataset_error(error, lang) from None
    if len(image_set) > MAX_POINTS:
        image_set = image_set.subset(range(MAX_POINTS))
    if len(image_set) < 3:
        raise gr.Error(tr("embed.too_few", lang))
    progress(0.1, desc=tr("embed.progress.pretrained", lang))
    pretrained, _ = load_model(backbone or backbones.BUNDLED_MODEL)
    maps = {"pretrained": embed.feature_map(pretrained, image_set.images, image_set.labels, image_set.class_names,
                                            image_set.names, method, "pretrained")}
    progress(0.45, desc=tr("embed.progress.random", lang))
    maps["random"] = embed.feature_map(load_model(pretrained.name, backbones.RANDOM)[0], image_set.images,
                                       image_set.labels, image_set.class_names, image_set.names, method, "random")
    trained, mode = _trained_backbone(session_models)
    note = ""
    if trained is not None and list(trained.labels) == list(image_set.class_names) and mode != "frozen":
        progress(0.75, desc=tr("embed.progress.trained", lang))
        maps["trained"] = embed.feature_map(trained, image_set.images, image_set.labels, image_set.class_names,
                                            image_set.names, method, "trained")
    elif trained is not None and mode == "frozen":
        note = tr("embed.frozen_same", lang)
    pictures = {which: embed.render_map(fmap, image_set.images, title=tr(f"embed.{which}", lang),
                                        knn_text=tr("embed.knn", lang, acc=percent(fmap.knn_acc, lang),
                                                    dims=fmap.features.shape[1]))
                for which, fmap in maps.items()}
    chance = max(image_set.counts()) / len(image_set)
    summary = tr("embed.summary", lang, pretrained=percent(maps["pretrained"].knn_acc, lang),
                 random=percent(maps["random"].knn_acc, lang), chance=percent(chance, lang),
                 trained=tr("embed.trained_part", lang, acc=percent(maps["trained"].knn_acc, lang))
                 if "trained" in maps else note)
    state = {"maps": maps, "images": image_set.images}
    return (pictures["pretrained"], pictures["random"], gr.update(value=pictures.get("trained"),
                                                                  visible="trained" in maps), summary, state)


def _picked(state, which: str, evt: gr.SelectData, lang: str | None = None):
    if not state or which not in state["maps"]:
        raise gr.Error(tr("embed.nothing", lang))
    fmap = state["maps"][which]
    x, y = evt.index[0], evt.index[1]
    index = embed.point_at(fmap, x, y)
    if index is None:
        return gr.skip(), gr.skip()
    neighbours = fmap.nearest(index)
    images = state["images"]
    gallery = [(images[index], tr("embed.this_photo", lang, name=fmap.class_names[fmap.labels[index]]))] + [
        (images[i], f"{rank}. {fmap.class_names[fmap.labels[i]]}") for rank, i in enumerate(neighbours, 1)]
    right = sum(fmap.labels[i] == fmap.labels[index] for i in neighbours)
    text = tr("embed.picked", lang, name=fmap.names[index], cls=fmap.class_names[fmap.labels[index]],
              which=tr(f"embed.which.{which}", lang), right=right)
    return gallery, text


def build(data_inputs: list, backbone, session_models) -> None:
    """The map panel, created where it is called. `data_inputs` are the Fine-tune tab's data
    components, in demo.finetune.load_image_set's order."""
    state = gr.State(None)
    with gr.Accordion(T("embed.title"), open=False, elem_id="embed-panel"):
        gr.Markdown(T("embed.intro"))
        with gr.Row():
            method = gr.Radio([(T("embed.pca"), embed.PCA), (T("embed.tsne"), embed.TSNE)],
                              value=embed.PCA, label=T("embed.method"), scale=3)
            draw = gr.Button(T("embed.draw"), variant="secondary", scale=2, elem_id="embed-draw")
        summary = gr.Markdown(elem_id="embed-summary")
        with gr.Row():
            # no label box: it would cover the title and legend drawn on the map itself
            maps = {which: gr.Image(label=T(f"embed.{which}"), show_label=False, interactive=False, format="jpeg",
                                    height=560, elem_id=f"embed-{which}", visible=which != "trained",
                                    buttons=["fullscreen"])
                    for which in WHICH}
        picked_text = gr.Markdown(elem_id="embed-picked")
        picked = gr.Gallery(label=T("embed.neighbours"), columns=6, height=200, elem_id="embed-neighbours")
    draw.click(draw_maps, [backbone, session_models, method, *data_inputs],
               [maps["pretrained"], maps["random"], maps["trained"], summary, state], api_visibility="private",
               concurrency_id="finetune", concurrency_limit=2)
    for which, image in maps.items():
        image.select(_on_select(which), state, [picked, picked_text], api_visibility="private")


def _on_select(which: str):
    @friendly_errors
    def picked(state, evt: gr.SelectData, request: gr.Request = None):  # the annotations: Gradio passes them
        return _picked(state, which, evt, request_language(request))
    return picked
