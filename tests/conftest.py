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


def make_pets_zip(path: Path, catsdogs: Path, per_class: int, folder: str = "") -> Path:
    """A .zip of the first `per_class` cats and dogs of the shared photos (inside `folder`/ if given)."""
    import zipfile

    with zipfile.ZipFile(path, "w") as archive:
        for name in ("cat", "dog"):
            for photo in sorted((catsdogs / name).glob("*.jpg"))[:per_class]:
                archive.write(photo, f"{folder}{name}/{photo.name}")
    return path


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`python app.py ARGS` in the project root, as a user would run it."""
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"), PYTHONUNBUFFERED="1")
    return subprocess.run([sys.executable, "app.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env=env)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def exception_line(traceback: str) -> str:
    """The exception line of one logged traceback (its first unindented line after the header)."""
    return next((line for line in traceback.splitlines()[1:] if line and not line.startswith(" ")), "")


def tracebacks_in(log: str) -> list[str]:
    """The tracebacks in a server log that are faults of the server.

    The app's messages for a visitor are gr.Errors that print nothing. Gradio prints its own input
    checks (e.g. a slider value over its maximum) as a gr.Error traceback without any frame of this
    project: those are not faults. (scripts/local_server.py counts the same way.)"""
    def gradios_own_check(block: str) -> bool:
        return exception_line(block).startswith("gradio.exceptions.Error") and str(ROOT) not in block

    return [block for block in log.split("Traceback (most recent call last):")[1:] if not gradios_own_check(block)]


class AppServer:
    """`python app.py --port N` in a subprocess: its URL, its log, and the TMPDIR it writes to."""

    def __init__(self, folder: Path, extra_env: dict | None = None):
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log_path = folder / "server.log"
        self.tmp_dir = folder / "tmp"  # the app's own temporary files (optimisation PNGs, models)
        self.tmp_dir.mkdir()
        (folder / "gradio").mkdir()
        env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", GRADIO_ANALYTICS_ENABLED="False",
                   GRADIO_TEMP_DIR=str(folder / "gradio"), TMPDIR=str(self.tmp_dir), **(extra_env or {}))
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port)],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the app exited during start-up:\n{self.log()[-3000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                time.sleep(0.5)
        self.process.kill()
        pytest.fail("the app did not serve within 120 s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def tracebacks(self, since: int = 0) -> list[str]:
        """Tracebacks the server logged after character `since` of its log: faults of the server."""
        return tracebacks_in(self.log()[since:])

    def cpu_seconds(self) -> float:
        """CPU time the server process has used so far (user + system), from /proc."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def files(self) -> list[Path]:
        return sorted(p for p in self.tmp_dir.rglob("*") if p.is_file())

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        unexpected = self.tracebacks()
        if unexpected:
            pytest.fail(f"the server logged {len(unexpected)} traceback(s):\n{unexpected[0][-3000:]}")


@pytest.fixture(scope="session")
def app_server(tmp_path_factory):
    """The real app, shared by the API and browser tests (start-up costs ~20 s; start it once)."""
    server = AppServer(tmp_path_factory.mktemp("server"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def app_url(app_server):
    return app_server.url


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


def on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing(reason: str):
    """Skip a browser test on a developer's machine without a browser; fail it in CI, where a
    skipped browser test would let the run go green without testing the page at all."""
    if on_ci():
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    executable = chromium_path()
    if executable is None:
        missing("no Chromium found (apt-get install chromium, or set TLL_CHROMIUM); .ci/run installs it")
    try:
        import playwright.sync_api as playwright_api
    except ImportError:
        missing("playwright is not installed (pip install -r requirements-dev.txt)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                  # a synthetic camera without a permission prompt (the webcam tests; harmless elsewhere)
                  "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"])
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
