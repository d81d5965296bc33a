"""Fine-tune tab: your own classes on a pretrained backbone, trained live, with results and export."""
from __future__ import annotations

import dataclasses
import os
import re
import time

import gradio as gr
import pandas as pd

from core import backbones, datasets, training_settings
from core import images as core_images
from core.images import limits_text as image_limits_text
from core.lazy import LazyModule
from core.memory import release_memory
from demo import MAX_UPLOAD, cam_views, embed_view, webcam
from demo.components import backbone_choices, friendly_errors
from demo.i18n import (
    STRINGS, T, add_strings, load_strings, number, percent, register, request_language, tr)
from demo.jobs import SessionJobs
from demo.notes import lesson_notes

# torch: imported at the first training; the page is built from core.training_settings alone.
fewshot = LazyModule("core.fewshot", ready=training_settings)
finetune = LazyModule("core.finetune", ready=training_settings)

# The data sources: the radio's VALUES (what the API takes) stay English; the page shows them translated.
UPLOADS, ZIP, SAMPLES, PETS = "your images, class by class", "a .zip of class folders", "a sample set", \
    "Oxford-IIIT Pet sample (needs the network)"
SOURCES = [UPLOADS, ZIP, SAMPLES, PETS]
SOURCE_KEYS = {UPLOADS: "finetune.source.uploads", ZIP: "finetune.source.zip", SAMPLES: "finetune.source.samples",
               PETS: "finetune.source.pets"}
PET_KINDS = {"cat vs dog": "finetune.pets.cats_dogs", "37 breeds": "finetune.pets.breeds"}

# Every visible text of the tab, in English and Dutch (demo/i18n.py add_strings).
from core.pets import MESSAGES as pets_messages  # noqa: E402 - core.pets' English, beside its Dutch

add_strings(*load_strings("finetune"))  # this tab's English and Dutch: demo/strings/finetune.json
# Strings whose English is core's own text (one source for the UI and the command line).
add_strings({
    "finetune.source.uploads": {"en": UPLOADS, "nl": "je eigen foto's, klasse per klasse"},
    "finetune.source.zip": {"en": ZIP, "nl": "een .zip met een map per klasse"},
    "finetune.source.samples": {"en": SAMPLES, "nl": "een voorbeeldset"},
    "finetune.source.pets": {"en": PETS, "nl": "Oxford-IIIT Pet-voorbeeld (heeft internet nodig)"},
    "finetune.mode.frozen": {"en": finetune.MODE_TITLES[finetune.FROZEN],
                             "nl": "bevroren (kenmerkextractor: alleen een nieuwe laatste laag traint)"},
    "finetune.mode.top": {"en": finetune.MODE_TITLES[finetune.TOP],
                          "nl": "bovenste blokken (de laatste blokken trainen mee, met een lagere leersnelheid)"},
    "finetune.mode.full": {"en": finetune.MODE_TITLES[finetune.FULL],
                           "nl": "volledig bijtrainen (elk gewicht traint; traag op een CPU)"},
    "finetune.mode.scratch": {"en": finetune.MODE_TITLES[finetune.SCRATCH],
                              "nl": "vanaf nul (zelfde netwerk, willekeurige gewichten)"},
    "finetune.est.validation": {"en": fewshot.ESTIMATE_TEXT[fewshot.VALIDATION],
                                "nl": "gemeten op {n} achtergehouden validatiefoto's"},
    "finetune.est.loo": {"en": fewshot.ESTIMATE_TEXT[fewshot.LEAVE_ONE_OUT],
                         "nl": "geschat met leave-one-out-kruisvalidatie: elk van de {n} foto's wordt voorspeld door "
                               "een model dat op alle andere getraind is; het uiteindelijke model traint op alle {n}"},
    "finetune.est.kfold": {"en": fewshot.ESTIMATE_TEXT[fewshot.K_FOLD],
                           "nl": f"geschat met {fewshot.K_FOLDS}-voudige kruisvalidatie: elk van de {{n}} foto's wordt "
                                 "voorspeld door een model dat hem niet gezien heeft; het uiteindelijke model traint op "
                                 "alle {n}"},
    "finetune.est.none": {"en": fewshot.ESTIMATE_TEXT[fewshot.NOT_ESTIMATED],
                          "nl": "niet geschat: met één foto in een klasse blijft er niets over om op te testen. Het "
                                "model traint op alle {n} foto's; probeer het op nieuwe foto's in het tabblad "
                                "Classificeren"},
    "finetune.method.loo": {"en": fewshot.LEAVE_ONE_OUT, "nl": "leave-one-out-kruisvalidatie"},
    "finetune.method.kfold": {"en": fewshot.K_FOLD, "nl": f"{fewshot.K_FOLDS}-voudige kruisvalidatie"},
    "finetune.err.pets_offline": {"en": pets_messages["offline"],
                                  "nl": "het Oxford-IIIT Pet-voorbeeld heeft één keer internet nodig (~{mb} MB): het "
                                        "staat niet op deze computer en HF_HUB_OFFLINE is gezet; gebruik je eigen "
                                        "foto's, een .zip of een map met voorbeelden"},
    "finetune.err.pets_unreachable": {"en": pets_messages["unreachable"],
                                      "nl": "het Oxford-IIIT Pet-voorbeeld heeft één keer internet nodig (~{mb} MB) en "
                                            "de Hugging Face Hub is hiervandaan niet bereikbaar (geen internet?); "
                                            "gebruik je eigen foto's, een .zip of een map met voorbeelden"},
    "finetune.err.pets_pyarrow": {"en": pets_messages["pyarrow"],
                                  "nl": "het Oxford-IIIT Pet-voorbeeld heeft het pakket pyarrow nodig "
                                        "(pip install -r requirements.txt)"},
    "finetune.err.pets_download": {"en": pets_messages["download"],
                                   "nl": "het Oxford-IIIT Pet-voorbeeld kon niet worden gedownload van {repo}: {error}"},
    "finetune.err.pets_unreadable": {"en": pets_messages["unreadable"],
                                     "nl": "het bewaarde Oxford-IIIT Pet-bestand is onleesbaar ({error}); wis het uit "
                                           "de cache van de hub en probeer opnieuw"},
    "finetune.err.pets_per_class": {"en": pets_messages["per_class"],
                                    "nl": "het aantal foto's per klasse moet tussen 2 en {most} liggen"},
})
SKIP_REASONS = {"not an image file": "not_image", "corrupt or unreadable image data": "corrupt",
                "the file is empty": "empty", "broken symbolic link": "symlink", "not a regular file": "not_regular",
                "not inside a class folder": "no_class_folder", "file not found": "not_found",
                "is a folder, not an image": "folder", "image needs too much memory to decode": "memory"}


