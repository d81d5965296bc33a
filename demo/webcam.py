"""Fine-tune tab: photograph each class with the webcam (Teachable Machine style).

Name a class, start the camera, capture photos into the class one click at a time or in a
burst, see them as thumbnails, delete the bad ones, add another class, train. The photos land
in the tab's per-class upload set ({class name: [paths]}) beside uploaded files, so both mix in
one class, and training reads them through the same image loader and limits.

How the camera works here (Gradio 6.31): a streaming gr.Image sends a JPEG frame every
STREAM_EVERY seconds while it records; the server keeps only the latest one in memory. "Capture"
saves that frame; "Burst" saves the next BURST_FRAMES frames as they arrive. Saved frames are
files in the visitor's own temporary folder (core.capture), deleted when they leave the page.
"""
from __future__ import annotations

import base64
import binascii
import threading
import time
from pathlib import Path

import gradio as gr

from core import capture, datasets
from core.images import MAX_FILE_BYTES, ImageLoadError
from demo.components import friendly_errors, image_error_text
from demo.i18n import STRINGS, T, add_strings, load_strings, register, request_language, tr
from demo.jobs import SessionJobs

BURST_FRAMES = 10
STREAM_EVERY = 0.5  # seconds between frames sent by the browser while the camera records
FRESH_SECONDS = 3.0  # a frame older than this means the camera stopped
STREAM_TIME_LIMIT = 900  # seconds of server time per recording (the frames are cheap: a copy each)
MAX_CLASSES = min(datasets.MAX_CLASSES, 20)  # as for uploads, one by one
MIN_ADVISED = 5
ORPHAN_SECONDS = 60  # a saved frame that no class lists for this long is deleted

# Every visible text of the panel, in English and Dutch (demo/i18n.py add_strings).
add_strings(*load_strings("webcam"))  # this tab's English and Dutch: demo/strings/webcam.json
# Numbers known at start-up, in the static texts of both languages.
for _key, _values in {"webcam.intro": dict(burst=BURST_FRAMES), "webcam.burst": dict(burst=BURST_FRAMES)}.items():
    register(_key, **{_lang: _text.format(**_values) for _lang, _text in STRINGS[_key].items()})


# --- the visitor's own folder of frames ------------------------------------------------------

_folders: dict[str, Path] = {}
_folders_lock = threading.Lock()


def session_folder(request, create: bool = True) -> Path | None:
    key = SessionJobs.session(request)
    with _folders_lock:
        folder = _folders.get(key)
        if create and (folder is None or not folder.exists()):
            folder = _folders[key] = capture.new_folder()
        return folder


def forget_session(request) -> None:
    """The visitor left: delete every frame they captured."""
    with _folders_lock:
        folder = _folders.pop(SessionJobs.session(request), None)
    capture.forget_folder(folder)


SessionJobs.cleanups.append(forget_session)


