"""The Fine-tune tab in Dutch in a real browser: Dutch labels, and a training run that reports in Dutch."""
from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
from PIL import Image, ImageOps

ASSETS = Path(__file__).resolve().parent.parent / "assets"


@pytest.fixture(scope="module")
def tiny_zip(tmp_path_factory) -> Path:
    """Two classes of 3 photos each, made from the shipped example photos (no ../shared needed):
    small enough that frozen mode trains in seconds, so the accuracy is cross-validated."""
    path = tmp_path_factory.mktemp("dutch") / "klassen.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name, photo in (("kat", "chelsea.png"), ("koffie", "coffee.png")):
            image = Image.open(ASSETS / photo).convert("RGB")
            variants = [image, ImageOps.mirror(image), image.crop((20, 20, image.width - 20, image.height - 20))]
            for number, variant in enumerate(variants):
                buffer = io.BytesIO()
                variant.save(buffer, "JPEG", quality=90)
                archive.writestr(f"{name}/{number}.jpg", buffer.getvalue())
    return path


def test_finetune_tab_in_dutch_trains_and_reports_in_dutch(open_page, tiny_zip):
    page = open_page("en-US", "?lang=nl")  # a teacher's English laptop, the class in Dutch
    page.wait_for_function("() => document.documentElement.lang === 'nl'")
    page.get_by_role("tab", name="Bijtrainen").click()
    # Dutch labels, buttons and choices; the English ones are gone
    assert page.get_by_role("button", name="Trainen", exact=True).is_visible()
    assert page.get_by_role("button", name="Stoppen").first.is_visible()
    source = page.locator("#finetune-source")
    assert "Trainen op" in source.inner_text() and "een .zip met een map per klasse" in source.inner_text()
    mode = page.locator("#finetune-mode").inner_text()
    assert "bevroren" in mode and "vanaf nul" in mode and "frozen" not in mode
    assert page.get_by_text("Teken de leercurve").is_visible()
    assert page.get_by_text("Train on", exact=True).count() == 0
    # the empty tables' headers are filled in the page's language when the page loads
    page.wait_for_selector("#finetune-confusion :text('echt ↓ / voorspeld →')")
    assert "goed" in page.locator("#finetune-per-class").inner_text()

    # A tiny run: the status, the results and the tables speak Dutch, with a decimal comma
    page.locator("#finetune-zip input[type=file]").set_input_files(str(tiny_zip))
    page.wait_for_selector("#finetune-zip :text('klassen.zip')")
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Klaar')", timeout=180_000)
    status = page.locator("#finetune-status").inner_text()
    assert "#1 bevroren" in status and "tabblad Classificeren" in status, status
    results = page.locator("#finetune-results").inner_text()
    assert "kruisgevalideerde nauwkeurigheid" in results, results
    assert "estimated_by: leave-one-out cross-validation" in results  # the machine value stays as it is
    assert re.search(r"\d,\d%", results) and "trainingsfoto's" in results, results
    assert "klasse" in page.locator("#finetune-per-class").inner_text()
    legend = page.locator("#finetune-loss .role-legend-label").evaluate_all("els => els.map(e => e.textContent)")
    assert any(str(name).endswith(": training") for name in legend), legend
