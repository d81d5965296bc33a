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

from core import backbones, curve, datasets
from demo.components import friendly_errors
from demo.i18n import STRINGS, T, add_strings, load_strings, percent, request_language, tr
from demo.jobs import SessionJobs

MAX_CURVE_SECONDS = int(os.environ.get("TLL_MAX_CURVE_SECONDS", "600"))
MAX_UI_DRAWS = 10
_jobs = SessionJobs("learning curve", MAX_CURVE_SECONDS)

# Everything a visitor reads, in English and Dutch (demo/i18n.py add_strings).
add_strings(*load_strings("curve"))  # this tab's English and Dutch: demo/strings/curve.json
FIGURE_WORDS = ("title", "x", "y", curve.PRETRAINED, curve.RANDOM, "chance", "band")


def _weights(kind: str, lang: str | None) -> str:
    key = f"curve.weights.{kind}"
    return tr(key, lang) if key in STRINGS else kind


def _picture(points: list[dict], classes: int, backbone: str, test_images: int, sizes,
             lang: str | None = None) -> Image.Image:
    words = {key: tr(f"curve.fig.{key}", lang) for key in FIGURE_WORDS}
    figure = curve.plot_curve(points, classes, backbone, test_images, sizes=sizes, text=words)
    return Image.open(io.BytesIO(curve.figure_png(figure)))


def _empty_table(request: gr.Request = None) -> pd.DataFrame:
    return _table([], request_language(request))


def _table(points: list[dict], lang: str | None = None) -> pd.DataFrame:
    rows = [(p["size"], _weights(p["weights"], lang), round(p["mean_acc"] * 100, 1), round(p["min_acc"] * 100, 1),
             round(p["max_acc"] * 100, 1), p["draws"], p["test_images"]) for p in points]
    return pd.DataFrame(rows, columns=tr("curve.columns", lang).split("|"))


@friendly_errors
def draw_curve(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed, backbone, sizes, draws,
               request: gr.Request = None, progress=gr.Progress()):
    """The event handler: (data inputs..., backbone, sizes, draws) -> (plot, table, status) updates."""
    from demo.finetune import dataset_error, load_image_set, set_summary, stop_reason  # (here: that module builds this panel)

    lang = request_language(request)
    try:
        sizes = curve.parse_sizes(sizes)
    except ValueError:
        raise gr.Error(tr("curve.bad_sizes", lang, most=curve.MAX_SIZE, text=sizes)) from None
    if not 1 <= int(draws) <= MAX_UI_DRAWS:
        raise gr.Error(tr("curve.bad_draws", lang, most=MAX_UI_DRAWS))
    stop = _jobs.start(request)
    try:
        progress(0, desc=tr("curve.reading", lang))
        image_set = load_image_set(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed)
        backbone = backbones.resolve_name(backbone or backbones.BUNDLED_MODEL)
        points, header, classes = [], "", len(image_set.class_names)
        lines: list[str] = []
        for event in curve.learning_curve(image_set, sizes, int(draws), backbone, int(seed or 0), stop=stop):
            if event["event"] == "status":
                progress(event["fraction"], desc=_progress_text(event, lang))
            elif event["event"] == "point":
                point = {k: v for k, v in event.items() if k not in ("event", "accs")}
                points.append(point)
                if not header:
                    header = tr("curve.started", lang, summary=set_summary(image_set, lang),
                                test=point["test_images"])
                lines.append("- " + tr("curve.point", lang, weights=_weights(point["weights"], lang),
                                       size=point["size"], mean=percent(point["mean_acc"], lang, 1),
                                       low=percent(point["min_acc"], lang), high=percent(point["max_acc"], lang)))
                yield (_picture(points, classes, backbone, point["test_images"], sizes, lang), _table(points, lang),
                       "\n".join([header, *lines]))
            elif event["event"] == "done":
                ended = (tr("curve.stopped", lang, reason=stop_reason(stop, lang)) if event["stopped"]
                         else tr("curve.done", lang, count=len(points), test=event["test_images"]))
                if event["dropped_sizes"]:
                    ended += tr("curve.dropped", lang, sizes=", ".join(map(str, event["dropped_sizes"])))
                picture = (_picture(points, classes, backbone, event["test_images"], sizes, lang) if points
                           else None)
                yield picture, _table(points, lang), "\n".join([ended, header, *lines])
    except datasets.DatasetError as error:
        raise dataset_error(error, lang) from None
    finally:
        _jobs.finish(request, stop)


def _progress_text(event: dict, lang: str | None) -> str:
    if event.get("step") == "features":
        return tr("curve.features", lang, weights=_weights(event["weights"], lang), done=event["done"],
                  total=event["total"])
    if event.get("step") == "point":
        return tr("curve.progress_point", lang, weights=_weights(event["weights"], lang), size=event["size"],
                  mean=percent(event["mean_acc"], lang, 1))
    return event["message"]


def stop_curve(request: gr.Request):
    return tr("curve.stopping" if _jobs.stop(request) else "curve.nothing", request_language(request))


def build_curve(data_inputs: list, backbone: gr.components.Component) -> None:
    """The panel. `data_inputs`: the tab's (source, uploads, zip, sample, pet kind, pets per class, seed)
    components, in demo.finetune.load_image_set's order."""
    gr.Markdown(T("curve.heading"))
    gr.Markdown(T("curve.intro"))
    with gr.Row(equal_height=False):
        with gr.Column(scale=3):
            sizes = gr.Textbox(",".join(map(str, curve.DEFAULT_SIZES)), label=T("curve.sizes"),
                               info=T("curve.sizes_info"), elem_id="curve-sizes")
            draws = gr.Slider(1, MAX_UI_DRAWS, value=3, step=1, label=T("curve.draws"), elem_id="curve-draws")
            with gr.Row():
                run = gr.Button(T("curve.run"), variant="primary", elem_id="curve-run")
                stop = gr.Button(T("curve.stop"), variant="stop", elem_id="curve-stop")
            status = gr.Markdown("", elem_id="curve-status", elem_classes=["tll-status"])
        with gr.Column(scale=5):
            # No label chip: it would cover the figure's own title and top gridline.
            plot = gr.Image(label=T("curve.plot"), show_label=False, type="pil", format="png", interactive=False,
                            elem_id="curve-plot")
    # Its real headers, in the page's language, before any run (a callable value runs when the page loads).
    table = gr.Dataframe(_empty_table, label=T("curve.table"), interactive=False, elem_id="curve-table")
    run.click(draw_curve, [*data_inputs, backbone, sizes, draws], [plot, table, status],
              api_name="learning_curve", concurrency_limit=1, concurrency_id="learning_curve",
              show_progress="minimal")
    stop.click(stop_curve, None, status, api_name="learning_curve_stop", concurrency_limit=None, queue=False)
