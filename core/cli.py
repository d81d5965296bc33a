"""`python app.py SUBCOMMAND ...`: each capability's command-line twin.

Every command prints one JSON object per line on stdout (results, or {"error": ...}
for input it cannot use) and logs to stderr. Bad input never produces a traceback.
Each capability module provides `add_arguments(parser)` and `run_cli(args) -> int`, and prints
with core.jsonl.emit (never importing this module, which imports them).
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from core.jsonl import emit

# subcommand -> (module, one-line help). Modules are imported only when their command runs.
COMMANDS = {
    "classify": ("core.classify_cli", "top-k ImageNet labels (or your trained classes) for images"),
    "ideal": ("core.optvis_cli", "the image that most excites an ImageNet class (ideal cat), as a PNG"),
    "attack": ("core.optvis_cli", "adversarial images: a tiny change that makes the model see another class"),
    "features": ("core.features_cli", "feature maps of one image at any layer, as a picture + JSON"),
    "train": ("core.finetune_cli", "fine-tune a backbone on a folder or .zip of class folders"),
    "embed": ("core.embed_cli", "the feature-space map: photos placed by their features, with k-NN accuracy"),
    "cam": ("core.cam_cli", "where the model looks: a class activation map (Grad-CAM) over its input crop"),
    "curve": ("core.curve_cli", "the learning curve: accuracy against photos per class, pretrained vs random weights"),
}


class JsonArgumentParser(argparse.ArgumentParser):
    """Usage mistakes also end in a JSON error line (after argparse's usage text on stderr)."""

    def error(self, message):
        self.print_usage(sys.stderr)
        emit({"error": f"{self.prog}: {message}"})
        sys.exit(2)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser; with `only`, just that subcommand's module is imported (a quick start, and a
    quick answer such as "no network" before torch loads)."""
    parser = JsonArgumentParser(prog="python app.py", description="Transfer Learning Lab command line")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=JsonArgumentParser)
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, description=help_text)
            continue
        module = importlib.import_module(module_name)
        command = sub.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(command)
        command.set_defaults(run=module.run_cli)
    return parser


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    args = build_parser(argv[0] if argv and argv[0] in COMMANDS else None).parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        emit({"error": "interrupted"})
        return 130
    except (ValueError, RuntimeError, OSError) as error:
        # Anticipated failures (bad names, unavailable weights, unreadable files): a message, no traceback.
        emit({"error": str(error) or type(error).__name__})
        return 2
    except Exception as error:  # noqa: BLE001 - a bug, still reported as JSON; the details go to the log
        logging.getLogger("cli").debug("unexpected error", exc_info=True)
        emit({"error": f"unexpected {type(error).__name__}: {error}"})
        return 3
