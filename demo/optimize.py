"""Ideal & adversarial images tab: optimise the *image*, not the weights.

Two sub-tabs on the shared core.optvis loop: the ideal image of a class (live filmstrip, p(target)
and total-variation plot, Stop button) and a targeted adversarial image (original | amplified
change | adversarial, top-5 before/after, L-infinity, PSNR, PNG/JPEG survival, transfer).
Layout and wiring only: the optimisation lives in core.ideal and core.attack.
"""
from __future__ import annotations

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
from core.imagenet import class_names, resolve_class, short_name
from core.images import ImageLoadError, limits_text, load_image
from core.optvis.pixels import to_pil
from core.weights import load_model
from demo import cam_views, example_path
from demo.components import ImageInput, friendly_errors, weights_badge
from demo.jobs import SessionJobs
from demo.notes import lesson_notes

ATTACK_EXAMPLES = ["coffee.png", "astronaut.png", "rocket.jpg", "chelsea.png"]
START_CHOICES = [("noise", "noise"), ("grey", "grey"), ("your photo", "photo")]
MODE_CHOICES = [("robust (Fourier colours + random jitter, scale, rotation)", ideal_core.ROBUST),
                ("plain pixels (the lesson: why it gives noise)", ideal_core.PIXEL)]
FILMSTRIP_FRAMES = 8
# Two different smoothness sliders, two different labels: the ideal image's own total variation
# (core.ideal.IMAGE_TV_UNIT) and the adversarial *change's* (core.attack.CHANGE_TV_UNIT).
IMAGE_TV_LABEL = "Smoothness of the image (total-variation weight)"
IMAGE_TV_INFO = "0 = off: plain pixels give colour noise; higher = smoother shapes, less detail"
CHANGE_TV_LABEL = "Smoothness of the change (total-variation weight)"

MAX_JOB_SECONDS = int(os.environ.get("TLL_MAX_OPTVIS_SECONDS", "120"))
_jobs = SessionJobs("ideal image", MAX_JOB_SECONDS)
_attacks = SessionJobs("attack", MAX_JOB_SECONDS)
# A result PNG lives here only while it is handed to Gradio (which copies it into its own cache for
# the download link): each run deletes its file as soon as Gradio has taken it, so nothing of a
# visitor stays here, and leaving the page never deletes a file a response still needs.
_output_dir = Path(tempfile.mkdtemp(prefix="tll-optvis-"))
_left_lock = threading.Lock()
_left_sessions: OrderedDict[str, None] = OrderedDict()  # visitors who closed the page (most recent)
_LEFT_REMEMBERED = 10_000


def class_choices() -> list[tuple[str, str]]:
    """Every ImageNet class, searchable in the dropdown by any of its synonyms.

    Shown through gr.I18n (the dropdown filters on the shown text): "tiger cat (282)" in English,
    "tijgerkat · tiger cat (282)" in Dutch, so a Dutch page finds a class by either name."""
    from demo.i18n import T, register

    english, dutch = class_names("en"), class_names("nl")
    # String values: the browser hands them back unchanged, and resolve_class reads an index string.
    return [(T(register(f"imagenet.{index}", en=f"{name} ({index})", nl=f"{dutch[index]} · {name} ({index})")),
             str(index)) for index, name in enumerate(english)]


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
    """`picture` as a PNG file in Gradio's cache, written once and atomically; its path.

    Posted as a PIL image, a picture is re-encoded and its cache file rewritten in place on
    every update (gradio.processing_utils.save_pil_to_cache), and the live filmstrip re-posts
    every frame on every update: a browser fetching a frame while it was rewritten got a
    truncated file (h11 "Too little data for declared Content-Length" in the server log).
    Gradio copies a posted *path* only when its content is not cached yet, so post paths."""
    import io

    from gradio.processing_utils import hash_bytes
    from gradio.utils import get_upload_folder

    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    data = buffer.getvalue()
    folder = Path(get_upload_folder()) / hash_bytes(data)
    path = folder / "image.png"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        staging = folder / f".image-{uuid.uuid4().hex}.png"
        staging.write_bytes(data)
        os.replace(staging, path)
    return str(path)


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


