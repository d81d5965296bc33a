"""A real browser (Playwright + Debian's Chromium) uses the Classify tab like a visitor."""
from __future__ import annotations

import re
from pathlib import Path

CAT_LABELS = ("tiger cat", "tabby, tabby cat", "Egyptian cat")


def test_upload_chelsea_and_classify_shows_a_cat_with_its_percentage(page):
    page.get_by_role("tab", name="Classify").click()
    labels = page.locator("#classify-labels")
    labels.wait_for()
    page.locator("input[type=file]").first.set_input_files(str(Path("assets/chelsea.png").resolve()))
    page.get_by_role("button", name="Classify", exact=True).click()
    # The answer: the top label is a cat, and the five rows each carry a percentage.
    top = labels.locator("[data-testid='label-output-value']")
    page.wait_for_function("names => names.includes(document.querySelector("
                           "'#classify-labels [data-testid=label-output-value]')?.innerText.trim())",
                           arg=list(CAT_LABELS), timeout=60_000)
    assert top.inner_text().strip() in CAT_LABELS
    rows = re.findall(r"^(.+?)\s*\n?\s*(\d+)%$", labels.inner_text(), flags=re.M)
    assert len(rows) == 5, labels.inner_text()
    first_name, first_percent = rows[0]
    assert first_name.strip() == top.inner_text().strip() and 20 <= int(first_percent) <= 100, rows
    # ...answered now, by the bundled weights: the timing appears only after a classification.
    page.get_by_text(re.compile(r"bundled ImageNet weights.*\d+ ms")).first.wait_for()
    page.locator("#classify-crop img").wait_for()
