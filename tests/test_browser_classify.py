"""A real browser (Playwright + Debian's Chromium) uses the Classify tab like a visitor."""
from __future__ import annotations

from pathlib import Path


def test_upload_chelsea_shows_a_cat_label(page):
    page.get_by_role("tab", name="Classify").click()
    page.locator("#classify-labels").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(Path("assets/chelsea.png").resolve()))
    labels = page.locator("#classify-labels")
    labels.get_by_text("cat", exact=False).first.wait_for(timeout=60_000)
    text = labels.inner_text().lower()
    assert "cat" in text and "%" in text
    assert page.get_by_text("bundled ImageNet weights").first.is_visible()
    page.locator("#classify-crop img").wait_for()
