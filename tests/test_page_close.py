"""A visitor closes the page while a long job runs (a real Chromium page, closed for real): the job
stops, nothing is saved, no file of that visitor is left, and the server logs no error."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.test_jobs_app import small_zip  # noqa: F401 - the fixture, shared

COFFEE = str(Path("assets/coffee.png").resolve())


def open_page(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url)
    page.wait_for_selector("text=Transfer Learning Lab")
    return context, page


def wait_until_idle(server, timeout: float = 45) -> float:
    """Seconds until the server uses under 20 % of a core over 2 s: its jobs have stopped."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        before = server.cpu_seconds()
        time.sleep(2)
        if server.cpu_seconds() - before < 0.4:
            return time.monotonic() - started
    pytest.fail(f"the server still computes {timeout:.0f} s after the page was closed: the job did not stop")


@pytest.fixture
def watch(app_server):
    """The server's files and log before the test; after it: no new file, no traceback."""
    files, since = set(app_server.files()), len(app_server.log())
    yield
    time.sleep(1)  # a cleanup racing a response would show up here
    new = sorted(set(app_server.files()) - files)
    assert new == [], f"files left after the page was closed: {new}"
    assert app_server.tracebacks(since) == [], app_server.tracebacks(since)[0][-3000:]


def test_closing_the_page_during_training(browser, app_server, small_zip, watch):  # noqa: F811
    context, page = open_page(browser, app_server.url)
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-zip input[type=file]").set_input_files(str(small_zip))
    page.wait_for_selector("#finetune-zip :text('small.zip')")
    page.locator("#finetune-mode label:has-text('from scratch')").click()
    page.wait_for_timeout(500)  # the mode resets the epochs; then ask for the most
    page.locator("#finetune-epochs input[type=number]").fill("200")
    page.locator("#finetune-epochs input[type=number]").press("Enter")
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Epoch')", timeout=120_000)
    context.close()
    print(f"idle {wait_until_idle(app_server):.1f} s after the page closed")


def test_closing_the_page_during_an_ideal_run(browser, app_server, watch):
    context, page = open_page(browser, app_server.url)
    page.get_by_role("tab", name="Ideal & adversarial images").click()
    steps = page.locator("#ideal-steps input[type=number]")
    steps.fill("400")
    steps.press("Enter")
    page.locator("#ideal-run").click()
    page.locator("#ideal-status").get_by_text("Step").wait_for(timeout=120_000)
    context.close()
    print(f"idle {wait_until_idle(app_server):.1f} s after the page closed")


@pytest.mark.parametrize("seconds", [1.2, 4.0])  # during the attack (issue 11's crash), and as it ends
def test_closing_the_page_during_an_attack(browser, app_server, watch, seconds):
    context, page = open_page(browser, app_server.url)
    page.get_by_role("tab", name="Ideal & adversarial images").click()
    page.get_by_role("tab", name="Adversarial image", exact=True).click()
    page.locator("#attack-source input[type=file]").set_input_files(COFFEE)
    page.locator("#attack-source img").wait_for()
    page.locator("#attack-run").click()
    page.wait_for_timeout(seconds * 1000)
    context.close()
    print(f"idle {wait_until_idle(app_server):.1f} s after the page closed")
