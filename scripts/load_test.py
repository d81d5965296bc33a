"""Load test (not a timed test): a class of visitors against a live server, as gradio_client sees it.

  python scripts/load_test.py [--clients 20] [--seconds 30]        # N clients calling /classify in a loop
  python scripts/load_test.py --burst 30                            # N clients, one request each, all at once
  python scripts/load_test.py --breakdown [--clients 20]            # where one call's time goes
  options: [--url URL | --root CHECKOUT] [--env KEY=VALUE ...] [--no-training] [--no-ideal]

Unless --url is given, starts `python app.py` (of this checkout, or of --root, e.g. an unmodified main
for a baseline in the same time window) on a free loopback port and reports how long the page took.
Every client is a real gradio_client.Client that uploads the photo and downloads the results (the crop
JPEG) as it does by default; a result that cannot be downloaded whole counts as an error, and so does
a client that cannot be created. Alongside, one visitor fine-tunes through /finetune and one makes an
ideal image through /ideal; both must finish. Prints one JSON line: calls, errors (with the first
messages), p50/p95/max latency, and whether the server is alive and serving afterwards.
Traffic stays on this machine; every loop is bounded in count and time.
"""
from __future__ import annotations

import argparse
import collections
import json
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
IMAGES = [ROOT / "assets" / name for name in ("chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg")]
MAX_CALLS_PER_CLIENT = 10_000

from local_server import server_tracebacks, start_server, stop_server  # noqa: E402 (a sibling script)

ZIP = "a .zip of class folders"  # the Fine-tune tab's source value (demo.finetune.ZIP), as an API client sends it


class Tally:
    """Latencies and errors from many threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.client_failures = 0

    def ok(self, seconds: float):
        with self.lock:
            self.latencies.append(seconds)

    def error(self, error: Exception, creating: bool = False):
        with self.lock:
            self.errors.append(f"{type(error).__name__}: {error}"[:200])
            self.client_failures += creating

    def summary(self) -> dict:
        ordered = sorted(self.latencies)
        pick = lambda q: round(quantile(ordered, q), 3) if ordered else None  # noqa: E731
        kinds = collections.Counter(self.errors)
        return {"calls": len(ordered) + len(self.errors), "answered": len(ordered), "errors": len(self.errors),
                "client_failures": self.client_failures, "p50_s": pick(0.50), "p95_s": pick(0.95),
                "max_s": pick(1.0), "first_errors": [f"{n}x {text}" for text, n in kinds.most_common(3)]}


def new_client(url: str, folder: str):
    from gradio_client import Client

    return Client(url, verbose=False, download_files=folder)


def classify_once(client, image: Path, tally: Tally) -> None:
    """One call as a visitor's script makes it: upload, wait, download the crop; check what arrived."""
    from gradio_client import handle_file
    from PIL import Image

    started = time.perf_counter()
    try:
        labels, crop, status = client.predict(handle_file(str(image)), api_name="/classify")
        assert labels["confidences"], "empty result"
        with Image.open(crop) as picture:
            picture.load()  # the whole crop arrived and decodes
        tally.ok(time.perf_counter() - started)
    except Exception as error:  # noqa: BLE001 - counted and reported
        tally.error(error)


def classify_loop(url: str, deadline: float, tally: Tally, index: int, folder: str) -> None:
    try:
        client = new_client(url, folder)
    except Exception as error:  # noqa: BLE001 - counted and reported
        tally.error(error, creating=True)
        return
    for call in range(MAX_CALLS_PER_CLIENT):
        if time.time() >= deadline:
            return
        classify_once(client, IMAGES[(index + call) % len(IMAGES)], tally)


def burst_visitor(url: str, start: threading.Barrier, tally: Tally, index: int, folder: str) -> None:
    """A student told "now classify a photo": opens the app and calls at the same moment as the others."""
    try:
        start.wait(timeout=120)
        started = time.perf_counter()
        client = new_client(url, folder)
    except Exception as error:  # noqa: BLE001 - counted and reported
        tally.error(error, creating=True)
        return
    opened = time.perf_counter() - started
    before = len(tally.latencies)
    classify_once(client, IMAGES[index % len(IMAGES)], tally)
    with tally.lock:  # a first request's wait includes opening the app
        if len(tally.latencies) > before:
            tally.latencies[-1] += opened


