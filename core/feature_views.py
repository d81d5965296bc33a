"""Pictures of recorded feature maps, large and legible enough to project in a classroom.

Colour comes from matplotlib's perceptual colormaps applied as lookup tables on numpy
arrays (no pyplot, no global state: safe in the web server's threads); PIL composes the
tiles and draws the labels. Every map is scaled to its own min..max, so a weak channel's
pattern is as visible as a strong one's; the labels give the absolute strength.
Feature maps are enlarged with nearest-neighbour pixels: a 7×7 map looks like 7×7 blocks,
which is the truth about how coarse the last layers are.
"""
from __future__ import annotations

import json

import dataclasses
import functools
import math
import threading
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core.backbones import RANDOM
from core.features import FeatureRecord, weights_label

COLORMAPS = ("viridis", "magma", "inferno", "plasma", "cividis")
DEFAULT_COLORMAP = "viridis"
GRID_COUNTS = (4, 8, 16, 32, 64)
BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)
MUTED = (90, 90, 90)
WARNING = (190, 20, 20)
PAD = 10

# The words drawn in the pictures and written in the statistics, per language (core never imports
# gradio: demo/features.py passes the page's language in). Dutch: decimal comma (_num).
WORDS = json.loads((Path(__file__).resolve().parent / "data" / "feature_words.json").read_text(encoding="utf-8"))
# Layer kinds as the Dutch picture and table name them (the aliases, "conv5_3", "stage4", are names).
DUTCH_KINDS = {"block": "blok", "stage": "fase"}
WEIGHT_NAMES_NL = {"bundled": "meegeleverd", "hub": "hub", "trained": "zelf getraind"}


def _words(lang: str | None) -> dict:
    return WORDS["nl"] if lang == "nl" else WORDS["en"]


def _num(value: float, spec: str, lang: str | None) -> str:
    """A number in `spec` format; Dutch writes a decimal comma."""
    text = format(value, spec)
    return text.replace(".", ",") if lang == "nl" else text


def _kind(kind: str, lang: str | None) -> str:
    return DUTCH_KINDS.get(kind, kind) if lang == "nl" else kind


def _weights_label(record: FeatureRecord, lang: str | None) -> str:
    if lang != "nl":
        return weights_label(record)
    if record.weights == RANDOM:
        return WORDS["nl"]["random_weights"]
    return WORDS["nl"]["weights"].format(weights=WEIGHT_NAMES_NL.get(record.weights, record.weights))


def _prediction_label(record: FeatureRecord, lang: str | None) -> str:
    """The top guess's ImageNet name in `lang` (a name that is not ImageNet's stays as it is)."""
    label = record.prediction[0]
    if lang != "nl":
        return label
    from core.imagenet import class_names

    english = class_names("en")
    return class_names("nl")[english.index(label)] if label in english else label


@functools.lru_cache(maxsize=None)
def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    # DejaVu ships with matplotlib, so labels look the same on every machine.
    import matplotlib

    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    path = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / name
    try:
        return ImageFont.truetype(str(path), size)
    except OSError:
        return ImageFont.load_default(size)


@functools.lru_cache(maxsize=None)
def _lookup_table(cmap: str) -> np.ndarray:
    import matplotlib

    if cmap not in COLORMAPS:
        raise ValueError(f"colormap must be one of {', '.join(COLORMAPS)}, not {cmap!r}")
    colours = matplotlib.colormaps[cmap](np.linspace(0.0, 1.0, 256))[:, :3]
    return (colours * 255).round().astype(np.uint8)


@functools.lru_cache(maxsize=None)
def _palette(cmap: str) -> bytes:
    return _lookup_table(cmap).tobytes()


