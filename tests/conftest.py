"""Shared fixtures: real data from ../shared (skipped with a reason when absent), a launched
app for API tests, and a Playwright browser driving Debian's Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("TLL_SHARED_DATA", ROOT.parent / "shared" / "data"))
ASSETS = ROOT / "assets"


def shared_path(*parts: str) -> Path:
    """A folder of ../shared/data, or skip: a fresh clone has no shared data."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs the shared test photos at {path} (not part of a fresh clone)")
    return path


@pytest.fixture(scope="session")
def imagenet_dir() -> Path:
    return shared_path("imagenet")


@pytest.fixture(scope="session")
def catsdogs_dir() -> Path:
    return shared_path("catsdogs")


@pytest.fixture(scope="session")
def catbreeds_dir() -> Path:
    return shared_path("catbreeds")


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python app.py ARGS` in the project root, as a user would run it."""
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """The real app, launched as `python app.py --port N`, shared by API and browser tests."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("server") / "server.log"
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1",
               GRADIO_ANALYTICS_ENABLED="False", GRADIO_TEMP_DIR=str(tmp_path_factory.mktemp("gradio")))
    with open(log_path, "w") as log:
        server = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120
    while time.time() < deadline:
        if server.poll() is not None:
            pytest.fail(f"the app exited during start-up:\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        server.kill()
        pytest.fail("the app did not serve within 120 s")
    yield url
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
    # Gradio logs every gr.Error (a message we meant to show) with its traceback; any other
    # exception the server logged is a bug, even if every test passed.
    blocks = log_path.read_text().split("Traceback (most recent call last):")[1:]
    def exception_line(block: str) -> str:  # the first unindented line after the frames
        return next((line for line in block.splitlines()[1:] if line and not line.startswith(" ")), "")

    unexpected = [b for b in blocks if not exception_line(b).startswith("gradio.exceptions.Error")]
    if unexpected:
        pytest.fail(f"the server logged {len(unexpected)} unexpected traceback(s):\n{unexpected[0][-3000:]}")


@pytest.fixture(scope="session")
def client(app_url):
    from gradio_client import Client

    return Client(app_url, verbose=False)


def chromium_path() -> str | None:
    for candidate in (os.environ.get("TLL_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser",
                      shutil.which("chromium"), shutil.which("chromium-browser"), shutil.which("google-chrome")):
        if candidate and Path(candidate).exists():
            return candidate
    return None


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        pytest.skip("no Chromium found (apt-get install chromium, or set TLL_CHROMIUM); .ci/run installs it")
    playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, app_url):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("text=Transfer Learning Lab")
    yield page
    context.close()


@pytest.fixture
def open_page(browser, app_url):
    """open_page(locale="nl-NL", query="?lang=nl"): a page of the app in a fresh browser context
    whose language (navigator.language and Accept-Language) is `locale`."""
    contexts = []

    def open_(locale: str = "en-US", query: str = ""):
        context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale=locale)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(app_url + query)
        page.wait_for_selector("text=Transfer Learning Lab")
        return page

    yield open_
    for context in contexts:
        context.close()
