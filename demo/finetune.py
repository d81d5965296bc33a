"""Fine-tune tab: your own classes on a pretrained backbone, trained live, with results and export."""
from __future__ import annotations

import dataclasses
import os
import time

import gradio as gr
import pandas as pd

from core import backbones, datasets, training_settings
from core.lazy import LazyModule
from core.memory import release_memory
from core.images import limits_text as image_limits_text
from demo import MAX_UPLOAD, cam_views, embed_view, webcam
from demo.components import friendly_errors
from demo.jobs import SessionJobs
from demo.notes import lesson_notes

# torch: imported at the first training; the page is built from core.training_settings alone.
fewshot = LazyModule("core.fewshot", ready=training_settings)
finetune = LazyModule("core.finetune", ready=training_settings)

UPLOADS, ZIP, SAMPLES, PETS = "your images, class by class", "a .zip of class folders", "a sample set", \
    "Oxford-IIIT Pet sample (needs the network)"
SOURCES = [UPLOADS, ZIP, SAMPLES, PETS]
# Visible text added this round (kept together for the coming translation).
TEXT = {
    "replay": "Trained: drawing its curve epoch by epoch (epoch {epoch})…",
    "per_class_headers": ["class", "held-out images", "correct", "accuracy %"],
    "confusion_corner": "true ↓ / predicted →",
}
PLOT_COLUMNS = ["epoch", "value", "series"]
# (validation, training) colour per run: the same hue, darker for validation.
RUN_COLORS = [("#1f77b4", "#9ecae1"), ("#d62728", "#fc9e9c"), ("#2ca02c", "#a1d99b"), ("#9467bd", "#cbb5e0"),
              ("#ff7f0e", "#fdc38d"), ("#8c564b", "#c9a59c"), ("#e377c2", "#f5bfe0"), ("#17becf", "#a6e3eb")]

# One stop flag per visitor session: Stop ends only your run; a time cap ends any run.
MAX_TRAIN_SECONDS = int(os.environ.get("TLL_MAX_TRAIN_SECONDS", "600"))
_jobs = SessionJobs("training", MAX_TRAIN_SECONDS)


