"""The app in Dutch and English in a real browser: the browser's language, ?lang=, the switch."""
from __future__ import annotations

import re

DUTCH_TABS = ["Classificeren", "Bijtrainen", "Kenmerkkaarten", "Ideale en misleidende beelden"]
ENGLISH_TABS = ["Classify", "Fine-tune", "Feature maps", "Ideal & adversarial images"]


def tab_names(page) -> list[str]:
    page.get_by_role("tab").first.wait_for()
    return [tab.inner_text().strip() for tab in page.get_by_role("tab").all()]


def classify_cat_example(page) -> str:
    """Click the first example (the cat photo) and return the top-5 panel's text once labelled."""
    labels = page.locator("#classify-labels")
    labels.wait_for()
    page.locator(".gallery-item, button.gallery-item, [data-testid='examples'] button").first.click()
    labels.locator(".output-class").wait_for()
    page.wait_for_function("() => !!document.querySelector('#classify-labels .output-class')?.textContent.trim()")
    return labels.inner_text()


def test_dutch_browser_sees_dutch_tabs_and_a_dutch_cat_label(open_page):
    page = open_page("nl-NL")
    assert tab_names(page) == DUTCH_TABS
    page.get_by_text("Jouw afbeelding", exact=True).first.wait_for(state="visible")
    assert page.get_by_role("button", name="Classificeer").is_visible()
    text = classify_cat_example(page)
    top = page.locator("#classify-labels .output-class").inner_text().strip()
    assert "kat" in top, text  # tijgerkat / cyperse kat / Egyptische kat
    assert "cat" not in text.replace("kat", "")  # no English label left in the top 5
    assert "Top-5 ImageNet-klassen" in text
    status = page.locator(".tll-status").first.inner_text()
    assert "meegeleverde ImageNet-gewichten" in status and re.search(r"voorspellen duurde [\d.]+ ms", status)
    assert page.title().startswith("Transfer Learning Lab") and "voorgetrainde" in page.title()


def test_english_browser_sees_todays_english(open_page):
    page = open_page("en-US")
    assert tab_names(page) == ENGLISH_TABS
    assert page.get_by_role("button", name="Classify", exact=True).is_visible()
    text = classify_cat_example(page)
    assert "cat" in page.locator("#classify-labels .output-class").inner_text()
    assert "Top-5 ImageNet classes" in text and "kat" not in text
    assert page.title() == "Transfer Learning Lab"


def test_url_parameter_and_switch_choose_the_language(open_page):
    # A teacher's English laptop, Dutch for the class: ?lang=nl (what the header switch links to).
    page = open_page("en-US", "?lang=nl")
    page.wait_for_function("() => document.documentElement.lang === 'nl'")
    assert tab_names(page) == DUTCH_TABS
    assert "kat" in classify_cat_example(page).split("\n", 2)[1]  # the handler answers in Dutch too
    # The choice is remembered; the switch's other link goes back to English.
    page.goto(page.url.split("?")[0])
    page.wait_for_function("() => document.documentElement.lang === 'nl'")
    page.locator(".tll-lang a[hreflang=en]").click()
    page.wait_for_function("() => document.documentElement.lang === 'en'")
    assert tab_names(page) == ENGLISH_TABS
    page.get_by_role("tab", name=ENGLISH_TABS[2]).click()  # every tab title changed, not only the open one
    assert tab_names(page) == ENGLISH_TABS


def test_dutch_page_finds_a_target_class_by_its_dutch_or_english_name(open_page):
    page = open_page("nl-NL")
    page.get_by_role("tab", name=DUTCH_TABS[3]).click()
    target = page.locator("#ideal-target input")
    target.wait_for()
    assert target.input_value().startswith("cyperse kat")  # the default, tabby, shown in Dutch
    for typed, wanted in (("Perzische", "Perzische kat, pers · Persian cat (283)"), ("zebra", "zebra · zebra (340)"),
                          ("Persian", "Perzische kat, pers · Persian cat (283)")):
        target.click()
        target.press("Control+a")
        target.press("Backspace")
        target.press_sequentially(typed, delay=20)
        options = page.get_by_role("option")
        options.first.wait_for()
        assert wanted in [text.replace("✓", "").strip() for text in options.all_inner_texts()]
    page.get_by_role("option", name=re.compile("Persian cat")).first.click()
    assert target.input_value() == "Perzische kat, pers · Persian cat (283)"
