"""The launched app through gradio_client: the named /classify endpoint."""
from __future__ import annotations

import pytest
from gradio_client import handle_file


def test_classify_endpoint_with_the_image_alone(client):
    labels, crop, status = client.predict(handle_file("assets/chelsea.png"), api_name="/classify")
    assert labels["label"] in ("tiger cat", "tabby, tabby cat", "Egyptian cat")
    top = [c["label"] for c in labels["confidences"]]
    assert len(top) == 5 and any("cat" in name for name in top[:2])
    assert "bundled" in status and " ms" in status
    assert crop and str(crop).endswith((".webp", ".png", ".jpeg", ".jpg"))


def test_classify_endpoint_with_random_weights_says_so(client):
    labels, _, status = client.predict(handle_file("assets/coffee.png"), "tf_efficientnet_lite0",
                                       "random (untrained)", api_name="/classify")
    assert "RANDOM" in status and len(labels["confidences"]) == 5


def test_bad_upload_gets_a_specific_message_and_server_survives(client, tmp_path):
    bad = tmp_path / "essay.jpg"
    bad.write_text("this is not a picture")
    with pytest.raises(Exception) as error:
        client.predict(handle_file(str(bad)), api_name="/classify")
    assert "essay.jpg" in str(error.value) and "not an image" in str(error.value)
    labels, _, _ = client.predict(handle_file("assets/coffee.png"), api_name="/classify")
    assert labels["label"] == "espresso"