def _plots(history: list[dict], finished: bool = False):
    """(loss, accuracy) frames for the two line plots, one series per run and split.

    None while there is nothing to draw: a LinePlot first given an *empty* DataFrame never
    draws its colour legend and series afterwards (Gradio 6.31), one given None does.

    The chart's settings (title, colours, x range) change only when a run is added, never per
    epoch: in Gradio 6.31 a settings change rebuilds the chart from the data it held *before*
    that update (which showed the previous epoch), while a data-only update is drawn as sent.
    `paced_updates` sends new data before new settings, so every rebuild has the current data.
    """
    if not history:
        return None, None
    runs = list(dict.fromkeys(row["run"] for row in history))
    colors = {}
    for number, run in enumerate(runs):
        dark, light = RUN_COLORS[number % len(RUN_COLORS)]
        colors[f"{run}: train"], colors[f"{run}: val"] = light, dark
    loss_rows, acc_rows = [], []
    for row in history:
        for split in ("train", "val"):
            if row[f"{split}_loss"] is None:  # nothing held out (one photo in a class)
                continue
            series = f"{row['run']}: {split}"
            loss_rows.append((row["epoch"], row[f"{split}_loss"], series))
            acc_rows.append((row["epoch"], row[f"{split}_acc"] * 100, series))
    # Whole epochs on the x axis (no "1.000000"): 0 to a multiple of 10, so ticks fall on whole
    # numbers and a first point is not a lone dot in mid-chart; the range grows with the longest run.
    last_epoch = max(row["epoch"] for row in history)
    x_lim = [0, max(10, -(-last_epoch // 10) * 10)]
    title = f" · {runs[-1]}" if len(runs) == 1 else f" · {len(runs)} runs, latest {runs[-1]}"
    common = dict(color_map=colors, x_lim=x_lim, x_axis_format="d")
    return (gr.update(value=pd.DataFrame(loss_rows, columns=PLOT_COLUMNS), title=f"Loss{title}", **common),
            gr.update(value=pd.DataFrame(acc_rows, columns=PLOT_COLUMNS), title=f"Accuracy (%){title}", **common))


PLOT_SETTINGS = ("title", "color_map", "x_lim", "x_axis_format")
# A run whose epochs all arrive within this time (frozen mode: 40 epochs in ~1 s) is drawn again
# epoch by epoch over about this long once it has finished, so a class sees its curve form.
MIN_DRAW_SECONDS = float(os.environ.get("TLL_MIN_CURVE_SECONDS", "2.5"))
REPLAY_FRAMES = 25


def _settings(update) -> tuple | None:
    if not isinstance(update, dict) or "value" not in update:
        return None
    return tuple(repr(update.get(key)) for key in PLOT_SETTINGS)


def _data_only(update: dict, settings_from: dict | None) -> dict:
    """`update`'s data under the chart settings already on screen (no rebuild)."""
    kept = {key: settings_from[key] for key in PLOT_SETTINGS if settings_from and key in settings_from}
    return {**update, **kept}


def paced_updates(updates, view):
    """train_model's {component: value} updates, drawn right on the page.

    - New chart settings (a run joins the plot) arrive one update after the data they show, so
      the chart's rebuild sees the current data, not the previous epoch's.
    - A run that finished faster than MIN_DRAW_SECONDS is drawn again epoch by epoch (a short
      replay once it is done: the training itself is never slowed), then the final result.
    """
    plots, status, history_state = (view.loss_plot, view.acc_plot), view.status, view.form["history"]
    shown: dict = {}  # the plot updates on screen now
    epochs_before, first_epoch_at = None, None  # the run's curve starts with its first epoch
    for update in updates:
        final = view.results in update
        history = update.get(history_state) if isinstance(update.get(history_state), list) else None
        if history is not None:
            if epochs_before is None:
                epochs_before = len(history)
            elif first_epoch_at is None and len(history) > epochs_before:
                first_epoch_at = time.monotonic()
        quick = first_epoch_at is not None and time.monotonic() - first_epoch_at < MIN_DRAW_SECONDS
        if final and quick and history and all(plot in shown for plot in plots):
            for frame in _replay_frames(history):
                frame_update = {plot: _data_only(value, shown[plot]) for plot, value in zip(plots, frame)}
                frame_update[status] = TEXT["replay"].format(epoch=int(frame[0]["value"]["epoch"].max()))
                yield frame_update
                time.sleep(MIN_DRAW_SECONDS / REPLAY_FRAMES)
        changed = [plot for plot in plots if isinstance(update.get(plot), dict) and plot in shown
                   and _settings(update[plot]) != _settings(shown[plot])]
        if changed:  # first the data under the settings on screen, then the new settings
            yield {plot: _data_only(update[plot], shown[plot]) for plot in changed}
        for plot in plots:
            if isinstance(update.get(plot), dict):
                shown[plot] = update[plot]
            elif plot in update and update[plot] is None:
                shown.pop(plot, None)
        yield update


def _replay_frames(history: list[dict]):
    """(loss, accuracy) updates showing the latest run's first 1, 2, … epochs (earlier runs whole)."""
    if not history:
        return
    latest = history[-1]["run"]
    earlier = [row for row in history if row["run"] != latest]
    mine = [row for row in history if row["run"] == latest]
    step = max(1, -(-len(mine) // REPLAY_FRAMES))
    for count in range(step, len(mine), step):
        yield _plots(earlier + mine[:count])


def _class_list_text(uploads: dict) -> str:
    if not uploads:
        return "_No class yet: type a name, drop its images, press **Add class**._"
    lines = [f"- **{name}**: {len(files)} image(s)" for name, files in uploads.items()]
    return f"{len(uploads)} class(es):\n" + "\n".join(lines)


@friendly_errors
def add_class(name: str, files, uploads: dict):
    uploads = dict(uploads or {})
    name = datasets.clean_class_name(name or "")
    if not files:
        raise gr.Error(f"Drop some images of {name!r} first.")
    if name not in uploads and len(uploads) >= min(datasets.MAX_CLASSES, 20):
        raise gr.Error("At most 20 classes can be uploaded one by one (use a .zip for more).")
    paths = [getattr(f, "name", f) for f in files]
    uploads[name] = list(uploads.get(name, [])) + [str(p) for p in paths]
    total = sum(len(v) for v in uploads.values())
    if total > datasets.MAX_IMAGES:
        raise gr.Error(f"That makes {total} images: the limit is {datasets.MAX_IMAGES} in all.")
    return uploads, _class_list_text(uploads), "", None


def clear_classes():
    return {}, _class_list_text({})


def _file_path(value) -> str | None:
    if value is None:
        return None
    return str(getattr(value, "name", value))


@dataclasses.dataclass
class TrainingForm:
    """What the Train button reads: the data source, the settings, and the session's state."""

    source: str
    uploads: dict | None
    zip_file: object
    sample_name: str | None
    pet_kind: str
    pet_per_class: int
    val_split: float
    val_zip: object
    backbone: str | None
    mode: str
    epochs: int
    seed: int
    overlay: bool
    history: list | None
    runs: int | None
    session_models: dict | None
    session_dir: str | None


@dataclasses.dataclass
class TrainingView:
    """The components one training run reads (`form`: TrainingForm field -> component) and writes."""

    form: dict
    loss_plot: gr.LinePlot
    acc_plot: gr.LinePlot
    status: gr.Markdown
    results: gr.Markdown
    per_class: gr.Dataframe
    confusion: gr.Dataframe
    wrong: gr.Gallery
    export: gr.File
    last_run: gr.State

    @property
    def inputs(self) -> set:
        return set(self.form.values())

    @property
    def outputs(self) -> list:
        """In the order the API reports them."""
        form = self.form
        return [self.loss_plot, self.acc_plot, self.status, form["history"], self.results, self.per_class,
                self.confusion, self.wrong, self.export, self.last_run, form["runs"], form["session_models"],
                form["session_dir"]]

    def read(self, values: dict) -> TrainingForm:
        return TrainingForm(**{name: values[component] for name, component in self.form.items()})


# The TrainingForm fields that say which photos to use (other panels, e.g. the feature map, read these too).
DATA_FIELDS = ("source", "uploads", "zip_file", "sample_name", "pet_kind", "pet_per_class", "val_split", "val_zip",
               "seed")


def load_image_set(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed) -> datasets.ImageSet:
    """The labelled photos of whichever source is chosen (the learning curve reads them too)."""
    if source == UPLOADS:
        if not uploads:
            raise datasets.DatasetError("add at least two classes of images first (name, images, Add class)")
        image_set = datasets.from_sources({name: list(files) for name, files in uploads.items()}, source="uploads")
    elif source == ZIP:
        if not zip_file:
            raise datasets.DatasetError("upload a .zip with one folder per class first")
        image_set = datasets.from_zip(_file_path(zip_file))
    elif source == SAMPLES:
        if not sample_name:
            raise datasets.DatasetError("no sample set chosen (the teacher sets a samples folder with --samples DIR)")
        image_set = datasets.load_sample_set(sample_name)
    elif source == PETS:
        image_set = datasets.oxford_pet_sample(int(pet_per_class), cats_vs_dogs=pet_kind.startswith("cat"),
                                               seed=int(seed))
    else:
        raise datasets.DatasetError(f"unknown data source {source!r}")
    return image_set


def load_training_data(form: TrainingForm, mode: str = finetune.FROZEN):
    """(all photos, train set, validation set or None) from whichever source is chosen.

    None: every photo trains (frozen mode on small classes, or one photo in a class); the
    accuracy is then cross-validated, or not estimated (finetune.split_for_training)."""
    image_set = load_image_set(form.source, form.uploads, form.zip_file, form.sample_name, form.pet_kind,
                               form.pet_per_class, form.seed)
    if form.val_zip:
        val_set = datasets.align_validation(image_set, datasets.from_zip(_file_path(form.val_zip)))
        train_set = image_set
    else:
        train_set, val_set = finetune.split_for_training(image_set, mode, float(form.val_split), int(form.seed))
    return image_set, train_set, val_set


ACCURACY_WORD = {fewshot.VALIDATION: "validation accuracy", fewshot.LEAVE_ONE_OUT: "cross-validated accuracy",
                 fewshot.K_FOLD: "cross-validated accuracy", fewshot.NOT_ESTIMATED: "accuracy"}


def accuracy_text(result) -> str:
    """"validation accuracy **93.0%**", "cross-validated accuracy **…**", or "accuracy: not estimated"."""
    if result.val_acc is None:
        return "accuracy: **not estimated** (one photo in a class)"
    return f"{ACCURACY_WORD[result.estimated_by]} **{result.val_acc:.1%}**"


def _results_text(result, run_name: str, image_set) -> str:
    if result.val_acc is None:
        lines = [f"### {run_name}: {accuracy_text(result)}"]
    else:
        epoch = (f"best epoch {result.best_epoch} of {len(result.history)}" if result.mode != finetune.FROZEN
                 else f"{len(result.history)} L-BFGS iterations")
        lines = [f"### {run_name}: {accuracy_text(result)} "
                 f"({sum(r['correct'] for r in result.per_class)}/{len(result.val_predictions)} images), {epoch}"]
    lines.append(f"Accuracy {result.estimate_text}. `estimated_by: {result.estimated_by}`")
    if result.stopped:
        lines.append("**Stopped early:** the best model so far is kept.")
    detail = f"{result.train_images} training images, {result.seconds:.1f} s"
    if result.mode == finetune.FROZEN:
        detail += f" (of which {result.feature_seconds:.1f} s computing backbone features, once per image)"
    lines.append(detail + ".")
    if image_set.source.startswith("Oxford-IIIT Pet"):
        from core.pets import ATTRIBUTION

        lines.append(f"<small>Photos: {ATTRIBUTION}.</small>")
    if image_set.skipped:
        lines.append(f"**{datasets.skipped_text(image_set.skipped, examples=4)}**")
    return "\n\n".join(lines)


def _per_class_frame(result) -> pd.DataFrame:
    return pd.DataFrame([{"class": r["class"], "held-out images": r["images"], "correct": r["correct"],
                          "accuracy %": None if r["accuracy"] is None else round(r["accuracy"] * 100, 1)}
                         for r in result.per_class])


def _confusion_frame(result) -> pd.DataFrame:
    frame = pd.DataFrame(result.confusion, columns=list(result.class_names))
    frame.insert(0, "true ↓ / predicted →", list(result.class_names))
    return frame


def _misclassified_gallery(result, val_set) -> list:
    return [(val_set.images[p["index"]],
             f"{result.class_names[p['true']]} → {result.class_names[p['predicted']]} ({p['prob']:.0%})")
            for p in result.misclassified]


def _held_out_text(train_set, val_set, mode) -> str:
    if val_set is not None:
        return f"validating on {len(val_set)} held-out images."
    if min(train_set.counts()) < 2:
        return ("**one photo in a class: nothing can be held out, so no accuracy can be estimated.** "
                "Every photo trains; try the model on new photos in the Classify tab.")
    method = fewshot.estimate_method(train_set.counts())
    return (f"small classes (under {fewshot.SMALL_CLASS} photos): **every photo trains**, and the accuracy is "
            f"estimated by {method if method != fewshot.VALIDATION else fewshot.K_FOLD}.")


def _epoch_text(event: dict, val_set) -> str:
    word = "validation" if val_set is not None else "cross-validated"
    if event["val_acc"] is None:
        return f"Epoch {event['epoch']}: training loss {event['train_loss']:.3f} ({event['seconds']:.1f} s)"
    return (f"Epoch {event['epoch']}: {word} accuracy {event['val_acc']:.1%}, "
            f"loss {event['val_loss']:.3f} ({event['seconds']:.1f} s)")


@friendly_errors
def train_model(view: TrainingView, form: TrainingForm, request=None, progress=None):
    """Train on the chosen data and stream the loss/accuracy curves; then show results and export.

    Yields {component: value} updates: only what changed (the plots and status while training)."""
    from core.trained import keep_session_model

    progress = progress or (lambda *args, **kwargs: None)
    stop = _jobs.start(request)
    history_state = view.form["history"]
    try:
        progress(0, desc="reading the images")
        image_set, train_set, val_set = load_training_data(form, form.mode)
        history = list(form.history or []) if form.overlay else []
        run_number = int(form.runs or 0) + 1
        run_name = f"#{run_number} {form.mode}"
        settings = finetune.TrainSettings(backbone=form.backbone or backbones.BUNDLED_MODEL, mode=form.mode,
                                          epochs=int(form.epochs), seed=int(form.seed))
        header = f"Training **{run_name}** on {train_set.summary()}; {_held_out_text(train_set, val_set, form.mode)}"
        loss, acc = _plots(history)
        yield {view.loss_plot: loss, view.acc_plot: acc, view.status: header, history_state: history}
        result, last_push = None, 0.0
        for event in finetune.train(train_set, val_set, settings, stop=stop):
            if event["event"] == "status":
                progress(event["fraction"], desc=event["message"])
            elif event["event"] == "epoch":
                history.append({"run": run_name, **event})
                progress(event["epoch"] / settings.resolved().epochs, desc=f"epoch {event['epoch']}")
                now = time.monotonic()
                if now - last_push > 0.2 or event["epoch"] == settings.resolved().epochs:
                    last_push = now
                    loss, acc = _plots(history)
                    text = f"{header}\n\n{_epoch_text(event, val_set)}"
                    yield {view.loss_plot: loss, view.acc_plot: acc, view.status: text, history_state: history}
            elif event["event"] == "done":
                result = event["result"]
    finally:
        _jobs.finish(request, stop)
    if stop.visitor_left:  # the page was closed: save nothing that no session would ever clean up
        return

    display_name, path, session_models, session_dir = keep_session_model(
        result, run_name, run_number, form.session_models, form.session_dir)
    loss, acc = _plots(history, finished=True)
    ended = f"Stopped early ({stop.stop_reason()})" if result.stopped else "Done"
    status = (f"**{ended}:** {run_name}, {accuracy_text(result)}. "
              f"It is now in the Classify tab's backbone list as “{display_name} (yours)”.")
    yield {view.loss_plot: loss, view.acc_plot: acc, view.status: status, history_state: history,
           view.results: _results_text(result, run_name, image_set), view.per_class: _per_class_frame(result),
           view.confusion: _confusion_frame(result), view.wrong: _misclassified_gallery(result, val_set or train_set),
           view.export: [path, f"{path}.json"],
           view.last_run: {"class_names": list(result.class_names), "predictions": result.val_predictions,
                           "images": (val_set or train_set).images},
           view.form["runs"]: run_number, view.form["session_models"]: session_models,
           view.form["session_dir"]: session_dir}


def stop_training(request: gr.Request):
    if not _jobs.stop(request):
        return "Nothing is training."
    return "**Stopping** after this batch; the best model so far is kept…"


def confusion_cell(last_run: dict | None, evt: gr.SelectData):
    """The validation images of one confusion-matrix cell (true row, predicted column)."""
    if not last_run or evt is None or evt.index is None:
        return gr.skip(), gr.skip()
    row, column = evt.index[0], evt.index[1] - 1
    names = last_run["class_names"]
    if not (0 <= row < len(names)) or column >= len(names):
        return gr.skip(), gr.skip()
    if column < 0:  # the class-name column: every validation image of that class
        picked = [p for p in last_run["predictions"] if p["true"] == row]
        title = f"all validation images of **{names[row]}**: {len(picked)}"
    else:
        picked = [p for p in last_run["predictions"] if p["true"] == row and p["predicted"] == column]
        title = f"true **{names[row]}**, predicted **{names[column]}**: {len(picked)} image(s)"
    gallery = [(last_run["images"][p["index"]], f"{names[p['true']]} → {names[p['predicted']]} ({p['prob']:.0%})")
               for p in picked]
    return gallery, title


def mode_changed(mode: str):
    return gr.update(value=finetune.DEFAULT_EPOCHS.get(mode, 10))


def source_changed(source: str):
    return [gr.update(visible=source == s) for s in SOURCES]


def missing_input(source, uploads, zip_file, sample_name) -> str | None:
    """What the chosen data source still lacks, in the visitor's words (None when nothing)."""
    if source == UPLOADS and not uploads:
        return "add at least two classes of images first (name, images, Add class)"
    if source == ZIP and not zip_file:
        return "upload a .zip with one folder per class first"
    if source == SAMPLES and not sample_name:
        return "no sample set chosen (the teacher sets a samples folder with --samples DIR)"
    return None


def check_before_training(source, uploads, zip_file, sample_name):
    """Runs before Train, with no outputs: a missing input is said in a message and touches
    nothing else (an error in the training event itself would mark every one of its outputs,
    plots, tables, galleries and download, with an "Error" badge)."""
    problem = missing_input(source, uploads, zip_file, sample_name)
    if problem:
        raise gr.Error(problem[0].upper() + problem[1:] + ".", print_exception=False)


def check_pets_available() -> str:
    from core import pets

    return f"{pets.status_text()}\n\n<small>Photos: {pets.ATTRIBUTION}.</small>"


def build(context) -> None:
    sample_names = datasets.sample_sets()
    lesson_notes("finetune")
    gr.Markdown(
        "Reuse a pretrained network for **your own classes** with a few images each. "
        "**Frozen** mode runs the backbone once per image and trains only a new final layer: fast even on a laptop. "
        "Compare it with **from scratch** (same network, random weights) on the same plot.\n\n"
        f"<small>Limits: uploads up to {MAX_UPLOAD.upper()}; {datasets.limits_text()}; {image_limits_text()}; at most {finetune.MAX_EPOCHS} epochs and "
        f"{MAX_TRAIN_SECONDS // 60} minutes per run (the best model so far is kept). "
        "Non-image files are skipped and listed.</small>")
    uploads = gr.State({})
    history = gr.State([])
    runs = gr.State(0)
    last_run = gr.State(None)
    session_dir = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            gr.Markdown("#### 1 · Data")
            source = gr.Radio(SOURCES, value=ZIP, label="Train on", elem_id="finetune-source")
            with gr.Group(visible=False) as uploads_group:
                class_name = gr.Textbox(label="Class name", placeholder="e.g. cat")
                class_files = gr.File(label="Its images", file_count="multiple", file_types=["image"], height=120,
                                      elem_id="finetune-class-files")
                with gr.Row():
                    add = gr.Button("Add class", variant="secondary", elem_id="finetune-add-class")
                    clear = gr.Button("Remove all classes")
                classes_text = gr.Markdown(_class_list_text({}), elem_id="finetune-classes")
                redraw_webcam = webcam.build(uploads, classes_text, _class_list_text)  # webcam photos, class by class
            with gr.Group(visible=True) as zip_group:
                zip_file = gr.File(label=".zip with one folder per class (e.g. cat/…, dog/…)", file_types=[".zip"],
                                   elem_id="finetune-zip", height=120)
            with gr.Group(visible=False) as samples_group:
                sample = gr.Dropdown(sample_names, value=sample_names[0] if sample_names else None,
                                     label="Sample set",
                                     info=None if sample_names else "none: start the app with --samples DIR "
                                                                    "(or set TLL_SAMPLES_DIR) to offer a class set")
            with gr.Group(visible=False) as pets_group:
                pet_kind = gr.Radio(["cat vs dog", "37 breeds"], value="cat vs dog", label="Oxford-IIIT Pet (CC BY-SA 4.0)")
                pet_per_class = gr.Slider(2, 30, value=10, step=1, label="Images per class")
                pets_note = gr.Markdown()
            with gr.Accordion("Validation", open=False):
                val_split = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label="Held out for validation (per class, at least 1)",
                                      info=f"Frozen mode on classes under {fewshot.SMALL_CLASS} photos holds nothing "
                                           "out: every photo trains, accuracy is cross-validated.")
                val_zip = gr.File(label="…or a separate validation .zip (same class folders)", file_types=[".zip"],
                                  elem_id="finetune-val-zip",
                                  height=100)
        with gr.Column(scale=4):
            gr.Markdown("#### 2 · Training")
            backbone = gr.Dropdown([(c.title, c.name) for c in backbones.CHOICES], value=backbones.BUNDLED_MODEL,
                                   label="Backbone")
            mode = gr.Radio([(title, name) for name, title in finetune.MODE_TITLES.items()], value=finetune.FROZEN,
                            label="Mode", elem_id="finetune-mode")
            with gr.Row():
                epochs = gr.Slider(1, finetune.MAX_EPOCHS, value=finetune.DEFAULT_EPOCHS[finetune.FROZEN], step=1,
                                   label="Epochs", scale=3, elem_id="finetune-epochs")
                seed = gr.Number(0, label="Seed", precision=0, minimum=0, scale=1)
            overlay = gr.Checkbox(True, label="Keep earlier runs on the plot (compare modes)")
            with gr.Row():
                train = gr.Button("Train", variant="primary", elem_id="finetune-train")
                stop = gr.Button("Stop", variant="stop", elem_id="finetune-stop")
            status = gr.Markdown("", elem_id="finetune-status", elem_classes=["tll-status"])
    with gr.Row():
        # Tall enough for the legend of several runs (2 lines each) below the chart.
        loss_plot = gr.LinePlot(None, x="epoch", y="value", color="series", title="Loss",
                                y_title="cross-entropy loss", height=380, elem_id="finetune-loss")
        acc_plot = gr.LinePlot(None, x="epoch", y="value", color="series", title="Accuracy (%)",
                               y_title="accuracy %", y_lim=[0, 100], height=380, elem_id="finetune-accuracy")
    results = gr.Markdown(elem_id="finetune-results")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            # Empty tables with their real headers (not "1 2 3") before any run; wrapped headers, so
            # long class names are read whole.
            confusion = gr.Dataframe(pd.DataFrame(columns=[TEXT["confusion_corner"]]),
                                     label="Confusion matrix (held-out predictions): click a cell to see its images",
                                     interactive=False, wrap=True, elem_id="finetune-confusion",
                                     elem_classes=["tll-table"])
            per_class = gr.Dataframe(pd.DataFrame(columns=TEXT["per_class_headers"]),
                                     label="Per-class accuracy (held-out predictions)", interactive=False, wrap=True,
                                     elem_id="finetune-per-class", elem_classes=["tll-table"])
        with gr.Column(scale=5):
            cell_title = gr.Markdown()
            gallery = dict(columns=4, height="auto", object_fit="contain", allow_preview=True,
                           elem_classes=["tll-gallery"])
            cell_gallery = gr.Gallery(label="Images of the clicked cell", elem_id="finetune-cell", **gallery)
            wrong = gr.Gallery(label="Misclassified held-out images (true → predicted)",
                               elem_id="finetune-misclassified", **gallery)
            export = gr.File(label="Download: the model (.safetensors) and its config (.json)", file_count="multiple",
                             interactive=False, elem_id="finetune-export")
    cam_views.finetune_panel(context.session_models, [wrong, cell_gallery])
    embed_view.build([source, uploads, zip_file, sample, pet_kind, pet_per_class, val_split, val_zip, seed],
                     backbone, context.session_models)

    source.change(source_changed, source, [uploads_group, zip_group, samples_group, pets_group],
                  api_visibility="private")
    source.change(lambda s: check_pets_available() if s == PETS else "", source, pets_note, api_visibility="private")
    add.click(add_class, [class_name, class_files, uploads], [uploads, classes_text, class_name, class_files],
              api_visibility="private").then(**redraw_webcam)
    clear.click(clear_classes, None, [uploads, classes_text], api_visibility="private").then(**redraw_webcam)
    mode.change(mode_changed, mode, epochs, api_visibility="private")

    view = TrainingView(
        form=dict(source=source, uploads=uploads, zip_file=zip_file, sample_name=sample, pet_kind=pet_kind,
                  pet_per_class=pet_per_class, val_split=val_split, val_zip=val_zip, backbone=backbone, mode=mode,
                  epochs=epochs, seed=seed, overlay=overlay, history=history, runs=runs,
                  session_models=context.session_models, session_dir=session_dir),
        loss_plot=loss_plot, acc_plot=acc_plot, status=status, results=results, per_class=per_class,
        confusion=confusion, wrong=wrong, export=export, last_run=last_run)

    def run(values: dict, request: gr.Request, progress=gr.Progress()):
        try:
            yield from paced_updates(train_model(view, view.read(values), request, progress), view)
        finally:
            # A training frees hundreds of MB of activations and copies: give them back to the system.
            release_memory()

    # The check has no outputs, so a missing input marks nothing; training runs only if it passes.
    training = train.click(check_before_training, [source, uploads, zip_file, sample], None, api_visibility="private",
                           concurrency_limit=None, show_progress="hidden") \
        .success(run, view.inputs, view.outputs, api_name="finetune", concurrency_limit=2,
                 concurrency_id="finetune", show_progress="minimal")
    for listener in context.after_training:  # e.g. the Classify tab lists the new model (chained: .then)
        listener(training)
    stop.click(stop_training, None, status, api_name="finetune_stop", concurrency_limit=None, queue=False)
    confusion.select(confusion_cell, last_run, [cell_gallery, cell_title], api_visibility="private")

    from demo.curve import build_curve  # the learning curve panel, on the same data

    build_curve([source, uploads, zip_file, sample, pet_kind, pet_per_class, seed], backbone, load_image_set)
