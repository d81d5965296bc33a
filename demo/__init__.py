"""The web app: one `gr.Blocks` builder per tab, assembled here."""
from __future__ import annotations

import dataclasses
import os
import threading
from pathlib import Path

import gradio as gr

ROOT = Path(__file__).resolve().parent.parent
ASSETS = ROOT / "assets"
# Gradio refuses bigger uploads before they reach any tab (the tabs state their own, smaller limits).
MAX_UPLOAD = os.environ.get("TLL_MAX_UPLOAD", "200mb")


@dataclasses.dataclass
class AppContext:
    """What the tabs share: per-visitor state, and components another tab updates."""

    # {display name: path of a .safetensors file} of models this visitor trained (never shared).
    session_models: gr.State
    # The Classify tab's backbone picker (trained models are added to it after each training).
    classify_backbone: gr.Dropdown | None = None
    # The tab being built (its .select: work done only for a visitor who opens it).
    tab: gr.Tab | None = None
    # Callables(training event) that chain a tab's own update to the Fine-tune tab's training
    # (`event.then(...)`): Fine-tune never needs to know other tabs' components.
    after_training: list = dataclasses.field(default_factory=list)


def example_path(name: str) -> str:
    return str(ASSETS / name)


def warm_up(worker=None) -> None:
    """Load the bundled model in this process in the background (the other tabs use it), so the
    page is served at once and a visitor's first click does not wait for it.

    With Classify's model worker (core.model_worker): once it is ready and nobody has classified for
    5 s. Importing torch takes ~3 s of this process's one Python core, which its web server needs
    while a class is clicking (20 clients from the start: p95 3.6 s with the load at once, 2.7 s without).
    A tab that needs the model sooner loads it then (one lock, core.backbones)."""
    def load_and_run_once():
        if worker is not None:
            worker.wait_until_quiet()
        from core.backbones import warm_up as load

        load()
        print(f"* Models ready, {seconds_since_start():.1f} s after the start", flush=True)

    threading.Thread(target=load_and_run_once, name="warm-up", daemon=True).start()


def seconds_since_start() -> float:
    """Seconds since this process started (the server's log says when the models were ready)."""
    import time

    import psutil

    return time.time() - psutil.Process().create_time()


def build_demo() -> gr.Blocks:
    from demo import classify, features, finetune, optimize, result_files
    from demo.i18n import T, language_switch_html, tr

    # Shared result files must never be rewritten in place while someone downloads them (issue 14).
    result_files.install()

    tabs = [("tab.classify", classify.build), ("tab.finetune", finetune.build), ("tab.features", features.build),
            ("tab.optimize", optimize.build)]
    # delete_cache: Gradio's copies of uploads and results older than an hour are removed hourly.
    # The title is the browser's; demo.i18n's head script puts it in the page's language.
    with gr.Blocks(title=tr("app.page_title"), delete_cache=(3600, 3600)) as app:
        with gr.Row(elem_classes=["tll-header"]):
            gr.Markdown(T("app.heading"), elem_id="tll-heading")
            gr.HTML(language_switch_html(), elem_id="tll-language", scale=0, min_width=180)
        gr.Markdown(T("app.intro"), elem_id="tll-intro")
        context = AppContext(session_models=gr.State({}, delete_callback=_forget_session_models))
        # "wrap": on a phone every tab stays in sight on a second row, none hidden behind a "•••" menu.
        with gr.Tabs(overflow_behavior="wrap", elem_id="tll-tabs"):
            for key, build in tabs:
                with gr.Tab(T(key), elem_id=f"tll-{key.replace('.', '-')}") as context.tab:
                    build(context)
        # A visitor closed the page: stop their running jobs (freeing the CPU) and delete their files.
        app.unload(_session_ended)
    return app


def _session_ended(request: gr.Request) -> None:
    from demo.jobs import SessionJobs

    SessionJobs.on_session_end(request)


def _forget_session_models(models: dict) -> None:
    # A visitor left: drop their trained models from memory and disk.
    try:
        from core.trained import forget_trained_models
    except ImportError:
        return
    forget_trained_models(list((models or {}).values()))


# System fonts only: the app runs offline (no web fonts), and these draw "ImageNet" and "offline"
# plainly (the theme's own display font has a mirrored-looking N and an "fl" ligature read as "f|").
FONT_STACK = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "Noto Sans",
              "Liberation Sans", "DejaVu Sans", "sans-serif"]
MONO_STACK = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "DejaVu Sans Mono",
              "monospace"]


def theme() -> gr.themes.Base:
    return gr.themes.Soft(font=FONT_STACK, font_mono=MONO_STACK)


def launch_options(host: str | None = None, port: int | None = None) -> dict:
    from starlette.middleware import Middleware

    from demo.i18n import ChooseLanguageFirst, head_html, i18n

    # Called after build_demo(): the strings the tabs registered while building are included.
    options = dict(
        i18n=i18n(),
        head=head_html(),
        app_kwargs={"middleware": [Middleware(ChooseLanguageFirst)]},
        css_paths=[ASSETS / "style.css"],
        theme=theme(),
        allowed_paths=[str(ASSETS)],
        max_file_size=MAX_UPLOAD,
        footer_links=["api"],
    )
    if host:
        options["server_name"] = host
    if port:
        options["server_port"] = port
    return options
