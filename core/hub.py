"""Reaching the Hugging Face hub without ever hanging.

huggingface_hub retries an unreachable host for about a minute per file. A classroom
without network must get an answer in seconds, so before any download we
  1. look in the local cache (works offline, the usual case on a teacher's laptop),
  2. respect HF_HUB_OFFLINE,
  3. probe the hub's host with a short TCP connect (result remembered for a while),
and only then download.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from urllib.parse import urlparse

PROBE_TIMEOUT_S = float(os.environ.get("TLL_HUB_PROBE_TIMEOUT", "2.5"))
_PROBE_TTL_S = 60.0
_probe_lock = threading.Lock()
_probe_cache: dict[str, tuple[float, bool]] = {}


class HubUnavailable(RuntimeError):
    """The hub cannot serve a file now; str() says why, for the user."""


def offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def hub_reachable() -> bool:
    """True when a TCP connection to the hub's host opens within PROBE_TIMEOUT_S."""
    if offline_mode():
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (443 if parsed.scheme != "http" else 80)
    key = f"{host}:{port}"
    with _probe_lock:
        cached = _probe_cache.get(key)
        if cached and time.monotonic() - cached[0] < _PROBE_TTL_S:
            return cached[1]
        ok = _connect_with_timeout(host, port, PROBE_TIMEOUT_S, tls=parsed.scheme != "http")
        _probe_cache[key] = (time.monotonic(), ok)
        return ok


def _connect_with_timeout(host: str, port: int, timeout: float, tls: bool = True) -> bool:
    """True when the host *answers* within `timeout`: a TLS handshake completes (https), or an
    HTTP request gets its first byte back (http). An open TCP port is not enough: a captive
    portal or a firewall that accepts and never answers would otherwise pass the probe, and the
    download after it would hang in huggingface_hub's retries for minutes."""
    # DNS lookups ignore socket timeouts, so the whole probe runs in a thread we stop waiting for.
    result = {"ok": False}

    def attempt():
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                if tls:
                    import ssl

                    with ssl.create_default_context().wrap_socket(sock, server_hostname=host):
                        result["ok"] = True
                else:
                    sock.sendall(f"HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    result["ok"] = bool(sock.recv(1))
        except (OSError, ValueError):
            pass

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return result["ok"]


def cached_file(repo_id: str, filename: str) -> str | None:
    from huggingface_hub import try_to_load_from_cache

    try:
        path = try_to_load_from_cache(repo_id, filename)
    except Exception:  # a malformed cache is the same as no cache
        return None
    return path if isinstance(path, str) and os.path.exists(path) else None


def fetch_file(repo_id: str, filename: str) -> str:
    """Local path of `filename` in `repo_id`: from the cache, else downloaded. Never hangs."""
    path = cached_file(repo_id, filename)
    if path:
        return path
    if offline_mode():
        raise HubUnavailable(f"{repo_id} is not in the local cache and HF_HUB_OFFLINE is set")
    if not hub_reachable():
        raise HubUnavailable(f"the Hugging Face hub is unreachable (no network?) and {repo_id} is not cached")
    from huggingface_hub import hf_hub_download

    try:
        # A short metadata timeout: a hub that answered the probe but stalls later still fails fast.
        return hf_hub_download(repo_id, filename, etag_timeout=PROBE_TIMEOUT_S)
    except Exception as error:  # network errors, 404, gated repos...
        raise HubUnavailable(f"could not download {repo_id}/{filename}: {type(error).__name__}") from None