def breakdown_loop(url: str, deadline: float, phases: dict, lock: threading.Lock, index: int) -> None:
    """The wire protocol gradio_client speaks, timed step by step: upload, queue + event stream, download."""
    import httpx
    from gradio_client import Client

    client = Client(url, verbose=False, download_files=False)
    fn_index = client._infer_fn_index("/classify", None)
    http = httpx.Client(base_url=url.rstrip("/") + "/gradio_api", timeout=120)
    session = f"load{index}x{time.time_ns() % 10**9}"
    for call in range(MAX_CALLS_PER_CLIENT):
        if time.time() >= deadline:
            break
        image = IMAGES[(index + call) % len(IMAGES)]
        times = {}
        try:
            t0 = time.perf_counter()
            with open(image, "rb") as file:
                path = http.post("/upload", files={"files": (image.name, file)}).json()[0]
            t1 = time.perf_counter()
            data = [{"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": image.name},
                    "tf_efficientnet_lite0", "pretrained", None]  # the last: the session's State
            http.post("/queue/join", json={"data": data, "fn_index": fn_index, "session_hash": session,
                                           "event_data": None, "trigger_id": None}).raise_for_status()
            output = None
            with http.stream("GET", "/queue/data", params={"session_hash": session}) as stream:
                for line in stream.iter_lines():
                    if line.startswith("data:"):
                        message = json.loads(line[5:])
                        if message.get("msg") == "process_completed":
                            output = message["output"]
                            break
            t2 = time.perf_counter()
            assert output and output.get("success", True), f"server: {str(output)[:100]}"
            crop = output["data"][1]
            body = http.get("/file=" + crop["path"]).content
            assert len(body) > 100
            t3 = time.perf_counter()
            times = {"upload": t1 - t0, "queue_and_event_stream": t2 - t1, "download_crop": t3 - t2, "total": t3 - t0}
        except Exception as error:  # noqa: BLE001 - counted
            times = {"error": f"{type(error).__name__}: {error}"[:120]}
        with lock:
            for key, value in times.items():
                phases[key].append(value)


def training_zip(folder: Path) -> Path | None:
    """A small cats/dogs zip from the shared photos (tests and benchmarks only), if present."""
    from tests.conftest import SHARED_DATA, make_pets_zip

    source = SHARED_DATA / "catsdogs"
    return make_pets_zip(folder / "catsdogs.zip", source, 30) if source.exists() else None


def training_job(url: str, archive: Path, outcome: dict, folder: str) -> None:
    from gradio_client import handle_file

    started = time.perf_counter()
    try:
        client = new_client(url, folder)
        # source, zip, sample set, pet kind, pets per class, validation split, validation zip,
        # backbone, mode, epochs, seed, overlay runs
        job = client.submit(ZIP, handle_file(str(archive)), None, "cat vs dog", 10, 0.2, None,
                            "tf_efficientnet_lite0", "frozen", 20, 0, True, api_name="/finetune")
        outputs = job.result(timeout=600)
        outcome.update(ok=True, seconds=round(time.perf_counter() - started, 1), status=str(outputs[2])[:100])
    except Exception as error:  # noqa: BLE001 - reported
        outcome.update(ok=False, error=f"{type(error).__name__}: {error}"[:300])


def ideal_job(url: str, outcome: dict, folder: str) -> None:
    started = time.perf_counter()
    try:
        client = new_client(url, folder)
        # target class (tabby), start, photo, mode, TV weight, steps, seed
        outputs = client.submit("281", "noise", None, "robust", 1.0, 64, 0, api_name="/ideal").result(timeout=600)
        outcome.update(ok=bool(outputs[0]), seconds=round(time.perf_counter() - started, 1),
                       status=str(outputs[3])[:100])
    except Exception as error:  # noqa: BLE001 - reported
        outcome.update(ok=False, error=f"{type(error).__name__}: {error}"[:300])


def cpu_seconds(server) -> dict:
    """CPU seconds (user + system) used so far by the started server and by this process's clients."""
    import psutil

    used = {"clients": sum(psutil.Process().cpu_times()[:2])}
    if server is not None:  # with its model worker process (core.model_worker)
        process = psutil.Process(server.pid)
        used["server"] = sum(sum(p.cpu_times()[:2]) for p in [process, *process.children(recursive=True)])
    return used


