"""Load test (not a timed test): concurrent visitors against a live server.

  python scripts/load_test.py [--clients 20] [--seconds 20] [--url URL] [--no-training]

Starts `python app.py` on a free loopback port (unless --url is given), then runs N gradio_client
clients calling /classify in a loop for D seconds while one visitor fine-tunes a model through
/finetune. Prints calls, errors, latency percentiles, and whether the server is alive afterwards.
Traffic stays on this machine; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
IMAGES = [ROOT / "assets" / name for name in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")]
MAX_CALLS_PER_CLIENT = 10_000


from local_server import start_server, stop_server  # noqa: E402 (a sibling script)


def classify_loop(url: str, deadline: float, latencies: list, errors: list, index: int) -> None:
    from gradio_client import Client, handle_file

    try:
        client = Client(url, verbose=False)
    except Exception as error:  # noqa: BLE001 - a visitor who cannot even connect is a failure too
        errors.append(f"client creation: {type(error).__name__}: {error}"[:200])
        return
    for call in range(MAX_CALLS_PER_CLIENT):
        if time.time() >= deadline:
            return
        image = IMAGES[(index + call) % len(IMAGES)]
        started = time.perf_counter()
        try:
            labels, _, _ = client.predict(handle_file(str(image)), api_name="/classify")
            assert labels["confidences"], "empty result"
            latencies.append(time.perf_counter() - started)
        except Exception as error:  # noqa: BLE001 - counted and reported
            errors.append(f"{type(error).__name__}: {error}"[:200])


def training_zip(folder: Path) -> Path | None:
    """A small cats/dogs zip from the shared photos (tests and benchmarks only), if present."""
    source = ROOT.parent / "shared" / "data" / "catsdogs"
    if not source.exists():
        return None
    archive = folder / "catsdogs.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for label in ("cat", "dog"):
            for photo in sorted((source / label).glob("*.jpg"))[:30]:
                zipped.write(photo, f"{label}/{photo.name}")
    return archive


def training_job(url: str, archive: Path, outcome: dict) -> None:
    from gradio_client import Client, handle_file

    started = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        from demo.finetune import ZIP

        # source, zip, sample set, pet kind, pets per class, validation split, validation zip,
        # backbone, mode, epochs, seed, overlay runs
        job = client.submit(ZIP, handle_file(str(archive)), None, "cat vs dog", 10, 0.2, None,
                            "tf_efficientnet_lite0", "frozen", 20, 0, True, api_name="/finetune")
        outputs = job.result(timeout=600)
        outcome["status"] = str(outputs[2])[:120]
        outcome.update(ok=True, seconds=round(time.perf_counter() - started, 1))
    except Exception as error:  # noqa: BLE001 - reported
        outcome.update(ok=False, error=f"{type(error).__name__}: {error}"[:300])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--url")
    parser.add_argument("--no-training", action="store_true")
    args = parser.parse_args()

    server, url = (None, args.url) if args.url else start_server()[:2]
    latencies, errors, training = [], [], {}
    try:
        threads = []
        with tempfile.TemporaryDirectory() as folder:
            archive = None if args.no_training else training_zip(Path(folder))
            if archive:
                threads.append(threading.Thread(target=training_job, args=(url, archive, training)))
            deadline = time.time() + args.seconds
            threads += [threading.Thread(target=classify_loop, args=(url, deadline, latencies, errors, i))
                        for i in range(args.clients)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=args.seconds + 660)
        alive = urllib.request.urlopen(url, timeout=10).status == 200
        ordered = sorted(latencies)
        p = lambda q: round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3) if ordered else None
        print(json.dumps({"clients": args.clients, "seconds": args.seconds, "calls": len(latencies), "errors": len(errors),
                          "p50_s": p(0.50), "p95_s": p(0.95), "max_s": p(1.0),
                          "mean_s": round(statistics.mean(latencies), 3) if latencies else None,
                          "training": training or "skipped", "server_alive_after": alive}))
        for error in errors[:5]:
            print("error:", error, file=sys.stderr)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
