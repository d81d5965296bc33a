"""The app in English and Dutch: every visible string, and how it reaches the screen.

One table, STRINGS: key -> {"en": ..., "nl": ...}. Keys are "<tab>.<what>" ("classify.button").
Two ways to use a string, depending on who makes the text:

* Text fixed when the UI is built (component label / info / placeholder / value of a Button or
  Markdown, tab titles, Examples label, the display names of Radio/Dropdown choices):
      gr.Button(T("classify.button"))      gr.Radio([(T("classify.pretrained"), "pretrained"), ...])
  T() gives a gr.I18n key; the browser shows the language on screen, and changes it live.
* Text a handler makes (status lines, gr.Error messages, plot titles and axes, table headers, labels,
  anything with a number in it): give the handler a `request: gr.Request` parameter (Gradio fills
  it in; it is not an input and does not change the API), then
      lang = request_language(request)
      raise gr.Error(tr("classify.no_image", lang))
      f"{tr('classify.took', lang, ms=number(ms, lang, 0))}"
  tr() formats with str.format, so translations use the same {named} fields as the English.

Which language:
* In the browser (gr.I18n): ?lang=nl|en in the URL or the English · Nederlands switch in the header
  (links to ?lang=..; remembered in the browser), else the server's default (`python app.py --lang nl`,
  or TLL_LANG=nl), else the browser's own language. Gradio 6 starts in the browser's language
  (navigator.language); ChooseLanguageFirst puts a small script before Gradio's that sets it.
* In a handler: the same language, read from the `tll_lang` cookie that script keeps equal to the
  page's <html lang>; then the server default; then the request's Accept-Language; else English.
  (API clients send neither: they get the server default, English unless --lang nl.)
"""
from __future__ import annotations

import json
import os
import re
from pathlib import Path

import gradio as gr

from core.imagenet import DEFAULT_LANGUAGE, LANGUAGES, check_language

LANGUAGE_ENV = "TLL_LANG"  # the server's default language (set by `python app.py --lang nl`)
COOKIE = "tll_lang"

STRINGS_DIR = Path(__file__).resolve().parent / "strings"


