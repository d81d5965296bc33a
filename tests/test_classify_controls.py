"""The Classify tab's controls mean what they say (issue 11): a model you trained answers under a
heading with your classes, its Weights choice is fixed (not silently ignored), and a backbone or
weights change answers again with the model the controls name."""
from __future__ import annotations

import gradio as gr
import pytest

from core import datasets, finetune
from core.trained import save_trained_model
from demo import classify


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory, catsdogs_dir):
    images = {name: sorted((catsdogs_dir / name).glob("*.jpg"))[:4] for name in ("cat", "dog")}
    image_set = datasets.from_sources({name: [str(p) for p in paths] for name, paths in images.items()})
    train, val = datasets.stratified_split(image_set, 0.25, seed=0)
    result = finetune.run_to_end(finetune.train(train, val, finetune.TrainSettings(mode="frozen", epochs=10)))
    path = save_trained_model(result, tmp_path_factory.mktemp("trained") / "pets.safetensors", name="pets")
    return {"★ pets": str(path)}


def test_trained_model_is_headed_with_its_classes_and_fixes_its_weights(trained_model):
    labels, crop, status, weights = classify.model_changed("assets/chelsea.png", "★ pets", classify.RANDOM,
                                                           trained_model)
    assert "your classes" in labels["label"] and "cat" in labels["label"]
    assert "ImageNet" not in labels["label"]
    assert set(labels["value"]) == {"cat", "dog"}
    assert "YOUR MODEL" in status
    # the Weights radio shows the only weights a trained model has, and cannot be changed
    assert weights["interactive"] is False and weights["value"] == classify.PRETRAINED
    # the API never answers "random" with the trained weights
    with pytest.raises(gr.Error, match="only its trained weights"):
        classify.classify("assets/chelsea.png", "★ pets", classify.RANDOM, trained_model)


def test_changing_weights_answers_again_with_the_new_model():
    pretrained = classify.model_changed("assets/chelsea.png", classify.backbones.BUNDLED_MODEL,
                                        classify.PRETRAINED, {})
    random = classify.model_changed("assets/chelsea.png", classify.backbones.BUNDLED_MODEL, classify.RANDOM, {})
    assert pretrained[0]["label"] == "Top-5 ImageNet classes" and "cat" in next(iter(pretrained[0]["value"]))
    assert "random" in random[0]["label"] and random[0]["value"] != pretrained[0]["value"]
    assert "RANDOM WEIGHTS" in random[2] and random[3]["interactive"] is True
    # no image yet: the old answer is cleared, not left beside the new badge
    cleared = classify.model_changed(None, classify.backbones.BUNDLED_MODEL, classify.RANDOM, {})
    assert cleared[0]["value"] is None and cleared[1] is None and "RANDOM WEIGHTS" in cleared[2]
