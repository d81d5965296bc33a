"""A corpus of hostile and odd-but-valid image files, made on the fly (nothing binary committed)."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

SOURCE = Path(__file__).resolve().parent.parent / "assets" / "chelsea.png"


def _photo(size=(120, 80)) -> Image.Image:
    return Image.open(SOURCE).convert("RGB").resize(size)


def _save(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _huge_png_header(width: int, height: int) -> bytes:
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 1000)) + chunk(b"IEND", b"")


def bad_files() -> dict[str, tuple[bytes, str]]:
    """name -> (content, a word the error message must contain)."""
    jpeg = _save(_photo((300, 200)), "JPEG")
    return {
        "zero.jpg": (b"", "empty"),
        "essay.jpg": (b"Dear teacher, this is my homework.\n" * 20, "text"),
        "truncated.jpg": (jpeg[: len(jpeg) // 3], "truncated"),
        "drawing.svg": (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>', "SVG"),
        "page.html": (b"<!DOCTYPE html><html><body>not a picture</body></html>", "HTML"),
        "paper.pdf": (b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF", "PDF"),
        "noise.png": (bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)), "not recognised"),
        "bomb.png": (_huge_png_header(30000, 30000), "megapixel"),
    }


def odd_valid_files() -> dict[str, bytes]:
    photo = _photo()
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = photo.convert("P", palette=Image.Palette.ADAPTIVE)
    palette.info["transparency"] = 0
    sixteen = Image.fromarray((np.asarray(photo.convert("L"), dtype=np.uint16) * 257))
    frames = [photo, photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:], duration=100)
    return {
        "cmyk.jpg": _save(photo.convert("CMYK"), "JPEG"),
        "sixteen_bit.png": _save(sixteen, "PNG"),
        "gray_alpha.png": _save(photo.convert("LA"), "PNG"),
        "palette_transparent.png": _save(palette, "PNG"),
        "rgba.png": _save(photo.convert("RGBA"), "PNG"),
        "exif_rotated.jpg": _save(photo, "JPEG", exif=exif),
        "one_pixel.png": _save(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG"),
        "strip_4000x12.png": _save(_photo((4000, 12)), "PNG"),
        "photo.webp": _save(photo, "WEBP"),
        "photo.bmp": _save(photo, "BMP"),
        "photo.tiff": _save(photo, "TIFF"),
        "animated.gif": gif.getvalue(),
        "progressive.jpg": _save(photo, "JPEG", progressive=True),
        "UPPER.JPG": _save(photo, "JPEG"),
        "no_extension": _save(photo, "PNG"),
        "chat_été_猫.png": _save(photo, "PNG"),
    }


def write_corpus(folder: Path) -> tuple[dict[str, tuple[Path, str]], dict[str, Path]]:
    """Write both corpora under `folder`; returns ({name: (path, expected word)}, {name: path})."""
    folder.mkdir(parents=True, exist_ok=True)
    bad, good = {}, {}
    for name, (content, word) in bad_files().items():
        (folder / name).write_bytes(content)
        bad[name] = (folder / name, word)
    for name, content in odd_valid_files().items():
        (folder / name).write_bytes(content)
        good[name] = folder / name
    return bad, good
