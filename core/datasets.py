"""Training sets of labelled images, read safely from class folders, zips or uploads.

A training set is a list of class names and, per image, a small decoded RGB copy and its
class index. Every image goes through core.images.load_image; anything that is not a
usable image is skipped and listed (file name and reason), never fatal on its own.

Zips are read in memory, member by member, and never extracted: nothing a visitor sends
is written anywhere. Hostile archives are refused as a whole with a clear message:
paths that climb out of the archive (zip-slip), absolute paths, too many members, or more
uncompressed bytes than the limit (zip bombs; counted while reading, not trusted from the
header). Limits are module constants, overridable by environment for a teacher's machine.
"""
from __future__ import annotations

import dataclasses
import io
import os
import random
import zipfile
from pathlib import Path, PurePosixPath
from typing import Iterable

from PIL import Image

from core.images import ImageLoadError, load_image

MIN_CLASSES = 2
MAX_CLASSES = int(os.environ.get("TLL_MAX_CLASSES", "50"))
MAX_IMAGES = int(os.environ.get("TLL_MAX_TRAIN_IMAGES", "2000"))
# The command line runs on the user's own machine: the web app's limits protect a shared server
# and need not apply there (`use_cli_limits`). 120 dog breeds of ~7 photos is a normal CLI job.
CLI_MAX_CLASSES = max(MAX_CLASSES, 1000)
CLI_MAX_IMAGES = max(MAX_IMAGES, 20000)
MAX_ZIP_BYTES = int(os.environ.get("TLL_MAX_ZIP_MB", "300")) * 1024 * 1024  # uncompressed, in total
MAX_ZIP_MEMBERS = int(os.environ.get("TLL_MAX_ZIP_MEMBERS", "5000"))
# Decoded images are kept at most this many pixels a side: enough for any backbone's crop
# (and random-resized-crop augmentation), small enough that 2000 of them fit in memory.
KEEP_SIDE = 320

# Folder names that archivers and file managers add, never classes.
JUNK_NAMES = {"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini", "__pycache__", ".ipynb_checkpoints"}


class DatasetError(ValueError):
    """A training set that cannot be used; str() says why, for the user (in English).

    `key` and `fields` name the message and its values, so a UI can say it in another language
    (demo/finetune.py translates them); None for a message with no key."""

    def __init__(self, message: str, key: str | None = None, **fields):
        super().__init__(message)
        self.key, self.fields = key, fields


def use_cli_limits() -> None:
    """Raise the class and image limits to the command line's (call once, in a CLI process)."""
    global MAX_CLASSES, MAX_IMAGES
    MAX_CLASSES, MAX_IMAGES = max(MAX_CLASSES, CLI_MAX_CLASSES), max(MAX_IMAGES, CLI_MAX_IMAGES)


def skipped_text(skipped: list[tuple[str, str]], examples: int = 3) -> str:
    """"12 file(s) skipped: 10 × broken symbolic link (cat/a.jpg, …); 2 × not an image (…)":
    how many, and why, grouped by reason (per-file details stay in ImageSet.skipped)."""
    if not skipped:
        return ""
    groups: dict[str, list[str]] = {}
    for name, reason in skipped:
        groups.setdefault(_reason_kind(name, reason), []).append(name)
    parts = []
    for kind, names in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        shown = ", ".join(names[:examples]) + (", …" if len(names) > examples else "")
        parts.append(f"{len(names)} × {kind} ({shown})")
    return f"{len(skipped)} file(s) skipped: " + "; ".join(parts)


def _reason_kind(name: str, reason: str) -> str:
    """The reason without the file's own name in it, so that alike reasons group together."""
    text = reason.replace(name, "").replace(Path(name).name, "").strip(" :").split(" (")[0]
    return text or reason


def limits_text() -> str:
    return (f"{MIN_CLASSES}–{MAX_CLASSES} classes, at most {MAX_IMAGES} images in all, "
            f"zips up to {MAX_ZIP_BYTES // 2**20} MB uncompressed and {MAX_ZIP_MEMBERS} files")


