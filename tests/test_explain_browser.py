"""Where it looks, the feature-space map and the lesson notes, in a real browser.

Set TLL_SHOTS=DIR to also save a screenshot of each view (1400 px wide) for review.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from tests.conftest import ASSETS

SHOTS = os.environ.get("TLL_SHOTS")


def shot(page, name: str, locator=None) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        target = locator or page
        target.screenshot(path=str(Path(SHOTS) / f"{name}.png"), **({} if locator else {"full_page": True}))


def test_classify_overlay_appears_for_the_cat_example_and_follows_a_picked_class(page):
    page.get_by_role("tab", name="Classify").click()
    page.locator("#notes-classify").get_by_text("Lesson notes").click()
    page.get_by_text("Everything the network knows is in its weights").wait_for()
    shot(page, "notes-classify", page.locator("#notes-classify"))
    page.locator("input[type=file]").first.set_input_files(str(ASSETS / "chelsea.png"))
    page.locator("#classify-cam img").wait_for(timeout=120_000)
    caption = page.locator("#classify-cam-caption")
    caption.get_by_text("cat", exact=False).first.wait_for(timeout=60_000)
    # the picker now lists the top-5: pick the second class, and the caption follows it
    page.locator("#classify-cam-target input").click()
    options = page.get_by_role("option")
    options.nth(2).wait_for()
    second = options.nth(2).inner_text().split(" (")[0]
    options.nth(2).click()
    caption.get_by_text(second, exact=False).first.wait_for(timeout=60_000)
    shot(page, "classify-cam")


@pytest.fixture(scope="module")
def mistake_zips(tmp_path_factory, catsdogs_dir):
    """A training zip, and a validation zip with a dog filed under cat: a sure mistake to click."""
    folder = tmp_path_factory.mktemp("zips")
    cats, dogs = sorted((catsdogs_dir / "cat").glob("*.jpg")), sorted((catsdogs_dir / "dog").glob("*.jpg"))
    train, val = folder / "train.zip", folder / "val.zip"
    with zipfile.ZipFile(train, "w") as archive:
        for photo in cats[:8]:
            archive.write(photo, f"cat/{photo.name}")
        for photo in dogs[:8]:
            archive.write(photo, f"dog/{photo.name}")
    with zipfile.ZipFile(val, "w") as archive:
        for photo in cats[8:10] + dogs[10:11]:
            archive.write(photo, f"cat/{photo.name}")
        for photo in dogs[8:10]:
            archive.write(photo, f"dog/{photo.name}")
    return train, val


def test_a_mistakes_gallery_image_shows_its_map_and_the_feature_map_draws(page, mistake_zips):
    train, val = mistake_zips
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-zip input[type=file]").set_input_files(str(train))
    page.wait_for_selector("#finetune-zip :text('train.zip')", timeout=180_000)
    page.get_by_text("Validation", exact=True).click()
    page.locator("#finetune-val-zip input[type=file]").set_input_files(str(val))
    page.wait_for_selector("#finetune-val-zip :text('val.zip')", timeout=180_000)
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Done')", timeout=180_000)
    page.locator("#finetune-misclassified img").first.click()
    page.locator("#finetune-cam img").wait_for(timeout=120_000)
    page.locator("#finetune-cam-caption").get_by_text("It said dog").wait_for(timeout=60_000)
    page.locator("#finetune-cam-true img").wait_for()
    shot(page, "finetune-cam", page.locator("#finetune-cam").locator("xpath=../.."))
    # the feature-space map of the training photos: pretrained beside random weights
    page.locator("#embed-panel").get_by_text("Feature-space map").click()
    page.locator("#embed-draw").click()
    page.locator("#embed-pretrained img").wait_for(timeout=180_000)
    summary = page.locator("#embed-summary").inner_text()
    assert "pretrained" in summary and "random weights" in summary
    box = page.locator("#embed-pretrained img").bounding_box()
    # click near the middle of the map's drawing area until a photo is hit (points are spread out)
    for fx, fy in [(x / 6, y / 6) for y in range(1, 6) for x in range(1, 6)]:
        page.mouse.click(box["x"] + fx * box["width"], box["y"] + fy * box["height"])
        page.wait_for_timeout(1000)
        if "nearest neighbours" in page.locator("#embed-picked").inner_text():
            break
    assert "nearest neighbours" in page.locator("#embed-picked").inner_text()
    assert page.locator("#embed-neighbours img").count() >= 6  # the photo and its 5 neighbours
    shot(page, "embed-map", page.locator("#embed-panel"))
    shot(page, "finetune-full")


def test_cam_endpoint_maps_a_named_class(client):
    from gradio_client import handle_file

    cat_map, caption, _ = client.predict(handle_file(str(ASSETS / "chelsea.png")), "tf_efficientnet_lite0",
                                         "pretrained", "285", api_name="/cam")
    assert Path(cat_map).is_file() and "Egyptian cat" in caption
    with pytest.raises(Exception, match="no class is called"):
        client.predict(handle_file(str(ASSETS / "chelsea.png")), "tf_efficientnet_lite0", "pretrained", "xyzzy",
                       api_name="/cam")
