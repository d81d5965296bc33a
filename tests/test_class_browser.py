"""What a teacher saw go wrong in front of a class (issue 11), held by a real browser: no stale
answers, a live plot that shows the epoch the status names, and no "Error" badges on outputs a
missing input never touched."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import make_pets_zip

ZIP = "a .zip of class folders"

# The latest epoch each series of a plot draws, read from the chart's SVG (Vega labels every point).
PLOT_EPOCHS = """plot => {
  const epochs = [...document.querySelectorAll(plot + ' path[aria-label]')]
    .map(e => (e.getAttribute('aria-label').match(/^epoch: (\\d+);/) || [0, 0])[1]).map(Number);
  return epochs.length ? Math.max(...epochs) : 0;
}"""


@pytest.fixture(scope="module")
def small_zip(tmp_path_factory, catsdogs_dir) -> Path:
    return make_pets_zip(tmp_path_factory.mktemp("class-zip") / "pets.zip", catsdogs_dir, 5, folder="set/")


def test_live_plot_shows_the_epoch_the_status_names(page, small_zip):
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-zip input[type=file]").set_input_files(str(small_zip))
    page.wait_for_selector("#finetune-zip :text('pets.zip')")
    # "top blocks": seconds per epoch, so the status and the chart can be compared mid-run.
    page.locator("#finetune-mode label:has-text('top blocks')").click()
    page.wait_for_timeout(1500)  # the mode sets its default epochs; then ask for fewer
    page.locator("#finetune-epochs input[type=number]").fill("4")
    page.locator("#finetune-epochs input[type=number]").press("Enter")
    page.locator("#finetune-train").click()
    # While training, at the same instant: status "Epoch N:" (N >= 2) and the chart's last point at N.
    page.wait_for_function("""() => {
      const status = document.querySelector('#finetune-status')?.innerText || '';
      const match = status.match(/Epoch (\\d+):/);
      if (!match || Number(match[1]) < 2) return false;
      return (""" + PLOT_EPOCHS + """)('#finetune-loss') === Number(match[1]);
    }""", timeout=180_000)
    page.wait_for_selector("#finetune-status :text('now in the Classify tab')", timeout=180_000)
    epochs = int(page.locator("#finetune-epochs input[type=number]").input_value())
    assert page.evaluate(PLOT_EPOCHS, "#finetune-loss") == epochs
    # whole epochs on the x axis: no "1.000000", no "0.5"
    ticks = page.locator("#finetune-loss g[aria-label^='X-axis'] .role-axis-label text").evaluate_all(
        "els => els.map(e => e.textContent)")
    assert len(ticks) >= 3 and all(re.fullmatch(r"\d+", tick) for tick in ticks), ticks


def test_missing_input_stamps_no_error_badge_on_untouched_outputs(page):
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-source label:has-text('a sample set')").click()
    page.locator("#finetune-train").click()  # no sample set chosen (none offered here either)
    page.get_by_text("no sample set chosen", exact=False).first.wait_for(timeout=30_000)
    page.wait_for_timeout(1000)  # any badge would be drawn by now
    outputs = ["#finetune-loss", "#finetune-accuracy", "#finetune-confusion", "#finetune-per-class",
               "#finetune-misclassified", "#finetune-export", "#finetune-results", "#finetune-status"]
    badges = {selector: page.locator(f"{selector} .error").count() for selector in outputs}
    assert not any(badges.values()), badges
    # the empty tables carry their real headers, not "1 2 3"
    headers = page.locator("#finetune-per-class th").all_inner_texts()
    assert any("class" in h for h in headers) and not any(h.strip() == "1" for h in headers), headers


def test_switching_to_random_weights_replaces_the_answer_without_a_click(page):
    page.get_by_role("tab", name="Classify").click()
    page.locator("input[type=file]").first.set_input_files(str(Path("assets/chelsea.png").resolve()))
    labels = page.locator("#classify-labels")
    labels.get_by_text("cat", exact=False).first.wait_for(timeout=60_000)
    before = labels.inner_text()
    page.locator("#classify-weights label:has-text('random')").click()
    # No Classify click: the badge and the answer both change, and the heading says what it is.
    page.locator(".tll-badge-random").first.wait_for(timeout=60_000)
    page.wait_for_function("""before => {
      const now = document.querySelector('#classify-labels')?.innerText || '';
      return now !== before && /random/i.test(now);
    }""", arg=before, timeout=60_000)
    assert "tiger cat" not in labels.inner_text().split("\n")[1]  # the pretrained answer is gone
    # back to pretrained: the cat answer returns, again without a click
    page.locator("#classify-weights label:has-text('pretrained')").click()
    page.wait_for_function("() => /ImageNet classes\\n/.test(document.querySelector('#classify-labels').innerText)"
                           " && /cat/.test(document.querySelector('#classify-labels').innerText)", timeout=60_000)