@dataclasses.dataclass
class ImageSet:
    """Labelled images: `images[i]` (RGB PIL) is of class `class_names[labels[i]]`."""

    class_names: tuple[str, ...]
    images: list[Image.Image]
    labels: list[int]
    names: list[str]  # where each image came from, e.g. "cat/cat.1.jpg"
    skipped: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (file, reason)
    source: str = ""

    def __len__(self) -> int:
        return len(self.images)

    def counts(self) -> list[int]:
        counts = [0] * len(self.class_names)
        for label in self.labels:
            counts[label] += 1
        return counts

    def subset(self, indices: Iterable[int]) -> "ImageSet":
        indices = list(indices)
        return ImageSet(self.class_names, [self.images[i] for i in indices], [self.labels[i] for i in indices],
                        [self.names[i] for i in indices], [], self.source)

    def summary(self) -> str:
        parts = ", ".join(f"{name} ({count})" for name, count in zip(self.class_names, self.counts()))
        text = f"{len(self)} images in {len(self.class_names)} classes: {parts}"
        if self.skipped:
            text += f"; {skipped_text(self.skipped)}"
        return text


def _shrink(image: Image.Image) -> Image.Image:
    if max(image.size) > KEEP_SIDE:
        image = image.copy()
        image.thumbnail((KEEP_SIDE, KEEP_SIDE), Image.Resampling.BICUBIC)
    return image


def clean_class_name(name: str) -> str:
    name = " ".join(str(name).replace("\x00", "").split()).strip()
    if not name:
        raise DatasetError("every class needs a name", "no_name")
    if len(name) > 60:
        raise DatasetError(f"class name {name[:30]!r}… is too long (at most 60 characters)", "name_too_long",
                           name=name[:30])
    return name


def _is_junk(parts: Iterable[str]) -> bool:
    return any(part in JUNK_NAMES or part.startswith(".") or part.startswith("._") for part in parts)


def from_sources(per_class: dict[str, list], source: str = "",
                 skipped_before: list[tuple[str, str]] | None = None) -> ImageSet:
    """Build a set from {class name: [image sources (path, bytes or (name, bytes))]}.

    Unusable files are skipped and listed; the set as a whole is checked (class count,
    empty classes, total size). `skipped_before`: files a folder or zip reader already skipped,
    listed first (and counted in any error message).
    """
    names = [clean_class_name(name) for name in per_class]
    if len(set(n.lower() for n in names)) != len(names):
        raise DatasetError("two classes have the same name", "same_name")
    _check_class_count(len(names))
    total = sum(len(items) for items in per_class.values())
    if total > MAX_IMAGES:
        raise DatasetError(f"{total} images is too many: the limit is {MAX_IMAGES} in all", "too_many_images",
                           total=total, most=MAX_IMAGES)
    images, labels, item_names, skipped = [], [], [], list(skipped_before or [])
    for label, (class_name, items) in enumerate(zip(names, per_class.values())):
        for item in items:
            if isinstance(item, tuple):
                shown, data = item
            else:
                shown, data = f"{class_name}/{Path(str(item)).name}", item
            try:
                image = load_image(data, name=shown)
            except ImageLoadError as error:
                skipped.append((shown, str(error)))
                continue
            images.append(_shrink(image))
            labels.append(label)
            item_names.append(shown)
    image_set = ImageSet(tuple(names), images, labels, item_names, skipped, source)
    empty = [name for name, count in zip(names, image_set.counts()) if count == 0]
    if empty:
        raise DatasetError(f"class {', '.join(repr(e) for e in empty)} has no usable image"
                           + (f" ({skipped_text(skipped)})" if skipped else ""), "no_usable_image",
                           classes=", ".join(repr(e) for e in empty), skipped=skipped)
    return image_set


def _check_class_count(count: int) -> None:
    if count < MIN_CLASSES:
        raise DatasetError(f"found {count} class{'es' if count != 1 else ''}: at least {MIN_CLASSES} are needed "
                           "(one folder per class, each holding its images)", "too_few_classes",
                           count=count, need=MIN_CLASSES)
    if count > MAX_CLASSES:
        raise DatasetError(f"found {count} classes: at most {MAX_CLASSES} are allowed", "too_many_classes",
                           count=count, most=MAX_CLASSES)


