"""Core of the Ideal & adversarial tab: parameterisations, transforms, the shared render loop,
the attack (verified by re-reading the written PNG through timm's own pipeline) and ideal images."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from timm.data import create_transform

from core import attack, ideal
from core.backbones import load_backbone
from core.images import load_image
from core.optvis import objectives, param, transforms
from core.optvis.pixels import model_crop, to_pil, to_tensor
from core.optvis.render import SignedGradient, render

TABBY = 281


@pytest.fixture(scope="module")
def loaded():
    return load_backbone()


@pytest.fixture(scope="module")
def independent_reader(loaded):
    """A classifier reading PNG files with timm's standard eval transform: a separate code path."""
    transform = create_transform(**loaded.data_config, is_training=False)

    def read(path) -> torch.Tensor:
        with Image.open(path) as image:
            pixels = transform(image.convert("RGB"))
        with torch.no_grad():
            return torch.softmax(loaded.model(pixels[None]), dim=1)[0]
    return read


def test_fourier_parameterisation_starts_at_the_given_image():
    start = param.start_image("noise", 64, seed=3)
    image = param.FourierImage(start)()
    assert image.shape == start.shape
    assert float((image.detach() - start).abs().max()) < 1e-3


def test_pixel_and_fourier_images_stay_in_range_after_a_big_step():
    for parameterisation in (param.PixelImage(param.start_image("grey", 32)),
                             param.FourierImage(param.start_image("grey", 32))):
        with torch.no_grad():
            for tensor in parameterisation.parameters():
                tensor.add_(torch.randn_like(tensor) * 5)
        parameterisation.project()
        image = parameterisation().detach()
        assert float(image.min()) >= 0 and float(image.max()) <= 1


def test_perturbation_projection_keeps_the_epsilon_ball_and_pixel_range():
    original = torch.rand(1, 3, 16, 16)
    perturbation = param.Perturbation(original, eps=2 / 255)
    with torch.no_grad():
        perturbation.delta.add_(torch.randn_like(original))
    perturbation.project()
    image = perturbation().detach()
    assert float((image - original).abs().max()) <= 2 / 255 + 1e-7
    assert float(image.min()) >= 0 and float(image.max()) <= 1


def test_standard_reread_matches_timms_pil_pipeline(loaded):
    photo = model_crop(loaded, load_image("assets/chelsea.png"))  # a 224x224 8-bit crop
    ours = transforms.standard_reread(loaded.data_config["crop_pct"])(to_tensor(photo))
    theirs = loaded.preprocess(photo) * 0.5 + 0.5  # mean = std = 0.5 for this model
    assert ours.shape[-2:] == theirs.shape[-2:]
    assert float((ours[0] - theirs).abs().mean()) < 0.01
    # ...and it is not the identity: the re-read really moves pixels.
    assert float((to_tensor(photo)[0] - theirs).abs().mean()) > 0.02


def test_total_variation_and_blur_measure_smoothness():
    flat = torch.full((1, 3, 32, 32), 0.3)
    noise = torch.rand(1, 3, 32, 32)
    assert float(objectives.total_variation(flat)) == 0
    smoothed = transforms.gaussian_blur(noise, 1.0)
    assert float(objectives.total_variation(smoothed)) < 0.5 * float(objectives.total_variation(noise))
    assert math.isclose(float(smoothed.mean()), float(noise.mean()), abs_tol=0.01)
    assert transforms.down_up(noise).shape == noise.shape


def test_render_reports_every_few_steps_and_stops_when_asked(loaded):
    model = objectives.wrap(loaded)
    image = param.PixelImage(param.start_image("grey", 64))
    optimizer = torch.optim.Adam(image.parameters(), lr=0.01)

    def objective(pixels, logits):
        return objectives.class_logit(logits, TABBY), {}

    events = list(render(image, model, objective, transforms.identity, optimizer, steps=6, every=3))
    assert [event.step for event in events] == [3, 6] and events[-1].finished
    calls = iter([False, False, True])
    stopped = list(render(image, model, objective, transforms.identity, optimizer, steps=50, every=1,
                          should_stop=lambda: next(calls)))
    assert stopped[-1].stopped and stopped[-1].step == 2