def colorize(levels: np.ndarray, cmap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """H x W uint8 levels (0 = the map's minimum, 255 its maximum) -> H x W x 3 uint8 colours."""
    return _lookup_table(cmap)[np.asarray(levels, dtype=np.uint8)]


def _map_tile(levels: np.ndarray, size: tuple[int, int], cmap: str) -> Image.Image:
    # A palette image: resized one byte per pixel, coloured by PIL when pasted.
    tile = Image.fromarray(np.ascontiguousarray(levels), mode="L").resize(size, Image.NEAREST)
    tile.putpalette(_palette(cmap))
    return tile


@functools.lru_cache(maxsize=1024)
def _label(text: str, size: int, bold: bool = False) -> Image.Image:
    """Rendered text as an L mask (cached: the same channel numbers recur on every layer)."""
    face = font(size, bold)
    left, top, right, bottom = face.getbbox(text)
    mask = Image.new("L", (max(1, right), _text_height(size)), 0)
    ImageDraw.Draw(mask).text((0, 0), text, font=face, fill=255)
    return mask


def _put_label(canvas: Image.Image, xy: tuple[int, int], text: str, size: int, colour, bold: bool = False,
               align_right: bool = False) -> None:
    mask = _label(text, size, bold)
    x, y = xy
    if align_right:
        x -= mask.width
    canvas.paste(colour, (x, y, x + mask.width, y + mask.height), mask)


def _text_height(size: int) -> int:
    return int(size * 1.35)


def _header(width: int, lines: list[tuple[str, int, bool, tuple]]) -> Image.Image:
    """A white band with one or more lines of (text, size, bold, colour)."""
    band = Image.new("RGB", (width, _header_height([size for _, size, _, _ in lines])), BACKGROUND)
    y = PAD
    for text, size, bold, colour in lines:
        _put_label(band, (PAD, y), _fit(text, font(size, bold), width - 2 * PAD), size, colour, bold)
        y += _text_height(size)
    return band


def _header_height(sizes: list[int]) -> int:
    return PAD + sum(_text_height(size) for size in sizes) + PAD // 2


def _fit(text: str, face, width: int) -> str:
    if face.getlength(text) <= width:
        return text
    while text and face.getlength(text + "…") > width:
        text = text[:-1]
    return text + "…"


def _stack(*parts: Image.Image) -> Image.Image:
    width = max(p.width for p in parts)
    out = Image.new("RGB", (width, sum(p.height for p in parts)), BACKGROUND)
    y = 0
    for part in parts:
        out.paste(part, (0, y))
        y += part.height
    return out


def _colour_bar(width: int, cmap: str, left: str = "low", right: str = "high") -> Image.Image:
    size = 20
    bar_width = min(360, width // 3)
    band = Image.new("RGB", (width, 26 + 2 * PAD), BACKGROUND)
    gradient = _lookup_table(cmap)[np.linspace(0, 255, bar_width).astype(int)]
    band.paste(Image.fromarray(np.repeat(gradient[None], 22, axis=0)), (PAD + 60, PAD))
    _put_label(band, (PAD, PAD), left, size, MUTED)
    _put_label(band, (PAD + 70 + bar_width, PAD), right, size, MUTED)
    return band


def _title_lines(record: FeatureRecord, title: str, lang: str | None = None) -> list[tuple[str, int, bool, tuple]]:
    lines = [(title, 30, True, INK)]
    provenance = f"{record.backbone} · {_weights_label(record, lang)}"
    lines.append((provenance + (_words(lang)["untrained"] if record.weights == RANDOM else ""), 22, False,
                  WARNING if record.weights == RANDOM else MUTED))
    return lines


def grid_columns(count: int) -> int:
    return count if count <= 4 else 4 if count <= 8 else 8


@dataclasses.dataclass(frozen=True)
class GridLayout:
    """Where each channel's tile sits in a grid picture (shared by drawing and clicking)."""

    channels: tuple[int, ...]
    columns: int
    tile: int
    label_size: int
    label_height: int
    header_height: int

    def tile_origin(self, position: int) -> tuple[int, int]:
        """Top-left of the label above tile `position`, in body coordinates."""
        row, column = divmod(position, self.columns)
        return PAD + column * (self.tile + PAD), PAD + row * (self.tile + self.label_height + PAD)

    @property
    def body_height(self) -> int:
        rows = math.ceil(len(self.channels) / self.columns)
        return rows * (self.tile + self.label_height + PAD) + PAD


def grid_layout(record: FeatureRecord, layer: str | None, count: int, width: int = 1600) -> GridLayout:
    info = record.layer(layer)
    channels = tuple(record.ranked_channels(info.name, max(1, int(count))))
    columns = grid_columns(len(channels))
    tile = (width - PAD * (columns + 1)) // columns
    label_size = max(18, min(28, tile // 7))
    header_height = _header_height([size for _, size, _, _ in _title_lines(record, "")])
    return GridLayout(channels, columns, tile, label_size, _text_height(label_size) + 4, header_height)


def channel_at(record: FeatureRecord, layer: str | None, count: int, x: float, y: float,
               width: int = 1600) -> int | None:
    """The channel whose tile (or its label) holds grid-picture pixel (x, y); None between tiles."""
    layout = grid_layout(record, layer, count, width)
    for position, channel in enumerate(layout.channels):
        left, top = layout.tile_origin(position)
        top += layout.header_height
        if left <= x < left + layout.tile and top <= y < top + layout.label_height + layout.tile:
            return channel
    return None


def render_grid(record: FeatureRecord, layer: str | None = None, count: int = 16,
                cmap: str = DEFAULT_COLORMAP, width: int = 1600, lang: str | None = None) -> Image.Image:
    """The `count` most active channels of one layer, each labelled with its index and strength."""
    info = record.layer(layer)
    layout = grid_layout(record, info.name, count, width)
    tile, label_size = layout.tile, layout.label_size
    body = Image.new("RGB", (width, layout.body_height), BACKGROUND)
    maps = record.maps[info.name]
    strength = record.strength[info.name]
    for position, channel in enumerate(layout.channels):
        x, y = layout.tile_origin(position)
        _put_label(body, (x, y), f"#{channel}", label_size, INK, bold=True)
        _put_label(body, (x + tile, y), _num(strength[channel], ".2g", lang), label_size, MUTED, align_right=True)
        body.paste(_map_tile(maps[channel], (tile, tile), cmap), (x, y + layout.label_height))
    words = _words(lang)
    title = words["grid_title"].format(alias=info.alias, name=info.name, shape=info.shape_text,
                                       count=len(layout.channels), channels=info.shape[0])
    header = _header(width, _title_lines(record, title, lang))
    legend = _colour_bar(width, cmap, left=words["low"], right=words["legend"])
    return _stack(header, body, legend)


_crops: dict[tuple[str, int], tuple[Image.Image, Image.Image]] = {}
_crops_lock = threading.Lock()


def _display_crop(record: FeatureRecord, panel: int) -> tuple[Image.Image, Image.Image]:
    """(the input crop enlarged, the same in grey), made once per record: every layer reuses them."""
    key = (record.key, panel)
    with _crops_lock:
        if key in _crops:
            return _crops[key]
    crop = record.crop.convert("RGB").resize((panel, panel), Image.BICUBIC)
    # Grey photo under the overlay, so colour reads as "where this channel fires".
    grey = crop.convert("L").point(lambda v: int(v * 0.9)).convert("RGB")
    with _crops_lock:
        while len(_crops) >= 16:
            _crops.pop(next(iter(_crops)))
        _crops[key] = (crop, grey)
    return crop, grey


def render_channel(record: FeatureRecord, layer: str | None = None, channel: int | None = None,
                   cmap: str = DEFAULT_COLORMAP, panel: int = 512, lang: str | None = None) -> Image.Image:
    """One channel enlarged (its true pixels) beside the same map laid over the input crop."""
    info = record.layer(layer)
    if channel is None:
        channel = record.ranked_channels(info.name, 1)[0]
    channel = record.check_channel(info.name, channel)
    levels = record.channel_map(info.name, channel)
    enlarged = _map_tile(levels, (panel, panel), cmap)
    crop, grey = _display_crop(record, panel)
    smooth = Image.fromarray(levels, mode="L").resize((panel, panel), Image.BILINEAR)
    colours = smooth.copy()
    colours.putpalette(_palette(cmap))
    alpha = smooth.point(lambda v: int(38 + v * 0.7))
    overlay = Image.composite(colours.convert("RGB"), grey, alpha)
    width = 3 * panel + 4 * PAD
    body = Image.new("RGB", (width, panel + 2 * PAD + _text_height(22)), BACKGROUND)
    size = f"{record.crop.width}×{record.crop.height}"
    words = _words(lang)
    for index, (caption, picture) in enumerate(((words["input"].format(size=size), crop),
                                                (words["channel_caption"].format(channel=channel, w=levels.shape[1],
                                                                                 h=levels.shape[0]), enlarged),
                                                (words["overlaid"], overlay))):
        x = PAD + index * (panel + PAD)
        _put_label(body, (x, PAD // 2), caption, 22, MUTED)
        body.paste(picture, (x, PAD + _text_height(22)))
    stats = words["channel_stats"].format(low=_num(record.channel_low[info.name][channel], ".3g", lang),
                                          mean=_num(record.channel_mean[info.name][channel], ".3g", lang),
                                          high=_num(record.channel_high[info.name][channel], ".3g", lang))
    title = words["channel_title"].format(alias=info.alias, name=info.name, channel=channel,
                                          channels=info.shape[0], stats=stats)
    return _stack(_header(width, _title_lines(record, title, lang)), body)


def render_strip(record: FeatureRecord, layer: str | None = None, count: int = 16,
                 cmap: str = DEFAULT_COLORMAP, width: int = 1600, lang: str | None = None) -> Image.Image:
    """The final feature block as one row of its most active channels (the lesson's figure)."""
    info = record.layer(layer) if layer else record.final_layer
    channels = record.ranked_channels(info.name, count)
    tile = (width - PAD * (len(channels) + 1)) // len(channels)
    maps = record.maps[info.name]
    body = Image.new("RGB", (width, tile + 2 * PAD + _text_height(18)), BACKGROUND)
    for position, channel in enumerate(channels):
        x = PAD + position * (tile + PAD)
        body.paste(_map_tile(maps[channel], (tile, tile), cmap), (x, PAD))
        _put_label(body, (x, PAD + tile + 2), f"#{channel}", 18, MUTED)
    title = _words(lang)["strip_title"].format(alias=info.alias, name=info.name, shape=info.shape_text,
                                               count=len(channels))
    return _stack(_header(width, _title_lines(record, title, lang)), body)


def stats_markdown(record: FeatureRecord, layer: str | None = None, lang: str | None = None) -> str:
    """The selected layer's shape and statistics, in words a student can read."""
    info = record.layer(layer)
    stats = record.stats[info.name]
    words = _words(lang)
    prob = record.prediction[1]
    percent = _num(100 * prob, ".0f", lang) + "%"
    guess = words["meaningless"] if record.weights == RANDOM else f"({percent})"
    return words["stats"].format(
        alias=info.alias, name=info.name, kind=_kind(info.kind, lang), shape=info.shape_text, stride=info.stride,
        low=_num(stats.minimum, ".3g", lang), mean=_num(stats.mean, ".3g", lang), high=_num(stats.maximum, ".3g", lang),
        zero=_num(100 * stats.zero_fraction, ".0f", lang) + "%", dead=stats.dead_channels, channels=info.shape[0],
        layers=len(record.layers), ms=_num(record.seconds * 1000, ".0f", lang),
        label=_prediction_label(record, lang), guess=guess)


def layers_table(record: FeatureRecord, lang: str | None = None) -> list[list]:
    """One row per recorded layer: how shape and sparsity change with depth."""
    rows = []
    for info in record.layers:
        stats = record.stats[info.name]
        rows.append([info.alias, info.name, _kind(info.kind, lang), info.shape_text, info.stride,
                     round(stats.mean, 4), round(stats.maximum, 3), _num(100 * stats.zero_fraction, ".0f", lang) + "%",
                     stats.dead_channels])
    return rows


def layers_table_headers(lang: str | None = None) -> list[str]:
    return list(_words(lang)["headers"])


LAYERS_TABLE_HEADERS = layers_table_headers()
