"""The one image loader: odd-but-valid images work, bad files get a specific message."""
from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from core.images import MAX_PIXELS, ImageLoadError, load_image

CHELSEA = "assets/chelsea.png"


def saved(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def photo(mode="RGB", size=(64, 48)) -> Image.Image:
    return Image.open(CHELSEA).convert("RGB").resize(size).convert(mode)


@pytest.mark.parametrize("mode,fmt", [("L", "PNG"), ("LA", "PNG"), ("RGBA", "PNG"), ("CMYK", "JPEG"),
                                      ("P", "GIF"), ("RGB", "WEBP"), ("RGB", "BMP"), ("RGB", "TIFF"),
                                      ("I;16", "PNG"), ("1", "PNG")])
def test_every_mode_becomes_rgb(mode, fmt):
    image = load_image(saved(photo(mode), fmt), name=f"x.{fmt.lower()}")
    assert image.mode == "RGB" and image.size == (64, 48)


def test_sixteen_bit_keeps_its_brightness():
    ramp = (np.linspace(0, 65535, 64 * 48).reshape(48, 64)).astype(np.uint16)
    image = load_image(saved(Image.fromarray(ramp), "PNG"))
    gray = np.asarray(image)[..., 0]
    assert gray.min() <= 1 and gray.max() >= 254  # scaled, not clipped to white


def test_transparency_is_composited_over_white():
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(load_image(saved(clear, "PNG"))).min() == 255
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert np.asarray(load_image(saved(palette, "PNG"))).min() == 255


def test_exif_orientation_is_applied():
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    data = saved(photo(size=(60, 20)), "JPEG", exif=exif)
    assert load_image(data).size == (20, 60)


def test_animated_gif_gives_first_frame():
    frames = [Image.new("RGB", (10, 10), c) for c in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:])
    pixel = load_image(buffer.getvalue()).getpixel((5, 5))
    assert pixel[0] > 200 and pixel[2] < 50


def test_tiny_and_thin_images_work():
    assert load_image(saved(Image.new("RGB", (1, 1)), "PNG")).size == (1, 1)
    assert load_image(saved(Image.new("RGB", (4000, 12)), "PNG")).size == (4000, 12)


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims a huge size, with almost no data: a decompression bomb."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 100)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data,expected", [
    (b"", "empty"),
    (b"hello, this is text\n", "text file"),
    (b"%PDF-1.4\n%...", "PDF"),
    (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>', "SVG"),
    (b"<!DOCTYPE html><html><body>hi</body></html>", "HTML"),
    (bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8)), "not recognised"),
    (png_header_only(30000, 30000), "megapixel limit"),
])
def test_bad_files_get_specific_messages(data, expected):
    with pytest.raises(ImageLoadError) as error:
        load_image(data, name="upload.jpg")
    assert "upload.jpg" in str(error.value) and expected in str(error.value)


def test_truncated_jpeg_is_refused():
    data = saved(photo(size=(200, 150)), "JPEG")
    with pytest.raises(ImageLoadError, match="truncated|corrupt"):
        load_image(data[: len(data) // 2], name="cut.jpg")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(ImageLoadError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageLoadError, match="folder"):
        load_image(tmp_path)


def test_pixel_limit_is_checked_before_decoding():
    side = int(MAX_PIXELS ** 0.5) + 10
    with pytest.raises(ImageLoadError, match="megapixel"):
        load_image(png_header_only(side, side))
