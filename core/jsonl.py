"""JSON lines on stdout: how every command-line twin reports (one object per line)."""
from __future__ import annotations

import json
import sys


def emit(obj: dict) -> None:
    """One JSON line on stdout, flushed at once so a pipe sees progress live."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()


# Pictures a command writes (overlays, grids, maps): the formats Pillow writes from the suffix.
WRITABLE_PICTURE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def picture_path(path: str, option: str):
    """The Path a command may write a picture to, or a ValueError that names the option."""
    from pathlib import Path

    target = Path(path)
    if target.suffix.lower() not in WRITABLE_PICTURE_SUFFIXES:
        raise ValueError(f"{option} {path}: give a file name ending in .png, .jpg or .webp")
    if not target.parent.exists():
        raise ValueError(f"{option} {path}: folder {target.parent} does not exist")
    return target


def add_lang_argument(parser) -> None:
    """--lang en|nl, as every command that prints ImageNet labels takes it."""
    from core.imagenet import DEFAULT_LANGUAGE, LANGUAGES

    parser.add_argument("--lang", choices=LANGUAGES, default=DEFAULT_LANGUAGE,
                        help="language of the ImageNet labels: en (default) or nl (Dutch); JSON keys stay the same")