def _target(value) -> int:
    if value is None or value == "":
        raise gr.Error("Pick a target class (type to search, e.g. 'tabby').")
    return resolve_class(value)


def _optional_image(path: str | None, what: str):
    if not path:
        return None
    try:
        return load_image(path)
    except ImageLoadError as error:
        raise gr.Error(f"{what}: {error}") from None


@friendly_errors
def run_ideal(target, start, photo_path, mode, tv, steps, seed, request: gr.Request = None):
    """Generator: (image, filmstrip, plot, status, png file) every few steps, then the final result."""
    index = _target(target)
    photo = _optional_image(photo_path, "Starting photo")
    if start == "photo" and photo is None:
        raise gr.Error("Start 'your photo' needs an uploaded photo (or pick noise or grey).")
    loaded, _ = load_model()  # the bundled model: always there
    flag = _jobs.start(request)
    steps = int(steps)
    options = dict(steps=steps, tv=float(tv), mode=mode, start=start, photo=photo, seed=int(seed),
                   every=max(1, steps // 16))
    started = time.perf_counter()
    try:
        yield from _ideal_updates(loaded, index, options, flag, request, started)
    finally:
        _jobs.finish(request, flag)


def _ideal_updates(loaded, index, options: dict, flag, request, started):
    """The ideal_steps events of `options` (core.ideal.ideal_steps' keywords) as tab updates."""
    name, mode = short_name(index), options["mode"]
    frame_every = max(options["every"], options["steps"] // FILMSTRIP_FRAMES)
    filmstrip, history, last = [], [], None
    for progress in ideal_core.ideal_steps(loaded, index, should_stop=flag.is_set, **options):
        last = progress
        picture = _cached_png(to_pil(progress.image))
        if progress.step % frame_every == 0 or progress.finished:
            filmstrip.append((picture, f"step {progress.step}"))
        if progress.terms:
            history.append({"step": progress.step, "value": progress.terms["prob"], "series": f"p({name})"})
            history.append({"step": progress.step, "value": progress.terms["tv"], "series": "total variation"})
        if not progress.finished:
            status = (f"Step **{progress.step}/{progress.steps}** · p({name}) = "
                      f"**{progress.terms.get('prob', 0):.3f}** · {progress.seconds:.1f} s")
            yield picture, filmstrip[-FILMSTRIP_FRAMES:], pd.DataFrame(history), status, gr.skip()
    if _visitor_left(request, flag):
        return  # the page was closed: nobody will see a result, so make and save none
    result = ideal_core.ideal_result(loaded, last, index, mode, started)
    status = (f"**{'Stopped (' + flag.stop_reason() + ')' if result.stopped else 'Done'}** after {result.steps_done} steps in "
              f"{result.seconds:.1f} s. Saved as an 8-bit PNG and re-measured: p({name}) = **{result.prob:.3f}** "
              f"as a photo is read (resized and cropped), **{result.prob_exact:.3f}** pixel for pixel "
              f"· after blur σ=1: **{result.prob_blur:.3f}** · after 2× down-up resize: **{result.prob_resize:.3f}** "
              f"· total variation {result.total_variation:.3f}")
    for path in _handed_over(result.image, f"ideal-{index}", request, flag):
        yield _cached_png(result.image), filmstrip[-FILMSTRIP_FRAMES:], pd.DataFrame(history), status, path


def _labels(entries: list[dict]) -> dict:
    return {f"{entry['label']} ({entry['index']})": entry["prob"] for entry in entries}


def _yes(flag: bool) -> str:
    return "**yes**" if flag else "**no**"


@friendly_errors
def run_attack(image_path, target, eps, steps, tv, method, request: gr.Request = None):
    """Generator (one result): a generator so that its PNG is deleted once Gradio has copied it."""
    if not image_path:
        raise gr.Error("Upload a photo (or click an example) to attack.")
    image = _optional_image(image_path, "Photo")
    index = _target(target)
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
    name = short_name(index)
    transfer = ("no second backbone's weights are available here (offline), so transfer is not tested"
                if result.transfer is None else
                f"{result.transfer['backbone']}: {_yes(result.transfer['fooled'])} "
                f"(it says {result.transfer['after']['label']})")
    stopped = f" · **stopped** ({flag.stop_reason()})" if flag.is_set() else ""
    report = (
        f"**{result.method.upper()}**, ε = {result.eps} levels, {result.steps_done} step(s), {result.seconds:.2f} s{stopped}\n\n"
        f"| Check | Result |\n|---|---|\n"
        f"| Fools the model (PNG written and re-read) | {_yes(result.fools_png)}: {result.after['label']} "
        f"({result.after['prob']:.3f}) |\n"
        f"| Still fools after JPEG re-encoding (quality 90) | {_yes(result.fools_jpeg)}: "
        f"{result.jpeg_prediction['label']} |\n"
        f"| Largest change L∞ | {result.linf} of 255 levels |\n"
        f"| PSNR | {result.psnr:.1f} dB |\n"
        f"| p({name}) before → after | {result.before['target_prob']:.4f} → {result.after['target_prob']:.4f} |\n"
        f"| Transfer to a second backbone | {transfer} |"
    )
    for path in _handed_over(result.adversarial, "adversarial", request, flag):
        yield (result.original, result.perturbation_image(), result.adversarial, _labels(result.top5_before),
               _labels(result.top5_after), report, path)


def build(context) -> None:
    # Said without loading the model: the page is served first, the model loads in the background.
    gr.Markdown(
        "Optimise the **image**, not the weights: the network is frozen and gradient ascent changes pixels. "
        + weights_badge(backbones.BUNDLED, backbones.status_text(backbones.BUNDLED_MODEL, backbones.BUNDLED,
                                                                 backbones.BUNDLED_NOTE)))
    lesson_notes("optimize")
    choices = class_choices()
    with gr.Tabs():
        with gr.Tab("Ideal image"):
            _build_ideal(choices)
        with gr.Tab("Adversarial image"):
            _build_attack(choices)


def _build_ideal(choices) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            target = gr.Dropdown(choices, value=str(resolve_class("tabby cat")), label="Target class (type to search)",
                                 filterable=True, elem_id="ideal-target")
            with gr.Row():
                picks = [gr.Button(pick, size="sm", min_width=60) for pick in ideal_core.QUICK_PICKS]
            mode = gr.Radio(MODE_CHOICES, value=ideal_core.ROBUST, label="Mode")
            start = gr.Radio(START_CHOICES, value="noise", label="Start from")
            photo = ImageInput(type="filepath", label="Starting photo (for 'your photo')", sources=["upload", "clipboard"], height=160)
            tv = gr.Slider(0, 10, value=ideal_core.DEFAULT_TV, step=0.5, label=IMAGE_TV_LABEL,
                           info=IMAGE_TV_INFO)
            with gr.Row():
                steps = gr.Slider(10, 400, value=ideal_core.DEFAULT_STEPS[ideal_core.ROBUST], step=10, label="Steps",
                                  elem_id="ideal-steps")
                seed = gr.Number(0, precision=0, label="Seed", minimum=0)
            gr.Markdown(f"<small>At most 400 steps and {MAX_JOB_SECONDS} s per run; starting photo: "
                        f"{limits_text()}.</small>")
        with gr.Column(scale=6):
            # The buttons head the results column: on a phone the results come right under them.
            with gr.Row():
                run = gr.Button("Make the ideal image", variant="primary", elem_id="ideal-run")
                stop_button = gr.Button("Stop", variant="stop", elem_id="ideal-stop")
            with gr.Row():
                image = gr.Image(label="Current image", height=300, interactive=False, elem_id="ideal-image",
                                 format="png")
                # Tall enough for the colour legend under the chart, which names the two lines.
                plot = gr.LinePlot(x="step", y="value", color="series", label="p(target) and total variation",
                                   title="p(target) and total variation", color_title="line", height=380,
                                   elem_id="ideal-plot")
            status = gr.Markdown("Pick a class and press *Make the ideal image*.", elem_id="ideal-status",
                                 elem_classes=["tll-status"])
            # Tiles that wrap onto a second row on a narrow screen, so the last frame is never cut off.
            filmstrip = gr.Gallery(label="Filmstrip", columns=FILMSTRIP_FRAMES, height="auto", allow_preview=False,
                                   elem_id="ideal-filmstrip", format="png", elem_classes=["tll-gallery", "tll-filmstrip"])
            download = gr.File(label="The final image (8-bit PNG)", interactive=False)
            gr.Markdown(
                "<small>Objective: the class's pre-softmax **logit** minus the TV weight × total variation. "
                "Maximising the probability instead lets the optimiser win by suppressing the other 999 classes, "
                "which noise does best. Plain pixels reach a high score with noise the network happens to like; "
                "the robust mode must survive random shifts, zooms, rotations and blurs, so only recognisable "
                "textures work.</small>")

    for button, pick in zip(picks, ideal_core.QUICK_PICKS):
        # Set in the browser, no round trip: a Run clicked right after already sees the new class.
        button.click(None, None, target, js=f"() => '{resolve_class(pick)}'", api_visibility="private",
                     queue=False)
    mode.change(lambda m: ideal_core.DEFAULT_STEPS[m], mode, steps, api_visibility="private", queue=False)
    run.click(run_ideal, [target, start, photo, mode, tv, steps, seed], [image, filmstrip, plot, status, download],
              api_name="ideal", concurrency_limit=2, concurrency_id="optvis")
    stop_button.click(stop, None, None, api_name="ideal_stop", queue=False)


def _build_attack(choices) -> None:
    with gr.Row(equal_height=False):
        with gr.Column(scale=4):
            source = ImageInput(type="filepath", label="Photo to attack", sources=["upload", "webcam", "clipboard"], height=240,
                                elem_id="attack-source")
            gr.Examples([[example_path(name)] for name in ATTACK_EXAMPLES], inputs=[source], label="Examples")
            target = gr.Dropdown(choices, value=str(attack_core.DEFAULT_TARGET), label="Make the model see (type to search)",
                                 filterable=True, elem_id="attack-target")
            eps = gr.Slider(1, 16, value=2, step=1, label="Budget ε (pixel levels of 255)",
                            info="every pixel changes by at most this much")
            with gr.Row():
                steps = gr.Slider(1, 100, value=40, step=1, label="Steps (PGD stops early once it fools)")
                tv = gr.Slider(0, 10, value=0, step=0.5, label=CHANGE_TV_LABEL)
            method = gr.Radio([("targeted PGD", attack_core.PGD), ("one-step FGSM", attack_core.FGSM)],
                              value=attack_core.PGD, label="Method")
            with gr.Row():
                run = gr.Button("Attack", variant="primary", elem_id="attack-run")
                attack_stop = gr.Button("Stop", variant="stop", elem_id="attack-stop")
            gr.Markdown(f"<small>At most 100 steps and {MAX_JOB_SECONDS} s per attack; {limits_text()}.</small>")
        with gr.Column(scale=6):
            with gr.Row():
                original = gr.Image(label="Original crop", height=200, interactive=False, format="png")
                change = gr.Image(label="Change (amplified)", height=200, interactive=False, format="png")
                adversarial = gr.Image(label="Adversarial", height=200, interactive=False, format="png",
                                       elem_id="attack-adversarial")
            with gr.Row():
                before = gr.Label(num_top_classes=5, label="Top-5 before")
                after = gr.Label(num_top_classes=5, label="Top-5 after (PNG re-read)", elem_id="attack-after")
            report = gr.Markdown(elem_id="attack-report")
            download = gr.File(label="Adversarial image (8-bit PNG)", interactive=False)
    attacked = run.click(run_attack, [source, target, eps, steps, tv, method],
                         [original, change, adversarial, before, after, report, download],
                         api_name="attack", concurrency_limit=2, concurrency_id="optvis")
    cam_views.attack_panel(attacked, original, adversarial)  # maps before/after, chained: their own queue
    attack_stop.click(stop_attack, None, None, api_name="attack_stop", queue=False)
