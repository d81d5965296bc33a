"""Benchmark of start-up (prints figures; not a test).

  python scripts/bench_startup.py [--repeat 3] [--root OTHER_CHECKOUT] [--classify]

Starts `python app.py --port N` (offline, as in a classroom) and times the first HTTP 200 on `/`.
With --root, the other checkout (e.g. a baseline: `git worktree add /tmp/base main`, or
`git archive main | tar -x -C /tmp/base`) is measured too, alternating with this one so that both
see the same load on a shared machine; the ratio is this checkout's median over the other's.
After each start the server must still be alive a moment later (it loads the model in the
background); with --classify, the first /classify call is timed as well (from the page's 200).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_server import start_server, stop_server  # noqa: E402 (a sibling script)


def one_start(root: Path, classify: bool) -> tuple[float, float | None]:
    """(seconds to the first 200 on /, seconds from then to the first /classify answer or None)."""
    server, url, page_s = start_server(root=root, env={"GRADIO_ANALYTICS_ENABLED": "False"})
    try:
        first_call_s = None
        if classify:
            from gradio_client import Client, handle_file

            started = time.perf_counter()
            client = Client(url, verbose=False)
            labels, _, _ = client.predict(handle_file(str(ROOT / "assets" / "chelsea.png")), api_name="/classify")
            first_call_s = time.perf_counter() - started
            top = labels.get("label") if isinstance(labels, dict) else labels
            if "cat" not in str(top).lower():
                raise SystemExit(f"{root}: the first classification is wrong: {top!r}")
        else:
            time.sleep(3)  # the background model load must not take the server down
        if server.poll() is not None:
            raise SystemExit(f"{root}: the server died after serving the page (exit {server.returncode})")
        return page_s, first_call_s
    finally:
        stop_server(server)


def summary(name: str, values: list[float]) -> str:
    return f"{name}: min {min(values):.2f} s, median {statistics.median(values):.2f} s  ({', '.join(f'{v:.2f}' for v in values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--root", type=Path, help="another checkout to measure alternately (a baseline)")
    parser.add_argument("--classify", action="store_true", help="also time the first /classify call")
    args = parser.parse_args()

    roots = {"this": ROOT}
    if args.root:
        roots["other"] = args.root.resolve()
    page: dict[str, list[float]] = {name: [] for name in roots}
    call: dict[str, list[float]] = {name: [] for name in roots}
    for run in range(args.repeat):
        for name, root in roots.items():
            page_s, call_s = one_start(root, args.classify)
            page[name].append(page_s)
            if call_s is not None:
                call[name].append(call_s)
            print(f"run {run + 1} {name} ({root}): page {page_s:.2f} s"
                  + (f", first /classify {call_s:.2f} s after it" if call_s is not None else ""), flush=True)
    for name, root in roots.items():
        print(summary(f"{name} ({root}) seconds to the page", page[name]))
        if call[name]:
            print(summary(f"{name} ({root}) first /classify after the page", call[name]))
    if args.root:
        print(f"ratio this/other (medians): {statistics.median(page['this']) / statistics.median(page['other']):.2f}")


if __name__ == "__main__":
    main()
