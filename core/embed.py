"""The feature-space map: photos as points, placed by the vector the backbone hands its classifier.

Why does a straight line (the new head of frozen-mode fine-tuning) separate cats from dogs?
Because in the pretrained network's feature space they already lie apart. This module shows it:
  - features: the pooled vector before the classifier (1280 numbers for EfficientNet-Lite0),
    for pretrained weights, the same network with random weights, or a trained model;
  - knn_accuracy: leave-one-out 5-nearest-neighbour accuracy in that full space (cosine
    distance): how often a photo's closest photos are of its own class. No training at all;
  - project: 2-D coordinates to draw, PCA (instant, the default) or t-SNE (scikit-learn);
  - render_map: the photos themselves as thumbnails at their points, framed in their class colour.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from core import backbones

PCA, TSNE = "pca", "tsne"
METHODS = (PCA, TSNE)
KNN_K = 5
HEADER = 76  # pixels above the map for its title and legend
# Class colours (colour-blind-safe Okabe-Ito order), also on a projector.
CLASS_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442", "#000000"]
TEXT = {
    "title": "{model}: {weights} features, {method}",
    "knn": "5-nearest-neighbour accuracy {acc:.0%} (leave-one-out, full {dims}-number features)",
    "axes": "{method} axis {n}",
}


@dataclasses.dataclass
class FeatureMap:
    features: np.ndarray  # N x D, the full feature vectors
    points: np.ndarray  # N x 2, for drawing
    labels: list[int]
    class_names: tuple[str, ...]
    names: list[str]  # where each photo came from
    knn_acc: float
    method: str
    weights: str  # pretrained / random / trained (what the caller asked for, in words)
    model: str
    _tables: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)  # k -> neighbour table

    def nearest(self, index: int, k: int = KNN_K) -> list[int]:
        """The k photos closest to photo `index` in the full feature space (not on the 2-D map)."""
        return list(self._neighbour_table(k)[index])

    def _neighbour_table(self, k: int) -> np.ndarray:
        """Every photo's k nearest, computed once per map (each click on the map reads one row)."""
        if k not in self._tables:
            self._tables[k] = _neighbours(self.features, k)
        return self._tables[k]


def features_of(loaded: backbones.LoadedModel, images: list[Image.Image]) -> np.ndarray:
    """N x D pooled features (cached per image and model by core.finetune)."""
    from core.finetune import extract_features

    result = None
    for _, batch in extract_features(loaded, images):
        result = batch
    return result.numpy().astype(np.float32)


