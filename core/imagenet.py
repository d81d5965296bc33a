"""ImageNet-1k class names (timm's ImageNetInfo) and lookup by index or name."""
from __future__ import annotations

import functools

from timm.data import ImageNetInfo


@functools.lru_cache(maxsize=1)
def class_names() -> tuple[str, ...]:
    """Human-readable names, index = class id (e.g. 281 -> 'tabby, tabby cat')."""
    info = ImageNetInfo()
    return tuple(info.index_to_description(i) for i in range(info.num_classes()))


def short_name(index: int) -> str:
    """First synonym only: 'tabby, tabby cat' -> 'tabby'. Used where space is tight."""
    return class_names()[index].split(",")[0].strip()


def resolve_class(query: str | int) -> int:
    """Class index from an index ('281'), or a name ('tabby cat', 'zebra').

    Exact synonym match wins; otherwise a unique substring match. Raises ValueError
    with suggestions when the name is unknown or ambiguous.
    """
    names = class_names()
    text = str(query).strip()
    if text.lstrip("-").isdigit():
        index = int(text)
        if not 0 <= index < len(names):
            raise ValueError(f"class index {index} is out of range 0..{len(names) - 1}")
        return index
    wanted = text.lower()
    if not wanted:
        raise ValueError("empty class name")
    for index, name in enumerate(names):
        if wanted == name.lower() or wanted in (s.strip().lower() for s in name.split(",")):
            return index
    partial = [i for i, name in enumerate(names) if wanted in name.lower()]
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise ValueError(f"no ImageNet class is called {text!r}")
    shown = "; ".join(f"{i}: {names[i]}" for i in partial[:6])
    raise ValueError(f"{text!r} matches {len(partial)} ImageNet classes ({shown}...): be more specific or give the index")
