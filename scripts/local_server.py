"""`python app.py` on a free loopback port, for the scripts that drive a live server."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # tests.conftest counts tracebacks as the tests do
    sys.path.insert(0, str(ROOT))


def start_server(timeout_s: float = 120, root: str | Path | None = None,
                 env: dict | None = None) -> tuple[subprocess.Popen, str, float]:
    """(process, url, seconds until the page was served). Offline, as in a classroom.
    `root`: another checkout to serve (a baseline); `env`: extra environment for the server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.perf_counter()
    # The server's own output, kept so a script can say whether it logged any traceback (server_tracebacks).
    log = tempfile.NamedTemporaryFile("w", prefix="tll-server-", suffix=".log", delete=False)
    server = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)], cwd=root or ROOT,
                              stdout=log, stderr=subprocess.STDOUT,
                              env=dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1", **(env or {})))
    server.log_path = log.name
    log.close()  # the server has its own handle on the file
    url = f"http://127.0.0.1:{port}/"
    while time.perf_counter() - started < timeout_s:
        try:
            urllib.request.urlopen(url, timeout=1)
            return server, url, time.perf_counter() - started
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the app did not start")


def stop_server(server: subprocess.Popen | None) -> None:
    if server is not None:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()


def server_tracebacks(server: subprocess.Popen | None) -> list[str]:
    """The exception line of each traceback the server logged that is a fault of the server
    (counted as the tests count them: tests/conftest.py tracebacks_in)."""
    path = getattr(server, "log_path", None)
    if not path or not os.path.exists(path):
        return []
    from tests.conftest import exception_line, tracebacks_in

    return [(exception_line(block) or "?")[:200] for block in tracebacks_in(Path(path).read_text(errors="replace"))]
