"""The one image loader used by every tab and every CLI command.

Whatever arrives (a path, bytes, a PIL image, a numpy array), the result is an RGB
PIL image with EXIF orientation applied, or an `ImageLoadError` whose message names
the file and says what is wrong with it. Size limits are checked on the header,
before any pixel is decoded, so decompression bombs never reach memory.
"""
from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Limits, overridable by environment for a teacher's own machine.
MAX_FILE_BYTES = int(os.environ.get("TLL_MAX_FILE_MB", "20")) * 1024 * 1024
MAX_PIXELS = int(os.environ.get("TLL_MAX_MEGAPIXELS", "40")) * 1_000_000

# PIL's own bomb guard, set to our limit (it raises at 2x, warns at 1x; we check first anyway).
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
# A truncated file must be an error, not a half-grey picture.
ImageFile.LOAD_TRUNCATED_IMAGES = False

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".jfif", ".ppm", ".pgm"}


# What can be wrong with a file, in English: key -> template. str(ImageLoadError) is
# "<file name>: <filled-in template>" (what the CLI prints); a UI in another language translates the
# error's `key` and `fields` instead (demo.components.image_error_text), so core needs no UI code.
MESSAGES = {
    "not_array": "not an image array (shape {shape})",
    "not_found": "file not found",
    "folder": "is a folder, not an image",
    "too_big": "file is {size_mb} MB, over the {limit_mb} MB limit",
    "empty": "the file is empty (0 bytes)",
    "too_many_pixels": "image has {megapixels} megapixels, over the {limit_mp} megapixel limit",
    "bomb": "image has too many pixels, over the {limit_mp} megapixel limit",
    "pdf": "not an image file (it is a PDF document)",
    "svg": "not an image file (it is an SVG drawing (vector images are not supported; export it as PNG))",
    "html": "not an image file (it is an HTML page)",
    "zip": "not an image file (it is a zip archive)",
    "text": "not an image file (it is a text file)",
    "unknown_format": "not an image file (the format is not recognised)",
    "truncated": "corrupt or unreadable image data (the file is truncated (incomplete download?))",
    "corrupt": "corrupt or unreadable image data ({reason})",
    "memory": "image needs too much memory to decode",
    "no_pixels": "image has no pixels ({width}x{height})",
    "too_large": "image is {width}x{height} pixels, over the {limit_mp} megapixel limit",
}
# The file's name when the caller gave none (also a key: a UI may translate it).
UNNAMED = {"image": "image", "upload": "upload"}


class ImageLoadError(ValueError):
    """A file that cannot be used as an image; str() is an English message for the user.

    `key` (of MESSAGES), `label` (the file's name) and `fields` (numbers as numbers) let a front
    end say the same in another language; `unnamed` tells that `label` is a stand-in (UNNAMED)."""

    def __init__(self, label: str, key: str | None = None, unnamed: bool = False, **fields):
        self.label, self.key, self.unnamed, self.fields = label, key, unnamed, fields
        if key is None:  # a ready message (as when unpickled): shown as it is, in every language
            super().__init__(label)
            return
        english = {name: f"{value:.1f}" if isinstance(value, float) else value for name, value in fields.items()}
        super().__init__(f"{label}: {MESSAGES[key].format(**english)}")


def limits_text() -> str:
    return f"images up to {MAX_FILE_BYTES // (1024 * 1024)} MB and {MAX_PIXELS // 1_000_000} megapixels"


def _sniff(head: bytes) -> str | None:
    """What a non-image file is, from its first bytes (a MESSAGES key), for a specific message."""
    text = head.lstrip()[:256].lower()
    if head.startswith(b"%PDF"):
        return "pdf"
    if b"<svg" in text or (text.startswith(b"<?xml") and b"svg" in head.lower()):
        return "svg"
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return "html"
    if head.startswith(b"PK\x03\x04"):
        return "zip"
    try:
        head.decode("utf-8")
        if head and all(32 <= b < 127 or b in b"\r\n\t" for b in head[:512]):
            return "text"
    except UnicodeDecodeError:
        pass
    return None


