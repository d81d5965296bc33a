"""Result files under load: a picture two visitors both get back is never cut short (issue 14)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from gradio import processing_utils
from PIL import Image

from demo import result_files


def _short_reads(cache_dir, reads: int = 1500) -> tuple[int, int]:
    """Rewrite one content-named picture in a loop, as concurrent requests do, while reading it back."""
    picture = Image.fromarray(np.random.default_rng(0).integers(0, 255, (224, 224, 3), dtype=np.uint8))
    path = processing_utils.save_pil_to_cache(picture, str(cache_dir), format="jpeg")
    size = len(open(path, "rb").read())
    stop = threading.Event()

    def rewrite():
        while not stop.is_set():
            assert processing_utils.save_pil_to_cache(picture, str(cache_dir), format="jpeg") == path

    writer = threading.Thread(target=rewrite)
    writer.start()
    try:
        short = sum(len(open(path, "rb").read()) != size for _ in range(reads))
    finally:
        stop.set()
        writer.join()
    return short, size


def test_a_shared_result_file_is_never_seen_cut_while_rewritten(tmp_path):
    assert result_files.install()
    short, size = _short_reads(tmp_path)
    assert size > 1000 and short == 0


def test_write_once_keeps_gradio_names_and_touches_a_reused_file(tmp_path):
    result_files.install()
    picture = Image.new("RGB", (32, 32), "red")
    first = processing_utils.save_pil_to_cache(picture, str(tmp_path), name="crop", format="png")
    data = processing_utils.encode_pil_to_bytes(picture, "png")
    assert first.endswith(f"{processing_utils.hash_bytes(data)}/crop.png") and open(first, "rb").read() == data
    import os
    os.utime(first, (1, 1))
    assert processing_utils.save_pil_to_cache(picture, str(tmp_path), name="crop", format="png") == first
    assert os.stat(first).st_mtime > 1  # delete_cache must see a reused file as new
    assert not [p for p in tmp_path.rglob(".*")]  # no staging files left behind


def test_concurrent_clients_download_every_result_whole(app_url, tmp_path):
    """Several visitors classify the same photo at once and download the crop, as gradio_client does."""
    from gradio_client import Client, handle_file

    def visitor(index: int) -> list[int]:
        # A generous timeout: this test is about whole files, not speed (httpx's 5 s default fails on a busy CI box).
        client = Client(app_url, verbose=False, download_files=str(tmp_path / str(index)),
                        httpx_kwargs={"timeout": 60})
        sizes = []
        for _ in range(3):
            labels, crop, _ = client.predict(handle_file("assets/chelsea.png"), api_name="/classify")
            assert labels["label"]
            with Image.open(crop) as picture:
                picture.load()  # the whole file arrived and decodes
                sizes.append(picture.size[0] > 100)
        return sizes

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(visitor, range(8)))
    assert all(all(sizes) for sizes in results)
