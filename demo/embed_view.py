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

MAX_POINTS = 300  # photos on one map: more become an unreadable heap (and cost CPU)
TEXT = {
    "title": "Feature-space map: why a straight line separates your classes",
    "intro": "Each photo is placed by the features the backbone hands to its last layer (PCA to 2-D). "
             "If the classes already lie apart here, the new last layer only has to draw a line. "
             "**Click a photo** on a map to see it and its 5 nearest neighbours.",
    "method": "Layout",
    "draw": "Draw the maps of the training photos",
    "pretrained": "Pretrained features",
    "random": "Same network, random weights",
    "trained": "Your trained model's features",
    "summary": "5-nearest-neighbour accuracy in the full feature space (leave-one-out): "
               "**pretrained {pretrained:.0%}**, random weights {random:.0%}{trained}. "
               "Chance is about {chance:.0%}.",
    "trained_part": ", your trained model {acc:.0%}",
    "frozen_same": " (your latest model is frozen-mode: its features are the pretrained ones)",
    "picked": "**{name}** (class **{cls}**), on the {which} map. Its 5 nearest neighbours there: {right} of 5 "
              "of the same class.",
    "neighbours": "The photo and its nearest neighbours (full feature space)",
    "too_many": "Only the first {count} photos per map are drawn.",
    "nothing": "Draw the maps first.",
}
WHICH = ("pretrained", "random", "trained")


def _trained_backbone(session_models: dict | None):
    """(LoadedModel, mode) of the visitor's newest model, or (None, None)."""
    if not session_models:
        return None, None
    from core.trained import load_trained_model, read_config

    path = list(session_models.values())[-1]
    return load_trained_model(path), read_config(path).get("mode")


@friendly_errors
def draw_maps(backbone, session_models, method, *data_inputs, progress=gr.Progress()):
    from types import SimpleNamespace

    from demo.finetune import DATA_FIELDS, load_training_data

    image_set, _, _ = load_training_data(SimpleNamespace(**dict(zip(DATA_FIELDS, data_inputs))))
    if len(image_set) > MAX_POINTS:
        image_set = image_set.subset(range(MAX_POINTS))
    if len(image_set) < 3:
        raise gr.Error("At least 3 photos are needed for a map.")
    progress(0.1, desc="pretrained features")
    pretrained, _ = load_model(backbone or backbones.BUNDLED_MODEL)
    maps = {"pretrained": embed.feature_map(pretrained, image_set.images, image_set.labels, image_set.class_names,
                                            image_set.names, method, "pretrained")}
    progress(0.45, desc="random-weight features")
    maps["random"] = embed.feature_map(load_model(pretrained.name, backbones.RANDOM)[0], image_set.images,
                                       image_set.labels, image_set.class_names, image_set.names, method, "random")
    trained, mode = _trained_backbone(session_models)
    note = ""
    if trained is not None and list(trained.labels) == list(image_set.class_names) and mode != "frozen":
        progress(0.75, desc="your model's features")
        maps["trained"] = embed.feature_map(trained, image_set.images, image_set.labels, image_set.class_names,
                                            image_set.names, method, "trained")
    elif trained is not None and mode == "frozen":
        note = TEXT["frozen_same"]
    pictures = {which: embed.render_map(fmap, image_set.images, title=TEXT[which]) for which, fmap in maps.items()}
    chance = max(image_set.counts()) / len(image_set)
    summary = TEXT["summary"].format(
        pretrained=maps["pretrained"].knn_acc, random=maps["random"].knn_acc, chance=chance,
        trained=TEXT["trained_part"].format(acc=maps["trained"].knn_acc) if "trained" in maps else note)
    state = {"maps": maps, "images": image_set.images}
    return (pictures["pretrained"], pictures["random"], gr.update(value=pictures.get("trained"),
                                                                  visible="trained" in maps), summary, state)


def _picked(state, which: str, evt: gr.SelectData):
    if not state or which not in state["maps"]:
        raise gr.Error(TEXT["nothing"])
    fmap = state["maps"][which]
    x, y = evt.index[0], evt.index[1]
    index = embed.point_at(fmap, x, y)
    if index is None:
        return gr.skip(), gr.skip()
    neighbours = fmap.nearest(index)
    images = state["images"]
    gallery = [(images[index], f"this photo: {fmap.class_names[fmap.labels[index]]}")] + [
        (images[i], f"{rank}. {fmap.class_names[fmap.labels[i]]}") for rank, i in enumerate(neighbours, 1)]
    right = sum(fmap.labels[i] == fmap.labels[index] for i in neighbours)
    text = TEXT["picked"].format(name=fmap.names[index], cls=fmap.class_names[fmap.labels[index]],
                                 which=TEXT[which].lower(), right=right)
    return gallery, text


def build(data_inputs: list, backbone, session_models) -> None:
    """The map panel, created where it is called. `data_inputs` are the Fine-tune tab's data
    components, in demo.finetune.load_training_data's order."""
    state = gr.State(None)
    with gr.Accordion(TEXT["title"], open=False, elem_id="embed-panel"):
        gr.Markdown(TEXT["intro"])
        with gr.Row():
            method = gr.Radio([("PCA (instant)", embed.PCA), ("t-SNE (slower, keeps neighbours)", embed.TSNE)],
                              value=embed.PCA, label=TEXT["method"], scale=3)
            draw = gr.Button(TEXT["draw"], variant="secondary", scale=2, elem_id="embed-draw")
        summary = gr.Markdown(elem_id="embed-summary")
        with gr.Row():
            # no label box: it would cover the title and legend drawn on the map itself
            maps = {which: gr.Image(label=TEXT[which], show_label=False, interactive=False, format="jpeg",
                                    height=560, elem_id=f"embed-{which}", visible=which != "trained",
                                    buttons=["fullscreen"])
                    for which in WHICH}
        picked_text = gr.Markdown(elem_id="embed-picked")
        picked = gr.Gallery(label=TEXT["neighbours"], columns=6, height=200, elem_id="embed-neighbours")
    draw.click(draw_maps, [backbone, session_models, method, *data_inputs],
               [maps["pretrained"], maps["random"], maps["trained"], summary, state], api_visibility="private",
               concurrency_id="finetune", concurrency_limit=2)
    for which, image in maps.items():
        image.select(_on_select(which), state, [picked, picked_text], api_visibility="private")


def _on_select(which: str):
    @friendly_errors
    def picked(state, evt: gr.SelectData):  # the annotation tells Gradio to pass the click
        return _picked(state, which, evt)
    return picked