def from_folder(folder: str | Path) -> ImageSet:
    """A folder with one sub-folder per class (images may sit deeper inside a class folder)."""
    root = Path(folder)
    if not root.is_dir():
        raise DatasetError(f"{folder}: not a folder")
    class_dirs = sorted((d for d in root.iterdir() if d.is_dir() and not _is_junk([d.name])), key=lambda d: d.name)
    per_class: dict[str, list] = {}
    skipped = [(f.name, "not inside a class folder") for f in sorted(root.iterdir()) if f.is_file() and not _is_junk([f.name])]
    for class_dir in class_dirs:
        files = []
        # Symbolic links to files are followed, as torchvision's ImageFolder does: datasets are
        # often folders of links into one photo store. (A local folder is the user's own.)
        for path in sorted(class_dir.rglob("*")):
            relative = path.relative_to(root)
            if _is_junk(relative.parts) or path.is_dir():
                continue
            if path.is_symlink() and not path.exists():
                skipped.append((str(relative), "broken symbolic link (its target does not exist)"))
                continue
            if not path.is_file():
                skipped.append((str(relative), "not a regular file"))
                continue
            files.append((str(relative), path))
        per_class[class_dir.name] = files
    _check_class_count(len(per_class))
    return from_sources(per_class, source=str(root), skipped_before=skipped)


def _safe_member_parts(name: str) -> tuple[str, ...]:
    """The path parts of a zip member, or DatasetError for a path that could escape."""
    normalised = name.replace("\\", "/")
    if normalised.startswith("/") or (len(normalised) > 1 and normalised[1] == ":"):
        raise DatasetError(f"refused: the zip holds an absolute path ({name!r})", "zip_absolute", name=name)
    parts = tuple(p for p in PurePosixPath(normalised).parts if p not in ("", "."))
    if ".." in parts:
        raise DatasetError(f"refused: the zip holds a path that climbs out of the archive ({name!r})", "zip_climbs",
                           name=name)
    return parts