def _skip_reason(kind: str, lang: str | None) -> str:
    """One kind of reason a file was skipped (core's English words) in the page's language."""
    if kind in SKIP_REASONS:
        return tr(f"finetune.skip.{SKIP_REASONS[kind]}", lang)
    over = re.search(r"over the (\d+) (MB|megapixel) limit", kind)
    if over:
        key, field = ("too_big", "mb") if over.group(2) == "MB" else ("too_many_pixels", "mp")
        return tr(f"finetune.skip.{key}", lang, **{field: over.group(1)})
    return kind


def skipped_text(skipped: list[tuple[str, str]], lang: str | None = None, examples: int = 3) -> str:
    """core.datasets.skipped_text in the page's language (English: core's own words)."""
    if not skipped or not lang or lang == "en":
        return datasets.skipped_text(skipped, examples=examples)
    groups: dict[str, list[str]] = {}
    for name, reason in skipped:
        groups.setdefault(_skip_reason(datasets._reason_kind(name, reason), lang), []).append(name)
    parts = []
    for kind, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(names[:examples]) + (", …" if len(names) > examples else "")
        parts.append(f"{len(names)} × {kind} ({shown})")
    return tr("finetune.skipped", lang, count=len(skipped), parts="; ".join(parts))


def set_summary(image_set: datasets.ImageSet, lang: str | None = None) -> str:
    """ImageSet.summary() in the page's language ("12 foto's in 2 klassen: kat (6), hond (6)")."""
    if not lang or lang == "en":
        return image_set.summary()
    parts = ", ".join(f"{name} ({count})" for name, count in zip(image_set.class_names, image_set.counts()))
    text = tr("finetune.summary", lang, count=len(image_set), classes=len(image_set.class_names), parts=parts)
    return text + (f"; {skipped_text(image_set.skipped, lang)}" if image_set.skipped else "")


def dataset_error(error: datasets.DatasetError, lang: str | None) -> gr.Error:
    """A DatasetError for the visitor, in the page's language: core names its message by a key and
    fields (core stays free of the UI's languages); English, or a message with no key, is core's own."""
    key = getattr(error, "key", None)
    fields = dict(getattr(error, "fields", None) or {})
    names = [f"finetune.err.{key}", f"finetune.{key}"] if key else []
    name = next((n for n in names if n in STRINGS), None)
    if not lang or lang == "en" or name is None:
        return gr.Error(str(error), print_exception=False)
    if "skipped" in fields:
        fields["skipped"] = f" ({skipped_text(fields['skipped'], lang)})" if fields["skipped"] else ""
    try:
        text = tr(name, lang, **fields)
    except (KeyError, IndexError, ValueError):  # a field core did not send: its own words, not a crash
        return gr.Error(str(error), print_exception=False)
    return gr.Error(text, print_exception=False)


def stop_reason(flag, lang: str | None) -> str:
    """demo.jobs.JobFlag.stop_reason() in the page's language."""
    if getattr(flag, "timed_out", False):
        return tr("finetune.reason.time", lang, seconds=number(flag.max_seconds, lang, 0))
    return tr("finetune.reason.pressed", lang)


