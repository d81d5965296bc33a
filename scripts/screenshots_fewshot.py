"""Screenshots of the Fine-tune tab's few-photo features, for review (issue 9).

  python scripts/screenshots_fewshot.py --five-zip FIVE.zip --curve-zip CURVE.zip [--out DIR]

  finetune-5-photos.png - a frozen-mode run on a zip of 5 photos per class (cross-validated)
  curve.png             - the learning-curve panel after drawing the curve on CURVE.zip

Do not publish screenshots of photos you may not redistribute.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from local_server import start_server, stop_server  # noqa: E402 (a sibling script)
from screenshots import finetune  # noqa: E402 (a sibling script)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="/tmp/tll-screenshots")
    parser.add_argument("--five-zip", required=True)
    parser.add_argument("--curve-zip", required=True)
    parser.add_argument("--sizes", default="1,2,5,10")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from tests.conftest import chromium_path

    server, url, _ = start_server()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(300_000)
            page.goto(url)
            page.wait_for_selector("text=Transfer Learning Lab")
            page.get_by_role("tab", name="Fine-tune", exact=True).click()
            finetune(page, args.five_zip)  # the same steps as screenshots.py's Fine-tune picture
            page.screenshot(path=str(out / "finetune-5-photos.png"), full_page=True)
            print(out / "finetune-5-photos.png")

            page.locator("#finetune-zip button[aria-label='Clear']").first.click()
            page.wait_for_timeout(500)
            page.locator("#finetune-zip input[type=file]").set_input_files(args.curve_zip)
            page.wait_for_timeout(1500)
            page.locator("#curve-sizes textarea, #curve-sizes input").first.fill(args.sizes)
            page.locator("#curve-run").click()
            page.wait_for_selector("#curve-status :text('Done')")
            page.wait_for_timeout(1500)
            page.locator("#curve-plot").scroll_into_view_if_needed()
            page.screenshot(path=str(out / "curve-full.png"), full_page=True)
            # the panel, cropped from the full page (bounding boxes are viewport-relative)
            scroll = page.evaluate("window.scrollY")
            top = page.get_by_text("How many photos do you need?").first.bounding_box()["y"] + scroll
            table = page.locator("#curve-table").bounding_box()
            bottom = table["y"] + table["height"] + scroll
            from PIL import Image

            with Image.open(out / "curve-full.png") as full:
                full.crop((0, int(top) - 10, full.width, min(full.height, int(bottom) + 20))).save(out / "curve.png")
            print(out / "curve.png")
            browser.close()
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