def from_zip(source: str | Path | bytes) -> ImageSet:
    """A .zip holding one folder per class (optionally all inside one top folder)."""
    label = "upload.zip" if isinstance(source, (bytes, bytearray)) else Path(source).name
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    except (zipfile.BadZipFile, OSError) as error:
        raise DatasetError(f"{label}: not a readable zip file ({error})", "bad_zip", label=label,
                           error=str(error)) from None
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            raise DatasetError(f"refused: {label} holds {len(members)} files, over the limit of {MAX_ZIP_MEMBERS}",
                               "zip_members", label=label, count=len(members), most=MAX_ZIP_MEMBERS)
        declared = sum(m.file_size for m in members)
        if declared > MAX_ZIP_BYTES:
            raise DatasetError(f"refused: {label} would unpack to {declared / 2**20:.0f} MB, over the "
                               f"{MAX_ZIP_BYTES // 2**20} MB limit", "zip_too_big", label=label,
                               mb=f"{declared / 2**20:.0f}", most=MAX_ZIP_BYTES // 2**20)
        entries = []
        for member in members:
            parts = _safe_member_parts(member.filename)  # checked for every member, even skipped ones
            if member.is_dir() or not parts or _is_junk(parts):
                continue
            entries.append((parts, member))
        # Everything inside one top folder ("pets/cat/1.jpg"): that folder is not a class.
        # Loose files beside the class folders ("pets/readme.md") are then skipped, not classes.
        while entries and len({p[0] for p, _ in entries}) == 1 and any(len(p) > 2 for p, _ in entries):
            entries = [(p[1:], m) for p, m in entries]
        per_class: dict[str, list] = {}
        skipped = []
        budget = MAX_ZIP_BYTES
        in_classes = sum(1 for parts, _ in entries if len(parts) >= 2)
        if in_classes > MAX_IMAGES:
            raise DatasetError(f"refused: {label} holds {in_classes} files in class folders; "
                               f"the limit is {MAX_IMAGES} images in all", "zip_too_many_images", label=label,
                               count=in_classes, most=MAX_IMAGES)
        for parts, member in entries:
            shown = "/".join(parts)
            if len(parts) < 2:
                skipped.append((shown, "not inside a class folder"))
                continue
            per_class.setdefault(parts[0], [])
            data = _read_member(archive, member, budget, label)
            budget -= len(data)
            per_class[parts[0]].append((shown, data))
    names = sorted(per_class)
    _check_class_count(len(names))
    return from_sources({name: per_class[name] for name in names}, source=label, skipped_before=skipped)


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, budget: int, label: str) -> bytes:
    """The member's bytes, reading no more than `budget` (headers can lie about sizes)."""
    chunks, size = [], 0
    try:
        with archive.open(member) as stream:
            while True:
                chunk = stream.read(1 << 20)
                if not chunk:
                    break
                size += len(chunk)
                if size > budget:
                    raise DatasetError(f"refused: {label} unpacks to more than {MAX_ZIP_BYTES // 2**20} MB "
                                       "(a zip bomb?)", "zip_bomb", label=label, most=MAX_ZIP_BYTES // 2**20)
                chunks.append(chunk)
    except DatasetError:
        raise
    except Exception as error:  # noqa: BLE001 - zlib.error, lzma errors, bad CRC...: all mean a damaged archive
        raise DatasetError(f"{label}: cannot read {member.filename!r}, the archive is damaged "
                           f"({type(error).__name__}: {error})", "zip_damaged", label=label, name=member.filename,
                           error=f"{type(error).__name__}: {error}") from None
    return b"".join(chunks)


def load_any(path: str | Path) -> ImageSet:
    """A class folder or a .zip of class folders (what the CLI's DATA argument may be)."""
    path = Path(path)
    if path.is_dir():
        return from_folder(path)
    if path.is_file():
        if not zipfile.is_zipfile(path):
            raise DatasetError(f"{path.name}: neither a folder nor a .zip of class folders")
        return from_zip(path)
    raise DatasetError(f"{path}: no such folder or file")


def stratified_split(image_set: ImageSet, val_fraction: float = 0.2, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """(train, validation): `val_fraction` of each class, at least one image of each class on
    each side. Deterministic for a seed."""
    if not 0 < val_fraction < 1:
        raise DatasetError("the validation share must be between 0 and 1 (e.g. 0.2)")
    rng = random.Random(seed)
    train_idx, val_idx = [], []
    for label, name in enumerate(image_set.class_names):
        members = [i for i, y in enumerate(image_set.labels) if y == label]
        if len(members) < 2:
            raise DatasetError(f"class {name!r} has {len(members)} image: at least 2 are needed "
                               "(one to train on, one to validate)", "too_few_photos", name=name,
                               count=len(members))
        rng.shuffle(members)
        n_val = min(len(members) - 1, max(1, round(len(members) * val_fraction)))
        val_idx += members[:n_val]
        train_idx += members[n_val:]
    return image_set.subset(sorted(train_idx)), image_set.subset(sorted(val_idx))


def align_validation(train: ImageSet, val: ImageSet) -> ImageSet:
    """A separate validation set relabelled to the training set's class order."""
    missing = [name for name in val.class_names if name not in train.class_names]
    if missing:
        raise DatasetError(f"the validation set has classes the training set lacks: {', '.join(missing)}",
                           "validation_classes", classes=", ".join(missing))
    order = {name: i for i, name in enumerate(train.class_names)}
    labels = [order[val.class_names[y]] for y in val.labels]
    return ImageSet(train.class_names, val.images, labels, val.names, val.skipped, val.source)


# --- sample sets ------------------------------------------------------------------------

def samples_dir() -> Path | None:
    folder = os.environ.get("TLL_SAMPLES_DIR", "").strip()
    return Path(folder) if folder and Path(folder).is_dir() else None


def sample_sets() -> list[str]:
    """Names of the teacher's sample sets: sub-folders of the samples folder with class folders,
    or .zip files in it."""
    root = samples_dir()
    if root is None:
        return []
    found = []
    for entry in sorted(root.iterdir()):
        if _is_junk([entry.name]):
            continue
        if entry.is_dir() and any(d.is_dir() for d in entry.iterdir()):
            found.append(entry.name)
        elif entry.is_file() and entry.suffix.lower() == ".zip":
            found.append(entry.name)
    return found


def load_sample_set(name: str) -> ImageSet:
    root = samples_dir()
    if root is None or name not in sample_sets():  # only names we listed: no path tricks
        raise DatasetError(f"no sample set called {name!r}", "no_sample_set", name=name)
    return load_any(root / name)


# --- Oxford-IIIT Pet from the hub (core.pets) ----------------------------------------------

def oxford_pet_sample(per_class: int = 10, cats_vs_dogs: bool = True, seed: int = 0) -> ImageSet:
    """A small sample of Oxford-IIIT Pet (CC BY-SA 4.0): cat vs dog, or the 37 breeds.

    Cached after the first download; without network and cache, DatasetError within seconds."""
    from core import pets

    return pets.load_sample(per_class, breeds=not cats_vs_dogs, seed=seed)