def _unit(features: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def _neighbours(features: np.ndarray, k: int) -> np.ndarray:
    """Each row's k nearest other rows by cosine distance."""
    unit = _unit(features.astype(np.float64))
    similarity = unit @ unit.T
    np.fill_diagonal(similarity, -np.inf)  # leave-one-out: a photo is not its own neighbour
    k = max(1, min(k, len(features) - 1))
    return np.argsort(-similarity, axis=1, kind="stable")[:, :k]


def knn_accuracy(features: np.ndarray, labels, k: int = KNN_K) -> float:
    """Leave-one-out k-NN accuracy: each photo gets the majority class of its k nearest others
    (ties: the class of the nearest among the tied)."""
    labels = np.asarray(labels)
    if len(labels) < 2:
        raise ValueError("at least two photos are needed for a nearest-neighbour accuracy")
    neighbours = _neighbours(features, k)
    correct = 0
    for i, row in enumerate(neighbours):
        votes = labels[row]
        counts = np.bincount(votes, minlength=labels.max() + 1)
        best = np.flatnonzero(counts == counts.max())
        predicted = next(v for v in votes if v in best)  # the nearest photo among the tied classes
        correct += int(predicted == labels[i])
    return correct / len(labels)


def project(features: np.ndarray, method: str = PCA, seed: int = 0) -> np.ndarray:
    """N x 2 coordinates: PCA of the centred features, or t-SNE (slower, keeps neighbourhoods)."""
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    data = features.astype(np.float64)
    if len(data) < 3:
        return np.zeros((len(data), 2))
    if method == PCA:
        from sklearn.decomposition import PCA as PCAModel

        points = PCAModel(n_components=2, random_state=seed).fit_transform(data)
    else:
        from sklearn.manifold import TSNE as TSNEModel

        perplexity = float(min(30, max(2, (len(data) - 1) // 3)))
        points = TSNEModel(n_components=2, perplexity=perplexity, init="pca", random_state=seed,
                           metric="cosine").fit_transform(data)
    return points


def feature_map(loaded: backbones.LoadedModel, images, labels, class_names, names=None, method: str = PCA,
                weights: str | None = None) -> FeatureMap:
    features = features_of(loaded, list(images))
    return FeatureMap(features=features, points=project(features, method), labels=list(labels),
                      class_names=tuple(class_names), names=list(names or [str(i) for i in range(len(labels))]),
                      knn_acc=round(knn_accuracy(features, labels), 6), method=method,
                      weights=weights or loaded.weights, model=loaded.name)


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def thumb_size(count: int, size: int = 900) -> int:
    """Thumbnail side for `count` photos: big for a handful, small for hundreds."""
    return int(np.clip(size / max(count, 1) ** 0.5 / 2.2, 40, 110))


def render_map(fmap: FeatureMap, images, size: int = 900, thumb: int | None = None,
               title: str | None = None, knn_text: str | None = None) -> Image.Image:
    """The map as a picture: each photo as a thumbnail at its point, framed in its class colour,
    with a legend and the k-NN accuracy underneath (`knn_text`: that line in the UI's language).
    Later photos may cover earlier ones."""
    thumb = thumb or thumb_size(len(fmap.labels), size)
    header, footer, margin = HEADER, 44, thumb // 2 + 8
    canvas = Image.new("RGB", (size, size + header + footer), "white")
    draw = ImageDraw.Draw(canvas)
    points = np.asarray(fmap.points, dtype=np.float64)
    low, high = points.min(0), points.max(0)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    xy = margin + (points - low) / span * (size - 2 * margin)
    xy[:, 1] = size - xy[:, 1] + header  # y up, below the header
    order = np.random.default_rng(0).permutation(len(points))  # no class always drawn on top
    for i in order:
        colour = CLASS_COLORS[fmap.labels[i] % len(CLASS_COLORS)]
        photo = images[i].convert("RGB").copy()
        photo.thumbnail((thumb, thumb))
        x, y = int(xy[i, 0] - photo.width / 2), int(xy[i, 1] - photo.height / 2)
        draw.rectangle((x - 4, y - 4, x + photo.width + 3, y + photo.height + 3), fill=colour)
        canvas.paste(photo, (x, y))
    title = title or TEXT["title"].format(model=fmap.model.split(".")[0], weights=fmap.weights,
                                          method=fmap.method.upper().replace("TSNE", "t-SNE"))
    draw.text((16, 8), title, fill="black", font=_font(30))
    x = 16
    for number, name in enumerate(fmap.class_names):
        colour = CLASS_COLORS[number % len(CLASS_COLORS)]
        draw.rectangle((x, 46, x + 22, 68), fill=colour)
        draw.text((x + 30, 44), name, fill="black", font=_font(24))
        x += 50 + int(draw.textlength(name, font=_font(24)))
    knn = knn_text or TEXT["knn"].format(acc=fmap.knn_acc, dims=fmap.features.shape[1])
    draw.text((16, size + header + 8), knn, fill="black", font=_font(22))
    return canvas


def point_at(fmap: FeatureMap, x: float, y: float, size: int = 900, thumb: int | None = None) -> int | None:
    """The photo drawn nearest to pixel (x, y) of render_map's picture, or None far from all."""
    thumb = thumb or thumb_size(len(fmap.labels), size)
    header, margin = HEADER, thumb // 2 + 8
    points = np.asarray(fmap.points, dtype=np.float64)
    if not len(points):
        return None
    low, high = points.min(0), points.max(0)
    span = np.where(high - low > 1e-12, high - low, 1.0)
    xy = margin + (points - low) / span * (size - 2 * margin)
    xy[:, 1] = size - xy[:, 1] + header
    distance = np.hypot(xy[:, 0] - x, xy[:, 1] - y)
    best = int(distance.argmin())
    return best if distance[best] <= thumb else None


def random_twin(loaded: backbones.LoadedModel) -> backbones.LoadedModel:
    """The same architecture with random weights (for a trained model: its backbone's)."""
    name = loaded.name
    if loaded.weights == backbones.TRAINED:
        net = getattr(loaded.model, "backbone", loaded.model)
        name = getattr(net, "pretrained_cfg", {}).get("architecture") or name
    return backbones.load_backbone(name, backbones.RANDOM)

