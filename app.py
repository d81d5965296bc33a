"""Transfer Learning Lab: `python app.py` serves the web app; `python app.py COMMAND ...`
runs a tab's command-line twin (classify, train, curve, features, ideal, attack)."""
from __future__ import annotations

import argparse
import os
import sys


def serve(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve Transfer Learning Lab "
                                     "(or run a command: python app.py {classify,train,curve,features,ideal,attack} --help)")
    parser.add_argument("--host", help="address to listen on (default: Gradio's, or GRADIO_SERVER_NAME)")
    parser.add_argument("--port", type=int, help="port (default: Gradio's, or GRADIO_SERVER_PORT)")
    parser.add_argument("--samples", metavar="DIR", help="a teacher's folder of sample training sets (also TLL_SAMPLES_DIR)")
    args = parser.parse_args(argv)
    if args.samples:
        os.environ["TLL_SAMPLES_DIR"] = args.samples

    from demo import build_demo, launch_options, warm_up

    warm_up()
    build_demo().queue(default_concurrency_limit=2).launch(**launch_options(args.host, args.port))


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
