"""The web app: one `gr.Blocks` builder per tab, assembled here."""
from __future__ import annotations

import dataclasses
import os
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
    # The Classify tab's backbone picker, which the Fine-tune tab adds trained models to.
    classify_backbone: gr.Dropdown | None = None


def example_path(name: str) -> str:
    return str(ASSETS / name)


def warm_up() -> None:
    """Load the bundled model in the background, so the page is served at once and the
    first visitor's click does not wait for it."""
    import threading

    from core.backbones import warm_up as load_and_run_once

    threading.Thread(target=load_and_run_once, name="warm-up", daemon=True).start()


def build_demo() -> gr.Blocks:
    from demo import classify, features, finetune, optimize

    tabs = [("Classify", classify.build), ("Fine-tune", finetune.build), ("Feature maps", features.build),
            ("Ideal & adversarial images", optimize.build)]
    # delete_cache: Gradio's copies of uploads and results older than an hour are removed hourly.
    with gr.Blocks(title="Transfer Learning Lab", delete_cache=(3600, 3600)) as app:
        gr.Markdown(
            "# Transfer Learning Lab\n"
            "How a pretrained convolutional network sees images, and how to reuse it for your own classes."
        )
        context = AppContext(session_models=gr.State({}, delete_callback=_forget_session_models))
        # "wrap": on a phone every tab stays in sight on a second row, none hidden behind a "•••" menu.
        with gr.Tabs(overflow_behavior="wrap", elem_id="tll-tabs"):
            for title, build in tabs:
                with gr.Tab(title):
                    build(context)
        # A visitor closed the page: stop their running jobs (freeing the CPU) and delete their files.
        app.unload(_session_ended)
    return app


def _session_ended(request: gr.Request) -> None:
    from demo.components import SessionJobs

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
    options = dict(
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
