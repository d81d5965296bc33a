"""The Feature maps and Ideal & adversarial tabs (and the Grad-CAM panels) in Dutch: the words in the
pictures and statistics, the reports, `python app.py cam --lang nl`, and the tabs in a Dutch browser."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pytest

from tests.conftest import run_cli

DUTCH_PAGE = SimpleNamespace(headers={"cookie": "tll_lang=nl"}, session_hash="dutch-test")
ENGLISH_PAGE = SimpleNamespace(headers={"accept-language": "en-US"}, session_hash="english-test")


@pytest.fixture(scope="module")
def cat_record():
    from core.features import record_features
    from core.images import load_image
    from core.weights import load_model

    loaded, _ = load_model()
    return record_features(loaded, load_image("assets/chelsea.png"))


def test_feature_statistics_and_table_in_dutch_with_decimal_commas(cat_record):
    from core.feature_views import layers_table, layers_table_headers, stats_markdown

    dutch, english = stats_markdown(cat_record, "stage4", "nl"), stats_markdown(cat_record, "stage4")
    assert "kanalen × hoogte × breedte" in dutch and "channels × height × width" in english
    assert "tijgerkat" in dutch and "tiger cat" in english  # the top guess, in ImageNet's Dutch names
    mean = cat_record.stats["blocks.4"].mean
    assert f"gemiddeld {mean:.3g}".replace(".", ",") in dutch and f"mean {mean:.3g}" in english
    assert "channels" not in dutch and "layers recorded" not in dutch
    assert layers_table_headers("nl")[0] == "laag" and layers_table_headers()[0] == "layer"
    assert [row[1] for row in layers_table(cat_record, "nl")] == [row[1] for row in layers_table(cat_record)]


def test_feature_pictures_carry_dutch_titles(cat_record):
    import numpy as np

    from core.feature_views import render_grid, render_strip

    # Same maps, other words: only the title band and the legend differ.
    dutch, english = np.asarray(render_grid(cat_record, "stage2", 8, lang="nl")), np.asarray(render_grid(cat_record, "stage2", 8))
    assert dutch.shape == english.shape and not np.array_equal(dutch, english)
    assert render_strip(cat_record, lang="nl").size == render_strip(cat_record).size


def test_attack_report_and_top5_in_dutch():
    from demo import optimize

    *_, before, after, report, path = list(optimize.run_attack("assets/coffee.png", "281", 2, 2, 0, "pgd",
                                                               request=DUTCH_PAGE))[-1]
    assert "| Controle | Uitkomst |" in report and "p(cyperse kat) vooraf → erna" in report
    assert re.search(r"PSNR \| \d+,\d dB", report) and "Check" not in report
    assert "koffiemok (504)" in before  # ImageNet's Dutch names in the top-5
    english = list(optimize.run_attack("assets/coffee.png", "281", 2, 2, 0, "pgd", request=ENGLISH_PAGE))[-1]
    assert "| Check | Result |" in english[5] and "coffee mug (504)" in english[3]


def test_cam_captions_in_dutch():
    from demo import cam_views

    overlay, caption, picker = cam_views.classify_map("assets/chelsea.png", "tf_efficientnet_lite0", "pretrained",
                                                      None, "__top__", request=DUTCH_PAGE)
    assert "rood is waar het bewijs" in caption and "kat" in caption
    assert picker["choices"][0] == ("de bovenste klasse", "__top__")
    assert any("tijgerkat" in shown for shown, _ in picker["choices"])
    _, english, _ = cam_views.classify_map("assets/chelsea.png", "tf_efficientnet_lite0", "pretrained", None,
                                           "__top__", request=ENGLISH_PAGE)
    assert "red is where the evidence" in english and re.search(r"\(\d+\.\d%\)", english)


def test_cam_cli_lang_nl_gives_dutch_labels(tmp_path):
    dutch = run_cli("cam", "assets/chelsea.png", "--out", str(tmp_path / "nl.png"), "--lang", "nl")
    english = run_cli("cam", "assets/chelsea.png", "--out", str(tmp_path / "en.png"))
    assert dutch.returncode == 0 == english.returncode, dutch.stderr[-2000:]
    nl, en = json.loads(dutch.stdout.splitlines()[-1]), json.loads(english.stdout.splitlines()[-1])
    assert set(nl) == set(en) and nl["target"] == en["target"]  # same answer, same keys, other words
    assert "kat" in nl["label"] and "cat" in en["label"] and "kat" not in en["label"]
    assert [row["index"] for row in nl["top"]] == [row["index"] for row in en["top"]]
    assert "tijgerkat" in [row["label"] for row in nl["top"]]
    assert run_cli("cam", "assets/chelsea.png", "--out", str(tmp_path / "x.png"), "--lang", "fr").returncode == 2


# --- In a Dutch browser ---------------------------------------------------------------------------

def test_dutch_browser_feature_maps_and_ideal_tabs(open_page):
    page = open_page("nl-NL", "?lang=nl")
    page.get_by_role("tab", name="Kenmerkkaarten").click()
    page.get_by_role("button", name="Toon kenmerkkaarten").wait_for()
    assert page.get_by_text("Kleurenschaal (perceptueel)").is_visible()
    stats = page.locator("#features-stats")
    stats.get_by_text("lagen vastgelegd in één voorwaartse doorgang").wait_for()
    assert "kanalen × hoogte × breedte" in stats.inner_text()
    assert "Kanaal om te vergroten (0–" in page.locator("#features-channel").inner_text()
    assert "MEEGELEVERD" in page.locator("#features-status").inner_text()

    page.get_by_role("tab", name="Ideale en misleidende beelden").click()
    run = page.get_by_role("button", name="Maak het ideale beeld")
    run.wait_for()
    for text in ("Doelklasse (typ om te zoeken)", "Gladheid van het beeld (gewicht totale variatie)",
                 "Beginnen met", "Kies een klasse en druk op"):
        assert page.get_by_text(text).first.is_visible(), text
    assert page.get_by_role("button", name="goudvis").is_visible()  # quick picks: ImageNet's Dutch names
    steps = page.locator("#ideal-steps input[type=number]")
    steps.fill("10")
    steps.press("Enter")
    run.click()
    status = page.locator("#ideal-status")
    status.get_by_text("Opgeslagen als 8-bit PNG").wait_for(timeout=120_000)
    text = status.inner_text()
    assert text.startswith("Klaar na 10 stappen") and "p(cyperse kat)" in text, text
    assert re.search(r"\d,\d{3}", text) and "Saved" not in text  # decimal commas, no English left
    assert page.locator("#ideal-filmstrip").get_by_text("stap 10").first.is_visible()

    page.get_by_role("tab", name="Misleidend beeld").click()
    page.get_by_role("button", name="Aanvallen").wait_for()
    assert page.get_by_text("Gladheid van de verandering (gewicht totale variatie)").is_visible()
