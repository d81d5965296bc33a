"""Transfer Learning Lab: `python app.py` serves the web app; `python app.py COMMAND ...`
runs a tab's command-line twin (classify, train, curve, features, ideal, attack, cam, embed)."""
from __future__ import annotations

import argparse
import os
import sys


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve Transfer Learning Lab "
                                     "(or run a command: python app.py {classify,train,curve,features,ideal,attack,cam,embed} --help)")
    parser.add_argument("--host", help="address to listen on (default: Gradio's, or GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, help="port (default: Gradio's, or GRADIO_SERVER_PORT)")
    parser.add_argument("--samples", metavar="DIR", help="a teacher's folder of sample training sets (also TLL_SAMPLES_DIR)")
    parser.add_argument("--lang", choices=("en", "nl"),
                        help="default language of the page (also TLL_LANG); without it, each browser's own "
                             "language. Visitors can still switch (?lang=en, or the switch in the header)")
    args = parser.parse_args(argv)
    if args.lang:
        os.environ["TLL_LANG"] = args.lang
    if args.samples:
        os.environ["TLL_SAMPLES_DIR"] = args.samples

    from core.model_worker import start_model_worker

    # Classify's model loads in a process of its own, on the other core, while the page is built here.
    worker = start_model_worker()
    from demo import build_demo, launch_options, warm_up

    app = build_demo().queue(default_concurrency_limit=2)
    app.launch(prevent_thread_lock=True, **launch_options(args.host, args.port))
    warm_up(worker)  # the other tabs' model, in this process, when it does not hold up Classify
    app.block_thread()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from core.cli import COMMANDS

    if argv and argv[0] in COMMANDS:
        from core.cli import main as cli_main

        return cli_main(argv)
    serve(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main())
