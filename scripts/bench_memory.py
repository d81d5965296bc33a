"""Server memory over one visitor's walkthrough of every tab (issue 11: 0.9 GB -> 3.4 GB RSS).

  python scripts/bench_memory.py [--zip CLASSES.zip] [--repeat 2]

Launches `python app.py` offline, drives it through its API like a visitor (Classify with VGG-16
random weights, three trainings, feature maps of VGG-16 and EfficientNet, an ideal image, an
attack) and prints the server's resident memory (VmRSS) and peak (VmHWM) after each step, as
JSON lines. `--repeat 2` walks through twice: memory that keeps growing on the second walk is a
leak; memory that levels off is the caches, whose bounds are listed at the end.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from local_server import start_server, stop_server  # noqa: E402

ZIP = "a .zip of class folders"


def memory_mb(pid: int) -> dict:
    """The server's VmRSS and VmHWM in MB, and its child processes' (Classify's model worker) RSS."""
    fields = _status_mb(pid)
    children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()] \
        if Path(f"/proc/{pid}/task/{pid}/children").exists() else []
    if children:
        fields["children_VmRSS"] = sum(_status_mb(child).get("VmRSS", 0) for child in children)
    return fields


def _status_mb(pid: int) -> dict:
    fields = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # the process has just ended
        return fields
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = round(int(value.split()[0]) / 1024)
    return fields


def default_zip() -> Path:
    from tests.conftest import SHARED_DATA, make_pets_zip

    shared = SHARED_DATA / "catsdogs"
    if not shared.exists():
        raise SystemExit(f"pass --zip (a .zip of class folders): {shared} is absent")
    return make_pets_zip(Path(tempfile.mkdtemp()) / "pets.zip", shared, 6, folder="set/")


def walkthrough(client, zip_path: Path):
    from gradio_client import handle_file

    photo = handle_file(str(ROOT / "assets" / "chelsea.png"))
    coffee = handle_file(str(ROOT / "assets" / "coffee.png"))
    yield "classify vgg16 random", lambda: client.predict(photo, "vgg16.tv_in1k", "random (untrained)",
                                                          api_name="/classify")
    yield "classify bundled", lambda: client.predict(photo, api_name="/classify")
    for mode, epochs in (("frozen", 40), ("top", 2), ("full", 2)):
        yield f"train {mode}", lambda mode=mode, epochs=epochs: client.predict(
            ZIP, handle_file(str(zip_path)), None, "cat vs dog", 10, 0.34, None, "tf_efficientnet_lite0", mode,
            epochs, 0, True, api_name="/finetune")
    yield "features vgg16 random", lambda: client.predict(photo, "vgg16.tv_in1k", "random (untrained)", "stage3",
                                                          16, "viridis", api_name="/features")
    yield "features bundled", lambda: client.predict(coffee, "tf_efficientnet_lite0", "pretrained", "stage4", 16,
                                                     "viridis", api_name="/features")
    yield "ideal (60 steps)", lambda: client.predict("281", "noise", None, "robust", 1, 60, 0, api_name="/ideal")
    yield "attack", lambda: client.predict(coffee, "281", 2, 10, 0, "pgd", api_name="/attack")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--zip", type=Path)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    from gradio_client import Client

    from core.finetune import MODE_TITLES

    assert {"frozen", "top", "full"} <= set(MODE_TITLES), MODE_TITLES
    zip_path = args.zip or default_zip()
    server, url, _ = start_server(timeout_s=600)  # a busy machine may take minutes
    try:
        time.sleep(5)  # the warm-up thread loads the bundled model
        print(json.dumps({"step": "started", **memory_mb(server.pid)}), flush=True)
        for walk in range(1, args.repeat + 1):
            client = Client(url, verbose=False)  # a new visitor each walk
            for name, action in walkthrough(client, zip_path):
                started = time.perf_counter()
                try:
                    action()
                    error = None
                except Exception as failure:  # noqa: BLE001 - reported, the walk goes on
                    error = str(failure)[:160]
                print(json.dumps({"walk": walk, "step": name, "seconds": round(time.perf_counter() - started, 1),
                                  **memory_mb(server.pid), **({"error": error} if error else {})}), flush=True)
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