PLOT_COLUMNS = ["epoch", "value", "series"]
# (validation, training) colour per run: the same hue, darker for validation.
RUN_COLORS = [("#1f77b4", "#9ecae1"), ("#d62728", "#fc9e9c"), ("#2ca02c", "#a1d99b"), ("#9467bd", "#cbb5e0"),
              ("#ff7f0e", "#fdc38d"), ("#8c564b", "#c9a59c"), ("#e377c2", "#f5bfe0"), ("#17becf", "#a6e3eb")]

# One stop flag per visitor session: Stop ends only your run; a time cap ends any run.
MAX_TRAIN_SECONDS = int(os.environ.get("TLL_MAX_TRAIN_SECONDS", "600"))
_jobs = SessionJobs("training", MAX_TRAIN_SECONDS)


def _plots(history: list[dict], finished: bool = False, lang: str | None = None):
    """(loss, accuracy) frames for the two line plots, one series per run and split.

    None while there is nothing to draw: a LinePlot first given an *empty* DataFrame never
    draws its colour legend and series afterwards (Gradio 6.31), one given None does.

    The chart's settings (title, colours, x range) change only when a run is added, never per
    epoch: in Gradio 6.31 a settings change rebuilds the chart from the data it held *before*
    that update (which showed the previous epoch), while a data-only update is drawn as sent.
    `paced_updates` sends new data before new settings, so every rebuild has the current data.
    Runs and series are named in the page's language (`lang`); the history keeps the API's names.
    """
    if not history:
        return None, None
    runs = list(dict.fromkeys(_run_title(row["run"], lang) for row in history))
    train_word, val_word = tr("finetune.split.train", lang), tr("finetune.split.val", lang)
    colors = {}
    for position, run in enumerate(runs):
        dark, light = RUN_COLORS[position % len(RUN_COLORS)]
        colors[f"{run}: {train_word}"], colors[f"{run}: {val_word}"] = light, dark
    loss_rows, acc_rows = [], []
    for row in history:
        for split in ("train", "val"):
            if row[f"{split}_loss"] is None:  # nothing held out (one photo in a class)
                continue
            series = f"{_run_title(row['run'], lang)}: {tr('finetune.split.' + split, lang)}"
            loss_rows.append((row["epoch"], row[f"{split}_loss"], series))
            acc_rows.append((row["epoch"], row[f"{split}_acc"] * 100, series))
    # Whole epochs on the x axis (no "1.000000"): 0 to a multiple of 10, so ticks fall on whole
    # numbers and a first point is not a lone dot in mid-chart; the range grows with the longest run.
    last_epoch = max(row["epoch"] for row in history)
    x_lim = [0, max(10, -(-last_epoch // 10) * 10)]
    title = (tr("finetune.one_run", lang, run=runs[-1]) if len(runs) == 1
             else tr("finetune.runs", lang, count=len(runs), run=runs[-1]))
    common = dict(color_map=colors, x_lim=x_lim, x_axis_format="d", color_title=tr("finetune.series", lang))
    # The y titles: Gradio translates a plot's title but not its axis titles, so they come from here.
    # Titles as plain text: one str per property (a title made of two parts would not be translated whole).
    return (gr.update(value=pd.DataFrame(loss_rows, columns=PLOT_COLUMNS), title=tr("finetune.loss", lang) + title,
                      y_title=tr("finetune.loss_y", lang), **common),
            gr.update(value=pd.DataFrame(acc_rows, columns=PLOT_COLUMNS),
                      title=tr("finetune.accuracy", lang) + title, y_title=tr("finetune.accuracy_y", lang), **common))


def _run_title(run: str, lang: str | None) -> str:
    """"#2 frozen" (a run's name, as the API reports it) in the page's language: "#2 bevroren"."""
    number_part, _, mode = run.partition(" ")
    key = f"finetune.short.{mode}"
    return f"{number_part} {tr(key, lang)}" if key in STRINGS else run


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


def paced_updates(updates, view, lang: str | None = None):
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
            for frame in _replay_frames(history, lang):
                frame_update = {plot: _data_only(value, shown[plot]) for plot, value in zip(plots, frame)}
                frame_update[status] = tr("finetune.replay", lang, epoch=int(frame[0]["value"]["epoch"].max()))
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


def _replay_frames(history: list[dict], lang: str | None = None):
    """(loss, accuracy) updates showing the latest run's first 1, 2, … epochs (earlier runs whole)."""
    if not history:
        return
    latest = history[-1]["run"]
    earlier = [row for row in history if row["run"] != latest]
    mine = [row for row in history if row["run"] == latest]
    step = max(1, -(-len(mine) // REPLAY_FRAMES))
    for count in range(step, len(mine), step):
        yield _plots(earlier + mine[:count], lang=lang)


def _class_list_text(uploads: dict, lang: str | None = None) -> str:
    if not uploads:
        return tr("finetune.no_class_yet", lang)
    lines = [tr("finetune.class_line", lang, name=name, count=len(files)) for name, files in uploads.items()]
    return tr("finetune.class_count", lang, count=len(uploads)) + "\n" + "\n".join(lines)


def checked_class_name(name: str | None, lang: str) -> str:
    """The class name as it will be stored, or the visitor's message saying what is wrong with it."""
    try:
        return datasets.clean_class_name(name or "")
    except datasets.DatasetError as error:
        raise dataset_error(error, lang) from None


@friendly_errors
def add_class(name: str, files, uploads: dict, request: gr.Request = None):
    lang = request_language(request)
    uploads = dict(uploads or {})
    name = checked_class_name(name, lang)
    if not files:
        raise gr.Error(tr("finetune.drop_first", lang, name=name))
    if name not in uploads and len(uploads) >= min(datasets.MAX_CLASSES, 20):
        raise gr.Error(tr("finetune.too_many_uploaded", lang))
    paths = [getattr(f, "name", f) for f in files]
    uploads[name] = list(uploads.get(name, [])) + [str(p) for p in paths]
    total = sum(len(v) for v in uploads.values())
    if total > datasets.MAX_IMAGES:
        raise gr.Error(tr("finetune.image_limit", lang, total=total, most=datasets.MAX_IMAGES))
    return uploads, _class_list_text(uploads, lang), "", None


def clear_classes(request: gr.Request = None):
    return {}, _class_list_text({}, request_language(request))


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


def load_image_set(source, uploads, zip_file, sample_name, pet_kind, pet_per_class, seed) -> datasets.ImageSet:
    """The labelled photos of whichever source is chosen (the learning curve reads them too)."""
    if source == UPLOADS:
        if not uploads:
            raise datasets.DatasetError(tr("finetune.need_classes"), "need_classes")
        image_set = datasets.from_sources({name: list(files) for name, files in uploads.items()}, source="uploads")
    elif source == ZIP:
        if not zip_file:
            raise datasets.DatasetError(tr("finetune.need_zip"), "need_zip")
        image_set = datasets.from_zip(_file_path(zip_file))
    elif source == SAMPLES:
        if not sample_name:
            raise datasets.DatasetError(tr("finetune.need_sample"), "need_sample")
        image_set = datasets.load_sample_set(sample_name)
    elif source == PETS:
        image_set = datasets.oxford_pet_sample(int(pet_per_class), cats_vs_dogs=pet_kind.startswith("cat"),
                                               seed=int(seed))
    else:
        raise datasets.DatasetError(tr("finetune.unknown_source", source=source), "unknown_source", source=source)
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


ACCURACY_WORD = {fewshot.VALIDATION: "finetune.acc.validation", fewshot.LEAVE_ONE_OUT: "finetune.acc.cross",
                 fewshot.K_FOLD: "finetune.acc.cross", fewshot.NOT_ESTIMATED: "finetune.acc.plain"}
ESTIMATE_KEY = {fewshot.VALIDATION: "finetune.est.validation", fewshot.LEAVE_ONE_OUT: "finetune.est.loo",
                fewshot.K_FOLD: "finetune.est.kfold", fewshot.NOT_ESTIMATED: "finetune.est.none"}
METHOD_KEY = {fewshot.LEAVE_ONE_OUT: "finetune.method.loo", fewshot.K_FOLD: "finetune.method.kfold"}


def accuracy_text(result, lang: str | None = None) -> str:
    """"validation accuracy **93.0%**", "cross-validated accuracy **…**", or "accuracy: not estimated"."""
    if result.val_acc is None:
        return tr("finetune.not_estimated", lang)
    return tr("finetune.acc_value", lang, word=tr(ACCURACY_WORD[result.estimated_by], lang),
              value=percent(result.val_acc, lang, 1))


def _estimate_text(result, lang: str | None) -> str:
    """result.estimate_text (how the accuracy was measured) in the page's language."""
    key = ESTIMATE_KEY.get(result.estimated_by)
    if key is None:
        return result.estimate_text
    return tr(key, lang, n=result.train_images if result.estimated_by != fewshot.VALIDATION
              else len(result.val_predictions))


def _results_text(result, run_name: str, image_set, lang: str | None = None) -> str:
    run = _run_title(run_name, lang)
    if result.val_acc is None:
        lines = [tr("finetune.result_head_only", lang, run=run, accuracy=accuracy_text(result, lang))]
    else:
        epoch = (tr("finetune.best_epoch", lang, best=result.best_epoch, count=len(result.history))
                 if result.mode != finetune.FROZEN else tr("finetune.iterations", lang, count=len(result.history)))
        lines = [tr("finetune.result_head", lang, run=run, accuracy=accuracy_text(result, lang),
                    correct=sum(r["correct"] for r in result.per_class), total=len(result.val_predictions),
                    epoch=epoch)]
    # `estimated_by: ...` is the machine value (the API and the tests read it): never translated.
    lines.append(tr("finetune.estimate", lang, how=_estimate_text(result, lang), by=result.estimated_by))
    if result.stopped:
        lines.append(tr("finetune.stopped_kept", lang))
    detail = tr("finetune.detail", lang, count=result.train_images, seconds=number(result.seconds, lang, 1))
    if result.mode == finetune.FROZEN:
        detail += tr("finetune.detail_frozen", lang, seconds=number(result.feature_seconds, lang, 1))
    lines.append(detail + ".")
    if image_set.source.startswith("Oxford-IIIT Pet"):
        from core.pets import ATTRIBUTION

        lines.append(tr("finetune.photos_credit", lang, credit=ATTRIBUTION))
    if image_set.skipped:
        lines.append(f"**{skipped_text(image_set.skipped, lang, examples=4)}**")
    return "\n\n".join(lines)


def _per_class_frame(result, lang: str | None = None) -> pd.DataFrame:
    headers = tr("finetune.per_class_headers", lang).split("|")
    return pd.DataFrame([dict(zip(headers, (r["class"], r["images"], r["correct"],
                                            None if r["accuracy"] is None else round(r["accuracy"] * 100, 1))))
                         for r in result.per_class], columns=headers)


def _confusion_frame(result, lang: str | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(result.confusion, columns=list(result.class_names))
    frame.insert(0, tr("finetune.confusion_corner", lang), list(result.class_names))
    return frame


def _caption(names, prediction: dict, lang: str | None) -> str:
    """A gallery caption: "cat → dog (87%)" (the visitor's class names as typed)."""
    return f"{names[prediction['true']]} → {names[prediction['predicted']]} ({percent(prediction['prob'], lang)})"


def _misclassified_gallery(result, val_set, lang: str | None = None) -> list:
    return [(val_set.images[p["index"]], _caption(result.class_names, p, lang)) for p in result.misclassified]


def _held_out_text(train_set, val_set, mode, lang: str | None = None) -> str:
    if val_set is not None:
        return tr("finetune.validating", lang, count=len(val_set))
    if min(train_set.counts()) < 2:
        return tr("finetune.one_photo", lang)
    method = fewshot.estimate_method(train_set.counts())
    method = method if method != fewshot.VALIDATION else fewshot.K_FOLD
    return tr("finetune.small_classes", lang, small=fewshot.SMALL_CLASS,
              method=tr(METHOD_KEY[method], lang) if method in METHOD_KEY else method)


def _epoch_text(event: dict, val_set, lang: str | None = None) -> str:
    seconds = number(event["seconds"], lang, 1)
    if event["val_acc"] is None:
        return tr("finetune.epoch_loss", lang, epoch=event["epoch"], loss=number(event["train_loss"], lang, 3),
                  seconds=seconds)
    return tr("finetune.epoch_validation" if val_set is not None else "finetune.epoch_cross", lang,
              epoch=event["epoch"], acc=percent(event["val_acc"], lang, 1), loss=number(event["val_loss"], lang, 3),
              seconds=seconds)


def _progress_text(event: dict, lang: str | None) -> str:
    """A core.finetune status event (progress bar text) in the page's language."""
    if event.get("step") == "features":
        return tr("finetune.progress_features", lang, done=event["done"], total=event["total"])
    if event.get("step") == "batch":
        return tr("finetune.progress_batch", lang, epoch=event["epoch"], epochs=event["epochs"],
                  batch=event["batch"], batches=event["batches"])
    return event["message"]


@friendly_errors
def train_model(view: TrainingView, form: TrainingForm, request=None, progress=None):
    """Train on the chosen data and stream the loss/accuracy curves; then show results and export.

    Yields {component: value} updates: only what changed (the plots and status while training)."""
    from core.trained import keep_session_model

    progress = progress or (lambda *args, **kwargs: None)
    lang = request_language(request)
    stop = _jobs.start(request)
    history_state = view.form["history"]
    try:
        progress(0, desc=tr("finetune.reading", lang))
        try:
            image_set, train_set, val_set = load_training_data(form, form.mode)
        except datasets.DatasetError as error:
            raise dataset_error(error, lang) from None
        history = list(form.history or []) if form.overlay else []
        run_number = int(form.runs or 0) + 1
        run_name = f"#{run_number} {form.mode}"  # the API's name; shown as _run_title(run_name, lang)
        settings = finetune.TrainSettings(backbone=form.backbone or backbones.BUNDLED_MODEL, mode=form.mode,
                                          epochs=int(form.epochs), seed=int(form.seed))
        header = tr("finetune.header", lang, run=_run_title(run_name, lang), summary=set_summary(train_set, lang),
                    held_out=_held_out_text(train_set, val_set, form.mode, lang))
        loss, acc = _plots(history, lang=lang)
        yield {view.loss_plot: loss, view.acc_plot: acc, view.status: header, history_state: history}
        result, last_push, epochs = None, 0.0, settings.resolved().epochs
        for event in finetune.train(train_set, val_set, settings, stop=stop):
            if event["event"] == "status":
                progress(event["fraction"], desc=_progress_text(event, lang))
            elif event["event"] == "epoch":
                history.append({"run": run_name, **event})
                progress(event["epoch"] / epochs, desc=tr("finetune.progress_epoch", lang, epoch=event["epoch"]))
                now = time.monotonic()
                if now - last_push > 0.2 or event["epoch"] == epochs:
                    last_push = now
                    loss, acc = _plots(history, lang=lang)
                    text = f"{header}\n\n{_epoch_text(event, val_set, lang)}"
                    yield {view.loss_plot: loss, view.acc_plot: acc, view.status: text, history_state: history}
            elif event["event"] == "done":
                result = event["result"]
    finally:
        _jobs.finish(request, stop)
    if stop.visitor_left:  # the page was closed: save nothing that no session would ever clean up
        return

    display_name, path, session_models, session_dir = keep_session_model(
        result, _run_title(run_name, lang), run_number, form.session_models, form.session_dir)  # named as shown
    loss, acc = _plots(history, finished=True, lang=lang)
    ended = (tr("finetune.stopped_early", lang, reason=stop_reason(stop, lang)) if result.stopped
             else tr("finetune.done", lang))
    status = tr("finetune.finished", lang, ended=ended, run=_run_title(run_name, lang),
                accuracy=accuracy_text(result, lang), name=display_name)
    yield {view.loss_plot: loss, view.acc_plot: acc, view.status: status, history_state: history,
           view.results: _results_text(result, run_name, image_set, lang),
           view.per_class: _per_class_frame(result, lang), view.confusion: _confusion_frame(result, lang),
           view.wrong: _misclassified_gallery(result, val_set or train_set, lang),
           view.export: [path, f"{path}.json"],
           view.last_run: {"class_names": list(result.class_names), "predictions": result.val_predictions,
                           "images": (val_set or train_set).images},
           view.form["runs"]: run_number, view.form["session_models"]: session_models,
           view.form["session_dir"]: session_dir}


def stop_training(request: gr.Request):
    lang = request_language(request)
    return tr("finetune.stopping" if _jobs.stop(request) else "finetune.nothing_training", lang)


def confusion_cell(last_run: dict | None, evt: gr.SelectData, request: gr.Request = None):
    """The validation images of one confusion-matrix cell (true row, predicted column)."""
    if not last_run or evt is None or evt.index is None:
        return gr.skip(), gr.skip()
    row, column = evt.index[0], evt.index[1] - 1
    names = last_run["class_names"]
    lang = request_language(request)
    if not (0 <= row < len(names)) or column >= len(names):
        return gr.skip(), gr.skip()
    if column < 0:  # the class-name column: every validation image of that class
        picked = [p for p in last_run["predictions"] if p["true"] == row]
        title = tr("finetune.cell_all", lang, name=names[row], count=len(picked))
    else:
        picked = [p for p in last_run["predictions"] if p["true"] == row and p["predicted"] == column]
        title = tr("finetune.cell_pair", lang, true=names[row], predicted=names[column], count=len(picked))
    gallery = [(last_run["images"][p["index"]], _caption(names, p, lang)) for p in picked]
    return gallery, title


def mode_changed(mode: str):
    return gr.update(value=finetune.DEFAULT_EPOCHS.get(mode, 10))


def source_changed(source: str):
    return [gr.update(visible=source == s) for s in SOURCES]


def missing_input(source, uploads, zip_file, sample_name, lang: str | None = None) -> str | None:
    """What the chosen data source still lacks, in the visitor's words (None when nothing)."""
    if source == UPLOADS and not uploads:
        return tr("finetune.need_classes", lang)
    if source == ZIP and not zip_file:
        return tr("finetune.need_zip", lang)
    if source == SAMPLES and not sample_name:
        return tr("finetune.need_sample", lang)
    return None


def check_before_training(source, uploads, zip_file, sample_name, request: gr.Request = None):
    """Runs before Train, with no outputs: a missing input is said in a message and touches
    nothing else (an error in the training event itself would mark every one of its outputs,
    plots, tables, galleries and download, with an "Error" badge)."""
    problem = missing_input(source, uploads, zip_file, sample_name, request_language(request))
    if problem:
        raise gr.Error(problem[0].upper() + problem[1:] + ".", print_exception=False)


def check_pets_available(lang: str | None = None) -> str:
    """core.pets.status_text(), in the page's language: is the sample ready, downloadable, or unavailable?"""
    from core import pets

    try:
        status = tr("finetune.pets_ready", lang) if pets.check_available() else \
            tr("finetune.pets_download", lang, mb=pets.DOWNLOAD_MB)
    except datasets.DatasetError as error:
        status = tr("finetune.pets_unavailable", lang, reason=dataset_error(error, lang).message)
    return f"{status}\n\n{tr('finetune.photos_credit', lang, credit=pets.ATTRIBUTION)}"


# The empty tables' headers, in the page's language: Gradio translates no table header, so the tables
# are filled when the page loads (a callable value), by a handler that knows the language.
def _empty_confusion(request: gr.Request = None) -> pd.DataFrame:
    return pd.DataFrame(columns=[tr("finetune.confusion_corner", request_language(request))])


def _empty_per_class(request: gr.Request = None) -> pd.DataFrame:
    return pd.DataFrame(columns=tr("finetune.per_class_headers", request_language(request)).split("|"))


def pets_note_text(source: str, request: gr.Request = None) -> str:
    return check_pets_available(request_language(request)) if source == PETS else ""


def _fill(key: str, **values) -> str:
    """A static string with numbers known at start-up, in both languages."""
    return register(key, **{lang: text.format(**{k: number(v, lang, 0) for k, v in values.items()})
                            for lang, text in _STATIC[key].items()})


_STATIC = {
    "finetune.val_split_info": {
        "en": "Frozen mode on classes under {small} photos holds nothing out: every photo trains, accuracy is "
              "cross-validated.",
        "nl": "Bevroren modus op klassen met minder dan {small} foto's houdt niets achter: elke foto traint mee, de "
              "nauwkeurigheid wordt kruisgevalideerd.",
    },
}


def intro_key() -> str:
    """The tab's introduction with its limits (numbers known at start-up), in both languages."""
    zip_mb, image_mb = datasets.MAX_ZIP_BYTES // 2**20, core_images.MAX_FILE_BYTES // 2**20
    megapixels = core_images.MAX_PIXELS // 1_000_000
    english = (
        "Reuse a pretrained network for **your own classes** with a few images each. "
        "**Frozen** mode runs the backbone once per image and trains only a new final layer: fast even on a laptop. "
        "Compare it with **from scratch** (same network, random weights) on the same plot.\n\n"
        f"<small>Limits: uploads up to {MAX_UPLOAD.upper()}; {datasets.limits_text()}; {image_limits_text()}; at most "
        f"{finetune.MAX_EPOCHS} epochs and {MAX_TRAIN_SECONDS // 60} minutes per run (the best model so far is kept). "
        "Non-image files are skipped and listed.</small>")
    dutch = (
        "Hergebruik een voorgetraind netwerk voor **je eigen klassen**, met een paar foto's per klasse. "
        "De **bevroren** modus laat het basisnetwerk één keer per foto rekenen en traint alleen een nieuwe laatste "
        "laag: snel, zelfs op een laptop. Vergelijk het in dezelfde grafiek met **vanaf nul** (zelfde netwerk, "
        "willekeurige gewichten).\n\n"
        f"<small>Grenzen: uploads tot {MAX_UPLOAD.upper()}; {datasets.MIN_CLASSES}–{datasets.MAX_CLASSES} klassen, "
        f"hoogstens {datasets.MAX_IMAGES} foto's in totaal, zips tot {zip_mb} MB uitgepakt en "
        f"{datasets.MAX_ZIP_MEMBERS} bestanden; afbeeldingen tot {image_mb} MB en {megapixels} megapixel; hoogstens "
        f"{finetune.MAX_EPOCHS} epochs en {MAX_TRAIN_SECONDS // 60} minuten per run (het beste model tot dan toe "
        "blijft bewaard). Bestanden die geen afbeelding zijn, worden overgeslagen en genoemd.</small>")
    return register("finetune.intro", en=english, nl=dutch)


def build(context) -> None:
    sample_names = datasets.sample_sets()
    lesson_notes("finetune")
    gr.Markdown(T(intro_key()))
    uploads = gr.State({})
    history = gr.State([])
    runs = gr.State(0)
    last_run = gr.State(None)
    session_dir = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            gr.Markdown(T("finetune.data"))
            source = gr.Radio([(T(SOURCE_KEYS[value]), value) for value in SOURCES], value=ZIP,
                              label=T("finetune.source"), elem_id="finetune-source")
            with gr.Group(visible=False) as uploads_group:
                class_name = gr.Textbox(label=T("finetune.class_name"), placeholder=T("finetune.class_placeholder"))
                class_files = gr.File(label=T("finetune.class_files"), file_count="multiple", file_types=["image"], height=120,
                                      elem_id="finetune-class-files")
                with gr.Row():
                    add = gr.Button(T("finetune.add_class"), variant="secondary", elem_id="finetune-add-class")
                    clear = gr.Button(T("finetune.clear_classes"))
                classes_text = gr.Markdown(T("finetune.no_class_yet"), elem_id="finetune-classes")
                redraw_webcam = webcam.build(uploads, classes_text, _class_list_text)  # webcam photos, class by class
            with gr.Group(visible=True) as zip_group:
                zip_file = gr.File(label=T("finetune.zip"), file_types=[".zip"],
                                   elem_id="finetune-zip", height=120)
            with gr.Group(visible=False) as samples_group:
                sample = gr.Dropdown(sample_names, value=sample_names[0] if sample_names else None,
                                     label=T("finetune.sample"), info=None if sample_names else T("finetune.no_samples"))
            with gr.Group(visible=False) as pets_group:
                pet_kind = gr.Radio([(T(key), value) for value, key in PET_KINDS.items()], value="cat vs dog",
                                    label=T("finetune.pets"))
                pet_per_class = gr.Slider(2, 30, value=10, step=1, label=T("finetune.pets_per_class"))
                pets_note = gr.Markdown()
            with gr.Accordion(T("finetune.validation"), open=False):
                val_split = gr.Slider(0.05, 0.5, value=0.2, step=0.05, label=T("finetune.val_split"),
                                      info=T(_fill("finetune.val_split_info", small=fewshot.SMALL_CLASS)))
                val_zip = gr.File(label=T("finetune.val_zip"), file_types=[".zip"],
                                  elem_id="finetune-val-zip",
                                  height=100)
        with gr.Column(scale=4):
            gr.Markdown(T("finetune.training"))
            backbone = gr.Dropdown(backbone_choices(), value=backbones.BUNDLED_MODEL,
                                   label=T("finetune.backbone"))
            mode = gr.Radio([(T(f"finetune.mode.{name}"), name) for name in finetune.MODE_TITLES], value=finetune.FROZEN,
                            label=T("finetune.mode"), elem_id="finetune-mode")
            with gr.Row():
                epochs = gr.Slider(1, finetune.MAX_EPOCHS, value=finetune.DEFAULT_EPOCHS[finetune.FROZEN], step=1,
                                   label=T("finetune.epochs"), scale=3, elem_id="finetune-epochs")
                seed = gr.Number(0, label=T("finetune.seed"), precision=0, minimum=0, scale=1)
            overlay = gr.Checkbox(True, label=T("finetune.overlay"))
            with gr.Row():
                train = gr.Button(T("finetune.train"), variant="primary", elem_id="finetune-train")
                stop = gr.Button(T("finetune.stop"), variant="stop", elem_id="finetune-stop")
            status = gr.Markdown("", elem_id="finetune-status", elem_classes=["tll-status"])
    with gr.Row():
        # Tall enough for the legend of several runs (2 lines each) below the chart.
        loss_plot = gr.LinePlot(None, x="epoch", y="value", color="series", title=T("finetune.loss"),
                                y_title=tr("finetune.loss_y"), height=380, elem_id="finetune-loss")
        acc_plot = gr.LinePlot(None, x="epoch", y="value", color="series", title=T("finetune.accuracy"),
                               y_title=tr("finetune.accuracy_y"), y_lim=[0, 100], height=380, elem_id="finetune-accuracy")
    results = gr.Markdown(elem_id="finetune-results")
    with gr.Row(equal_height=False):
        with gr.Column(scale=5):
            # Empty tables with their real headers (not "1 2 3") before any run; wrapped headers, so
            # long class names are read whole.
            confusion = gr.Dataframe(_empty_confusion,
                                     label=T("finetune.confusion"),
                                     interactive=False, wrap=True, elem_id="finetune-confusion",
                                     elem_classes=["tll-table"])
            per_class = gr.Dataframe(_empty_per_class,
                                     label=T("finetune.per_class"), interactive=False, wrap=True,
                                     elem_id="finetune-per-class", elem_classes=["tll-table"])
        with gr.Column(scale=5):
            cell_title = gr.Markdown()
            gallery = dict(columns=4, height="auto", object_fit="contain", allow_preview=True,
                           elem_classes=["tll-gallery"])
            cell_gallery = gr.Gallery(label=T("finetune.cell_gallery"), elem_id="finetune-cell", **gallery)
            wrong = gr.Gallery(label=T("finetune.wrong"),
                               elem_id="finetune-misclassified", **gallery)
            export = gr.File(label=T("finetune.export"), file_count="multiple",
                             interactive=False, elem_id="finetune-export")
    cam_views.finetune_panel(context.session_models, [wrong, cell_gallery])
    # The photos load_image_set reads (the map shows them all: no split, no validation zip).
    embed_view.build([source, uploads, zip_file, sample, pet_kind, pet_per_class, seed], backbone, context.session_models)

    source.change(source_changed, source, [uploads_group, zip_group, samples_group, pets_group],
                  api_visibility="private")
    source.change(pets_note_text, source, pets_note, api_visibility="private")
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
            yield from paced_updates(train_model(view, view.read(values), request, progress), view,
                                     request_language(request))
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

    build_curve([source, uploads, zip_file, sample, pet_kind, pet_per_class, seed], backbone)
