"""JSON lines on stdout: how every command-line twin reports (one object per line)."""
from __future__ import annotations

import json
import sys


def emit(obj: dict) -> None:
    """One JSON line on stdout, flushed at once so a pipe sees progress live."""
    sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")
    sys.stdout.flush()
