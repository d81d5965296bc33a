"""Small Gradio building blocks shared by the tabs (no tensor math here)."""
from __future__ import annotations

import threading

import gradio as gr
from gradio import processing_utils

from core.images import MAX_FILE_BYTES


class ImageInput(gr.Image):
    """gr.Image that hands the event the uploaded file's path *without opening it*.

    Stock gr.Image decodes the upload with PIL before our function runs, so a broken or
    hostile file fails inside Gradio with a generic error. Here every file reaches
    core.images.load_image, which gives a specific message (and enforces size limits).
    """

    is_template = True  # the browser side is the ordinary Image component
    # (No __init__ override: Gradio reads the component's props from gr.Image's signature.
    # Pass type="filepath" so the API docs describe the input truthfully.)

    def preprocess(self, payload):
        if payload is None:
            return None
        if payload.url and payload.url.startswith("data:"):
            # Base64 is 4/3 of the bytes: refuse an oversized pasted image before decoding it.
            if len(payload.url) > MAX_FILE_BYTES * 4 // 3 + 1024:
                raise gr.Error(f"The pasted image is over the {MAX_FILE_BYTES // 2**20} MB limit.",
                               print_exception=False)
            return processing_utils.save_base64_to_cache(payload.url, cache_dir=self.GRADIO_CACHE)
        if payload.path is None:
            raise gr.Error("The image did not arrive: please upload it again.", print_exception=False)
        return str(payload.path)


def weights_badge(weights: str, text: str) -> str:
    """A coloured tag saying which weights are in use (impossible to miss when random), then the
    details. Plain HTML + CSS (assets/style.css): no emoji, which a classroom PC may lack fonts for."""
    tag = {"bundled": "PRETRAINED · BUNDLED", "hub": "PRETRAINED · HUB", "trained": "YOUR MODEL",
           "random": "RANDOM WEIGHTS"}.get(weights, weights.upper())
    return f'<span class="tll-badge tll-badge-{weights}">{tag}</span> {text}'


def weights_status(weights: str, status: str, fallback: str = "") -> str:
    """The weights badge, after a note when the asked-for weights were replaced by others."""
    text = weights_badge(weights, status)
    return f"**Note:** {fallback}\n\n{text}" if fallback else text


def friendly_errors(fn):
    """Turn anticipated failures into a clear `gr.Error` for the visitor (never a stack trace);
    log anything unexpected with its traceback for whoever runs the server."""
    import functools
    import inspect
    import logging

    log = logging.getLogger(fn.__module__)

    def translate(error: Exception) -> gr.Error:
        # gr.Error prints its traceback in the server log unless told not to (print_exception
        # defaults to True): a message meant for the visitor is not a fault of the server.
        if isinstance(error, gr.Error):
            error.print_exception = False
            return error
        if isinstance(error, (ValueError, RuntimeError, OSError)):
            return gr.Error(str(error) or type(error).__name__, print_exception=False)
        log.exception("unexpected error in %s", fn.__name__)
        return gr.Error(f"Something went wrong ({type(error).__name__}). Please try another input.",
                        print_exception=False)

    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def generator_wrapper(*args, **kwargs):
            try:
                yield from fn(*args, **kwargs)
            except Exception as error:  # noqa: BLE001 - translated for the visitor
                raise translate(error) from None
        return generator_wrapper

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 - translated for the visitor
            raise translate(error) from None
    return wrapper


class JobFlag(threading.Event):
    """A stop flag that is also set by a time cap; `timed_out` tells the two apart."""

    def __init__(self, max_seconds: float):
        super().__init__()
        self.max_seconds = max_seconds
        self.timed_out = False
        self.visitor_left = False  # set when the page was closed: nobody will see the result
        self._timer = threading.Timer(max_seconds, self._time_up)
        self._timer.daemon = True
        self._timer.start()

    def _time_up(self):
        self.timed_out = True
        self.set()

    def close(self):
        self._timer.cancel()

    def stop_reason(self) -> str:
        return f"the {self.max_seconds:.0f} s time cap per job was reached" if self.timed_out else "Stop was pressed"


class SessionJobs:
    """The running long job (training, image optimisation) of each visitor session.

    Stop ends only that visitor's run; every job has a time cap; and when the visitor closes the
    page (`on_session_end`, wired to Blocks.unload) their runs stop, so an abandoned run frees its CPU.
    """

    registry: list["SessionJobs"] = []
    cleanups: list = []  # callables(request) that delete a visitor's files when they leave

    def __init__(self, kind: str, max_seconds: float):
        self.kind, self.max_seconds = kind, max_seconds
        self._flags: dict[str, JobFlag] = {}
        self._lock = threading.Lock()
        SessionJobs.registry.append(self)

    @staticmethod
    def session(request) -> str:
        return getattr(request, "session_hash", None) or "local"

    def start(self, request) -> JobFlag:
        flag = JobFlag(self.max_seconds)
        with self._lock:
            previous = self._flags.get(self.session(request))
            if previous is not None:
                previous.set()  # one long job per visitor and kind: a new run replaces the old one
            self._flags[self.session(request)] = flag
        return flag

    def finish(self, request, flag: JobFlag) -> None:
        flag.close()
        with self._lock:
            if self._flags.get(self.session(request)) is flag:
                self._flags.pop(self.session(request), None)

    def stop(self, request, visitor_left: bool = False) -> bool:
        with self._lock:
            flag = self._flags.get(self.session(request))
        if flag is not None:
            flag.visitor_left = flag.visitor_left or visitor_left
            flag.set()
        return flag is not None

    def running(self) -> int:
        with self._lock:
            return len(self._flags)

    @classmethod
    def on_session_end(cls, request) -> None:
        for jobs in cls.registry:
            jobs.stop(request, visitor_left=True)
        for cleanup in cls.cleanups:
            cleanup(request)
