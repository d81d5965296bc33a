"""Dutch beside English: the ImageNet names, labels by language, the CLI's --lang, the UI strings."""
from __future__ import annotations

import json
import string

import pytest

from core import imagenet
from core.imagenet import class_names, label, localize_labels, localize_top, resolve_class, short_name
from tests.conftest import run_cli


# --- The 1000 Dutch class names -------------------------------------------------------------

def test_dutch_names_are_complete_and_in_imagenet_order():
    english, dutch = class_names("en"), class_names("nl")
    assert len(dutch) == len(english) == 1000
    assert all(name.strip() and name == name.strip() for name in dutch)
    lines = [line for line in imagenet.DUTCH_NAMES_FILE.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#")]
    assert [int(line.split("\t")[0]) for line in lines] == list(range(1000))
    # Spot checks across the file: a misaligned line would shift these.
    assert english[281].startswith("tabby") and "kat" in dutch[281]
    assert english[283] == "Persian cat" and dutch[283].startswith("Perzische kat")
    assert short_name(282, "nl") == "tijgerkat"
    assert dutch[207] == "golden retriever" and dutch[235] == "Duitse herder"
    assert dutch[340] == "zebra" and dutch[954] == "banaan" and dutch[0] == "zeelt"
    assert dutch[999].startswith("toiletpapier") and dutch[504] == "koffiemok"
    assert "kat" not in dutch[383]  # "Madagascar cat" is a lemur: ringstaartmaki


def test_dutch_names_are_dutch_not_english_left_over():
    english, dutch = class_names("en"), class_names("nl")
    primary = [name.split(",")[0].strip() for name in dutch]
    assert len(set(primary)) == 1000  # every class its own Dutch name
    same = [i for i in range(1000) if primary[i].lower() in (s.strip().lower() for s in english[i].split(","))]
    # Names Dutch shares with English (breeds, loanwords: "beagle", "laptop", "pizza") are a minority.
    assert len(same) < 150, len(same)
    # Dutch capitalisation: common nouns lowercase; capitals only for names and their adjectives.
    lower_start = sum(name[0].islower() for name in primary)
    assert lower_start > 850, lower_start


def test_label_and_unknown_language():
    assert label(281) == "tabby, tabby cat" and label(281, "nl") == class_names("nl")[281]
    assert label(285, "nl-NL") == "Egyptische kat"
    with pytest.raises(ValueError, match="unknown language"):
        label(1, "fr")


def test_class_search_accepts_dutch_and_english():
    assert resolve_class("tijgerkat") == 282 and resolve_class("Perzische kat") == 283
    assert resolve_class("tabby cat") == 281 and resolve_class("281") == 281
    assert resolve_class("banaan") == 954 == resolve_class("banana")
    assert resolve_class("stokstaartje") == 299 == resolve_class("meerkat")  # English exact name wins
    assert resolve_class("koningspinguïn") == 145
    with pytest.raises(ValueError, match="matches"):
        resolve_class("kat")  # several cats: be more specific
    with pytest.raises(ValueError, match="no ImageNet class"):
        resolve_class("eenhoorn")


def test_localize_keeps_keys_and_a_trained_models_own_names():
    top = [{"label": "tiger cat", "index": 282, "prob": 0.5}, {"label": "Egyptian cat", "index": 285, "prob": 0.3}]
    assert [row["label"] for row in localize_top(top, "nl")] == ["tijgerkat", "Egyptische kat"]
    assert localize_top(top, "en") == top
    own = [{"label": "poes", "index": 0, "prob": 0.9}]
    assert localize_top(own, "nl", ("poes", "hond")) == own
    result = {"target": {"label": "tabby, tabby cat", "index": 281}, "before": {"label": "mine", "index": 3},
              "top": top, "eps": 2}
    dutch = localize_labels(result, "nl")
    assert set(dutch) == set(result) and dutch["eps"] == 2
    assert "kat" in dutch["target"]["label"] and dutch["before"]["label"] == "mine"  # not ImageNet's name: kept
    assert dutch["top"][0]["label"] == "tijgerkat"


# --- The command line ---------------------------------------------------------------------

def _lines(result):
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_classify_cli_lang_nl_gives_a_dutch_cat():
    dutch = run_cli("classify", "assets/chelsea.png", "--lang", "nl", "--top", "3")
    english = run_cli("classify", "assets/chelsea.png", "--top", "3")
    assert dutch.returncode == 0 == english.returncode, dutch.stderr[-2000:]
    nl_top, en_top = _lines(dutch)[0]["top"], _lines(english)[0]["top"]
    assert "kat" in nl_top[0]["label"] and "cat" in en_top[0]["label"] and "kat" not in en_top[0]["label"]
    assert [row["index"] for row in nl_top] == [row["index"] for row in en_top]  # same answer, other words
    assert set(nl_top[0]) == {"label", "index", "prob"}


def test_classify_cli_rejects_an_unknown_language():
    result = run_cli("classify", "assets/chelsea.png", "--lang", "fr")
    assert result.returncode == 2 and "--lang" in _lines(result)[-1]["error"]


def test_ideal_and_attack_cli_take_dutch_names_and_answer_in_dutch(tmp_path):
    ideal = run_cli("ideal", "--target", "Perzische kat", "--out", str(tmp_path / "ideal.png"), "--steps", "2",
                    "--mode", "pixel", "--lang", "nl")
    assert ideal.returncode == 0, ideal.stdout + ideal.stderr[-2000:]
    assert _lines(ideal)[0]["target"] == {"label": "Perzische kat, pers", "index": 283}
    attack = run_cli("attack", "assets/coffee.png", "--target", "tijgerkat", "--eps", "2", "--steps", "1",
                     "--out-dir", str(tmp_path), "--lang", "nl")
    assert attack.returncode == 0, attack.stdout + attack.stderr[-2000:]
    out = _lines(attack)[0]
    assert out["target"] == {"label": "tijgerkat", "index": 282}
    assert out["before"]["label"] == "espresso" and set(out["before"]) == {"label", "index", "prob"}
    english = run_cli("ideal", "--target", "283", "--out", str(tmp_path / "e.png"), "--steps", "1", "--mode", "pixel")
    assert _lines(english)[0]["target"]["label"] == "Persian cat"


# --- The UI strings (demo/i18n.py) ----------------------------------------------------------

def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_string_has_english_and_dutch():
    import importlib
    import pkgutil

    import demo

    for module in pkgutil.iter_modules(demo.__path__):  # each tab adds its own strings when imported
        importlib.import_module(f"demo.{module.name}")
    from demo.i18n import SAME_IN_DUTCH, STRINGS

    for key, texts in STRINGS.items():
        assert set(texts) == {"en", "nl"}, key
        assert texts["en"].strip() or key in SAME_IN_DUTCH, key
        assert texts["nl"].strip() or key in SAME_IN_DUTCH, key
        assert _fields(texts["en"]) == _fields(texts["nl"]), key  # same {fields} to fill in
        if key not in SAME_IN_DUTCH:
            assert texts["nl"] != texts["en"], f"{key} is not translated: {texts['nl']!r}"
    assert SAME_IN_DUTCH <= set(STRINGS)


def test_strings_registered_while_building_are_translated_too():
    import demo
    from demo.i18n import SAME_IN_DUTCH, STRINGS, i18n

    demo.build_demo()
    translations = i18n().translations_dict
    assert set(translations) == {"en", "nl"} and set(translations["en"]) == set(translations["nl"])
    status = STRINGS["classify.status_initial"]
    assert "meegeleverde" in status["nl"] and "bundled" in status["en"]
    untranslated = [k for k in translations["en"] if k not in SAME_IN_DUTCH
                    and translations["en"][k] == translations["nl"][k]]
    assert not untranslated


def test_request_language_order():
    from types import SimpleNamespace

    from demo.i18n import request_language

    def request(**headers):
        return SimpleNamespace(headers=headers)

    assert request_language(None) == "en"
    assert request_language(request(**{"accept-language": "nl-NL,nl;q=0.9,en-US;q=0.8"})) == "nl"
    assert request_language(request(**{"accept-language": "de-DE,de;q=0.9,en;q=0.5,nl;q=0.4"})) == "en"
    # The page's own language (the cookie the head script keeps) beats the browser's header.
    assert request_language(request(**{"accept-language": "nl-NL", "cookie": "a=1; tll_lang=en"})) == "en"
    assert request_language(request(cookie="tll_lang=nl")) == "nl"
    assert request_language(request(cookie="tll_lang=xx")) == "en"


def test_server_default_language(monkeypatch):
    from types import SimpleNamespace

    from demo.i18n import _choose_language_js, request_language

    monkeypatch.setenv("TLL_LANG", "nl")
    assert request_language(SimpleNamespace(headers={"accept-language": "en-US"})) == "nl"
    assert request_language(SimpleNamespace(headers={"cookie": "tll_lang=en"})) == "en"  # switched back
    assert "stored : 'nl')" in _choose_language_js()
    monkeypatch.delenv("TLL_LANG")
    assert "stored : '')" in _choose_language_js()


def test_numbers_follow_the_language():
    from demo.i18n import number, percent, tr

    assert number(0.5, "nl") == "0,5" and number(0.5, "en") == "0.5"
    assert number(1234.56, "nl", 2) == "1.234,56" and number(1234.56, "en", 2) == "1,234.56"
    assert percent(0.934, "nl", 1) == "93,4%" and percent(0.934, None) == "93%"
    assert tr("classify.took", "nl", ms=number(12.0, "nl", 0)) == " · voorspellen duurde **12 ms**"
    assert tr("classify.button", "xx") == "Classify"  # an unknown language falls back to English


# --- The image loader's messages, in the page's language ------------------------------------------

def test_every_loader_message_has_a_dutch_text_and_english_stays_the_clis():
    from core.images import MESSAGES, ImageLoadError, load_image
    from demo.components import image_error_text
    from demo.i18n import STRINGS
    from tests.corpus import bad_files

    assert {key for key in STRINGS if key.startswith("image.") and not key.startswith("image.unnamed.")} == \
        {f"image.{key}" for key in MESSAGES}
    assert all(STRINGS[f"image.{key}"]["en"] == text for key, text in MESSAGES.items())
    for name, (data, word) in bad_files().items():
        with pytest.raises(ImageLoadError) as caught:
            load_image(data, name=name)
        error = caught.value
        english, dutch = image_error_text(error, "en"), image_error_text(error, "nl")
        assert english == str(error) and word in english, name  # the UI's English is the CLI's
        assert dutch.startswith(f"{name}: ") and dutch != english, name
        assert "image" not in dutch.split(": ", 1)[1] and "file" not in dutch.split(": ", 1)[1], dutch
    with pytest.raises(ImageLoadError) as caught:
        load_image(b"")  # no name given: the stand-in name is translated too
    assert image_error_text(caught.value, "nl") == "je upload: het bestand is leeg (0 bytes)"
    assert str(caught.value) == "upload: the file is empty (0 bytes)"


def test_friendly_errors_translate_loader_errors_for_the_requests_language(tmp_path):
    import gradio as gr

    from core.images import ImageLoadError, load_image
    from demo.components import friendly_errors

    essay = tmp_path / "essay.jpg"
    essay.write_text("Dear teacher, this is my homework.\n")

    @friendly_errors
    def rewrapped(path, request: gr.Request = None):  # the tabs' way: gr.Error(str(error)) from None
        try:
            load_image(path)
        except ImageLoadError as error:
            raise gr.Error(str(error)) from None

    @friendly_errors
    def raw(path, request: gr.Request = None):
        load_image(path)

    dutch, english = gr.Request(headers={"cookie": "tll_lang=nl"}), gr.Request(headers={"accept-language": "en-US"})
    for handler in (rewrapped, raw):
        with pytest.raises(gr.Error) as caught:
            handler(str(essay), request=dutch)
        assert caught.value.message == "essay.jpg: geen afbeelding (het is een tekstbestand)"
        with pytest.raises(gr.Error) as caught:
            handler(str(essay), english)
        assert caught.value.message == "essay.jpg: not an image file (it is a text file)"


def test_weights_notes_in_dutch():
    from core.weights import load_with_fallback
    from demo.components import fallback_text, model_status

    # The real fallback message of core.weights (no network here: the hub's weights cannot be had).
    loaded, message = load_with_fallback("vgg16.tv_in1k")
    if not message:
        pytest.skip("VGG-16's hub weights are available here: no fallback to translate")
    dutch = fallback_text(message, "nl")
    assert dutch.startswith("de gewichten van vgg16.tv_in1k zijn niet beschikbaar (")
    assert "meegeleverde tf_efficientnet_lite0" in dutch and "unavailable" not in dutch
    assert "unreachable" not in dutch and "not cached" not in dutch
    assert fallback_text(message, "en") == message
    note = "frozen mode on tf_efficientnet_lite0, cross-validated accuracy 93.4%"
    assert model_status("mine", "trained", note, "nl") == \
        "mine: je eigen bijgetrainde model (modus bevroren op tf_efficientnet_lite0, gekruisvalideerde nauwkeurigheid 93,4%)"
    assert model_status("mine", "trained", note, "en") == f"mine: your fine-tuned model ({note})"


def test_a_bad_upload_gets_a_dutch_message_on_a_dutch_page(app_url, tmp_path):
    from gradio_client import Client, handle_file

    essay = tmp_path / "essay.jpg"
    essay.write_text("Dear teacher, this is my homework.\n" * 20)
    pdf = tmp_path / "paper.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF")
    # The cookie is what the page's head script sets; Accept-Language is a Dutch browser's own.
    for headers in ({"Cookie": "tll_lang=nl"}, {"Accept-Language": "nl-NL,nl;q=0.9"}):
        dutch = Client(app_url, verbose=False, headers=headers)
        with pytest.raises(Exception) as caught:
            dutch.predict(handle_file(str(essay)), api_name="/classify")
        assert "geen afbeelding (het is een tekstbestand)" in str(caught.value), str(caught.value)
        with pytest.raises(Exception) as caught:
            dutch.predict(handle_file(str(pdf)), api_name="/classify")
        assert "geen afbeelding (het is een pdf-document)" in str(caught.value), str(caught.value)
    english = Client(app_url, verbose=False)
    with pytest.raises(Exception) as caught:
        english.predict(handle_file(str(essay)), api_name="/classify")
    assert "not an image file (it is a text file)" in str(caught.value) and "geen" not in str(caught.value)
