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


class ImageLoadError(ValueError):
    """A file that cannot be used as an image; str() is a message for the user."""


def limits_text() -> str:
    return f"images up to {MAX_FILE_BYTES // (1024 * 1024)} MB and {MAX_PIXELS // 1_000_000} megapixels"


def _sniff(head: bytes) -> str | None:
    """Name what a non-image file is, from its first bytes, for a specific message."""
    text = head.lstrip()[:256].lower()
    if head.startswith(b"%PDF"):
        return "a PDF document"
    if b"<svg" in text or (text.startswith(b"<?xml") and b"svg" in head.lower()):
        return "an SVG drawing (vector images are not supported; export it as PNG)"
    if text.startswith((b"<!doctype html", b"<html")) or b"<html" in text:
        return "an HTML page"
    if head.startswith(b"PK\x03\x04"):
        return "a zip archive"
    try:
        head.decode("utf-8")
        if head and all(32 <= b < 127 or b in b"\r\n\t" for b in head[:512]):
            return "a text file"
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
        label = name or "image"
        _check_pixels(source.size, label)
        return _to_rgb(source)
    if isinstance(source, np.ndarray):
        label = name or "image"
        if source.ndim not in (2, 3) or source.size == 0:
            raise ImageLoadError(f"{label}: not an image array (shape {source.shape})")
        _check_pixels((source.shape[1], source.shape[0]), label)
        array = source if source.dtype == np.uint8 else np.clip(source, 0, 255).astype(np.uint8)
        return _to_rgb(Image.fromarray(array))

    if isinstance(source, (bytes, bytearray)):
        data, label = bytes(source), name or "upload"
    else:
        path = Path(source)
        label = name or path.name
        if not path.exists():
            raise ImageLoadError(f"{label}: file not found")
        if path.is_dir():
            raise ImageLoadError(f"{label}: is a folder, not an image")
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ImageLoadError(f"{label}: file is {size / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")
        data = path.read_bytes()
    if not data:
        raise ImageLoadError(f"{label}: the file is empty (0 bytes)")
    if len(data) > MAX_FILE_BYTES:
        raise ImageLoadError(f"{label}: file is {len(data) / 2**20:.1f} MB, over the {MAX_FILE_BYTES // 2**20} MB limit")

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            _check_pixels(image.size, label)
            image.load()
            return _to_rgb(image)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # PIL refuses at open() beyond twice its limit; its message holds the pixel count.
        found = re.search(r"\((\d+) pixels\)", str(error))
        size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too many pixels"
        raise ImageLoadError(f"{label}: image has {size}, over the {MAX_PIXELS // 1_000_000} megapixel limit") from None
    except UnidentifiedImageError:
        kind = _sniff(data[:1024])
        what = f"it is {kind}" if kind else "the format is not recognised"
        raise ImageLoadError(f"{label}: not an image file ({what})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as error:
        reason = str(error) or type(error).__name__
        if "truncated" in reason or isinstance(error, EOFError):
            reason = "the file is truncated (incomplete download?)"
        raise ImageLoadError(f"{label}: corrupt or unreadable image data ({reason})") from None
    except MemoryError:
        raise ImageLoadError(f"{label}: image needs too much memory to decode") from None


def _check_pixels(size: tuple[int, int], label: str) -> None:
    width, height = size
    if width < 1 or height < 1:
        raise ImageLoadError(f"{label}: image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise ImageLoadError(
            f"{label}: image is {width}x{height} pixels, over the {MAX_PIXELS // 1_000_000} megapixel limit"
        )


def content_key(image: Image.Image) -> str:
    """A short hash of an image's pixels (with mode and size): the key of per-image caches."""
    digest = hashlib.sha1(f"{image.mode}{image.size}".encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:20]


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES
