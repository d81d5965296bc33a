"""The learning curve panel of the Fine-tune tab: "how many photos do you need?", drawn live.

Layout and wiring only; the work is core.curve. It reads the same data the tab trains on (every
source the tab has), through the tab's own loading function, which the tab passes in.
"""
from __future__ import annotations

import io
import os

import gradio as gr
import pandas as pd
from PIL import Image

from core import backbones, curve
from demo.components import friendly_errors
from demo.jobs import SessionJobs

MAX_CURVE_SECONDS = int(os.environ.get("TLL_MAX_CURVE_SECONDS", "600"))
MAX_UI_DRAWS = 10
_jobs = SessionJobs("learning curve", MAX_CURVE_SECONDS)

# Everything a visitor reads, in one place (for the translation to come).
TEXT = {
    "heading": "#### 3 · How many photos do you need?",
    "intro": ("For each size, that many photos per class are drawn at random (several times) from your data, "
              "a head trains on them, and it is tested on photos **never drawn for training**. Once with the "
              "pretrained network's features, once with **the same network with random weights**: the gap between "
              "the two lines is what pretraining on ImageNet is worth. The band shows the best and worst draw."),
    "sizes": "Photos per class to try",
    "sizes_info": "comma-separated, e.g. 1,2,5,10,20 (sizes a class cannot give are left out)",
    "draws": "Random draws per size",
    "run": "Draw the learning curve",
    "stop": "Stop",
    "plot": "Learning curve",
    "table": "Accuracy on the held-out photos",
    "reading": "reading the images",
    "started": "Drawing the curve on {summary}: {test} photos held out for testing.",
    "point": "{weights} features, **{size}** per class: mean **{mean:.1%}** (draws {low:.0%}–{high:.0%})",
    "done": "**Done:** {count} points on {test} held-out photos.",
    "stopped": "**Stopped** ({reason}): the points so far are kept.",
    "dropped": " Sizes {sizes} were left out: the smallest class cannot give that many and keep test photos apart.",
    "nothing": "Nothing is drawing a curve.",
    "stopping": "**Stopping** after this point…",
    "columns": ("photos per class", "weights", "mean %", "min %", "max %", "draws", "test photos"),
}


def _picture(points: list[dict], classes: int, backbone: str, test_images: int, sizes) -> Image.Image:
    figure = curve.plot_curve(points, classes, backbone, test_images, sizes=sizes)
    return Image.open(io.BytesIO(curve.figure_png(figure)))


def _table(points: list[dict]) -> pd.DataFrame:
    rows = [(p["size"], p["weights"], round(p["mean_acc"] * 100, 1), round(p["min_acc"] * 100, 1),
             round(p["max_acc"] * 100, 1), p["draws"], p["test_images"]) for p in points]
    return pd.DataFrame(rows, columns=list(TEXT["columns"]))


def make_runner(load_image_set):
    """The event handler: (data inputs..., backbone, sizes, draws) -> (plot, table, status) updates."""

    @friendly_errors
    def draw_curve(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed, backbone, sizes, draws,
                   request: gr.Request = None, progress=gr.Progress()):
        sizes = curve.parse_sizes(sizes)
        if not 1 <= int(draws) <= MAX_UI_DRAWS:
            raise gr.Error(f"Draws must be between 1 and {MAX_UI_DRAWS}.")
        stop = _jobs.start(request)
        try:
            progress(0, desc=TEXT["reading"])
            image_set = load_image_set(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed)
            backbone = backbones.resolve_name(backbone or backbones.BUNDLED_MODEL)
            points, header, classes = [], "", len(image_set.class_names)
            lines: list[str] = []
            for event in curve.learning_curve(image_set, sizes, int(draws), backbone, int(seed or 0), stop=stop):
                if event["event"] == "status":
                    progress(event["fraction"], desc=event["message"])
                elif event["event"] == "point":
                    point = {k: v for k, v in event.items() if k not in ("event", "accs")}
                    points.append(point)
                    if not header:
                        header = TEXT["started"].format(summary=image_set.summary(), test=point["test_images"])
                    lines.append("- " + TEXT["point"].format(weights=point["weights"], size=point["size"],
                                                               mean=point["mean_acc"], low=point["min_acc"],
                                                               high=point["max_acc"]))
                    yield (_picture(points, classes, backbone, point["test_images"], sizes), _table(points),
                           "\n".join([header, *lines]))
                elif event["event"] == "done":
                    ended = (TEXT["stopped"].format(reason=stop.stop_reason()) if event["stopped"]
                             else TEXT["done"].format(count=len(points), test=event["test_images"]))
                    if event["dropped_sizes"]:
                        ended += TEXT["dropped"].format(sizes=", ".join(map(str, event["dropped_sizes"])))
                    picture = _picture(points, classes, backbone, event["test_images"], sizes) if points else None
                    yield picture, _table(points), "\n".join([ended, header, *lines])
        finally:
            _jobs.finish(request, stop)

    return draw_curve


def stop_curve(request: gr.Request):
    return TEXT["stopping"] if _jobs.stop(request) else TEXT["nothing"]


def build_curve(data_inputs: list, backbone: gr.components.Component, load_image_set) -> None:
    """The panel. `data_inputs`: the tab's (source, uploads, zip, sample, pet kind, pets per class, seed)
    components; `load_image_set`: the tab's function reading them into a core.datasets.ImageSet."""
    gr.Markdown(TEXT["heading"])
    gr.Markdown(TEXT["intro"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            sizes = gr.Textbox(",".join(map(str, curve.DEFAULT_SIZES)), label=TEXT["sizes"], info=TEXT["sizes_info"],
                               elem_id="curve-sizes")
            draws = gr.Slider(1, MAX_UI_DRAWS, value=3, step=1, label=TEXT["draws"], elem_id="curve-draws")
            with gr.Row():
                run = gr.Button(TEXT["run"], variant="primary", elem_id="curve-run")
                stop = gr.Button(TEXT["stop"], variant="stop", elem_id="curve-stop")
            status = gr.Markdown("", elem_id="curve-status", elem_classes=["tll-status"])
        with gr.Column(scale=5):
            # No label chip: it would cover the figure's own title and top gridline.
            plot = gr.Image(label=TEXT["plot"], show_label=False, type="pil", format="png", interactive=False,
                            elem_id="curve-plot")
    table = gr.Dataframe(label=TEXT["table"], interactive=False, elem_id="curve-table")
    run.click(make_runner(load_image_set), [*data_inputs, backbone, sizes, draws], [plot, table, status],
              api_name="learning_curve", concurrency_limit=1, concurrency_id="learning_curve",
              show_progress="minimal")
    stop.click(stop_curve, None, status, api_name="learning_curve_stop", concurrency_limit=None, queue=False)
