"""The Ideal & adversarial tab in a real browser (live updates while the image forms) and its API."""
from __future__ import annotations

import numpy as np
from gradio_client import handle_file
from PIL import Image


def test_ideal_image_updates_live_then_reports_the_saved_png(page):
    page.get_by_role("tab", name="Ideal & adversarial images").click()
    page.get_by_role("button", name="zebra").click()
    assert page.locator("#ideal-target input").input_value() == "zebra (340)"
    steps = page.locator("#ideal-steps input[type=number]")
    steps.fill("30")
    steps.press("Enter")
    page.locator("#ideal-run").click()
    status = page.locator("#ideal-status")
    # A live update: the step counter and a first image arrive while the optimisation still runs.
    status.get_by_text("Step").wait_for()
    first_src = page.locator("#ideal-image img").get_attribute("src")
    assert "/30" in status.inner_text() and "zebra" in status.inner_text()
    page.get_by_text("Saved as an 8-bit PNG").wait_for(timeout=240_000)
    final_text = status.inner_text()
    assert "after 30 steps" in final_text and "p(zebra)" in final_text
    assert page.locator("#ideal-image img").get_attribute("src") != first_src
    assert page.locator("#ideal-filmstrip img").count() >= 2


def test_attack_endpoint_returns_the_three_images_and_the_verdict(client):
    original, change, adversarial, before, after, report, png = client.predict(
        handle_file("assets/coffee.png"), "281", 2, 20, 0, "pgd", api_name="/attack")
    assert before["label"].startswith("espresso")
    assert after["label"].startswith("tabby")
    assert "Fools the model (PNG written and re-read) | **yes**" in report
    with Image.open(png) as written, Image.open(original) as source:
        delta = np.abs(np.asarray(written, dtype=np.int16) - np.asarray(source.convert("RGB"), dtype=np.int16))
        assert written.size == (224, 224) and delta.max() <= 2
