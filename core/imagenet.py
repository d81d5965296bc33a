"""ImageNet-1k class names (English: timm's ImageNetInfo, written out in core/data/imagenet_en.txt; Dutch:
core/data/imagenet_nl.txt) and lookup by index or name, in English or Dutch. Read from these files,
not from timm: the page's class pickers need them before torch (which timm imports) is loaded."""
from __future__ import annotations

import functools
from pathlib import Path

LANGUAGES = ("en", "nl")
DEFAULT_LANGUAGE = "en"
ENGLISH_NAMES_FILE = Path(__file__).resolve().parent / "data" / "imagenet_en.txt"
DUTCH_NAMES_FILE = Path(__file__).resolve().parent / "data" / "imagenet_nl.txt"
NUM_CLASSES = 1000


def _read_names(path: Path) -> tuple[str, ...]:
    """'<index><TAB><name>' lines (# comments), checked: indices 0..999 in order."""
    names: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        index, _, name = line.partition("\t")
        if not index.isdigit() or int(index) != len(names) or not name.strip():
            raise RuntimeError(f"{path.name} line {number}: expected '{len(names)}<TAB>name', got {line!r}")
        names.append(name.strip())
    if len(names) != NUM_CLASSES:
        raise RuntimeError(f"{path.name} has {len(names)} classes, ImageNet has {NUM_CLASSES}")
    return tuple(names)


@functools.lru_cache(maxsize=1)
def _english_names() -> tuple[str, ...]:
    return _read_names(ENGLISH_NAMES_FILE)


@functools.lru_cache(maxsize=1)
def _dutch_names() -> tuple[str, ...]:
    """The hand-written Dutch names, in the English list's order."""
    return _read_names(DUTCH_NAMES_FILE)


def check_language(lang: str | None) -> str:
    """'nl', 'nl-NL', 'NL' -> 'nl'; None -> English. Unknown languages are an error (CLI typo)."""
    code = (lang or DEFAULT_LANGUAGE).strip().lower().split("-")[0].split("_")[0]
    if code not in LANGUAGES:
        raise ValueError(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
    return code


def class_names(lang: str = DEFAULT_LANGUAGE) -> tuple[str, ...]:
    """Human-readable names, index = class id (281 -> 'tabby, tabby cat' / 'cyperse kat, gestreepte kat')."""
    return _dutch_names() if check_language(lang) == "nl" else _english_names()


def label(index: int, lang: str = DEFAULT_LANGUAGE) -> str:
    """The full name of one class in a language: label(281, 'nl') -> 'cyperse kat, gestreepte kat'."""
    return class_names(lang)[index]


def short_name(index: int, lang: str = DEFAULT_LANGUAGE) -> str:
    """First synonym only: 'tabby, tabby cat' -> 'tabby'. Used where space is tight."""
    return class_names(lang)[index].split(",")[0].strip()


def localize_top(top: list[dict], lang: str, model_labels=None) -> list[dict]:
    """top-k rows ({label, index, prob}) with their labels in `lang`.

    Only ImageNet outputs are renamed: a model trained on a visitor's own classes keeps the names
    the visitor typed (`model_labels` is then not ImageNet's list)."""
    lang = check_language(lang)
    if lang == DEFAULT_LANGUAGE or (model_labels is not None and tuple(model_labels) != _english_names()):
        return top
    return [{**row, "label": label(row["index"], lang)} for row in top]


def localize_labels(result, lang: str):
    """A CLI result (dicts and lists) with every ImageNet {"label", "index"} pair renamed into `lang`.

    Keys stay the same; only labels that are ImageNet's English name for their index change, so a
    trained model's own class names (and anything else) are left alone."""
    lang = check_language(lang)
    if lang == DEFAULT_LANGUAGE:
        return result
    english = _english_names()
    if isinstance(result, list):
        return [localize_labels(item, lang) for item in result]
    if not isinstance(result, dict):
        return result
    renamed = {key: localize_labels(value, lang) for key, value in result.items()}
    index = result.get("index")
    if isinstance(index, int) and 0 <= index < len(english) and result.get("label") == english[index]:
        renamed["label"] = label(index, lang)
    return renamed


def _synonyms(name: str) -> list[str]:
    return [s.strip().lower() for s in name.split(",")]


def resolve_class(query: str | int) -> int:
    """Class index from an index ('281'), or a name in English or Dutch ('tabby cat', 'tijgerkat', 'zebra').

    An exact synonym match wins (English first, then Dutch); otherwise a unique substring match in
    either language. Raises ValueError with suggestions when the name is unknown or ambiguous.
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
    for lang in LANGUAGES:
        for index, name in enumerate(class_names(lang)):
            if wanted == name.lower() or wanted in _synonyms(name):
                return index
    partial = sorted({i for lang in LANGUAGES for i, name in enumerate(class_names(lang)) if wanted in name.lower()})
    return the_one_match(partial, text, lambda i: f"{i}: {names[i]} / {class_names('nl')[i]}", "ImageNet class")


def the_one_match(partial: list[int], text: str, describe, kind: str = "class", error=ValueError) -> int:
    """The only class a partial name matched; else `error` saying there is none, or listing the candidates."""
    if len(partial) == 1:
        return partial[0]
    if not partial:
        raise error(f"no {kind} is called {text!r} (give its index or its name)")
    shown = "; ".join(describe(i) for i in partial[:6])
    raise error(f"{text!r} matches several {kind}es ({len(partial)}: {shown}{'…' if len(partial) > 6 else ''}): "
                "be more specific or give the index")
