"""Ideal & adversarial images tab: optimise the *image*, not the weights.

Two sub-tabs on the shared core.optvis loop: the ideal image of a class (live filmstrip, p(target)
and total-variation plot, Stop button) and a targeted adversarial image (original | amplified
change | adversarial, top-5 before/after, L-infinity, PSNR, PNG/JPEG survival, transfer).
Layout and wiring only: the optimisation lives in core.ideal and core.attack.
"""
from __future__ import annotations

import functools
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from pathlib import Path

import gradio as gr
import pandas as pd

from core import attack as attack_core
from core import backbones
from core import ideal as ideal_core
from core.imagenet import class_names, localize_top, resolve_class, short_name
from core.images import MAX_FILE_BYTES, MAX_PIXELS, ImageLoadError, load_image
from core.optvis.pixels import to_pil
from core.weights import load_model
from demo import cam_views, example_path
from demo.components import ImageInput, friendly_errors, image_error_text, model_status, weights_badge
from demo.i18n import (
    SAME_IN_DUTCH, T, _fill_at_build, add_strings, load_strings, number, register, request_language, tr)
from demo.jobs import SessionJobs
from demo.notes import lesson_notes
from demo.result_files import cached_picture

ATTACK_EXAMPLES = ["coffee.png", "astronaut.png", "rocket.jpg", "chelsea.png"]
FILMSTRIP_FRAMES = 8
MAX_JOB_SECONDS = int(os.environ.get("TLL_MAX_OPTVIS_SECONDS", "120"))

