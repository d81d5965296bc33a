"""Start-up (issue 14): the page is built from gradio and light core modules only (Classify's model
loads in a process of its own meanwhile, the server's own torch later), and a freshly started
`python app.py` answers its first /classify right.
How long start-up takes is measured by scripts/bench_startup.py (not a timed test)."""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import ROOT, AppServer

HEAVY = ("torch", "torchvision", "timm", "matplotlib", "sklearn")


def imported_after(code: str) -> set[str]:
    """Top-level packages a fresh interpreter has imported after running `code` in the project root."""
    probe = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=180,
                          env=dict(os.environ, HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False"))
    assert done.returncode == 0, done.stderr[-3000:]
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


def test_building_the_page_imports_no_torch():
    modules = imported_after("import demo\napp = demo.build_demo()\ndemo.launch_options()")
    assert "gradio" in modules
    assert not modules & set(HEAVY), f"the page's build imported {sorted(modules & set(HEAVY))}"


def test_core_never_imports_gradio():
    core_modules = sorted(f"core.{p.stem}" for p in (ROOT / "core").glob("*.py") if p.stem != "__init__")
    modules = imported_after("\n".join(f"import {name}" for name in core_modules))
    assert "torch" in modules  # the probe did import the modules that compute
    assert "gradio" not in modules


def test_demo_does_no_tensor_math():
    for path in sorted((ROOT / "demo").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.split(".")[0] in ("torch", "timm", "torchvision") for name in names), \
                f"{path.name} line {node.lineno} imports {names}: tensor math belongs in core/"


def test_light_copies_agree_with_timm():
    """What the page reads without timm (class names, the pickers' hub repositories) is timm's own."""
    from timm.data import ImageNetInfo
    from timm.models import get_pretrained_cfg

    from core import backbones, imagenet

    info = ImageNetInfo()
    assert imagenet.class_names() == tuple(info.index_to_description(i) for i in range(info.num_classes()))
    for choice in backbones.CHOICES:
        assert choice.hub_repo == get_pretrained_cfg(choice.name).hf_hub_id, choice.name


def test_the_tabs_constants_are_the_training_modules_own():
    from core import fewshot, finetune, training_settings
    from demo import finetune as finetune_tab

    assert finetune_tab.finetune.FROZEN is finetune.FROZEN is training_settings.FROZEN
    assert finetune_tab.finetune.MODE_TITLES is finetune.MODE_TITLES
    assert finetune_tab.fewshot.SMALL_CLASS == fewshot.SMALL_CLASS
    assert finetune_tab.finetune.train is finetune.train  # the rest comes from the real module


def test_a_fresh_server_serves_the_page_then_classifies_right(tmp_path):
    """`python app.py`: the page, then a first /classify at once, which must wait for the model
    (loading in its worker process) and answer right."""
    from gradio_client import Client, handle_file

    server = AppServer(tmp_path)
    try:
        deadline = time.time() + 120
        while True:
            try:
                with urllib.request.urlopen(server.url, timeout=5) as page:
                    assert page.status == 200
                    break
            except OSError:
                if time.time() > deadline:
                    pytest.fail("the page was not served within 120 s")
                time.sleep(0.2)
        client = Client(server.url, verbose=False)
        labels, _, status = client.predict(handle_file(str(ROOT / "assets" / "chelsea.png")), api_name="/classify")
        assert labels["label"] in ("tiger cat", "tabby, tabby cat", "Egyptian cat")
        assert "bundled" in status
        assert server.process.poll() is None, "the server died after its first answer"
    finally:
        server.stop()
