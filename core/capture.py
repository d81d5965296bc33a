"""Webcam frames as training photos: each one checked by the app's image loader (the same limits
as an upload), shrunk, and saved as a JPEG in one visitor's private temporary folder, which is
deleted as a whole when that visitor leaves.

A training set built from these files goes through core.datasets.from_sources like any upload,
so webcam photos and uploaded photos mix freely in one class.
"""
from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from pathlib import Path

from core.images import load_image

FOLDER_PREFIX = "tll-webcam-"
# Frames are kept at most this many pixels a side: twice what training keeps (core.datasets
# KEEP_SIDE), sharp enough for a thumbnail, ~30 KB each as JPEG.
FRAME_SIDE = 640
JPEG_QUALITY = 90


def new_folder() -> Path:
    """A private temporary folder (mode 700, random name) for one visitor's frames."""
    return Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:30] or "class"


def save_frame(frame, folder: str | Path, class_name: str) -> Path:
    """Save one frame (JPEG/PNG bytes, a path, a PIL image or an array) into `folder`.

    Raises core.images.ImageLoadError for anything that is not a usable image."""
    image = load_image(frame, name="webcam frame")
    if max(image.size) > FRAME_SIDE:
        image.thumbnail((FRAME_SIDE, FRAME_SIDE))
    folder = Path(folder)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{_slug(class_name)}-{uuid.uuid4().hex[:10]}.jpg"
    image.save(path, "JPEG", quality=JPEG_QUALITY)
    return path


def is_frame_of(path: str | Path, folder: str | Path | None) -> bool:
    """True when `path` is a frame saved in `folder` (so deleting it is ours to do)."""
    if not folder:
        return False
    try:
        return Path(path).resolve().parent == Path(folder).resolve()
    except OSError:
        return False


def delete_frame(path: str | Path, folder: str | Path | None) -> None:
    """Delete a frame file if it is one of `folder`'s (an uploaded file is Gradio's to delete)."""
    if is_frame_of(path, folder):
        Path(path).unlink(missing_ok=True)


def forget_folder(folder: str | Path | None) -> None:
    """Delete a visitor's frame folder and everything in it."""
    if folder and Path(folder).name.startswith(FOLDER_PREFIX):
        shutil.rmtree(folder, ignore_errors=True)
