"""Screenshots of every tab, as a visitor sees them, for the README and for review.

  python scripts/screenshots.py [--out docs/screenshots] [--url URL]

Launches the app (unless --url), drives it with Playwright + Debian's Chromium, and writes one PNG
per tab after a typical interaction.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def start_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    url = f"http://127.0.0.1:{port}/"
    for _ in range(600):
        try:
            urllib.request.urlopen(url, timeout=1)
            return server, url
        except OSError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def classify(page):
    page.get_by_role("tab", name="Classify").click()
    page.locator("#classify-labels").wait_for()
    page.locator("input[type=file]").first.set_input_files(str(ROOT / "assets" / "chelsea.png"))
    page.locator("#classify-labels").get_by_text("cat", exact=False).first.wait_for(timeout=120_000)
    page.wait_for_timeout(1500)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--url")
    parser.add_argument("--tabs", nargs="*", help="tab titles to capture (default: all)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from playwright.sync_api import sync_playwright

    from tests.conftest import chromium_path

    server, url = (None, args.url) if args.url else start_server()
    actions = {"Classify": classify}
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_path(), headless=True, args=[
                "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.set_default_timeout(120_000)
            page.goto(url)
            page.wait_for_selector("text=Transfer Learning Lab")
            titles = args.tabs or [t.inner_text().strip() for t in page.get_by_role("tab").all()]
            for title in titles:
                page.get_by_role("tab", name=title).click()
                page.wait_for_timeout(1000)
                if title in actions:
                    actions[title](page)
                name = title.lower().split()[0].replace("-", "")
                page.screenshot(path=str(out / f"{name}.png"), full_page=True)
                print(out / f"{name}.png")
            browser.close()
    finally:
        if server:
            server.terminate()


if __name__ == "__main__":
    main()