def test_signed_gradient_moves_each_parameter_by_exactly_the_step():
    tensor = torch.nn.Parameter(torch.zeros(5))
    tensor.grad = torch.tensor([3.0, -0.001, 0.0, 7.0, -2.0])
    SignedGradient([tensor], lr=0.5).step()
    assert tensor.detach().tolist() == [-0.5, 0.5, 0.0, -0.5, 0.5]


def test_pgd_attack_fools_the_independent_reader_within_two_levels(loaded, independent_reader, catsdogs_dir,
                                                                   tmp_path):
    dog = sorted((catsdogs_dir / "dog").iterdir())[0]
    result = attack.attack(loaded, load_image(dog), "tabby cat", eps=2)
    assert result.before["index"] != TABBY
    path = tmp_path / "adversarial.png"
    result.adversarial.save(path)
    result.original.save(tmp_path / "original.png")
    assert int(independent_reader(path).argmax()) == TABBY
    assert int(independent_reader(tmp_path / "original.png").argmax()) != TABBY
    written = np.asarray(Image.open(path), dtype=np.int16)
    source = np.asarray(Image.open(tmp_path / "original.png"), dtype=np.int16)
    assert written.shape == source.shape == (224, 224, 3)
    assert np.abs(written - source).max() <= 2 and result.linf <= 2
    assert result.psnr >= 40
    assert result.fools_png and result.after["index"] == TABBY


def test_fgsm_is_one_step_within_budget_and_weaker_than_pgd(loaded):
    photo = load_image("assets/coffee.png")
    fgsm = attack.attack(loaded, photo, "tabby cat", eps=2, method=attack.FGSM)
    pgd = attack.attack(loaded, photo, "tabby cat", eps=2, steps=20)
    assert fgsm.steps_done == 1 and fgsm.linf <= 2
    assert pgd.after["target_prob"] > fgsm.after["target_prob"]


def test_attack_rejects_bad_settings(loaded):
    photo = Image.new("RGB", (64, 64), "white")
    for kwargs, message in [(dict(eps=0), "eps"), (dict(method="cw"), "method"), (dict(steps=0), "steps"),
                            (dict(target="no such animal"), "no ImageNet class")]:
        with pytest.raises(ValueError, match=message):
            attack.attack(loaded, photo, **{"target": "tabby cat", **kwargs})


def test_ideal_image_raises_the_target_and_tv_smooths_it(loaded):
    smooth = ideal.ideal_image(loaded, "goldfish", steps=25, tv=8, seed=1)
    sharp = ideal.ideal_image(loaded, "goldfish", steps=25, tv=0, seed=1)
    start = ideal.measure(loaded, to_pil(param.start_image("noise", 224, seed=1)), smooth.target)
    assert sharp.prob > start["prob"] + 0.2
    assert smooth.total_variation < 0.8 * sharp.total_variation
    assert smooth.image.size == (224, 224) and smooth.image.mode == "RGB"


def test_ideal_image_rejects_bad_settings(loaded):
    with pytest.raises(ValueError, match="mode"):
        ideal.ideal_image(loaded, "zebra", mode="deepdream", steps=1)
    with pytest.raises(ValueError, match="photo"):
        ideal.ideal_image(loaded, "zebra", start="photo", steps=1)


def test_every_quick_pick_is_an_imagenet_class():
    from core.imagenet import resolve_class

    assert len({resolve_class(name) for name in ideal.QUICK_PICKS}) == len(ideal.QUICK_PICKS)


def test_attack_tv_weight_smooths_the_change(loaded):
    photo = load_image("assets/coffee.png")

    def change_variation(result) -> float:
        delta = to_tensor(result.adversarial) - to_tensor(result.original)
        return float(objectives.total_variation(delta))

    rough = attack.attack(loaded, photo, "tabby cat", eps=4, steps=20, tv=0)
    smooth = attack.attack(loaded, photo, "tabby cat", eps=4, steps=20, tv=10)
    assert rough.fools_png and smooth.fools_png
    assert change_variation(smooth) < 0.7 * change_variation(rough)


def test_ideal_image_can_start_from_a_photo(loaded):
    photo = load_image("assets/chelsea.png")
    crop = to_tensor(model_crop(loaded, photo))
    for mode in ideal.MODES:
        first = next(ideal.ideal_steps(loaded, "zebra", steps=1, mode=mode, start="photo", photo=photo, every=1))
        assert float((first.image - crop).abs().mean()) < 0.05  # one step away from the photo, not from noise
