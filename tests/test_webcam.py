"""Webcam capture per class: frames through the app's image loader and limits (core.capture), the
panel's handlers, and a real Chromium whose fake camera (a moving synthetic pattern) photographs
two classes that the Fine-tune tab then trains on."""
from __future__ import annotations

import glob
import io
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core import capture
from core.images import ImageLoadError

ROOT = Path(__file__).resolve().parent.parent


def _jpeg(size=(640, 480), color=(200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG")
    return buffer.getvalue()


def test_frames_go_through_the_image_loader_and_stay_in_the_visitors_folder(tmp_path):
    folder = capture.new_folder()
    try:
        assert folder.name.startswith(capture.FOLDER_PREFIX) and (folder.stat().st_mode & 0o777) == 0o700
        big = capture.save_frame(_jpeg((1920, 1080)), folder, "thumbs up!")
        assert big.parent == folder and big.name.startswith("thumbs-up-") and big.suffix == ".jpg"
        assert max(Image.open(big).size) == capture.FRAME_SIDE
        small = capture.save_frame(np.zeros((120, 160, 3), np.uint8), folder, "fist")
        assert Image.open(small).size == (160, 120)
        for bad in (b"", b"%PDF-1.4 not a frame", _jpeg()[:300]):
            with pytest.raises(ImageLoadError, match="webcam frame"):
                capture.save_frame(bad, folder, "fist")
        assert len(list(folder.iterdir())) == 2  # nothing saved for a bad frame

        upload = tmp_path / "upload.jpg"
        upload.write_bytes(_jpeg())
        capture.delete_frame(upload, folder)  # an uploaded file is not the panel's to delete
        assert upload.exists()
        capture.delete_frame(small, folder)
        assert not small.exists() and big.exists()
        capture.forget_folder(tmp_path)  # only the panel's own folders are ever removed
        assert upload.exists()
    finally:
        capture.forget_folder(folder)
    assert not folder.exists()


def test_panel_handlers_capture_burst_delete_and_forget():
    import gradio as gr

    from demo import webcam

    class Request:
        session_hash = f"test-{time.monotonic_ns()}"

    request = Request()
    uploads, _, target, *_ = webcam.add_class("  open  hand ", {})
    assert uploads == {"open hand": []} and target["value"] == "open hand" and target["choices"] == ["open hand"]
    with pytest.raises(gr.Error, match="already"):
        webcam.add_class("open hand", uploads)
    with pytest.raises(gr.Error, match="not recording"):
        webcam.capture_one(None, "open hand", uploads, request)
    stale = (time.monotonic() - webcam.FRESH_SECONDS - 1, _jpeg())
    with pytest.raises(gr.Error, match="not recording"):
        webcam.start_burst(stale, "open hand", uploads)

    frame = _jpeg()
    latest, left, changed, *_ = webcam.on_frame(frame, 0, "open hand", uploads, request)
    assert latest[1] == frame and isinstance(changed, type(gr.skip()))  # no burst: nothing saved
    uploads, _, gallery, note, listing, _ = webcam.capture_one(latest, "open hand", uploads, request)
    assert len(gallery["value"]) == 1 and "1 photo(s), 1 from the webcam" in note
    left, _ = webcam.start_burst(latest, "open hand", uploads)
    while left:
        _, left, uploads, *_ = webcam.on_frame(_jpeg(color=(0, 0, 9 * left)), left, "open hand", uploads, request)
    assert len(uploads["open hand"]) == 1 + webcam.BURST_FRAMES
    folder = webcam.session_folder(request, create=False)
    assert sorted(map(str, folder.iterdir())) == sorted(uploads["open hand"])

    # a bad frame during a burst ends the burst with a message, and saves nothing
    _, left, changed, _, _, note, _, _ = webcam.on_frame(b"garbage", 3, "open hand", uploads, request)
    assert left == 0 and "webcam frame" in note and isinstance(changed, type(gr.skip()))

    gone = uploads["open hand"][1]
    uploads, *_ = webcam.delete_selected(1, "open hand", uploads, request)
    assert gone not in uploads["open hand"] and not Path(gone).exists()
    with pytest.raises(gr.Error, match="Click a photo"):
        webcam.delete_selected(None, "open hand", uploads, request)
    webcam.forget_session(request)  # the visitor left
    assert not folder.exists()


# --- a real browser with a (fake) camera -------------------------------------------------------

@pytest.fixture(scope="module")
def camera_browser(browser):
    """The session's Chromium, which runs with a synthetic camera (tests/conftest.py)."""
    return browser


def _webcam_folders(tmp_dir=None) -> set[str]:
    """The webcam folders in the server's temp folder (tests/conftest.py gives the app its own TMPDIR)."""
    return set(glob.glob(os.path.join(str(tmp_dir or tempfile.gettempdir()), capture.FOLDER_PREFIX + "*")))


def _capture_class(page, name: str, singles: int) -> None:
    page.locator("#webcam-new-class input, #webcam-new-class textarea").first.fill(name)
    page.locator("#webcam-add-class").click()
    page.wait_for_selector(f"#webcam-class label:has-text('{name}') input:checked")
    for number in range(1, singles + 1):
        page.locator("#webcam-capture").click()
        page.wait_for_selector(f"#webcam-status :text('{name}: {number} photo(s)')")
    page.locator("#webcam-burst").click()
    page.wait_for_selector(f"#webcam-status :text('{name}: {singles + 10} photo(s)')", timeout=60_000)


def test_browser_photographs_two_classes_with_the_webcam_and_trains_on_them(camera_browser, app_server, tmp_path):
    app_url = app_server.url
    started = time.monotonic()
    lap = lambda what: print(f"{time.monotonic() - started:6.1f} s  {what}")  # noqa: E731
    before = _webcam_folders(app_server.tmp_dir)
    context = camera_browser.new_context(viewport={"width": 1400, "height": 1000}, permissions=["camera"])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(app_url)
    page.wait_for_selector("text=Transfer Learning Lab")
    page.get_by_role("tab", name="Fine-tune").click()
    page.locator("#finetune-source label:has-text('class by class')").click()
    camera = page.locator("#webcam-camera")
    # Capture before the camera records: a clear message, not a crash.
    page.locator("#webcam-new-class input, #webcam-new-class textarea").first.fill("nothing yet")
    page.locator("#webcam-add-class").click()
    page.wait_for_selector("#webcam-class label:has-text('nothing yet')")
    page.locator("#webcam-capture").click()
    page.wait_for_selector(":text('camera is not recording')")
    page.locator("#webcam-remove-class").click()
    page.wait_for_selector("#webcam-class label:has-text('nothing yet')", state="detached")

    camera.get_by_text("Click to Access Webcam").click()
    camera.locator("button[aria-label='capture photo']").click()  # "Record": frames start to stream
    camera.get_by_text("Stop").wait_for()

    lap("camera recording")
    _capture_class(page, "left", singles=2)
    lap("class 1 captured")
    gallery = page.locator("#webcam-gallery")
    assert gallery.locator("img").count() == 12
    gallery.locator("img").nth(1).click()  # delete a bad one
    page.locator("#webcam-delete").click()
    page.wait_for_selector("#webcam-status :text('left: 11 photo(s), 11 from the webcam')")
    # an uploaded photo joins the same class as the webcam's
    page.get_by_label("Class name", exact=True).fill("left")
    page.locator("#finetune-class-files input[type=file]").set_input_files(str(ROOT / "assets" / "chelsea.png"))
    page.wait_for_selector("#finetune-class-files :text('chelsea.png')", timeout=120_000)
    page.locator("#finetune-add-class").click()
    page.wait_for_selector("#webcam-status :text('left: 12 photo(s), 11 from the webcam')")
    assert gallery.locator("img").count() == 12
    _capture_class(page, "right", singles=1)
    page.locator("#webcam-panel").screenshot(path=str(tmp_path / "webcam-panel.png"))
    print(f"screenshot: {tmp_path / 'webcam-panel.png'}")
    # the tab's class list sees the webcam photos as the same per-class set as uploads
    classes = page.locator("#finetune-classes")
    assert "left: 12 image(s)" in classes.inner_text() and "right: 11 image(s)" in classes.inner_text()
    folders = _webcam_folders(app_server.tmp_dir) - before
    assert len(folders) == 1 and len(os.listdir(folders.pop())) == 22

    lap("class 2 captured")
    page.locator("#finetune-train").click()
    page.wait_for_selector("#finetune-status :text('Done')", timeout=180_000)
    assert "cross-validated accuracy" in page.locator("#finetune-results").inner_text()
    headers = page.locator("#finetune-confusion th").all_inner_texts()
    assert any("left" in h for h in headers) and any("right" in h for h in headers), headers

    lap("trained")
    # the visitor leaves: their photos are deleted
    new_folders = _webcam_folders(app_server.tmp_dir) - before
    context.close()
    deadline = time.monotonic() + 60
    while any(Path(f).exists() for f in new_folders) and time.monotonic() < deadline:
        time.sleep(0.5)
    lap("page closed, photos deleted")
    assert not any(Path(f).exists() for f in new_folders)
