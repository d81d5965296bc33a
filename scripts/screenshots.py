"""Screenshots of every tab, as a visitor sees them, for the README and for review.

  python scripts/screenshots.py [--out docs/screenshots] [--url URL]

Launches the app (unless --url), drives it with Playwright + Debian's Chromium, and writes one PNG
per tab after a typical interaction.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


from local_server import start_server, stop_server  # noqa: E402 (a sibling script)


def classify(page):
    page.get_by_role("tab", name="Classify").click()
    page.locator("#classify-labels").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(ROOT / "assets" / "chelsea.png"))
    page.locator("#classify-labels").get_by_text("cat", exact=False).first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)


def load_lazy_images(page):
    """Scroll through the page: Gradio's images load lazily, only near the viewport (a phone's
    long page would otherwise be captured with blank pictures)."""
    height = page.evaluate("document.body.scrollHeight")
    for y in range(0, height + 800, 600):
        page.evaluate(f"window.scrollTo(0, {y})")
        page.wait_for_timeout(150)
    page.evaluate("window.scrollTo(0, 0)")
    page.wait_for_timeout(500)


def features(page):
    page.locator("#features-grid").scroll_into_view_if_needed()
    page.locator("#features-grid img").wait_for(timeout=120_000)
    page.wait_for_timeout(1500)


def ideal(page):
    page.get_by_role("button", name="zebra").click()
    page.locator("#ideal-run").click()
    page.get_by_text("Saved as an 8-bit PNG").wait_for(timeout=300_000)
    page.wait_for_timeout(1500)


def attack(page):
    page.get_by_role("tab", name="Adversarial image", exact=True).click()
    page.locator("input[type=file]").last.set_input_files(str(ROOT / "assets" / "coffee.png"))
    page.wait_for_timeout(1000)
    page.locator("#attack-run").click()
    page.locator("#attack-report").get_by_text("PSNR").first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)


def finetune(page, zip_path: str | None):
    if not zip_path:
        return
    page.locator("#finetune-zip input[type=file]").set_input_files(zip_path)
    page.wait_for_timeout(1500)
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('now in the Classify tab')", timeout=300_000)
    page.wait_for_timeout(2000)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--url")
    parser.add_argument("--tabs", nargs="*", help="tab titles to capture (default: all)")
    parser.add_argument("--width", type=int, default=1400, help="viewport width (390 for a phone)")
    parser.add_argument("--suffix", default="", help="added to each file name, e.g. -390")
    parser.add_argument("--train-zip", help="a zip of class folders to train on for the Fine-tune shot (for review "
                        "only: do not publish screenshots of photos you may not redistribute)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from tests.conftest import chromium_path

    server, url = (None, args.url) if args.url else start_server()[:2]
    TABS = ["Classify", "Fine-tune", "Feature maps", "Ideal & adversarial images"]
    actions = {"Classify": classify, "Feature maps": features, "Ideal & adversarial images": ideal,
               "Fine-tune": lambda page: finetune(page, args.train_zip)}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": args.width, "height": 1000 if args.width > 600 else 844})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("text=Transfer Learning Lab")
            titles = args.tabs or TABS
            for title in titles:
                # The tab's accessible name (its full title, even where a narrow screen shows a short one).
                page.get_by_role("tab", name=title, exact=True).click()
                page.wait_for_timeout(1000)
                if title in actions:
                    actions[title](page)
                name = title.lower().split()[0].replace("-", "")
                load_lazy_images(page)
                page.screenshot(path=str(out / f"{name}{args.suffix}.png"), full_page=True)
                print(out / f"{name}{args.suffix}.png")
                if title.startswith("Ideal"):
                    attack(page)
                    load_lazy_images(page)
                    page.screenshot(path=str(out / f"attack{args.suffix}.png"), full_page=True)
                    print(out / f"attack{args.suffix}.png")
            browser.close()
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