def _to_rgb(image: Image.Image) -> Image.Image:
    """Any PIL mode -> 8-bit RGB; transparency is composited over white."""
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # animated GIF/WebP: the first frame
    image = ImageOps.exif_transpose(image)
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F", "I;16N"):
        array = np.asarray(image, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or array.max() > 255 else 255.0
        array = np.clip(array / top * 255.0, 0, 255).astype(np.uint8)
        image = Image.fromarray(array, mode="L")
        mode = "L"
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("LA", "PA", "La", "RGBa"):
        image = image.convert("RGBA")
    if image.mode == "RGBA":
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, image)
    return image.convert("RGB")


def load_image(source, name: str | None = None) -> Image.Image:
    """Load `source` (path, bytes, PIL image or HxWxC uint8 array) as an RGB PIL image.

    Raises ImageLoadError with a message naming the file and the reason.
    """
    if isinstance(source, Image.Image):
        label, unnamed = name or UNNAMED["image"], not name
        _check_pixels(source.size, label, unnamed)
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        label, unnamed = name or UNNAMED["image"], not name
        if source.ndim not in (2, 3) or source.size == 0:
            raise ImageLoadError(label, "not_array", unnamed, shape=source.shape)
        _check_pixels((source.shape[1], source.shape[0]), label, unnamed)
        array = source if source.dtype == np.uint8 else np.clip(source, 0, 255).astype(np.uint8)
        return _to_rgb(Image.fromarray(array))

    if isinstance(source, (bytes, bytearray)):
        data, label, unnamed = bytes(source), name or UNNAMED["upload"], not name
    else:
        path = Path(source)
        label, unnamed = name or path.name, False
        if not path.exists():
            raise ImageLoadError(label, "not_found", unnamed)
        if path.is_dir():
            raise ImageLoadError(label, "folder", unnamed)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageLoadError(label, "too_big", unnamed, size_mb=size / 2**20, limit_mb=MAX_FILE_BYTES // 2**20)
        data = path.read_bytes()
    if not data:
        raise ImageLoadError(label, "empty", unnamed)
    if len(data) > MAX_FILE_BYTES:
        raise ImageLoadError(label, "too_big", unnamed, size_mb=len(data) / 2**20, limit_mb=MAX_FILE_BYTES // 2**20)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_pixels(image.size, label, unnamed)
            image.load()
            return _to_rgb(image)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # PIL refuses at open() beyond twice its limit; its message holds the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(error))
        limit_mp = MAX_PIXELS // 1_000_000
        if found:
            raise ImageLoadError(label, "too_many_pixels", unnamed, megapixels=round(int(found.group(1)) / 1e6),
                                 limit_mp=limit_mp) from None
        raise ImageLoadError(label, "bomb", unnamed, limit_mp=limit_mp) from None
    except UnidentifiedImageError:
        raise ImageLoadError(label, _sniff(data[:1024]) or "unknown_format", unnamed) from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        reason = str(error) or type(error).__name__
        if "truncated" in reason or isinstance(error, EOFError):
            raise ImageLoadError(label, "truncated", unnamed) from None
        raise ImageLoadError(label, "corrupt", unnamed, reason=reason) from None  # PIL's own words
    except MemoryError:
        raise ImageLoadError(label, "memory", unnamed) from None


def _check_pixels(size: tuple[int, int], label: str, unnamed: bool = False) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageLoadError(label, "no_pixels", unnamed, width=width, height=height)
    if width * height > MAX_PIXELS:
        raise ImageLoadError(label, "too_large", unnamed, width=width, height=height, limit_mp=MAX_PIXELS // 1_000_000)


def content_key(image: Image.Image) -> str:
    """A short hash of an image's pixels (with mode and size): the key of per-image caches."""
    digest = hashlib.sha1(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:20]


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
