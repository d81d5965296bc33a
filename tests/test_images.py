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
    # Black, quarter, mid, three-quarter grey, white in 16 bits: each keeps its level in 8 bits.
    # (Clipping to 0-255, Pillow's default, turns everything but black white.)
    levels = np.array([0, 16384, 32768, 49152, 65535], dtype=np.uint16)
    image = load_image(saved(Image.fromarray(np.tile(levels, (8, 1))), "PNG"))
    gray = np.asarray(image)[0, :, :].astype(int)
    assert np.abs(gray - np.array([0, 64, 128, 191, 255])[:, None]).max() <= 1, gray


def test_sixteen_bit_corpus_file_is_the_photo_in_grey():
    from tests.corpus import _photo, odd_valid_files

    expected = np.asarray(_photo().convert("L"), dtype=int)
    loaded = np.asarray(load_image(odd_valid_files()["sixteen_bit.png"], name="sixteen_bit.png"), dtype=int)
    assert loaded.shape == (*expected.shape, 3)
    assert np.abs(loaded[..., 0] - expected).max() <= 1  # the same grey picture, not a white sheet


def test_transparency_is_composited_over_white():
    clear = Image.new("RGBA", (8, 8), (255, 0, 0, 0))
    assert np.asarray(load_image(saved(clear, "PNG"))).min() == 255
    palette = Image.new("P", (8, 8), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert np.asarray(load_image(saved(palette, "PNG"))).min() == 255


def test_exif_orientation_is_applied():
    # Stored 60x20 with a red top half and a blue bottom half; orientation 6 means "rotate 90 degrees
    # clockwise to display": the top (red) ends up on the right. A wrong-way turn puts it on the left.
    stored = np.zeros((20, 60, 3), dtype=np.uint8)
    stored[:10, :, 0] = 255
    stored[10:, :, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 6
    loaded = np.asarray(load_image(saved(Image.fromarray(stored), "JPEG", exif=exif, quality=95)), dtype=int)
    assert loaded.shape == (60, 20, 3)
    assert np.abs(loaded - np.rot90(stored, k=-1).astype(int)).mean() < 8  # clockwise, pixel for pixel
    assert loaded[30, 17, 0] > 200 and loaded[30, 2, 2] > 200  # red right, blue left


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
