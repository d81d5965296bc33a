"""Oxford-IIIT Pet (CC BY-SA 4.0) from the Hugging Face hub: a ready-made training set for
visitors without photos of their own (a Space has no teacher's sample folder).

The dataset is one parquet file per split in the hub repo `timm/oxford-iiit-pet`. It is
downloaded once into the ordinary hub cache (HF_HOME / HF_HUB_CACHE) and read from there
afterwards, with or without network. Without network and without a cached copy the answer
comes within seconds (core.hub: cache first, HF_HUB_OFFLINE, a short reachability probe),
never after huggingface_hub's minute of retries.

Only the rows a sample needs are decoded: the label column is read first, the sample is
picked from it, and then only the row groups that hold picked rows are read.
"""
from __future__ import annotations

import json
import random

from core import hub
from core.datasets import DatasetError, ImageSet, from_sources

REPO = "timm/oxford-iiit-pet"
REPO_TYPE = "dataset"
# The train split (3680 photos, ~380 MB): one file, at a fixed path in the repo, so no listing
# (which would need the network even when the file is cached) is necessary.
FILENAME = "data/train-00000-of-00001.parquet"
LICENSE = "CC BY-SA 4.0"
ATTRIBUTION = ("Oxford-IIIT Pet Dataset, O. M. Parkhi, A. Vedaldi, A. Zisserman, C. V. Jawahar (2012), "
               "https://www.robots.ox.ac.uk/~vgg/data/pets/, licensed CC BY-SA 4.0; via the Hugging Face hub "
               f"({REPO})")
SOURCE_LABEL = f"Oxford-IIIT Pet ({LICENSE})"
DOWNLOAD_MB = 380

# The dataset's 37 breeds in its own label order; cat breeds are the capitalised ones (the
# original dataset's naming convention). Used when the file's own metadata lacks the names.
BREEDS = (
    "Abyssinian", "american_bulldog", "american_pit_bull_terrier", "basset_hound", "beagle", "Bengal", "Birman",
    "Bombay", "boxer", "British_Shorthair", "chihuahua", "Egyptian_Mau", "english_cocker_spaniel",
    "english_setter", "german_shorthaired", "great_pyrenees", "havanese", "japanese_chin", "keeshond",
    "leonberger", "Maine_Coon", "miniature_pinscher", "newfoundland", "Persian", "pomeranian", "pug", "Ragdoll",
    "Russian_Blue", "saint_bernard", "samoyed", "scottish_terrier", "shiba_inu", "Siamese", "Sphynx",
    "staffordshire_bull_terrier", "wheaten_terrier", "yorkshire_terrier",
)
CAT_BREEDS = {name.lower() for name in BREEDS if name[0].isupper()}

MESSAGES = {
    "offline": "the Oxford-IIIT Pet sample needs the network once (~{mb} MB): it is not cached on this machine "
               "and HF_HUB_OFFLINE is set; use your own images, a .zip or a sample folder",
    "unreachable": "the Oxford-IIIT Pet sample needs the network once (~{mb} MB) and the Hugging Face hub is "
                   "unreachable from here (no internet?); use your own images, a .zip or a sample folder",
    "pyarrow": "the Oxford-IIIT Pet sample needs the pyarrow package (pip install -r requirements.txt)",
    "download": "could not download the Oxford-IIIT Pet sample from {repo}: {error}",
    "unreadable": "the cached Oxford-IIIT Pet file is unreadable ({error}); delete it from the hub cache and retry",
    "per_class": "images per class must be between 2 and {most}",
}
MAX_PER_CLASS = 200


def is_cat(breed: str) -> bool:
    return breed.replace(" ", "_").lower() in CAT_BREEDS


def cached_path() -> str | None:
    """The parquet file in the local hub cache, or None."""
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(REPO, FILENAME, repo_type=REPO_TYPE)
    except Exception:  # noqa: BLE001 - a malformed cache is the same as no cache
        return None
    import os

    return path if isinstance(path, str) and os.path.exists(path) else None