def quantile(ordered: list[float], q: float) -> float:
    """The q-quantile of sorted values (nearest rank; q=1: the largest)."""
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def stats(values: list[float]) -> dict:
    ordered = sorted(values)
    if not ordered:
        return {}
    pick = lambda q: round(quantile(ordered, q) * 1000)  # noqa: E731
    return {"n": len(ordered), "p50_ms": pick(0.5), "p95_ms": pick(0.95), "mean_ms": round(sum(ordered) / len(ordered) * 1000)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--burst", type=int, metavar="N", help="N clients, one request each, all at once")
    parser.add_argument("--breakdown", action="store_true", help="time upload / queue+stream / download per call")
    parser.add_argument("--url")
    parser.add_argument("--root", help="serve this checkout instead (a baseline)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="for the started server")
    parser.add_argument("--no-training", action="store_true")
    parser.add_argument("--no-ideal", action="store_true")
    args = parser.parse_args()

    env = dict(item.split("=", 1) for item in args.env)
    if args.breakdown:
        env.setdefault("GRADIO_PROFILING", "1")
    server, url, serve_s = (None, args.url, None) if args.url else start_server(root=args.root, env=env)
    report = {"root": args.root or str(ROOT), "env": env, "page_served_s": round(serve_s, 1) if serve_s else None}
    if args.breakdown:  # time warm calls only: one call first, then Gradio's traces start afresh
        from gradio_client import Client, handle_file

        Client(url, verbose=False, download_files=False).predict(handle_file(str(IMAGES[0])), api_name="/classify")
        urllib.request.urlopen(urllib.request.Request(url.rstrip("/") + "/gradio_api/profiling/clear", method="POST"))
    tally, training, ideal = Tally(), {}, {}
    cpu_before = cpu_seconds(server)
    phases, phase_lock = collections.defaultdict(list), threading.Lock()
    try:
        with tempfile.TemporaryDirectory() as folder:
            side = []
            archive = None if args.no_training or args.burst or args.breakdown else training_zip(Path(folder))
            if archive:
                side.append(threading.Thread(target=training_job, args=(url, archive, training, folder)))
            if not (args.no_ideal or args.burst or args.breakdown):
                side.append(threading.Thread(target=ideal_job, args=(url, ideal, folder)))
            deadline = time.time() + args.seconds
            if args.burst:
                barrier = threading.Barrier(args.burst)
                visitors = [threading.Thread(target=burst_visitor, args=(url, barrier, tally, i, folder))
                            for i in range(args.burst)]
            elif args.breakdown:
                visitors = [threading.Thread(target=breakdown_loop, args=(url, deadline, phases, phase_lock, i))
                            for i in range(args.clients)]
            else:
                visitors = [threading.Thread(target=classify_loop, args=(url, deadline, tally, i, folder))
                            for i in range(args.clients)]
            for thread in side + visitors:
                thread.start()
            for thread in visitors + side:
                thread.join(timeout=args.seconds + 660)
        cpu_used = {name: round(after - cpu_before[name], 1) for name, after in cpu_seconds(server).items()}
        with urllib.request.urlopen(url, timeout=10) as page:
            alive = page.status == 200 and b"Transfer Learning Lab" in page.read()
        if args.breakdown:
            report.update(clients=args.clients, seconds=args.seconds,
                          client_side={k: stats(v) for k, v in phases.items() if k != "error"},
                          errors=phases.get("error", [])[:3])
            with urllib.request.urlopen(url.rstrip("/") + "/gradio_api/profiling/summary", timeout=10) as response:
                server_side = json.loads(response.read())
            report["server_side_ms"] = {name: {k: round(v) for k, v in values.items() if k in ("p50", "p95", "mean")}
                                        for name, values in server_side.get("phases", {}).items()}
            if "upload" in server_side:
                report["server_side_ms"]["upload"] = {k: round(server_side["upload"][k]) for k in ("p50", "p95", "mean")}
        else:
            report.update({"mode": f"burst of {args.burst}" if args.burst else f"{args.clients} clients for {args.seconds:.0f} s"},
                          **tally.summary())
            answered = max(1, len(tally.latencies))
            # Where the 2 cores went: the server, and these clients (gradio_client is not free either).
            report["cpu_s"] = cpu_used
            report["cpu_ms_per_call"] = {name: round(seconds * 1000 / answered) for name, seconds in cpu_used.items()}
            if side:
                report.update(training=training or "skipped (no ../shared photos)", ideal=ideal or "skipped")
        report["server_alive_after"] = alive
        if server is not None:  # a started server: did it log any traceback while serving?
            found = server_tracebacks(server)
            report["server_tracebacks"] = len(found)
            report["first_tracebacks"] = found[:3]
        print(json.dumps(report))
    finally:
        stop_server(server)


if __name__ == "__main__":
    main()