def load_strings(name: str) -> tuple[dict[str, dict[str, str]], set[str]]:
    """(strings, keys rightly the same in Dutch) of demo/strings/NAME.json: one table per tab, kept as
    data so that a translator edits text, never code."""
    data = json.loads((STRINGS_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data["strings"], set(data["same_in_dutch"])


# key -> {"en": English, "nl": Dutch}. Dutch: informal "je" (the lesson speaks to students),
# Dutch capitalisation, decimal comma in numbers. The page's own strings (title, tabs, weights, Classify);
# each other tab adds its table with add_strings when it is imported.
STRINGS: dict[str, dict[str, str]] = load_strings("app")[0]



def _fill_at_build(key: str, **values) -> None:
    """Numbers known when the app starts, put into a static string of both languages."""
    STRINGS[key] = {lang: text.format(**{k: number(v, lang, 0) for k, v in values.items()})
                    for lang, text in STRINGS[key].items()}


# Keys whose Dutch is rightly the same as the English: names (of the app, a model, a language),
# or text that is all numbers and units. Everything else must be translated (tests/test_dutch.py).
SAME_IN_DUTCH = {"app.title", "app.heading", "lang.en", "lang.nl", "classify.status_initial"}

def add_strings(table: dict[str, dict[str, str]], same_in_dutch: set[str] = frozenset()) -> None:
    """A tab module's own strings ({key: {"en": ..., "nl": ...}}, keys "<tab>.<what>"), added to STRINGS
    when the module is imported, so each tab keeps its text in one place of its own. `same_in_dutch`:
    keys whose Dutch is rightly the English (names)."""
    clash = set(table) & set(STRINGS)
    if clash:
        raise KeyError(f"strings defined twice: {sorted(clash)}")
    STRINGS.update(table)
    SAME_IN_DUTCH.update(same_in_dutch)


_I18N = gr.I18n()  # only its __call__ is used: the translations go to launch() via i18n()


def T(key: str) -> gr.i18n.I18nData:
    """A translatable string for a component property (label, info, value of a Button/Markdown, ...)."""
    if key not in STRINGS:
        raise KeyError(f"no string {key!r} in demo/i18n.py STRINGS")
    return _I18N(key)


def tr(key: str, lang: str | None = None, **values) -> str:
    """The string in `lang` (English when None or unknown), with {fields} filled in."""
    entry = STRINGS[key]
    text = entry.get(_language_or_default(lang)) or entry[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text


def register(key: str, **texts: str) -> str:
    """Add (or replace) a string made while building the UI, before launch; returns the key."""
    missing = [lang for lang in LANGUAGES if lang not in texts]
    if missing:
        raise ValueError(f"string {key!r} needs a text for {missing}")
    STRINGS[key] = dict(texts)
    return key


def i18n() -> gr.I18n:
    """The gr.I18n for launch(i18n=...): built from STRINGS as they are at launch."""
    return gr.I18n(**{lang: {key: texts[lang] for key, texts in STRINGS.items()} for lang in LANGUAGES})


def default_language() -> str | None:
    """The server's default language (`--lang` / TLL_LANG), or None: follow the browser."""
    value = os.environ.get(LANGUAGE_ENV, "").strip()
    if not value:
        return None
    try:
        return check_language(value)
    except ValueError:
        return None


def _language_or_default(lang: str | None) -> str:
    try:
        return check_language(lang) if lang else DEFAULT_LANGUAGE
    except ValueError:
        return DEFAULT_LANGUAGE


def _from_accept_language(header: str) -> str | None:
    """'nl-NL,nl;q=0.9,en;q=0.8' -> 'nl' (the best-weighted language we have)."""
    ranked = []
    for position, part in enumerate(header.split(",")):
        code, _, params = part.strip().partition(";")
        match = re.search(r"q=([0-9.]+)", params)
        weight = float(match.group(1)) if match else 1.0
        ranked.append((-weight, position, code.strip().lower().split("-")[0]))
    for _, _, code in sorted(ranked):
        if code in LANGUAGES:
            return code
    return None


def _cookie(headers, name: str) -> str | None:
    for part in (headers.get("cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def request_language(request: gr.Request | None) -> str:
    """The language of the page that sent this event: see the module docstring for the order."""
    headers = getattr(request, "headers", None) if request is not None else None
    if headers is not None:
        on_screen = _cookie(headers, COOKIE)
        if on_screen and _language_or_default(on_screen) == on_screen.split("-")[0].lower():
            return _language_or_default(on_screen)
    server_default = default_language()
    if server_default:
        return server_default
    if headers is not None:
        return _from_accept_language(headers.get("accept-language") or "") or DEFAULT_LANGUAGE
    return DEFAULT_LANGUAGE


def number(value: float, lang: str | None, digits: int = 1) -> str:
    """A number for prose: number(0.5, 'nl') -> '0,5'; number(1234.5, 'en') -> '1,234.5'."""
    text = f"{value:,.{digits}f}"
    if _language_or_default(lang) == "nl":
        text = text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")
    return text


def percent(fraction: float, lang: str | None, digits: int = 0) -> str:
    """percent(0.934, 'nl', 1) -> '93,4%' (Dutch writes the % sign without a space, like English)."""
    return number(100 * fraction, lang, digits) + "%"


from core.images import MAX_FILE_BYTES, MAX_PIXELS  # noqa: E402 - numbers for the static strings

_fill_at_build("classify.accepted", mb=MAX_FILE_BYTES // 2**20, mp=MAX_PIXELS // 1_000_000)


def _choose_language_js() -> str:
    """JavaScript, run first thing in the page, that makes Gradio start in the chosen language.

    gr.I18n starts in navigator.language. Changing the locale later (Gradio's changeLocale) leaves
    the tab titles not yet shown in the old language (Gradio 6.31), so the choice is made before
    Gradio starts: ?lang=xx (remembered in localStorage, which the header switch uses), else the
    remembered choice, else the server default; the browser's own language otherwise."""
    server_default = default_language() or ""
    return f"""(function () {{
  var LANGS = {list(LANGUAGES)!r};
  function code(value) {{ return (value || "").toLowerCase().split(/[-_]/)[0]; }}
  var asked = code(new URLSearchParams(location.search).get("lang")), stored = null;
  try {{
    if (LANGS.indexOf(asked) >= 0) localStorage.setItem("tll-lang", asked);
    stored = localStorage.getItem("tll-lang");
  }} catch (e) {{}}
  var wanted = LANGS.indexOf(asked) >= 0 ? asked : (LANGS.indexOf(stored) >= 0 ? stored : {server_default!r});
  if (!wanted) return;
  try {{
    Object.defineProperty(navigator, "language", {{get: function () {{ return wanted; }}, configurable: true}});
    Object.defineProperty(navigator, "languages", {{get: function () {{ return [wanted]; }}, configurable: true}});
  }} catch (e) {{}}
}})();"""


class ChooseLanguageFirst:
    """ASGI middleware: puts _choose_language_js() at the top of the page's <head>, before Gradio's
    own scripts. (launch()'s head= is inserted by Gradio after it has picked its language.)
    Given to launch(app_kwargs={"middleware": [...]}) by demo.launch_options()."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "GET" or not scope.get("path", "").endswith("/"):
            await self.app(scope, receive, send)
            return
        start, chunks, passthrough = None, [], False

        async def edit_page(message):
            nonlocal start, passthrough
            if passthrough:
                await send(message)
            elif message["type"] == "http.response.start":
                headers = dict((k.lower(), v) for k, v in message.get("headers", []))
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message
                else:
                    passthrough = True
                    await send(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                body = b"".join(chunks)
                script = f"<script>{_choose_language_js()}</script>".encode()
                body = body.replace(b"<head>", b"<head>" + script, 1)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": body})
            else:
                await send(message)

        await self.app(scope, receive, edit_page)


def head_html() -> str:
    """A <script> for launch(head=...): keeps handlers told which language is on screen, and the
    page title in it. Gradio keeps <html lang> equal to the locale on screen; this mirrors it into
    the tll_lang cookie, which every event's gr.Request carries (see request_language)."""
    titles = {lang: STRINGS["app.page_title"][lang] for lang in LANGUAGES}
    return f"""<script>
(function () {{
  var LANGS = {list(LANGUAGES)!r}, TITLES = {titles!r};
  function onScreen() {{
    var lang = (document.documentElement.lang || "").toLowerCase().split(/[-_]/)[0];
    return LANGS.indexOf(lang) < 0 ? "en" : lang;
  }}
  function setTitle() {{  // Gradio writes its (English) title after start-up: write ours back
    var title = TITLES[onScreen()];
    if (title && document.title !== title) document.title = title;
  }}
  function mirror() {{
    document.cookie = "{COOKIE}=" + onScreen() + "; path=/; SameSite=Lax";
    setTitle();
  }}
  mirror();
  new MutationObserver(mirror).observe(document.documentElement, {{attributes: true, attributeFilter: ["lang"]}});
  new MutationObserver(setTitle).observe(document.head, {{childList: true, subtree: true, characterData: true}});
}})();
</script>"""


def language_switch_html() -> str:
    """English · Nederlands, each in its own language: links that reload the page in that language."""
    links = " · ".join(f'<a href="?lang={lang}" hreflang="{lang}" lang="{lang}" target="_self">{tr("lang." + lang)}</a>'
                       for lang in LANGUAGES)
    return f'<nav class="tll-lang" aria-label="Language / Taal">{links}</nav>'