def check_available() -> str | None:
    """Fast (a few seconds at most): the cached file's path, None when a download is possible,
    or DatasetError saying why the sample cannot be had here."""
    try:
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise DatasetError(MESSAGES["pyarrow"], "pets_pyarrow") from None
    path = cached_path()
    if path:
        return path
    if hub.offline_mode():
        raise DatasetError(MESSAGES["offline"].format(mb=DOWNLOAD_MB), "pets_offline", mb=DOWNLOAD_MB)
    if not hub.hub_reachable():
        raise DatasetError(MESSAGES["unreachable"].format(mb=DOWNLOAD_MB), "pets_unreachable", mb=DOWNLOAD_MB)
    return None


def status_text() -> str:
    """One line for the UI: is the sample ready, downloadable, or unavailable here?"""
    try:
        path = check_available()
    except DatasetError as error:
        return f"**Unavailable:** {error}."
    if path:
        return "Ready: the sample is cached on this server."
    return f"Downloaded once (~{DOWNLOAD_MB} MB) when you press Train, then cached on this server."


def parquet_path() -> str:
    """Local path of the parquet file: cached, else downloaded now (once). DatasetError if neither."""
    path = check_available()
    if path:
        return path
    from huggingface_hub import hf_hub_download

    try:
        return hf_hub_download(REPO, FILENAME, repo_type=REPO_TYPE)
    except Exception as error:  # noqa: BLE001 - network errors, 404, disk full...: one clear message
        raise DatasetError(MESSAGES["download"].format(repo=REPO, error=type(error).__name__), "pets_download",
                           repo=REPO, error=type(error).__name__) from None


def _label_names(schema) -> list[str]:
    """Breed names from the file's Hugging Face metadata, else the dataset's known order."""
    try:
        info = json.loads(schema.metadata[b"huggingface"])
        names = info["info"]["features"]["label"]["names"]
        if names:
            return [str(n) for n in names]
    except Exception:  # noqa: BLE001 - absent or odd metadata: the known order still applies
        pass
    return list(BREEDS)


def load_sample(per_class: int = 10, breeds: bool = False, seed: int = 0, path: str | None = None) -> ImageSet:
    """`per_class` photos of each class, chosen at random (same seed, same photos): cat vs dog,
    or each of the 37 breeds. Every photo goes through the app's image loader and limits."""
    if not 2 <= int(per_class) <= MAX_PER_CLASS:
        raise DatasetError(MESSAGES["per_class"].format(most=MAX_PER_CLASS), "pets_per_class", most=MAX_PER_CLASS)
    path = path or parquet_path()
    import pyarrow.parquet as parquet

    try:
        file = parquet.ParquetFile(path)
        names = _label_names(file.schema_arrow)
        labels = file.read(columns=["label"]).column("label").to_pylist()
    except Exception as error:  # noqa: BLE001 - a damaged or partial file
        reason = f"{type(error).__name__}: {error}"
        raise DatasetError(MESSAGES["unreadable"].format(error=reason), "pets_unreadable", error=reason) from None

    def class_of(label: int) -> str:
        breed = names[label] if 0 <= label < len(names) else str(label)
        return breed if breeds else ("cat" if is_cat(breed) else "dog")

    rows_by_class: dict[str, list[int]] = {}
    for row, label in enumerate(labels):
        if label is not None:
            rows_by_class.setdefault(class_of(int(label)), []).append(row)
    rng = random.Random(seed)
    picked: dict[int, str] = {}
    for name in sorted(rows_by_class):
        rows = rows_by_class[name]
        for row in rng.sample(rows, min(per_class, len(rows))):
            picked[row] = name

    # Read only the row groups holding picked rows.
    per_class_items: dict[str, list] = {name: [] for name in sorted(rows_by_class)}
    start = 0
    try:
        for group in range(file.num_row_groups):
            count = file.metadata.row_group(group).num_rows
            wanted = [row for row in range(start, start + count) if row in picked]
            if wanted:
                images = file.read_row_group(group, columns=["image"]).column("image")
                for row in wanted:
                    image = images[row - start].as_py() or {}
                    data = image.get("bytes")
                    if data:
                        shown = f"{picked[row]}/{image.get('path') or f'row{row}.jpg'}"
                        per_class_items[picked[row]].append((shown, data))
            start += count
    except Exception as error:  # noqa: BLE001
        reason = f"{type(error).__name__}: {error}"
        raise DatasetError(MESSAGES["unreadable"].format(error=reason), "pets_unreadable", error=reason) from None
    return from_sources(per_class_items, source=SOURCE_LABEL)