class WebcamFrame(gr.Image):
    """The webcam as a streaming gr.Image whose frames reach the event as raw JPEG bytes.

    Stock gr.Image decodes each frame with PIL (or writes it to Gradio's cache) before our
    function runs; the server here keeps only the latest frame, so it stays encoded until it is
    captured, and then core.images.load_image decodes it with the limits every upload gets."""

    is_template = True  # the browser side is the ordinary Image component

    def preprocess(self, payload):
        if payload is None:
            return None
        url = payload.url or ""
        if url.startswith("data:"):
            if len(url) > MAX_FILE_BYTES * 4 // 3 + 1024:
                raise gr.Error(tr("webcam.frame_too_big", mb=MAX_FILE_BYTES // 2**20))  # no request here: English
            try:
                return base64.b64decode(url.split(",", 1)[1], validate=False)
            except (IndexError, binascii.Error):
                raise gr.Error(tr("webcam.bad_frame")) from None
        if payload.path:
            return str(payload.path)
        return None


# --- event handlers (plain functions of values: testable without a browser) -----------------

def _add_frame(frame, name: str, uploads: dict, request) -> dict:
    lang = request_language(request)
    uploads = dict(uploads or {})
    if not name or name not in uploads:
        raise gr.Error(tr("webcam.no_class", lang))
    if sum(len(files) for files in uploads.values()) >= datasets.MAX_IMAGES:
        raise gr.Error(tr("webcam.too_many_images", lang, most=datasets.MAX_IMAGES))
    try:
        path = capture.save_frame(frame, session_folder(request), name)
    except ImageLoadError as error:
        raise gr.Error(image_error_text(error, lang), print_exception=False) from None
    uploads[name] = list(uploads[name]) + [str(path)]
    return uploads


def _fresh(latest) -> bool:
    return bool(latest) and time.monotonic() - latest[0] <= FRESH_SECONDS


_list_text = lambda uploads, lang=None: ""  # noqa: E731 - the tab's class-list renderer, set by build()


def view(uploads: dict, name: str | None, request=None) -> tuple:
    """What shows the set: (class picker, thumbnails, status, the tab's class list, no selection)."""
    lang = request_language(request)
    uploads = uploads or {}
    names = list(uploads)
    name = name if name in names else (names[-1] if names else None)
    picker = gr.update(choices=names, value=name)
    if name is None:
        return (picker, gr.update(value=[], label=tr("webcam.gallery", lang)), tr("webcam.empty", lang),
                _list_text(uploads, lang), None)
    files = uploads[name]
    folder = session_folder(request, create=False)
    webcam = sum(capture.is_frame_of(path, folder) for path in files)
    note = tr("webcam.count", lang, name=name, count=len(files), webcam=webcam)
    if len(files) < MIN_ADVISED:
        note += tr("webcam.advice", lang, most=MIN_ADVISED)
    gallery = gr.update(value=[(path, str(number)) for number, path in enumerate(files, 1)],
                        label=tr("webcam.gallery_of", lang, name=name))
    return picker, gallery, note, _list_text(uploads, lang), None


VIEW_SIZE = 5
SKIP_VIEW = tuple(gr.skip() for _ in range(VIEW_SIZE))


def on_frame(frame, burst_left: int, name: str, uploads: dict, request: gr.Request = None):
    """Every streamed frame: remember it; during a burst, also add it to the class.
    Returns (latest frame, frames left in the burst, set, *view)."""
    if frame is None:
        return gr.skip(), gr.skip(), gr.skip(), *SKIP_VIEW
    latest = (time.monotonic(), frame)
    if not burst_left:
        return latest, gr.skip(), gr.skip(), *SKIP_VIEW
    try:
        uploads = _add_frame(frame, name, uploads, request)
    except gr.Error as error:  # end the burst, say why, keep the stream running
        picker, gallery, _, listing, selected = view(uploads, name, request)
        return latest, 0, gr.skip(), picker, gallery, f"**{error.message}**", listing, selected
    return latest, int(burst_left) - 1, uploads, *view(uploads, name, request)


def _ready_to_capture(latest, name: str, uploads: dict, lang: str) -> None:
    """A class is chosen and the camera sends frames, or the visitor is told which is missing."""
    if not name or name not in (uploads or {}):
        raise gr.Error(tr("webcam.no_class", lang))
    if not _fresh(latest):
        raise gr.Error(tr("webcam.no_frame", lang))


@friendly_errors
def capture_one(latest, name: str, uploads: dict, request: gr.Request = None):
    _ready_to_capture(latest, name, uploads, request_language(request))
    uploads = _add_frame(latest[1], name, uploads, request)
    return uploads, *view(uploads, name, request)


@friendly_errors
def start_burst(latest, name: str, uploads: dict, request: gr.Request = None):
    lang = request_language(request)
    _ready_to_capture(latest, name, uploads, lang)
    return BURST_FRAMES, tr("webcam.burst_running", lang, count=BURST_FRAMES, name=name)


@friendly_errors
def add_class(name: str, uploads: dict, request: gr.Request = None):
    from demo.finetune import checked_class_name  # the Fine-tune tab's rules and words for class names

    lang = request_language(request)
    uploads = dict(uploads or {})
    name = checked_class_name(name, lang)
    if name in uploads:
        raise gr.Error(tr("webcam.exists", lang, name=name))
    if len(uploads) >= MAX_CLASSES:
        raise gr.Error(tr("webcam.too_many_classes", lang, most=MAX_CLASSES))
    uploads[name] = []
    return uploads, "", *view(uploads, name, request)


def show_class(uploads: dict, name: str, request: gr.Request = None):
    return view(uploads, name, request)


def sync(uploads: dict, name: str, request: gr.Request = None):
    """The set changed elsewhere in the tab (uploads added, "Remove all classes"): redraw, and
    delete the frames no class lists any more."""
    folder = session_folder(request, create=False)
    if folder is not None and folder.exists():
        # Only frames unlisted for a while: a burst may have saved one that this state misses yet.
        kept = {str(Path(p).resolve()) for files in (uploads or {}).values() for p in files}
        for path in folder.iterdir():
            try:
                if str(path.resolve()) not in kept and time.time() - path.stat().st_mtime > ORPHAN_SECONDS:
                    path.unlink(missing_ok=True)
            except OSError:  # deleted meanwhile
                pass
    return view(uploads, name, request)


def pick(evt: gr.SelectData):
    return evt.index if evt is not None else None


@friendly_errors
def delete_selected(selected, name: str, uploads: dict, request: gr.Request = None):
    lang = request_language(request)
    uploads = dict(uploads or {})
    files = list(uploads.get(name) or [])
    if selected is None or not isinstance(selected, int) or not 0 <= selected < len(files):
        raise gr.Error(tr("webcam.select_first", lang))
    capture.delete_frame(files.pop(selected), session_folder(request, create=False))
    uploads[name] = files
    gr.Info(tr("webcam.deleted", lang, number=selected + 1, name=name))
    return uploads, *view(uploads, name, request)


@friendly_errors
def remove_class(name: str, uploads: dict, request: gr.Request = None):
    lang = request_language(request)
    uploads = dict(uploads or {})
    if name not in uploads:
        raise gr.Error(tr("webcam.no_class", lang))
    folder = session_folder(request, create=False)
    for path in uploads.pop(name):
        capture.delete_frame(path, folder)
    gr.Info(tr("webcam.removed", lang, name=name))
    return uploads, *view(uploads, None, request)


# --- layout and wiring ------------------------------------------------------------------------

def build(uploads: gr.State, classes_text: gr.Markdown, class_list_text) -> dict:
    """The webcam panel, inside the Fine-tune tab's "class by class" data source.

    `uploads` is the tab's {class name: [paths]} state; `classes_text` its class list, redrawn
    with `class_list_text(uploads)` whenever the set changes here. Returns the keyword arguments
    of a `.then(...)` that redraws the panel after the tab changes the set itself."""
    latest = gr.State(None)  # (monotonic time, JPEG bytes) of the last streamed frame
    burst_left = gr.State(0)
    selected = gr.State(None)  # index of the clicked thumbnail
    with gr.Accordion(T("webcam.title"), open=True, elem_id="webcam-panel"):
        gr.Markdown(T("webcam.intro"))
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=260):
                camera = WebcamFrame(sources=["webcam"], streaming=True, type="filepath", label=T("webcam.camera"),
                                     height=280, elem_id="webcam-camera", buttons=[],
                                     webcam_options=gr.WebcamOptions(mirror=True))
            with gr.Column(scale=2, min_width=220):
                with gr.Row(equal_height=True):
                    new_name = gr.Textbox(label=T("webcam.new_class"), placeholder=T("webcam.placeholder"), scale=3,
                                          elem_id="webcam-new-class", max_lines=1)
                    add = gr.Button(T("webcam.add"), scale=1, min_width=90, elem_id="webcam-add-class")
                target = gr.Radio([], label=T("webcam.target"), elem_id="webcam-class")
                capture_button = gr.Button(T("webcam.capture"), variant="primary", elem_id="webcam-capture")
                burst = gr.Button(T("webcam.burst"), elem_id="webcam-burst")
                note = gr.Markdown(T("webcam.empty"), elem_id="webcam-status")
        gallery = gr.Gallery(label=T("webcam.gallery"), columns=6, height=240, allow_preview=False, interactive=False,
                             object_fit="cover", elem_id="webcam-gallery")
        with gr.Row():
            delete = gr.Button(T("webcam.delete"), size="sm", elem_id="webcam-delete")
            remove = gr.Button(T("webcam.remove_class"), size="sm", variant="stop", elem_id="webcam-remove-class")

    global _list_text
    _list_text = class_list_text
    shown = [target, gallery, note, classes_text, selected]  # what view() returns
    private = dict(api_visibility="private", show_progress="hidden")
    camera.stream(on_frame, [camera, burst_left, target, uploads], [latest, burst_left, uploads, *shown],
                  stream_every=STREAM_EVERY, time_limit=STREAM_TIME_LIMIT, concurrency_limit=None, **private)
    for trigger in (add.click, new_name.submit):
        trigger(add_class, [new_name, uploads], [uploads, new_name, *shown], **private)
    capture_button.click(capture_one, [latest, target, uploads], [uploads, *shown], **private)
    burst.click(start_burst, [latest, target, uploads], [burst_left, note], **private)
    target.input(show_class, [uploads, target], shown, **private)
    gallery.select(pick, None, selected, **private)
    delete.click(delete_selected, [selected, target, uploads], [uploads, *shown], **private)
    remove.click(remove_class, [target, uploads], [uploads, *shown], **private)
    # For the tab: `event.then(**redraw)` after anything else that changes the set.
    return dict(fn=sync, inputs=[uploads, target], outputs=shown, **private)
