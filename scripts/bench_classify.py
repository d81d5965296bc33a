"""Benchmark of the Classify capability (prints figures; not a test).

  python scripts/bench_classify.py [--repeat 9]

1. CLI `python app.py classify` on N photos vs two plain timm scripts, all fresh processes, same
   photos, same weights: "the notebook way" (one image at a time, as a lesson notebook does it) and
   a tuned plain-timm pipeline (batched, channels-last, inference mode): the ratio against the best
   plain pipeline is the one that says what the app's own code costs or saves.
2. `python app.py` seconds until the page is served, and the server's peak RSS after a call.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT.parent / "shared" / "data" / "imagenet"

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_server import start_server, stop_server  # noqa: E402 (a sibling script)

# The notebook way: one image per forward pass, default memory format.
PLAIN_LOOP = r"""
import sys, torch, timm
from PIL import Image
from timm.data import resolve_model_data_config, create_transform
sys.path.insert(0, sys.argv[1])
from core.backbones import _load_bundled
model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
_load_bundled(model)  # same weights, so the outputs can be compared
model.eval()
transform = create_transform(**resolve_model_data_config(model), is_training=False)
top1 = []
with torch.no_grad():
    for path in open(sys.argv[2]).read().split("\n"):
        x = transform(Image.open(path).convert("RGB")).unsqueeze(0)
        top1.append(int(model(x).argmax()))
print(" ".join(map(str, top1)))
"""

# Plain timm, tuned: the same model and transform, BATCH images per pass, channels-last tensors.
TUNED_LOOP = r"""
import sys, torch, timm
from PIL import Image
from timm.data import resolve_model_data_config, create_transform
sys.path.insert(0, sys.argv[1])
from core.backbones import _load_bundled
batch = int(sys.argv[3])
model = timm.create_model("tf_efficientnet_lite0", pretrained=False)
_load_bundled(model)
model = model.eval().to(memory_format=torch.channels_last)
transform = create_transform(**resolve_model_data_config(model), is_training=False)
paths = open(sys.argv[2]).read().split("\n")
top1 = []
with torch.inference_mode():
    for start in range(0, len(paths), batch):
        x = torch.stack([transform(Image.open(p).convert("RGB")) for p in paths[start:start + batch]])
        top1 += model(x.contiguous(memory_format=torch.channels_last)).argmax(1).tolist()
print(" ".join(map(str, top1)))
"""


def timed(command: list[str]) -> tuple[float, str, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    seconds = time.perf_counter() - started
    if done.returncode not in (0, 1):
        sys.exit(f"{command[:3]} failed:\n{done.stderr[-2000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, done.stdout, max(peak, before) // 1024


def serve_time() -> tuple[float, float]:
    """Seconds until `python app.py` serves the page; the server's RSS after one classification."""
    import psutil
    from gradio_client import Client, handle_file

    server, url, served = start_server()
    try:
        Client(url, verbose=False).predict(handle_file(str(ROOT / "assets" / "chelsea.png")), api_name="/classify")
        process = psutil.Process(server.pid)
        rss = process.memory_info().rss + sum(c.memory_info().rss for c in process.children(recursive=True))
        return served, rss / 2**20
    finally:
        stop_server(server)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=9, help="photo list repeated this often (100 photos each)")
    parser.add_argument("--batch", type=int, default=16, help="images per pass in the tuned plain-timm row")
    parser.add_argument("--no-serve", action="store_true", help="skip the start-up / RSS measure")
    args = parser.parse_args()
    if not PHOTOS.exists():
        sys.exit(f"needs the shared ImageNet photos at {PHOTOS}")
    photos = sorted(str(p) for p in PHOTOS.glob("*.JPEG")) * args.repeat
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as listing:
        listing.write("\n".join(photos))

    plain_s, plain_out, plain_rss = timed([sys.executable, "-c", PLAIN_LOOP, str(ROOT), listing.name])
    tuned_s, tuned_out, _ = timed([sys.executable, "-c", TUNED_LOOP, str(ROOT), listing.name, str(args.batch)])
    cli_s, cli_out, cli_rss = timed([sys.executable, "app.py", "classify", *photos])
    cli_top1 = [json.loads(line)["top"][0]["index"] for line in cli_out.splitlines()]
    agree = sum(a == b for a, b in zip(cli_top1, map(int, plain_out.split()))) / len(photos)
    n = len(photos)
    tuned_agree = sum(a == b for a, b in zip(cli_top1, map(int, tuned_out.split()))) / len(photos)
    rows = [("the notebook way (plain timm, batch 1)", plain_s), (f"plain timm, tuned (batch {args.batch}, "
            "channels-last)", tuned_s), ("app CLI (python app.py classify)", cli_s)]
    for name, seconds in rows:
        print(json.dumps({"row": name, "photos": n, "seconds": round(seconds, 2),
                          "ms_per_image": round(1000 * seconds / n, 1)}))
    print(json.dumps({"photos": n, "cli_over_notebook_way": round(cli_s / plain_s, 3),
                      "cli_over_tuned_plain": round(cli_s / tuned_s, 3),
                      "top1_agreement_notebook": round(agree, 4), "top1_agreement_tuned": round(tuned_agree, 4),
                      "cli_peak_rss_mb": cli_rss}))
    if args.no_serve:
        return
    served, rss = serve_time()
    print(json.dumps({"serve_seconds": round(served, 2), "server_rss_after_classify_mb": round(rss)}))


if __name__ == "__main__":
    main()