add_strings(*load_strings("optimize"))  # this tab's English and Dutch: demo/strings/optimize.json
_fill_at_build("optimize.ideal_limits", seconds=MAX_JOB_SECONDS, mb=MAX_FILE_BYTES // 2**20, mp=MAX_PIXELS // 1_000_000)
_fill_at_build("optimize.attack_limits", seconds=MAX_JOB_SECONDS, mb=MAX_FILE_BYTES // 2**20, mp=MAX_PIXELS // 1_000_000)

START_CHOICES = [(T("optimize.start_noise"), "noise"), (T("optimize.start_grey"), "grey"),
                 (T("optimize.start_photo"), "photo")]
MODE_CHOICES = [(T("optimize.mode_robust"), ideal_core.ROBUST), (T("optimize.mode_pixel"), ideal_core.PIXEL)]
# Two different smoothness sliders, two different labels: the ideal image's own total variation
# (core.ideal.IMAGE_TV_UNIT) and the adversarial *change's* (core.attack.CHANGE_TV_UNIT).
IMAGE_TV_LABEL = T("optimize.image_tv")
IMAGE_TV_INFO = T("optimize.image_tv_info")
CHANGE_TV_LABEL = T("optimize.change_tv")
_jobs = SessionJobs("ideal image", MAX_JOB_SECONDS)
_attacks = SessionJobs("attack", MAX_JOB_SECONDS)
# A result PNG lives here only while it is handed to Gradio (which copies it into its own cache for
# the download link): each run deletes its file as soon as Gradio has taken it, so nothing of a
# visitor stays here, and leaving the page never deletes a file a response still needs.
_output_dir = Path(tempfile.mkdtemp(prefix="tll-optvis-"))
_left_lock = threading.Lock()
_left_sessions: OrderedDict[str, None] = OrderedDict()  # visitors who closed the page (most recent)
_LEFT_REMEMBERED = 10_000


def class_label(index: int, lang: str | None = None) -> str:
    """A target class as the dropdown shows it (and filters on): "tiger cat (282)" in English,
    "tijgerkat · tiger cat (282)" in Dutch, so a Dutch page finds a class by either name."""
    english = class_names("en")[index]
    return f"{english} ({index})" if lang != "nl" else f"{class_names('nl')[index]} · {english} ({index})"


@functools.lru_cache(maxsize=None)
def class_choices(lang: str) -> list[tuple[str, str]]:
    """Every ImageNet class as (shown text in `lang`, value). String values: the browser hands them
    back unchanged, and resolve_class reads an index string."""
    return [(class_label(index, lang), str(index)) for index in range(len(class_names("en")))]


def first_class_choices(indices) -> list[tuple]:
    """The few classes a target dropdown holds in the page itself: its default and the quick picks.

    The full list (1000 classes, two languages) would double the page's config (740 KB, sent to every
    visitor and every API client, and deep-copied by the server for each: issue 14). It is sent
    only to a visitor who opens this tab (fill_class_choices), in that visitor's language."""
    return [(T(register(f"imagenet.{index}", en=class_label(index, "en"), nl=class_label(index, "nl"))), str(index))
            for index in dict.fromkeys(indices)]


def fill_class_choices(filled: bool, request: gr.Request = None):
    """The tab was opened: give both target dropdowns every ImageNet class (once per visitor)."""
    if filled:
        return gr.skip(), gr.skip(), True
    choices = gr.update(choices=class_choices(request_language(request)))
    return choices, choices, True


def stop(request: gr.Request = None) -> None:
    _jobs.stop(request)


def stop_attack(request: gr.Request = None) -> None:
    _attacks.stop(request)


def forget_session(request) -> None:
    """The visitor left: their running jobs save nothing from now on (see `_handed_over`)."""
    with _left_lock:
        _left_sessions[SessionJobs.session(request)] = None
        while len(_left_sessions) > _LEFT_REMEMBERED:
            _left_sessions.popitem(last=False)


SessionJobs.cleanups.append(forget_session)


def _visitor_left(request, flag) -> bool:
    with _left_lock:
        return flag.visitor_left or SessionJobs.session(request) in _left_sessions


def _cached_png(picture) -> str:
    """`picture` as a PNG file in Gradio's cache, written once (demo.result_files); its path.

    The live filmstrip re-posts every frame on every update: posting paths, not PIL images, spares
    re-encoding a frame each time (Gradio copies a posted path only when its content is new)."""
    return cached_picture(picture, "image.png", "PNG")


def _handed_over(image, stem: str, request, flag):
    """Generator: save `image` as a PNG, yield its path once, delete it when resumed or closed.

    Gradio resumes an event's generator only after it has post-processed (copied into its
    cache) the value yielded before, so the file is gone once the visitor has their copy. When
    the visitor already left nothing is saved (and nothing yielded)."""
    with _left_lock:
        if flag.visitor_left or SessionJobs.session(request) in _left_sessions:
            return
        # A unique name: two runs (of one visitor or several) never share or overwrite a file.
        path = _output_dir / f"{stem}-{SessionJobs.session(request)[:8]}-{uuid.uuid4().hex[:8]}.png"
        image.save(path, format="PNG")
    try:
        yield str(path)
    finally:
        path.unlink(missing_ok=True)


def _target(value, lang: str | None = None) -> int:
    if value is None or value == "":
        raise gr.Error(tr("optimize.no_target", lang))
    return resolve_class(value)


def _stop_reason(flag, lang: str | None) -> str:
    """demo.jobs' stop reason, in the page's language."""
    if flag.timed_out:
        return tr("optimize.stop_timecap", lang, seconds=number(flag.max_seconds, lang, 0))
    return tr("optimize.stop_pressed", lang)


def _optional_image(path: str | None, what: str, lang: str | None):
    if not path:
        return None
    try:
        return load_image(path)
    except ImageLoadError as error:
        raise gr.Error(f"{what}: {image_error_text(error, lang)}", print_exception=False) from None


@friendly_errors
def run_ideal(target, start, photo_path, mode, tv, steps, seed, request: gr.Request = None):
    """Generator: (image, filmstrip, plot, status, png file) every few steps, then the final result."""
    lang = request_language(request)
    index = _target(target, lang)
    photo = _optional_image(photo_path, tr("optimize.starting_photo", lang), lang)
    if start == "photo" and photo is None:
        raise gr.Error(tr("optimize.no_photo", lang))
    loaded, _ = load_model()  # the bundled model: always there
    flag = _jobs.start(request)
    steps = int(steps)
    options = dict(steps=steps, tv=float(tv), mode=mode, start=start, photo=photo, seed=int(seed),
                   every=max(1, steps // 16))
    started = time.perf_counter()
    try:
        yield from _ideal_updates(loaded, index, options, flag, request, started, lang)
    finally:
        _jobs.finish(request, flag)


def _ideal_updates(loaded, index, options: dict, flag, request, started, lang: str | None = None):
    """The ideal_steps events of `options` (core.ideal.ideal_steps' keywords) as tab updates."""
    name, mode = short_name(index, lang or "en"), options["mode"]
    total_variation = tr("optimize.series_tv", lang)
    frame_every = max(options["every"], options["steps"] // FILMSTRIP_FRAMES)
    filmstrip, history, last = [], [], None
    for progress in ideal_core.ideal_steps(loaded, index, should_stop=flag.is_set, **options):
        last = progress
        picture = _cached_png(to_pil(progress.image))
        if progress.step % frame_every == 0 or progress.finished:
            filmstrip.append((picture, tr("optimize.frame", lang, step=progress.step)))
        if progress.terms:
            history.append({"step": progress.step, "value": progress.terms["prob"], "series": f"p({name})"})
            history.append({"step": progress.step, "value": progress.terms["tv"], "series": total_variation})
        if not progress.finished:
            status = tr("optimize.progress", lang, step=progress.step, steps=progress.steps, name=name,
                        prob=number(progress.terms.get("prob", 0), lang, 3), seconds=number(progress.seconds, lang, 1))
            yield picture, filmstrip[-FILMSTRIP_FRAMES:], pd.DataFrame(history), status, gr.skip()
    if _visitor_left(request, flag):
        return  # the page was closed: nobody will see a result, so make and save none
    result = ideal_core.ideal_result(loaded, last, index, mode, started)
    ended = tr("optimize.stopped", lang, reason=_stop_reason(flag, lang)) if result.stopped else tr("optimize.done", lang)
    status = tr("optimize.final", lang, ended=ended, steps=result.steps_done, seconds=number(result.seconds, lang, 1),
                name=name, prob=number(result.prob, lang, 3), exact=number(result.prob_exact, lang, 3),
                blur=number(result.prob_blur, lang, 3), resize=number(result.prob_resize, lang, 3),
                tv=number(result.total_variation, lang, 3))
    for path in _handed_over(result.image, f"ideal-{index}", request, flag):
        yield _cached_png(result.image), filmstrip[-FILMSTRIP_FRAMES:], pd.DataFrame(history), status, path


def _labels(entries: list[dict], lang: str | None = None) -> dict:
    return {f"{entry['label']} ({entry['index']})": entry["prob"] for entry in localize_top(entries, lang or "en")}


def _label(entry: dict, lang: str | None) -> str:
    """An ImageNet {label, index} entry's label in `lang`."""
    return localize_top([entry], lang or "en")[0]["label"]


def _yes(flag: bool, lang: str | None = None) -> str:
    return tr("optimize.yes" if flag else "optimize.no", lang)


@friendly_errors
def run_attack(image_path, target, eps, steps, tv, method, request: gr.Request = None):
    """Generator (one result): a generator so that its PNG is deleted once Gradio has copied it."""
    lang = request_language(request)
    if not image_path:
        raise gr.Error(tr("optimize.no_attack_photo", lang))
    image = _optional_image(image_path, tr("optimize.photo_error", lang), lang)
    index = _target(target, lang)
    loaded, _ = load_model()  # the bundled model: always there
    flag = _attacks.start(request)
    try:
        result = attack_core.attack(loaded, image, index, eps=int(eps), steps=int(steps), tv=float(tv), method=method,
                                    should_stop=flag.is_set,
                                    transfer_model=attack_core.transfer_backbone(exclude=loaded.name))
    finally:
        _attacks.finish(request, flag)
    if _visitor_left(request, flag):
        return  # the page was closed: nobody will see a result, so save none
    name = short_name(index, lang)
    transfer = (tr("optimize.no_transfer", lang) if result.transfer is None else
                tr("optimize.transfer", lang, backbone=result.transfer["backbone"],
                   fooled=_yes(result.transfer["fooled"], lang), label=_label(result.transfer["after"], lang)))
    stopped = tr("optimize.attack_stopped", lang, reason=_stop_reason(flag, lang)) if flag.is_set() else ""
    report = tr("optimize.report", lang, method=result.method.upper(), eps=result.eps, steps=result.steps_done,
                seconds=number(result.seconds, lang, 2), stopped=stopped,
                fools=_yes(result.fools_png, lang), after=_label(result.after, lang),
                after_prob=number(result.after["prob"], lang, 3),
                fools_jpeg=_yes(result.fools_jpeg, lang), jpeg=_label(result.jpeg_prediction, lang),
                linf=result.linf, psnr=number(result.psnr, lang, 1), name=name,
                p_before=number(result.before["target_prob"], lang, 4),
                p_after=number(result.after["target_prob"], lang, 4), transfer=transfer)
    for path in _handed_over(result.adversarial, "adversarial", request, flag):
        yield (result.original, result.perturbation_image(), result.adversarial, _labels(result.top5_before, lang),
               _labels(result.top5_after, lang), report, path)


def intro_key() -> str:
    """The tab's first line and the bundled model's weights badge, in both languages."""
    def text(lang):
        status = model_status(backbones.BUNDLED_MODEL, backbones.BUNDLED, backbones.BUNDLED_NOTE, lang)
        return tr("optimize.intro_text", lang) + weights_badge(backbones.BUNDLED, status, lang)
    return register("optimize.intro", en=text("en"), nl=text("nl"))


def pick_key(number_: int, pick: str) -> str:
    """A quick-pick button's class name: the Dutch page shows ImageNet's Dutch name."""
    key = register(f"optimize.pick.{number_}", en=pick, nl=short_name(resolve_class(pick), "nl"))
    if tr(key, "en") == tr(key, "nl"):  # "zebra", "flamingo": the same word in both languages
        SAME_IN_DUTCH.add(key)
    return key


def build(context) -> None:
    # Said without loading the model: the page is served first, the model loads in the background.
    gr.Markdown(T(intro_key()))
    lesson_notes("optimize")
    first = first_class_choices([resolve_class(pick) for pick in ideal_core.QUICK_PICKS] + [attack_core.DEFAULT_TARGET])
    with gr.Tabs():
        with gr.Tab(T("optimize.tab_ideal")):
            ideal_target = _build_ideal(first)
        with gr.Tab(T("optimize.tab_attack")):
            attack_target = _build_attack(first)
    filled = gr.State(False)
    context.tab.select(fill_class_choices, filled, [ideal_target, attack_target, filled], api_visibility="private",
                       queue=False)


def _build_ideal(choices) -> gr.Dropdown:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            # allow_custom_value: the server's copy of this dropdown holds only the first few classes (API
            # clients never open the tab), and a typed name is welcome too; resolve_class checks every value.
            target = gr.Dropdown(choices, value=str(resolve_class("tabby cat")), label=T("optimize.target"),
                                 filterable=True, allow_custom_value=True, elem_id="ideal-target")
            with gr.Row():
                picks = [gr.Button(T(pick_key(number_, pick)), size="sm", min_width=60)
                         for number_, pick in enumerate(ideal_core.QUICK_PICKS)]
            mode = gr.Radio(MODE_CHOICES, value=ideal_core.ROBUST, label=T("optimize.mode"))
            start = gr.Radio(START_CHOICES, value="noise", label=T("optimize.start"))
            photo = ImageInput(type="filepath", label=T("optimize.photo"), sources=["upload", "clipboard"], height=160)
            tv = gr.Slider(0, 10, value=ideal_core.DEFAULT_TV, step=0.5, label=IMAGE_TV_LABEL,
                           info=IMAGE_TV_INFO)
            with gr.Row():
                steps = gr.Slider(10, 400, value=ideal_core.DEFAULT_STEPS[ideal_core.ROBUST], step=10, label=T("optimize.steps"),
                                  elem_id="ideal-steps")
                seed = gr.Number(0, precision=0, label=T("optimize.seed"), minimum=0)
            gr.Markdown(T("optimize.ideal_limits"))
        with gr.Column(scale=6):
            # The buttons head the results column: on a phone the results come right under them.
            with gr.Row():
                run = gr.Button(T("optimize.run"), variant="primary", elem_id="ideal-run")
                stop_button = gr.Button(T("optimize.stop"), variant="stop", elem_id="ideal-stop")
            with gr.Row():
                image = gr.Image(label=T("optimize.image"), height=300, interactive=False, elem_id="ideal-image",
                                 format="png")
                # Tall enough for the colour legend under the chart, which names the two lines.
                plot = gr.LinePlot(x="step", y="value", color="series", label=T("optimize.plot"),
                                   title=T("optimize.plot"), x_title=T("optimize.plot_step"),
                                   y_title=T("optimize.plot_value"), color_title=T("optimize.plot_line"), height=380,
                                   elem_id="ideal-plot")
            status = gr.Markdown(T("optimize.status_initial"), elem_id="ideal-status",
                                 elem_classes=["tll-status"])
            # Tiles that wrap onto a second row on a narrow screen, so the last frame is never cut off.
            filmstrip = gr.Gallery(label=T("optimize.filmstrip"), columns=FILMSTRIP_FRAMES, height="auto", allow_preview=False,
                                   elem_id="ideal-filmstrip", format="png", elem_classes=["tll-gallery", "tll-filmstrip"])
            download = gr.File(label=T("optimize.final_image"), interactive=False)
            gr.Markdown(T("optimize.objective"))

    for button, pick in zip(picks, ideal_core.QUICK_PICKS):
        # Set in the browser, no round trip: a Run clicked right after already sees the new class.
        button.click(None, None, target, js=f"() => '{resolve_class(pick)}'", api_visibility="private",
                     queue=False)
    mode.change(lambda m: ideal_core.DEFAULT_STEPS[m], mode, steps, api_visibility="private", queue=False)
    run.click(run_ideal, [target, start, photo, mode, tv, steps, seed], [image, filmstrip, plot, status, download],
              api_name="ideal", concurrency_limit=2, concurrency_id="optvis")
    stop_button.click(stop, None, None, api_name="ideal_stop", queue=False)
    return target


def _build_attack(choices) -> gr.Dropdown:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            source = ImageInput(type="filepath", label=T("optimize.attack_source"), sources=["upload", "webcam", "clipboard"], height=240,
                                elem_id="attack-source")
            gr.Examples([[example_path(name)] for name in ATTACK_EXAMPLES], inputs=[source], label=T("optimize.examples"))
            target = gr.Dropdown(choices, value=str(attack_core.DEFAULT_TARGET), label=T("optimize.attack_target"),
                                 filterable=True, allow_custom_value=True, elem_id="attack-target")
            eps = gr.Slider(1, 16, value=2, step=1, label=T("optimize.eps"), info=T("optimize.eps_info"))
            with gr.Row():
                steps = gr.Slider(1, 100, value=40, step=1, label=T("optimize.attack_steps"))
                tv = gr.Slider(0, 10, value=0, step=0.5, label=CHANGE_TV_LABEL)
            method = gr.Radio([(T("optimize.method_pgd"), attack_core.PGD), (T("optimize.method_fgsm"), attack_core.FGSM)],
                              value=attack_core.PGD, label=T("optimize.method"))
            with gr.Row():
                run = gr.Button(T("optimize.attack_run"), variant="primary", elem_id="attack-run")
                attack_stop = gr.Button(T("optimize.stop"), variant="stop", elem_id="attack-stop")
            gr.Markdown(T("optimize.attack_limits"))
        with gr.Column(scale=6):
            with gr.Row():
                original = gr.Image(label=T("optimize.original"), height=200, interactive=False, format="png")
                change = gr.Image(label=T("optimize.change"), height=200, interactive=False, format="png")
                adversarial = gr.Image(label=T("optimize.adversarial"), height=200, interactive=False, format="png",
                                       elem_id="attack-adversarial")
            with gr.Row():
                before = gr.Label(num_top_classes=5, label=T("optimize.top_before"))
                after = gr.Label(num_top_classes=5, label=T("optimize.top_after"), elem_id="attack-after")
            report = gr.Markdown(elem_id="attack-report")
            download = gr.File(label=T("optimize.attack_file"), interactive=False)
    attacked = run.click(run_attack, [source, target, eps, steps, tv, method],
                         [original, change, adversarial, before, after, report, download],
                         api_name="attack", concurrency_limit=2, concurrency_id="optvis")
    cam_views.attack_panel(attacked, original, adversarial)  # maps before/after, chained: their own queue
    attack_stop.click(stop_attack, None, None, api_name="attack_stop", queue=False)
    return target
