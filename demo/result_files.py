"""Result files that are never cut short while a visitor is downloading them.

Gradio (6.31) saves a picture an event returns under a name made from its bytes' hash,
GRADIO_CACHE/<sha256>/image.jpeg, with `Path.write_bytes`, which first *truncates* the file.
Visitors who get the same picture back share that one file: 30 students classifying the same
example get the same crop, and everyone opening Feature maps on the default image gets the same grid.
When a second request rewrites the file while the first visitor's download is under way, that
download ends short: the server already sent `Content-Length: 9299`, the file now holds 0 bytes,
and gradio_client fails with "peer closed connection without sending complete message body
(received 0 bytes, expected 9299)" (issue 14: 4 of 102 calls with 20 clients; a reader racing
`save_pil_to_cache` on one image sees a short file in most of 3000 reads).

Here such a file is written once, under a temporary name, and renamed into place (an atomic
replace on POSIX: a reader sees the whole old file or the whole new one). A file that already
exists holds exactly these bytes (its folder is their hash), so it is only touched: `delete_cache`
ages files by ctime, and a reused file must not be deleted on the schedule of its first use.
Gradio's own `save_file_to_cache` already works this way; these two writers did not.
"""
from __future__ import annotations

import inspect
import os
import tempfile
from pathlib import Path

from gradio import processing_utils
from gradio.profiling import traced_sync

_INSTALLED = "_tll_write_once"


def write_once(directory: Path, filename: str, data: bytes) -> str:
    """Write `data` as directory/filename unless that content-named file exists; return its path."""
    directory.mkdir(exist_ok=True, parents=True)
    target = (directory / filename).resolve()
    if target.exists():
        try:
            os.utime(target)
        except OSError:
            pass
        return str(target)
    descriptor, staging = tempfile.mkstemp(dir=directory, prefix=f".{filename}.")
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
        os.chmod(staging, 0o644)  # as write_bytes would have left it (mkstemp makes 0600)
        os.replace(staging, target)
    except BaseException:
        Path(staging).unlink(missing_ok=True)
        raise
    return str(target)


@traced_sync("postprocess_save_pil_to_cache")
def save_pil_to_cache(img, cache_dir: str, name: str = "image", format: str = "webp") -> str:
    data = processing_utils.encode_pil_to_bytes(img, format)
    return write_once(Path(cache_dir) / processing_utils.hash_bytes(data), f"{name}.{format}", data)


@traced_sync("postprocess_save_bytes_to_cache")
def save_bytes_to_cache(data: bytes, file_name: str, cache_dir: str) -> str:
    if not Path(file_name).suffix:
        file_name += processing_utils.detect_audio_format(data)
    return write_once(Path(cache_dir) / processing_utils.hash_bytes(data), Path(file_name).name, data)


def cached_picture(picture, filename: str, format: str, **save_options) -> str:
    """`picture` encoded as `format` into Gradio's cache, written once under its content's hash;
    its path. For a tab that encodes a picture itself (a faster format, or a path re-posted on every
    live update) instead of handing Gradio a PIL image."""
    import io

    from gradio.utils import get_upload_folder

    buffer = io.BytesIO()
    picture.save(buffer, format=format, **save_options)
    data = buffer.getvalue()
    return write_once(Path(get_upload_folder()) / processing_utils.hash_bytes(data), filename, data)


_REPLACEMENTS = {"save_pil_to_cache": save_pil_to_cache, "save_bytes_to_cache": save_bytes_to_cache}


def install() -> bool:
    """Make Gradio's content-named result files write-once (idempotent). False, and Gradio's own
    writers are kept, if this Gradio's functions no longer look like the ones replaced."""
    for name, replacement in _REPLACEMENTS.items():
        original = getattr(processing_utils, name, None)
        if original is None:
            return False
        if getattr(original, _INSTALLED, False):
            continue
        if list(inspect.signature(original).parameters) != list(inspect.signature(replacement).parameters):
            return False
    for name, replacement in _REPLACEMENTS.items():
        setattr(replacement, _INSTALLED, True)
        setattr(processing_utils, name, replacement)
    return True
